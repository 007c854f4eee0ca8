//! The flows' copy: every sentence, label and refusal a person reads, kept in `content/`
//! (`[text.SECTION]` tables) rather than in Rust, so every transport shows the same words and
//! a host can change them.
//!
//! Rust names each text by a typed [`Key`] declared in [`keys`], with the placeholders it may
//! use. `attune content check` holds the files to the registry: every key present, nothing
//! unknown, only declared placeholders, labels within their length. A template renders to a
//! [`Text`] whose placeholders become people, instants, or quoted user text, which each
//! transport shows its own way.

use chrono::{DateTime, Utc};

use super::Library;
use crate::domain::ids::PersonRef;
use crate::transport::{Part, Text, TimeStyle};

/// A text of the copy, by name, with the placeholders it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// `section.name`, as in `[text.section] name = "…"`.
    pub name: &'static str,
    pub params: &'static [&'static str],
    /// The longest the text may be (a button label, a modal title), in characters.
    pub max: Option<usize>,
}

/// What a placeholder becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// More of our own words.
    Text(Text),
    /// Our own plain words (a number, a zone name).
    Plain(String),
    Person(PersonRef),
    Instant(DateTime<Utc>, TimeStyle),
    /// What a person typed, inline.
    User(String),
    /// What a person typed, as a quote block.
    Quote(String),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Plain(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Plain(s)
    }
}

impl From<Text> for Arg {
    fn from(t: Text) -> Arg {
        Arg::Text(t)
    }
}

impl From<PersonRef> for Arg {
    fn from(p: PersonRef) -> Arg {
        Arg::Person(p)
    }
}

impl From<&PersonRef> for Arg {
    fn from(p: &PersonRef) -> Arg {
        Arg::Person(p.clone())
    }
}

/// Splits a template into literal pieces and placeholder names.
fn pieces(template: &str) -> Vec<Result<&str, &str>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.push(Ok(&rest[..open + 1]));
            rest = &rest[open + 1..];
            continue;
        }
        if open > 0 {
            out.push(Ok(&rest[..open]));
        }
        out.push(Err(name));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        out.push(Ok(rest));
    }
    out
}

/// The placeholder names a template uses.
pub fn placeholders(template: &str) -> Vec<&str> {
    pieces(template)
        .into_iter()
        .filter_map(Result::err)
        .collect()
}

impl Library {
    /// The raw template of `key` (the built-in one when a host's copy leaves it out).
    pub fn template(&self, key: Key) -> &str {
        match self.text.get(key.name) {
            Some(t) => t,
            None => {
                tracing::error!(key = key.name, "a copy text is missing");
                ""
            }
        }
    }

    /// `key` rendered with `args`.
    pub fn t(&self, key: Key, args: &[(&str, Arg)]) -> Text {
        let mut out = Text::new();
        for piece in pieces(self.template(key)) {
            match piece {
                Ok(lit) => {
                    out.push_plain(lit);
                }
                Err(name) => match args.iter().find(|(n, _)| *n == name) {
                    Some((_, arg)) => match arg.clone() {
                        Arg::Text(t) => {
                            out.append(t);
                        }
                        Arg::Plain(s) => {
                            out.push_plain(s);
                        }
                        Arg::Person(p) => {
                            out.push(Part::Person(p));
                        }
                        Arg::Instant(at, style) => {
                            out.push(Part::Instant(at, style));
                        }
                        Arg::User(s) => {
                            out.push(Part::User(s));
                        }
                        Arg::Quote(s) => {
                            out.push(Part::Quote(s));
                        }
                    },
                    None => {
                        tracing::warn!(
                            key = key.name,
                            placeholder = name,
                            "no value for a placeholder"
                        );
                    }
                },
            }
        }
        out
    }

    /// A text without placeholders, as plain words (labels, titles).
    pub fn s(&self, key: Key) -> String {
        self.template(key).to_string()
    }

    /// A plain text whose placeholders are plain words (a label with a number in it).
    pub fn sf(&self, key: Key, args: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for piece in pieces(self.template(key)) {
            match piece {
                Ok(lit) => out.push_str(lit),
                Err(name) => {
                    if let Some((_, v)) = args.iter().find(|(n, _)| *n == name) {
                        out.push_str(v);
                    }
                }
            }
        }
        out
    }
}

/// Declares copy keys: `NAME = "name" (param, param) max 80;`, one module per section.
macro_rules! sections {
    ($( $section:ident { $( $konst:ident = $name:literal $( ( $($p:ident),* ) )? $( max $max:literal )? ; )* } )*) => {
        $(
            #[allow(missing_docs)]
            pub mod $section {
                use super::super::Key;
                $(
                    pub const $konst: Key = Key {
                        name: concat!(stringify!($section), ".", $name),
                        params: &[$($(stringify!($p)),*)?],
                        max: sections!(@max $($max)?),
                    };
                )*
                pub const ALL: &[Key] = &[$($konst),*];
            }
        )*
        /// Every key of every section.
        pub fn all() -> impl Iterator<Item = &'static super::Key> {
            [$($section::ALL),*].into_iter().flatten()
        }
    };
    (@max) => { None };
    (@max $m:literal) => { Some($m) };
}

/// The registry of every copy text. Labels carry Discord's limits (button 80, select
/// placeholder 150, option 100, modal title and field label 45).
pub mod keys {
    sections! {
        checkin {
            TITLE_MORNING = "title_morning";
            TITLE_EVENING = "title_evening";
            TITLE_NOW = "title_now";
            INVITE_MORNING = "invite_morning";
            INVITE_EVENING = "invite_evening";
            INVITE_NOW = "invite_now";
            QUESTION_LINE = "question_line" (question);
            TODAY_QUESTION = "today_question" (question);
            LIGHT_DAY_ON_LINE = "light_day_on_line";
            OPEN_UNTIL = "open_until" (at);
            POST_FOOTER = "post_footer";
            ANSWER = "answer" max 80;
            SKIP = "skip" max 80;
            POST_LEAD = "post_lead" (person);
            NOW_LEAD = "now_lead" (other, asker);
            REMINDER = "reminder" (person, at);
            NONE = "none";
            MOOD_UNSET = "mood_unset";
            YOUR_PARTNER = "your_partner";
            NOTE_SHARED = "note_shared" (note);
            NOTE_PRIVATE = "note_private" (note);
            CARD = "card" (mood, feelings, partner, guess, note, closes);
            MOOD_PLACEHOLDER = "mood_placeholder" max 150;
            FEELINGS_PLACEHOLDER = "feelings_placeholder" max 150;
            GUESS_PLACEHOLDER = "guess_placeholder" max 150;
            NOTE_ADD = "note_add" max 80;
            ANSWER_QUESTION = "answer_question" max 80;
            ANSWER_LABEL = "answer_label" max 45;
            LIGHT_DAY_ON = "light_day_on" max 80;
            LIGHT_DAY_OFF = "light_day_off" max 80;
            NOT_SAFE = "not_safe" max 80;
            NOTE_EDIT = "note_edit" max 80;
            SHARE_ON = "share_on" max 80;
            SHARE_OFF = "share_off" max 80;
            DONE = "done" max 80;
            THANKS = "thanks" (closes);
            CHANGE = "change" max 80;
            NOTE_TITLE = "note_title" max 45;
            NOTE_LABEL = "note_label" max 45;
            NOTE_PLACEHOLDER = "note_placeholder" max 100;
            READ_SPOT_ON = "read_spot_on";
            READ_CLOSE = "read_close";
            READ_DIFFERENT = "read_different";
            REVEAL_LINE = "reveal_line" (person, mood);
            REVEAL_FEELINGS = "reveal_feelings" (feelings);
            REVEAL_GUESS = "reveal_guess" (other, guess, read);
            REVEAL_GUESS_OPEN = "reveal_guess_open" (other, guess);
            REVEAL_NOTE = "reveal_note" (note);
            REVEAL_PAUSED = "reveal_paused" (person);
            REVEAL_SILENT = "reveal_silent" (person);
            REVEAL_ONE_OF_TWO = "reveal_one_of_two" (answered, silent);
            REVEAL_NONE = "reveal_none";
            REVEAL_ONE = "reveal_one" (person);
            REVEAL_BOTH = "reveal_both";
            FOOTER_SPOT_ON = "footer_spot_on";
            FOOTER_COMPARED = "footer_compared";
            FOOTER_PLAIN = "footer_plain";
            REVEAL_TITLE = "reveal_title" (title);
            SKIPPED = "skipped";
            REVEALED = "revealed";
            CLOSED = "closed";
            NEED_MOOD = "need_mood";
            NOTE_TOO_LONG = "note_too_long";
            ALREADY_OPEN = "already_open" (closes);
            NOW_AGAIN = "now_again" (closes);
            REVEAL_ANSWER = "reveal_answer" (answer);
        }
        micro {
            TEASER = "teaser" (person);
            OPEN = "open" max 80;
            PROMPT = "prompt" (concept, prompt);
            GONE = "gone";
            DID_IT = "did_it" max 80;
            NOT_NOW = "not_now" max 80;
            ANOTHER = "another" max 80;
            DONE = "done";
            LATER = "later";
            NOT_YOURS = "not_yours" (person);
            ALREADY_ANSWERED = "already_answered";
            EMPTY = "empty";
            GENERIC_LABEL = "generic_label";
            AGREEMENT_PROMPT = "agreement_prompt" (agreement, partner);
        }
        weekly {
            TITLE = "title";
            LEAD = "lead" (a, b);
            INVITE = "invite";
            OPEN_UNTIL = "open_until" (at);
            FOOTER = "footer";
            ANSWER = "answer" max 80;
            SKIP = "skip" max 80;
            CARD = "card" (closes);
            QUESTION = "question" (theme, question);
            ANSWERED = "answered" (answer);
            UNANSWERED = "unanswered";
            WRITE = "write" max 80;
            DONE = "done" max 80;
            NOT_SAFE = "not_safe" max 80;
            MODAL_TITLE = "modal_title" max 45;
            THEME_APPRECIATION = "theme_appreciation" max 45;
            THEME_WENT_WELL = "theme_went_well" max 45;
            THEME_TALK_ABOUT = "theme_talk_about" max 45;
            THEME_NEED_AHEAD = "theme_need_ahead" max 45;
            NEED_ONE = "need_one";
            TOO_LONG = "too_long";
            THANKS = "thanks" (closes);
            SKIPPED = "skipped";
            REVEAL_TITLE = "reveal_title";
            REVEAL_BOTH = "reveal_both";
            REVEAL_ONE = "reveal_one" (person);
            REVEAL_NONE = "reveal_none";
            REVEAL_PERSON = "reveal_person" (person);
            REVEAL_ITEM = "reveal_item" (theme, answer);
            REVEAL_PAUSED = "reveal_paused" (person);
            REVEAL_SILENT = "reveal_silent" (person);
            REVEAL_FOOTER = "reveal_footer";
        }
        matrix {
            ROOM_OPEN = "room_open";
            PICK_ONE = "pick_one";
            PICK_MANY = "pick_many";
            WRITE_REPLY = "write_reply";
            PRIVATE_ELSEWHERE = "private_elsewhere" (person);
            UNKNOWN_COMMAND = "unknown_command";
            MALFORMED = "malformed" (example);
            SETUP_NEEDS_PARTNER = "setup_needs_partner";
            NUMBER_UNKNOWN = "number_unknown";
            NOTHING_TO_ANSWER = "nothing_to_answer";
            NOT_IN_ROOM = "not_in_room";
            HELP_COMMANDS = "help_commands";
            ZONE_SUGGESTED = "zone_suggested" (zone);
        }
        common {
            SORRY = "sorry";
            TRY_AGAIN = "try_again";
            TOO_SLOW = "too_slow";
            UNSAVED = "unsaved" (text);
            UNSAVED_FILE = "unsaved_file";
            BAD_ARGUMENT = "bad_argument";
            DM_REFUSAL = "dm_refusal";
            NO_COUPLE_HERE = "no_couple_here";
            NOT_YOUR_SPACE = "not_your_space";
            CANNOT_POST_HERE = "cannot_post_here";
            STALE_BUTTON = "stale_button";
            WRONG_CHANNEL = "wrong_channel";
            YOUR_PARTNER = "your_partner";
            YOU = "you";
        }
        time {
            MON = "mon";
            TUE = "tue";
            WED = "wed";
            THU = "thu";
            FRI = "fri";
            SAT = "sat";
            SUN = "sun";
            MON_SHORT = "mon_short";
            TUE_SHORT = "tue_short";
            WED_SHORT = "wed_short";
            THU_SHORT = "thu_short";
            FRI_SHORT = "fri_short";
            SAT_SHORT = "sat_short";
            SUN_SHORT = "sun_short";
            EVERY_DAY = "every_day";
            WEEKDAYS = "weekdays";
            WEEKENDS = "weekends";
            HOURS = "hours" (n);
            MINUTES = "minutes" (n);
            OFF = "off";
        }
        mood {
            HEAVY = "heavy" max 80;
            LOW = "low" max 80;
            OKAY = "okay" max 80;
            GOOD = "good" max 80;
            BRIGHT = "bright" max 80;
        }
        onboarding {
            SETUP_BOT_PARTNER = "setup_bot_partner";
            SETUP_SELF = "setup_self";
            SETUP_ALREADY_YOURS = "setup_already_yours";
            SETUP_CHANNEL_TAKEN = "setup_channel_taken";
            SETUP_ALREADY_PENDING = "setup_already_pending" (invitee, inviter);
            INVITATION_TITLE = "invitation_title";
            INVITATION_BODY = "invitation_body" (inviter);
            INVITATION_FOOTER = "invitation_footer";
            INVITATION_LEAD = "invitation_lead" (invitee, inviter);
            ACCEPT = "accept" max 80;
            NOT_NOW = "not_now" max 80;
            ACCEPTED_TITLE = "accepted_title";
            ACCEPTED_BODY = "accepted_body" (inviter, invitee);
            DECLINED = "declined" (invitee);
            WITHDRAWN = "withdrawn" (inviter);
            NOT_FOR_YOU = "not_for_you" (invitee);
            EXPIRED = "expired" (inviter);
            INVITATION_ANSWERED = "invitation_answered";
            OWN_ACCEPT = "own_accept";
            ZONE_EMPTY = "zone_empty";
            ZONE_TOO_LONG = "zone_too_long";
            ZONE_UNKNOWN = "zone_unknown";
            ZONE_UNKNOWN_SUGGEST = "zone_unknown_suggest" (suggestions);
            ZONE_SET = "zone_set" (zone, time, weekday);
            STATUS_TITLE = "status_title";
            STATUS_PARTNER = "status_partner";
            STATUS_AND = "status_and";
            STATUS_PARTNER_ZONE = "status_partner_zone" (person, zone, local);
            STATUS_PARTNER_NO_ZONE = "status_partner_no_zone" (person);
            STATE_UNREACHABLE = "state_unreachable";
            STATE_PAUSED = "state_paused" (until, in);
            STATE_ACTIVE = "state_active";
            FIELD_STATE = "field_state";
            FIELD_NEXT = "field_next";
            FIELD_RHYTHM = "field_rhythm";
            FIELD_READERS = "field_readers";
            ROOM_OPEN = "room_open";
            ROOM_PRIVATE = "room_private";
            STATUS_FOOTER = "status_footer" (since);
            NO_CHECKINS_SCHEDULED = "no_checkins_scheduled";
            UPCOMING_LINE = "upcoming_line" (person, slot, at, in);
            SLOT_MORNING = "slot_morning";
            SLOT_EVENING = "slot_evening";
            SLOT_WEEKLY = "slot_weekly";
            LEAVE_CONFIRM = "leave_confirm";
            LEAVE_YES = "leave_yes" max 80;
            LEAVE_KEEP = "leave_keep" max 80;
            LEAVE_CANCELLED = "leave_cancelled";
            LEAVE_DONE = "leave_done";
            LEFT_NOTICE = "left_notice" (by);
        }
        settings {
            TIME_OR_OFF = "time_or_off" (option);
            TIME_REQUIRED = "time_required" (option);
            BAD_DAYS = "bad_days";
            BAD_WAKING = "bad_waking";
            BAD_REMINDER = "bad_reminder";
            SAVED_TITLE = "saved_title";
            SAVED_MINE = "saved_mine" (person, morning, evening, days, zone, waking_start, waking_end);
            PAUSED = "paused" (person, until);
            RESUMED = "resumed" (person);
            NOT_PAUSED = "not_paused";
            NO_REMINDER = "no_reminder";
            REMINDER_AFTER = "reminder_after" (after);
            NO_QUIET = "no_quiet";
            QUIET = "quiet" (start, end);
            MICRO_OFF = "micro_off";
            MICRO_FEW = "micro_few";
            MICRO_DAILY = "micro_daily";
            RHYTHM = "rhythm" (window, reminder, quiet, micro, days, time, person, zone);
            WEEKLY_LINE = "weekly_line" (day, time);
            WEEKLY_OFF = "weekly_off";
            APART_LINE = "apart_line";
        }
        care {
            INTRO = "intro" (partner);
            PLACEHOLDER = "placeholder" max 150;
            WORDS = "words" max 100;
            TIME = "time" max 100;
            SERVICE = "service" max 100;
            GIFTS = "gifts" max 100;
            TOUCH = "touch" max 100;
            SAVED = "saved" (partner);
            CLEARED = "cleared";
        }
        help {
            TITLE = "title";
        }
        privacy {
            EXPORT_HERE = "export_here";
            EXPORT_NOTHING = "export_nothing";
            FORGET_CONFIRM = "forget_confirm";
            FORGET_NOTHING = "forget_nothing";
            FORGET_YES = "forget_yes" max 80;
            FORGET_KEEP = "forget_keep" max 80;
            FORGET_CANCELLED = "forget_cancelled";
            FORGET_STARTED = "forget_started";
            FORGET_DONE = "forget_done";
            FORGOTTEN_NOTICE = "forgotten_notice" (who);
        }
        recap {
            TOGETHER_NONE = "together_none";
            TOGETHER_LINE = "together_line" (checkins, both);
            CHECKIN_ONE = "checkin_one";
            CHECKIN_MANY = "checkin_many" (n);
            MOMENTS_LINE = "moments_line" (moments);
            MOMENT_ONE = "moment_one";
            MOMENT_MANY = "moment_many" (n);
            REPAIRS_TOGETHER = "repairs_together" (repairs);
            REPAIR_ONE = "repair_one";
            REPAIR_MANY = "repair_many" (n);
            REPAIRS_PARTIAL = "repairs_partial" (started, done);
            AGREEMENTS = "agreements" (made, revisited);
            READING_TOGETHER = "reading_together" (good, guesses);
            GUESS_ONE = "guess_one";
            GUESS_MANY = "guess_many" (n);
            READING_NONE = "reading_none";
            READING_FOOTER = "reading_footer";
            FOOTER = "footer";
            QUIET_TITLE = "quiet_title";
            QUIET_BODY = "quiet_body";
            QUIET_SO_FAR_TITLE = "quiet_so_far_title";
            QUIET_SO_FAR_BODY = "quiet_so_far_body";
            FIELD_IDEA = "field_idea";
            FIELD_PRACTICE = "field_practice";
            FIELD_READING = "field_reading";
            LEAD = "lead";
            LEAD_QUIET = "lead_quiet";
            TITLE = "title";
            INTRO = "intro";
            SO_FAR_TITLE = "so_far_title";
            SO_FAR_INTRO = "so_far_intro";
            CHART_TITLE = "chart_title" (from, to);
            ALT_INTRO = "alt_intro" (from, to);
            ALT_NONE = "alt_none" (name);
            ALT_ONCE = "alt_once" (name, mood);
            ALT_RISING = "alt_rising" (name, days, from, to);
            ALT_EASING = "alt_easing" (name, days, from, to);
            ALT_STEADY = "alt_steady" (name, days, mood);
            ONE_DAY = "one_day";
            N_DAYS = "n_days" (n);
            PARTNER_N = "partner_n" (n);
            MINE = "mine" max 80;
            MINE_TITLE = "mine_title";
            MINE_BODY = "mine_body" (checkins, days, moments);
            MINE_NONE = "mine_none";
            MINE_READS = "mine_reads" (partner, spot, close, guesses);
            MINE_FOOTER = "mine_footer";
            MOOD_1 = "mood_1";
            MOOD_2 = "mood_2";
            MOOD_3 = "mood_3";
            MOOD_4 = "mood_4";
            MOOD_5 = "mood_5";
        }
        repair {
            STEMS = "stems" (stems);
            PAUSE = "pause" max 80;
            END = "end" max 80;
            BREAK_20 = "break_20" max 80;
            BREAK_60 = "break_60" max 80;
            BREAK_EVENING = "break_evening" max 80;
            BREAK_TOMORROW = "break_tomorrow" max 80;
            STAGE_TITLE = "stage_title" (n, of, title);
            PAUSED_UNTIL = "paused_until" (at, in);
            BREAK_TITLE = "break_title";
            BREAK_BODY = "break_body";
            READY_NOW = "ready_now" max 80;
            ONE_OF_YOU = "one_of_you";
            ENDED = "ended" (by);
            EXPIRED = "expired";
            INVITED_LEAD = "invited_lead" (p, i);
            INVITED_TITLE = "invited_title";
            INVITED_BODY = "invited_body" (i, p, resources);
            IM_READY = "im_ready" max 80;
            NEED_TIME = "need_time" max 80;
            REGULATE_LEAD_ONE = "regulate_lead_one" (waiting);
            REGULATE_LEAD_BOTH = "regulate_lead_both" (waiting);
            REGULATE_TAP = "regulate_tap";
            CALM = "calm" max 80;
            STIRRED = "stirred" max 80;
            BREATHER_LEAD = "breather_lead";
            BREATHER_TITLE = "breather_title";
            BREATHER_BODY = "breather_body" (break_note);
            RATE_AGAIN = "rate_again" max 80;
            OWN_LEAD = "own_lead" (owner, hurt);
            WRITE_OWN = "write_own" max 80;
            OWNS_THEIR_PART = "owns_their_part" (owner, own);
            FELT_LEAD = "felt_lead" (hurt);
            WRITE_FELT = "write_felt" max 80;
            WHAT_IT_WAS_LIKE = "what_it_was_like" (hurt, felt);
            NOT_QUITE_MISSING = "not_quite_missing" (hurt, missing);
            TRY_N = "try_n" (n, max);
            REFLECT_LEAD = "reflect_lead" (owner);
            WRITE_REFLECT = "write_reflect" max 80;
            CONFIRM_BODY = "confirm_body" (owner, reflection);
            CONFIRM_AT_LIMIT = "confirm_at_limit" (n);
            GO_ON = "go_on" max 80;
            NOT_QUITE = "not_quite" max 80;
            HEARD = "heard" max 80;
            CONFIRM_LEAD = "confirm_lead" (hurt);
            PROPOSES = "proposes" (who, line);
            NEXT_TIME_HOW = "next_time_how";
            NEXT_TIME_LEAD_ONE = "next_time_lead_one" (waiting);
            NEXT_TIME_LEAD_BOTH = "next_time_lead_both" (waiting);
            WRITE_PLAN = "write_plan" max 80;
            PICK_LEAD = "pick_lead" (i, p);
            PICK_BODY = "pick_body" (i, first, p, second);
            KEEP_1 = "keep_1" max 80;
            KEEP_2 = "keep_2" max 80;
            KEEP_BOTH = "keep_both" max 80;
            NEW_LINES = "new_lines" max 80;
            AGREE_LEAD = "agree_lead" (other, by);
            AGREE = "agree" max 80;
            NOT_THIS = "not_this" max 80;
            CLOSE_LEAD = "close_lead" (waiting);
            CLOSE_BODY = "close_body" (agreement, intro);
            DISTANT = "distant" max 80;
            CLOSE = "close" max 80;
            SUMMARY_WENT_ON = "summary_went_on";
            SUMMARY_HEARD = "summary_heard" (hurt);
            SUMMARY_BODY = "summary_body" (owner, hurt, heard);
            SUMMARY_AGREED = "summary_agreed" (agreement, at);
            SUMMARY_TITLE = "summary_title";
            SUMMARY_FOOTER = "summary_footer";
            SUMMARY_LEAD = "summary_lead" (i, p);
            REVISIT_LEAD = "revisit_lead" (i, p);
            REVISIT_WELL = "revisit_well" max 80;
            REVISIT_MIXED = "revisit_mixed" max 80;
            REVISIT_HARD = "revisit_hard" max 80;
            SHARE = "share" max 80;
            REWRITE = "rewrite" max 80;
            HINT_MOMENT = "hint_moment";
            HINT_DRAFT = "hint_draft";
            ONLY_YOU = "only_you";
            YOUR_WORDS = "your_words";
            NAMED_MOMENT = "named_moment" (person);
            THE_MOMENT = "the_moment";
            MOMENT_TITLE = "moment_title" max 45;
            MOMENT_LABEL = "moment_label" max 45;
            OWN_LABEL = "own_label" max 45;
            FELT_LABEL = "felt_label" max 45;
            REFLECT_LABEL = "reflect_label" max 45;
            MISSING_TITLE = "missing_title" max 45;
            MISSING_LABEL = "missing_label" max 45;
            PLAN_LABEL = "plan_label" max 45;
            MOMENT_PLACEHOLDER = "moment_placeholder" max 100;
            MISSING_PLACEHOLDER = "missing_placeholder" max 100;
            OWN_WORDS = "own_words" max 100;
            WHEN_BACK = "when_back";
            END_CONFIRM = "end_confirm";
            END_YES = "end_yes" max 80;
            KEEP_GOING = "keep_going" max 80;
            REVISIT_THANKS_WELL = "revisit_thanks_well";
            REVISIT_THANKS_MIXED = "revisit_thanks_mixed";
            REVISIT_THANKS_HARD = "revisit_thanks_hard";
            NOT_YOUR_TURN = "not_your_turn" (person);
            STEP_DONE = "step_done";
            REFUSE_PAUSED_UNTIL = "refuse_paused_until" (at, in);
            REFUSE_PAUSED = "refuse_paused";
            FINISHED_COMPLETED = "finished_completed";
            FINISHED_EXPIRED = "finished_expired";
            FINISHED_ENDED = "finished_ended";
            NOTHING_TO_SHARE = "nothing_to_share";
            ALREADY_SHARED = "already_shared";
            LOOP_LIMIT = "loop_limit";
            BUSY = "busy";
            EMPTY = "empty";
            TOO_LONG = "too_long" (max);
            STEP_MOVED_ON = "step_moved_on";
            CARRYING_ON = "carrying_on";
            LEAD_BACK = "lead_back" (person);
            LEAD_BREAK = "lead_break";
            LEAD_READY = "lead_ready" (person);
            LEAD_RATED = "lead_rated";
            LEAD_RATE_AGAIN = "lead_rate_again";
            LEAD_HEARD = "lead_heard" (person);
            LEAD_GO_ON = "lead_go_on";
            LEAD_FRESH_LINES = "lead_fresh_lines";
            LEAD_CHOOSE_AGAIN = "lead_choose_again" (person);
            LEAD_AGREED = "lead_agreed";
            LEAD_PROPOSED = "lead_proposed" (person);
            NOTED = "noted" (v, other);
            NUDGE = "nudge" (closes);
            POINTER = "pointer" (by, since);
            RESENT = "resent";
            WELCOME_BACK = "welcome_back";
            INVITED_LEAD_HURT = "invited_lead_hurt" (p, i);
            INVITED_BODY_HURT = "invited_body_hurt" (i, p, resources);
            CHOOSE = "choose";
            CHOOSE_OWN = "choose_own" max 80;
            CHOOSE_HURT = "choose_hurt" max 80;
            HURT_MOMENT_TITLE = "hurt_moment_title" max 45;
            RECHECK_LEAD_ONE = "recheck_lead_one" (waiting);
            RECHECK_LEAD_BOTH = "recheck_lead_both" (waiting);
            RECHECK_TITLE = "recheck_title";
            SETTLE = "settle";
            SETTLE_GO_ON = "settle_go_on" max 80;
            NOT_SAFE = "not_safe" max 80;
            EMPATHY_LEAD = "empathy_lead" (owner, hurt);
            WRITE_EMPATHY = "write_empathy" max 80;
            EMPATHY_LABEL = "empathy_label" max 45;
            EMPATHY_SHOWN = "empathy_shown" (owner, empathy);
            PICK_BOTH_BODY = "pick_both_body" (first, second);
            OTHER_WAY = "other_way" max 80;
            OTHER_WAY_LEAD = "other_way_lead" (person);
            SUMMARY_BOTH_WAYS = "summary_both_ways";
            STAYS_PRIVATE = "stays_private";
            WORRYING = "worrying";
        }
    }
}
