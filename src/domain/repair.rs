//! The guided repair flow as a pure state machine: its steps and statuses, which role
//! (initiator or partner) may do what at each step, the transitions, the limits, and when a
//! break brings the couple back. `discord::repair` asks [`decide`] what a click means and
//! saves the answer with a version check; nothing here touches Discord or the database.
//!
//! Roles: the *initiator* ran `/repair`; the *partner* was invited. Separately, one of them
//! is the *owner*, who owns their part, and the other is the one who was *hurt* and is
//! heard. The initiator chooses at the start: "I want to own something" (they are the owner)
//! or "something hurt, I'd like to be heard" (the partner is the owner). The order follows:
//!
//! ```text
//! owner started:  Invited → Regulate → OwnIt → Felt → Recheck → Reflect ⇄ Confirm → Empathy → NextTime
//! hurt started:   Invited → Regulate → Felt → Recheck → Reflect ⇄ Confirm → Empathy → OwnIt → NextTime
//! then:           NextTime → Pick → Agree → Close → Done
//! ```
//!
//! - Invited: the partner says they're ready. Regulate and Recheck: both rate privately how
//!   stirred up they are; a high rating (4 or 5) is answered privately, to its rater alone,
//!   with a break or "I can go on", and the step waits for that choice. Nothing public ever
//!   says who rated high.
//! - OwnIt (owner), Felt (hurt), Reflect (owner), Confirm (hurt: "yes, that's it", or "not
//!   quite" back to Reflect, with a second Recheck after the second "not quite", up to a
//!   limit), Empathy (owner: a few words that say the feelings make sense).
//! - NextTime: each proposes a line; Pick: either picks one line, or both; Agree: the other
//!   confirms; Close: both rate connection privately; Done.
//! - "I don't feel safe" ends the flow at once, quietly: the room sees only that it's paused.
//!   Texts whose words suggest danger are never shared, and a flow with any such text does
//!   not go on to "what would help next time".
//! - After a completed round, either may start a round the other way (owner swapped).
//!
//! At any open step either partner may take a break (status paused until a chosen time, then
//! back to the same step, or to Regulate after a break offered for flooding) or end the flow.
//! Writing is private: a `Submit` only saves a draft; a `Share` makes it visible and moves on.
//!
//! **The agreement mechanic.** Each partner proposes one line for next time (written
//! privately, then shared). Once both lines are shared, either partner picks one of the two;
//! the *other* partner then confirms it ("yes, let's keep it") or sends it back to be picked
//! again ("not this one"). Either may ask for a fresh round of lines instead. So a line only
//! becomes the agreement when both have said yes to it: one by picking, one by confirming.
//! The confirmed line is stored as the couple's agreement and revisited days later.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

use super::custom_id::RepairAction;
use super::time::{local_date, local_instant};

/// Longest owning, sharing, reflecting or "what's missing" text, in characters. Well inside an
/// embed description once quoted next to a step's intro.
pub const MAX_TEXT: usize = 1000;
/// Longest "the moment" text at the start.
pub const MAX_MOMENT: usize = 300;
/// Longest proposed line for next time: an agreement should be short enough to remember.
pub const MAX_PLAN: usize = 300;

/// Activation or connection ratings run from 1 to 5; 4 and 5 count as very stirred up.
pub const FLOODED: u8 = 4;

/// After the first revisit (days after the agreement, from the config), the agreement comes
/// back at these many days after it was made: habits settle over weeks, not days.
pub const LATER_REVISITS: [i64; 2] = [10, 30];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The partner who ran `/repair`.
    Initiator,
    /// The other partner, invited in.
    Partner,
}

impl Role {
    pub const BOTH: [Role; 2] = [Role::Initiator, Role::Partner];

    pub fn other(self) -> Role {
        match self {
            Role::Initiator => Role::Partner,
            Role::Partner => Role::Initiator,
        }
    }

    fn index(self) -> usize {
        match self {
            Role::Initiator => 0,
            Role::Partner => 1,
        }
    }
}

macro_rules! named {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name stored in Postgres.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Invited,
    Regulate,
    /// A public break offer after a high rating. Flows since 0.2 offer the break privately
    /// instead; repairs saved at this step by 0.1 still work.
    BreakOffer,
    OwnIt,
    Felt,
    /// Both rate again, privately, after the hurt was shared (and after a second "not
    /// quite"); then Reflect.
    Recheck,
    Reflect,
    Confirm,
    /// The owner lets the hurt partner know their feelings make sense.
    Empathy,
    NextTime,
    Pick,
    Agree,
    Close,
    Done,
}

named!(Step {
    Invited => "invited",
    Regulate => "regulate",
    BreakOffer => "break",
    OwnIt => "own_it",
    Felt => "felt",
    Recheck => "recheck",
    Reflect => "reflect",
    Confirm => "confirm",
    Empathy => "empathy",
    NextTime => "next_time",
    Pick => "pick",
    Agree => "agree",
    Close => "close",
    Done => "done",
});

/// How many stages the couple sees ("step 2 of 7"): the invitation and the end are not counted.
pub const STAGES: u8 = 7;

impl Step {
    /// Steps where both rate how stirred up they are.
    pub fn is_settling(self) -> bool {
        matches!(self, Step::Regulate | Step::Recheck | Step::BreakOffer)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Open,
    Paused,
    Completed,
    Ended,
    Expired,
}

named!(Status {
    Open => "open",
    Paused => "paused",
    Completed => "completed",
    Ended => "ended",
    Expired => "expired",
});

impl Status {
    /// Open and paused flows still count as "the couple's open repair".
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Completed | Status::Ended | Status::Expired)
    }
}

/// The private texts of a repair. Each is written by one role (a plan by either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextKind {
    /// The moment being repaired, named in the `/repair` modal.
    Moment,
    /// What the owner owns.
    Own,
    /// What it was like for the one who was hurt.
    Felt,
    /// The owner's reflection of what they heard.
    Reflect,
    /// The hurt partner's "not quite: here is what's missing".
    Missing,
    /// The owner's words that the hurt partner's feelings make sense.
    Empathy,
    /// A proposed line for next time.
    Plan,
}

named!(TextKind {
    Moment => "moment",
    Own => "own_it",
    Felt => "felt",
    Reflect => "reflect",
    Missing => "missing",
    Empathy => "empathy",
    Plan => "plan",
});

impl TextKind {
    /// Longest accepted text, in characters (the modal's `max_length`).
    pub fn max_len(self) -> usize {
        match self {
            TextKind::Moment => MAX_MOMENT,
            TextKind::Plan => MAX_PLAN,
            _ => MAX_TEXT,
        }
    }
}

/// When a break ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakChoice {
    Minutes20,
    Hour,
    Evening,
    Tomorrow,
}

impl BreakChoice {
    pub const ALL: [BreakChoice; 4] = [
        BreakChoice::Minutes20,
        BreakChoice::Hour,
        BreakChoice::Evening,
        BreakChoice::Tomorrow,
    ];
}

/// The local hour "this evening" means.
const EVENING: u32 = 19;

/// When a break chosen at `now` ends, read in the chooser's zone. "This evening" is 19:00
/// local, or 90 minutes from now once that is less than half an hour away; "tomorrow" is the
/// same local time tomorrow, kept between 09:00 and 20:00 so nobody is called back at night.
pub fn break_until(choice: BreakChoice, now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    match choice {
        BreakChoice::Minutes20 => now + Duration::minutes(20),
        BreakChoice::Hour => now + Duration::hours(1),
        BreakChoice::Evening => {
            let evening = NaiveTime::from_hms_opt(EVENING, 0, 0).expect("valid time");
            let at = local_instant(zone, local_date(zone, now), evening);
            if at - now >= Duration::minutes(30) {
                at
            } else {
                now + Duration::minutes(90)
            }
        }
        BreakChoice::Tomorrow => {
            let local = now.with_timezone(&zone);
            let (early, late) = (
                NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
                NaiveTime::from_hms_opt(20, 0, 0).expect("valid time"),
            );
            let t = local.time();
            let time = if t < early {
                early
            } else if t > late {
                late
            } else {
                NaiveTime::from_hms_opt(t.hour(), t.minute(), 0).expect("valid time")
            };
            let tomorrow = local.date_naive().succ_opt().expect("not the end of time");
            local_instant(zone, tomorrow, time)
        }
    }
}

/// How the agreement has been going, answered days later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevisitAnswer {
    Well,
    Mixed,
    Hard,
}

named!(RevisitAnswer {
    Well => "going_well",
    Mixed => "mixed",
    Hard => "hard",
});

/// What someone can do, already parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Ready,
    NeedTime,
    /// Activation, 1 (calm) to 5 (flooded).
    Rate(u8),
    RateAgain,
    Pause,
    Break(BreakChoice),
    Resume,
    End,
    EndConfirm,
    EndCancel,
    /// Open the modal for this text.
    Write(TextKind),
    /// The modal's submit: saves a private draft.
    Submit(TextKind),
    /// Make the draft visible to the other partner (and usually move on).
    Share(TextKind),
    Heard,
    GoOn,
    /// Pick a line (or both) for the agreement.
    Pick(Line),
    NewLines,
    Agree,
    NotThis,
    /// Connection at the close, 1 (distant) to 5 (close).
    Connect(u8),
    Revisit(RevisitAnswer),
    /// After a high rating: "I can go on" (instead of a break).
    Settled,
    /// "I don't feel safe": stops the flow quietly, at any moment.
    NotSafe,
    /// After a completed round: another round, the other way.
    OtherWay,
}

impl Action {
    /// The domain meaning of a button or modal id; `None` for the start modal, which creates
    /// the repair rather than acting on one.
    pub fn from_custom(a: RepairAction) -> Option<Action> {
        use RepairAction as R;
        Some(match a {
            R::Start | R::StartHurt | R::ChooseOwn | R::ChooseHurt => return None,
            R::ShareMoment => Action::Share(TextKind::Moment),
            R::Ready => Action::Ready,
            R::NeedTime => Action::NeedTime,
            R::Calm1 => Action::Rate(1),
            R::Calm2 => Action::Rate(2),
            R::Calm3 => Action::Rate(3),
            R::Calm4 => Action::Rate(4),
            R::Calm5 => Action::Rate(5),
            R::RateAgain => Action::RateAgain,
            R::Pause => Action::Pause,
            R::Break20 => Action::Break(BreakChoice::Minutes20),
            R::Break60 => Action::Break(BreakChoice::Hour),
            R::BreakEvening => Action::Break(BreakChoice::Evening),
            R::BreakTomorrow => Action::Break(BreakChoice::Tomorrow),
            R::Resume => Action::Resume,
            R::End => Action::End,
            R::EndYes => Action::EndConfirm,
            R::EndNo => Action::EndCancel,
            R::WriteOwn => Action::Write(TextKind::Own),
            R::SubmitOwn => Action::Submit(TextKind::Own),
            R::ShareOwn => Action::Share(TextKind::Own),
            R::WriteFelt => Action::Write(TextKind::Felt),
            R::SubmitFelt => Action::Submit(TextKind::Felt),
            R::ShareFelt => Action::Share(TextKind::Felt),
            R::WriteReflect => Action::Write(TextKind::Reflect),
            R::SubmitReflect => Action::Submit(TextKind::Reflect),
            R::ShareReflect => Action::Share(TextKind::Reflect),
            R::Heard => Action::Heard,
            R::NotQuite => Action::Write(TextKind::Missing),
            R::SubmitMissing => Action::Submit(TextKind::Missing),
            R::ShareMissing => Action::Share(TextKind::Missing),
            R::GoOn => Action::GoOn,
            R::WritePlan => Action::Write(TextKind::Plan),
            R::SubmitPlan => Action::Submit(TextKind::Plan),
            R::SharePlan => Action::Share(TextKind::Plan),
            R::PickFirst => Action::Pick(Line::Of(Role::Initiator)),
            R::PickSecond => Action::Pick(Line::Of(Role::Partner)),
            R::PickBoth => Action::Pick(Line::Both),
            R::WriteEmpathy => Action::Write(TextKind::Empathy),
            R::SubmitEmpathy => Action::Submit(TextKind::Empathy),
            R::ShareEmpathy => Action::Share(TextKind::Empathy),
            R::Settled => Action::Settled,
            R::NotSafe => Action::NotSafe,
            R::OtherWay => Action::OtherWay,
            R::NewLines => Action::NewLines,
            R::Agree => Action::Agree,
            R::NotThis => Action::NotThis,
            R::Close1 => Action::Connect(1),
            R::Close2 => Action::Connect(2),
            R::Close3 => Action::Connect(3),
            R::Close4 => Action::Connect(4),
            R::Close5 => Action::Connect(5),
            R::RevisitWell => Action::Revisit(RevisitAnswer::Well),
            R::RevisitMixed => Action::Revisit(RevisitAnswer::Mixed),
            R::RevisitHard => Action::Revisit(RevisitAnswer::Hard),
        })
    }

    /// The text this action is about, if any (so the caller can look up its state).
    pub fn text(self) -> Option<TextKind> {
        match self {
            Action::Write(k) | Action::Submit(k) | Action::Share(k) => Some(k),
            _ => None,
        }
    }

    /// The steps this action belongs to; `None` for actions of any open step.
    fn homes(self) -> Option<&'static [Step]> {
        match self {
            Action::Ready | Action::NeedTime => Some(&[Step::Invited]),
            Action::Rate(_) | Action::Settled => Some(&[Step::Regulate, Step::Recheck]),
            Action::RateAgain => Some(&[Step::BreakOffer]),
            Action::Write(k) | Action::Submit(k) | Action::Share(k) => match k {
                TextKind::Moment => None,
                TextKind::Own => Some(&[Step::OwnIt]),
                TextKind::Felt => Some(&[Step::Felt]),
                TextKind::Reflect => Some(&[Step::Reflect]),
                TextKind::Missing => Some(&[Step::Confirm]),
                TextKind::Empathy => Some(&[Step::Empathy]),
                TextKind::Plan => Some(&[Step::NextTime]),
            },
            Action::Heard | Action::GoOn => Some(&[Step::Confirm]),
            Action::Pick(_) | Action::NewLines => Some(&[Step::Pick]),
            Action::Agree | Action::NotThis => Some(&[Step::Agree]),
            Action::Connect(_) => Some(&[Step::Close]),
            Action::Pause
            | Action::Break(_)
            | Action::Resume
            | Action::End
            | Action::EndConfirm
            | Action::EndCancel
            | Action::Revisit(_)
            | Action::NotSafe
            | Action::OtherWay => None,
        }
    }
}

/// The line an agreement keeps: one partner's, or both together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Line {
    Of(Role),
    Both,
}

/// Which line was picked for the agreement, and by whom (the other one confirms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Picked {
    pub by: Role,
    pub line: Line,
}

/// Everything about a repair that decides what may happen next.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub step: Step,
    pub status: Status,
    /// Activation ratings, initiator first; private to each rater.
    pub activation: [Option<u8>; 2],
    /// Connection ratings at the close, initiator first; private to each rater.
    pub connection: [Option<u8>; 2],
    /// Reflections shared so far (the current try while reflecting).
    pub reflect_loops: u8,
    /// Rounds of proposed lines (a fresh round after "write new lines").
    pub plan_round: u8,
    pub picked: Option<Picked>,
    /// While paused: where the flow reopens, and when.
    pub resume_step: Option<Step>,
    pub resume_at: Option<DateTime<Utc>>,
    /// Whether the partner said "yes, that's it" (false: they went on at the loop limit).
    pub heard: Option<bool>,
    /// Who owns their part (the other was hurt and is heard).
    pub owner: Role,
    /// Initiator first: rated high and not yet chosen between a break and going on. Private
    /// to each rater; the step waits without saying why.
    pub unsettled: [bool; 2],
    /// Ended because someone didn't feel safe: the room reads only that it's paused.
    pub quiet: bool,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

impl State {
    /// A fresh repair, waiting for the partner.
    pub fn new() -> State {
        State {
            step: Step::Invited,
            status: Status::Open,
            activation: [None, None],
            connection: [None, None],
            reflect_loops: 0,
            plan_round: 0,
            picked: None,
            resume_step: None,
            resume_at: None,
            heard: None,
            owner: Role::Initiator,
            unsettled: [false, false],
            quiet: false,
        }
    }

    /// A fresh repair in which `owner` owns their part.
    pub fn with_owner(owner: Role) -> State {
        State {
            owner,
            ..State::new()
        }
    }

    /// The one who was hurt and is heard.
    pub fn hurt(&self) -> Role {
        self.owner.other()
    }

    /// Whether the one who started it was hurt (so hearing comes before owning).
    pub fn hurt_first(&self) -> bool {
        self.owner == Role::Partner
    }

    /// The stage number shown to the couple, if this step is one.
    pub fn stage(&self) -> Option<u8> {
        let hurt_first = self.hurt_first();
        Some(match self.step {
            Step::Invited | Step::Done => return None,
            Step::Regulate | Step::BreakOffer => 1,
            Step::OwnIt if hurt_first => 5,
            Step::OwnIt => 2,
            Step::Felt | Step::Recheck if hurt_first => 2,
            Step::Felt | Step::Recheck => 3,
            Step::Reflect | Step::Confirm if hurt_first => 3,
            Step::Reflect | Step::Confirm => 4,
            Step::Empathy if hurt_first => 4,
            Step::Empathy => 5,
            Step::NextTime | Step::Pick | Step::Agree => 6,
            Step::Close => 7,
        })
    }

    pub fn activation(&self, role: Role) -> Option<u8> {
        self.activation[role.index()]
    }

    pub fn connection(&self, role: Role) -> Option<u8> {
        self.connection[role.index()]
    }

    /// The round a text of `kind` belongs to now: each reflection try and each round of
    /// lines is kept apart, so a "not quite" never overwrites what was shared before.
    pub fn round(&self, kind: TextKind) -> i16 {
        match kind {
            TextKind::Reflect | TextKind::Missing => i16::from(self.reflect_loops),
            TextKind::Plan => i16::from(self.plan_round),
            _ => 0,
        }
    }

    /// Who may act at the current step (nobody once it is not open).
    pub fn turn(&self) -> Vec<Role> {
        if self.status != Status::Open {
            return Vec::new();
        }
        match self.step {
            Step::Invited => vec![Role::Partner],
            Step::Felt | Step::Confirm => vec![self.hurt()],
            Step::OwnIt | Step::Reflect | Step::Empathy => vec![self.owner],
            Step::Agree => self.picked.map(|p| vec![p.by.other()]).unwrap_or_default(),
            Step::Regulate
            | Step::Recheck
            | Step::BreakOffer
            | Step::NextTime
            | Step::Pick
            | Step::Close => Role::BOTH.to_vec(),
            Step::Done => Vec::new(),
        }
    }

    /// Who the flow is waiting for right now: those whose turn it is and who have not yet
    /// done their part of a both-partners step. `plan_shared` says, initiator first, whether
    /// each has shared a line this round. These are the only people a post may ping.
    pub fn waiting_on(&self, plan_shared: [bool; 2]) -> Vec<Role> {
        self.turn()
            .into_iter()
            .filter(|r| match self.step {
                Step::Regulate | Step::Recheck => self.activation(*r).is_none(),
                Step::Close => self.connection(*r).is_none(),
                Step::NextTime => !plan_shared[r.index()],
                _ => true,
            })
            .collect()
    }

    fn with_step(&self, step: Step) -> State {
        State {
            step,
            ..self.clone()
        }
    }

    /// A settling step, with everyone to rate afresh.
    fn settling(&self, step: Step) -> State {
        State {
            activation: [None, None],
            unsettled: [false, false],
            ..self.with_step(step)
        }
    }

    /// Where the flow goes once a settling step is done.
    fn after_settling(&self) -> Step {
        match self.step {
            Step::Recheck => Step::Reflect,
            _ if self.hurt_first() => Step::Felt,
            _ => Step::OwnIt,
        }
    }

    /// The flow ended quietly, for safety.
    fn stopped(&self) -> State {
        State {
            status: Status::Ended,
            quiet: true,
            ..self.clone()
        }
    }

    /// On to "what would help next time", unless something written here suggests someone
    /// may not be safe: then the flow stops quietly instead.
    fn to_next_time(&self, facts: &Facts) -> State {
        if facts.worrying {
            self.stopped()
        } else {
            self.with_step(Step::NextTime)
        }
    }
}

/// Where the acting person's text stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextState {
    #[default]
    None,
    Draft,
    Shared,
}

/// What the database knows that the state does not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    /// The actor's text of the action's kind, at the current round.
    pub mine: TextState,
    /// The other partner's line for next time, at the current round.
    pub other_plan: TextState,
    /// An agreement came out of this repair.
    pub has_agreement: bool,
    /// The actor's text of the action's kind suggests they may not be safe: it stays theirs.
    pub mine_worrying: bool,
    /// Some text of this repair suggests someone may not be safe.
    pub worrying: bool,
    /// A round the other way was already started after this one.
    pub has_follow_up: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How many reflections a "not quite" loop allows before offering to go on.
    pub max_reflect_loops: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_reflect_loops: 3,
        }
    }
}

/// The moment and place a decision is made in.
#[derive(Debug, Clone, Copy)]
pub struct Cx {
    pub now: DateTime<Utc>,
    /// The acting person's zone, for break times like "this evening".
    pub zone: Tz,
    pub limits: Limits,
}

/// Why nothing happens; each becomes a short, kind answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The step belongs to this role.
    NotYourTurn(Role),
    /// The button belongs to a step the flow has left.
    StepDone,
    Paused(Option<DateTime<Utc>>),
    Finished(Status),
    NothingToShare,
    AlreadyShared,
    /// "Not quite" after the last allowed try.
    LoopLimit,
    /// Words that suggest the writer may not be safe are never shared.
    StaysPrivate,
}

/// Something shown to the person, with no change saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    Modal(TextKind),
    /// The break-time buttons (after "I need a little time" or "Pause").
    TimeChooser,
    EndConfirm,
    /// "Keep going" after an end confirmation was declined.
    KeepGoing,
    /// The private card after a high rating: a break, or "I can go on".
    Settle,
    /// Where to find help (after "I don't feel safe" on a finished flow).
    Safety,
}

/// What a change writes besides the repair row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    None,
    /// Save the actor's private draft of this kind.
    Draft(TextKind),
    /// Mark the actor's draft of this kind as shared.
    Shared(TextKind),
    /// Store the agreement: the line (or lines) picked.
    Agreement(Line),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Show(Show),
    /// Save `next` with a version check, plus `write`.
    Change {
        next: State,
        write: Write,
    },
    /// Store an answer about the agreement (the repair itself does not change).
    Revisit(RevisitAnswer),
    /// Start a round the other way: a new repair, its owner swapped.
    OtherWay,
}

fn change(next: State) -> Result<Outcome, Refusal> {
    Ok(Outcome::Change {
        next,
        write: Write::None,
    })
}

fn change_with(next: State, write: Write) -> Result<Outcome, Refusal> {
    Ok(Outcome::Change { next, write })
}

/// Reopens a paused flow where it was left (the return job and "we're ready now").
pub fn reopen(s: &State) -> Option<State> {
    (s.status == Status::Paused).then(|| State {
        status: Status::Open,
        step: s.resume_step.unwrap_or(s.step),
        resume_step: None,
        resume_at: None,
        ..s.clone()
    })
}

/// Closes an open flow after inactivity. A flow that already reached its agreement and only
/// waits for the closing ratings completes instead: the work was done.
pub fn expire(s: &State) -> Option<State> {
    (s.status == Status::Open).then(|| {
        if s.step == Step::Close {
            State {
                status: Status::Completed,
                step: Step::Done,
                ..s.clone()
            }
        } else {
            State {
                status: Status::Expired,
                ..s.clone()
            }
        }
    })
}

/// What `action` by `role` means for a repair in state `s`.
pub fn decide(
    s: &State,
    role: Role,
    action: Action,
    facts: &Facts,
    cx: &Cx,
) -> Result<Outcome, Refusal> {
    // An agreement can be revisited whatever became of the flow afterwards.
    if let Action::Revisit(answer) = action {
        return if facts.has_agreement {
            Ok(Outcome::Revisit(answer))
        } else {
            Err(Refusal::StepDone)
        };
    }
    // "I don't feel safe" always gets an answer: it stops a flow that is still going, and
    // shows where to find help either way.
    if action == Action::NotSafe {
        return if s.status.is_finished() {
            Ok(Outcome::Show(Show::Safety))
        } else {
            change(s.stopped())
        };
    }
    if action == Action::OtherWay {
        return if s.status == Status::Completed && !facts.has_follow_up {
            Ok(Outcome::OtherWay)
        } else {
            Err(Refusal::StepDone)
        };
    }
    match s.status {
        Status::Completed | Status::Ended | Status::Expired => {
            return Err(Refusal::Finished(s.status))
        }
        Status::Paused => {
            return match action {
                Action::Resume => change(reopen(s).expect("paused")),
                Action::End => Ok(Outcome::Show(Show::EndConfirm)),
                Action::EndConfirm => change(State {
                    status: Status::Ended,
                    ..s.clone()
                }),
                Action::EndCancel => Ok(Outcome::Show(Show::KeepGoing)),
                _ => Err(Refusal::Paused(s.resume_at)),
            }
        }
        Status::Open => {}
    }

    // Actions of any open step.
    match action {
        Action::Pause => return Ok(Outcome::Show(Show::TimeChooser)),
        Action::Break(choice) => {
            // A break offered for flooding comes back to settling first; a pause comes back
            // to where the couple left off.
            let back_to = if s.step == Step::BreakOffer {
                Step::Regulate
            } else {
                s.step
            };
            let mut next = State {
                status: Status::Paused,
                resume_step: Some(back_to),
                resume_at: Some(break_until(choice, cx.now, cx.zone)),
                ..s.clone()
            };
            if back_to.is_settling() {
                // Everyone settles afresh after a break.
                next.activation = [None, None];
                next.unsettled = [false, false];
            }
            return change(next);
        }
        Action::Resume => return Err(Refusal::StepDone),
        Action::End => return Ok(Outcome::Show(Show::EndConfirm)),
        Action::EndConfirm => {
            return change(State {
                status: Status::Ended,
                ..s.clone()
            })
        }
        Action::EndCancel => return Ok(Outcome::Show(Show::KeepGoing)),
        Action::Share(TextKind::Moment) => {
            if role != Role::Initiator {
                return Err(Refusal::NotYourTurn(Role::Initiator));
            }
            return match facts.mine {
                TextState::Draft => change_with(s.clone(), Write::Shared(TextKind::Moment)),
                TextState::Shared => Err(Refusal::AlreadyShared),
                TextState::None => Err(Refusal::NothingToShare),
            };
        }
        _ => {}
    }

    // Everything else belongs to its steps, and to whoever's turn it is there.
    if !action.homes().is_some_and(|h| h.contains(&s.step)) {
        return Err(Refusal::StepDone);
    }
    let turn = s.turn();
    if !turn.contains(&role) {
        return Err(Refusal::NotYourTurn(
            turn.first().copied().unwrap_or(role.other()),
        ));
    }
    let max_loops = cx.limits.max_reflect_loops.max(1);
    match action {
        Action::Ready => change(s.with_step(Step::Regulate)),
        Action::NeedTime => Ok(Outcome::Show(Show::TimeChooser)),
        Action::Rate(v) => {
            let v = v.clamp(1, 5);
            let mut next = s.clone();
            next.activation[role.index()] = Some(v);
            // A high rating is answered privately with a break or "I can go on"; the step
            // waits for that choice, so nothing public depends on anyone's number.
            next.unsettled[role.index()] = v >= FLOODED;
            change(settle_if_ready(next))
        }
        Action::Settled => {
            if !s.unsettled[role.index()] {
                return Err(Refusal::StepDone);
            }
            let mut next = s.clone();
            next.unsettled[role.index()] = false;
            change(settle_if_ready(next))
        }
        Action::RateAgain => {
            let mut next = s.with_step(Step::Regulate);
            next.activation = [None, None];
            change(next)
        }
        Action::Write(kind) | Action::Submit(kind) => {
            if kind == TextKind::Missing && s.reflect_loops >= max_loops {
                return Err(Refusal::LoopLimit);
            }
            if facts.mine == TextState::Shared {
                return Err(Refusal::AlreadyShared);
            }
            if matches!(action, Action::Write(_)) {
                Ok(Outcome::Show(Show::Modal(kind)))
            } else {
                // A draft changes no step, but it is activity: the version moves on.
                change_with(s.clone(), Write::Draft(kind))
            }
        }
        Action::Share(kind) => {
            match facts.mine {
                TextState::Draft => {}
                TextState::Shared => return Err(Refusal::AlreadyShared),
                TextState::None => return Err(Refusal::NothingToShare),
            }
            if facts.mine_worrying {
                return Err(Refusal::StaysPrivate);
            }
            let next = match kind {
                TextKind::Own if s.hurt_first() => s.to_next_time(facts),
                TextKind::Own => s.with_step(Step::Felt),
                // Sharing the hurt can stir both up: settle again, privately, first.
                TextKind::Felt => State {
                    reflect_loops: 1,
                    ..s.settling(Step::Recheck)
                },
                TextKind::Reflect => s.with_step(Step::Confirm),
                TextKind::Missing => {
                    if s.reflect_loops >= max_loops {
                        return Err(Refusal::LoopLimit);
                    }
                    let next = State {
                        reflect_loops: s.reflect_loops + 1,
                        ..s.clone()
                    };
                    // After a second "not quite", settle again before the next try.
                    if s.reflect_loops == 2 {
                        next.settling(Step::Recheck)
                    } else {
                        next.with_step(Step::Reflect)
                    }
                }
                TextKind::Empathy if s.hurt_first() => s.with_step(Step::OwnIt),
                TextKind::Empathy => s.to_next_time(facts),
                TextKind::Plan => {
                    if facts.other_plan == TextState::Shared {
                        s.with_step(Step::Pick)
                    } else {
                        s.clone()
                    }
                }
                TextKind::Moment => unreachable!("handled above"),
            };
            change_with(next, Write::Shared(kind))
        }
        Action::Heard => change(State {
            heard: Some(true),
            ..s.with_step(Step::Empathy)
        }),
        Action::GoOn => {
            // Only offered once the tries are used up; before that, "yes" or "not quite".
            if s.reflect_loops < max_loops {
                return Err(Refusal::StepDone);
            }
            change(State {
                heard: Some(false),
                ..s.with_step(Step::Empathy)
            })
        }
        Action::Pick(line) => change(State {
            picked: Some(Picked { by: role, line }),
            ..s.with_step(Step::Agree)
        }),
        Action::NewLines => change(State {
            plan_round: s.plan_round + 1,
            picked: None,
            ..s.with_step(Step::NextTime)
        }),
        Action::Agree => {
            let line = s.picked.expect("agree step has a pick").line;
            change_with(s.with_step(Step::Close), Write::Agreement(line))
        }
        Action::NotThis => change(State {
            picked: None,
            ..s.with_step(Step::Pick)
        }),
        Action::Connect(v) => {
            let mut next = s.clone();
            next.connection[role.index()] = Some(v.clamp(1, 5));
            if next.connection.iter().all(Option::is_some) {
                next.step = Step::Done;
                next.status = Status::Completed;
            }
            change(next)
        }
        Action::Pause
        | Action::Break(_)
        | Action::Resume
        | Action::End
        | Action::EndConfirm
        | Action::EndCancel
        | Action::Revisit(_)
        | Action::NotSafe
        | Action::OtherWay => unreachable!("handled above"),
    }
}

/// Moves a settling step on once both have rated and neither is still choosing.
fn settle_if_ready(mut next: State) -> State {
    if next.activation.iter().all(Option::is_some) && !next.unsettled.iter().any(|u| *u) {
        next.step = next.after_settling();
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Cx {
        Cx {
            now: "2026-11-25T12:00:00Z".parse().unwrap(),
            zone: Tz::UTC,
            limits: Limits::default(),
        }
    }

    fn draft() -> Facts {
        Facts {
            mine: TextState::Draft,
            ..Facts::default()
        }
    }

    /// Applies a change, failing the test on anything else.
    fn step(s: &State, role: Role, action: Action, facts: Facts) -> State {
        match decide(s, role, action, &facts, &cx()) {
            Ok(Outcome::Change { next, .. }) => next,
            other => panic!("{action:?} by {role:?} at {:?}: {other:?}", s.step),
        }
    }

    use Role::{Initiator as I, Partner as P};

    fn to_own_it() -> State {
        let s = step(&State::new(), P, Action::Ready, Facts::default());
        let s = step(&s, I, Action::Rate(2), Facts::default());
        assert_eq!(s.step, Step::Regulate, "waits for both ratings");
        step(&s, P, Action::Rate(3), Facts::default())
    }

    /// Both rate calm at a settling step.
    fn settle(s: &State) -> State {
        let s = step(s, I, Action::Rate(2), Facts::default());
        step(&s, P, Action::Rate(1), Facts::default())
    }

    #[test]
    fn full_flow_reaches_an_agreement_and_completes() {
        let s = to_own_it();
        assert_eq!(s.step, Step::OwnIt);
        assert_eq!(s.stage(), Some(2));
        let s = step(&s, I, Action::Share(TextKind::Own), draft());
        assert_eq!(s.step, Step::Felt);
        let s = step(&s, P, Action::Share(TextKind::Felt), draft());
        assert_eq!(
            (s.step, s.activation),
            (Step::Recheck, [None, None]),
            "after the hurt is shared, both settle again"
        );
        let s = settle(&s);
        assert_eq!((s.step, s.reflect_loops), (Step::Reflect, 1));
        let s = step(&s, I, Action::Share(TextKind::Reflect), draft());
        assert_eq!(s.step, Step::Confirm);
        let s = step(&s, P, Action::Heard, Facts::default());
        assert_eq!((s.step, s.heard), (Step::Empathy, Some(true)));
        assert_eq!(s.turn(), vec![I], "the owner says it makes sense");
        let s = step(&s, I, Action::Share(TextKind::Empathy), draft());
        assert_eq!(s.step, Step::NextTime);
        let s = step(&s, I, Action::Share(TextKind::Plan), draft());
        assert_eq!(s.step, Step::NextTime, "waits for the other line");
        let s = step(
            &s,
            P,
            Action::Share(TextKind::Plan),
            Facts {
                mine: TextState::Draft,
                other_plan: TextState::Shared,
                ..Facts::default()
            },
        );
        assert_eq!(s.step, Step::Pick);
        let s = step(&s, I, Action::Pick(Line::Of(P)), Facts::default());
        assert_eq!(s.step, Step::Agree);
        assert_eq!(s.turn(), vec![P], "the one who did not pick confirms");
        let out = decide(&s, P, Action::Agree, &Facts::default(), &cx()).unwrap();
        let Outcome::Change { next: s, write } = out else {
            panic!()
        };
        assert_eq!(write, Write::Agreement(Line::Of(P)));
        assert_eq!(s.step, Step::Close);
        let s = step(&s, P, Action::Connect(4), Facts::default());
        assert_eq!(s.status, Status::Open);
        let s = step(&s, I, Action::Connect(5), Facts::default());
        assert_eq!((s.step, s.status), (Step::Done, Status::Completed));
        assert_eq!(
            decide(&s, P, Action::OtherWay, &Facts::default(), &cx()),
            Ok(Outcome::OtherWay),
            "a round the other way is offered after a completed round"
        );
        let followed = Facts {
            has_follow_up: true,
            ..Facts::default()
        };
        assert_eq!(
            decide(&s, I, Action::OtherWay, &followed, &cx()),
            Err(Refusal::StepDone),
            "once"
        );
    }

    #[test]
    fn a_hurt_partner_who_starts_is_heard_first_and_never_asked_to_apologise() {
        // The initiator was hurt: the partner owns their part.
        let s = State::with_owner(P);
        let s = step(&s, P, Action::Ready, Facts::default());
        let s = settle(&s);
        assert_eq!(s.step, Step::Felt, "hearing comes first");
        assert_eq!(s.turn(), vec![I], "the initiator shares what it was like");
        assert_eq!(
            decide(&s, I, Action::Write(TextKind::Own), &draft(), &cx()),
            Err(Refusal::StepDone),
            "and is never asked to own their part"
        );
        let s = step(&s, I, Action::Share(TextKind::Felt), draft());
        let s = settle(&s);
        assert_eq!((s.step, s.turn()), (Step::Reflect, vec![P]));
        let s = step(&s, P, Action::Share(TextKind::Reflect), draft());
        let s = step(&s, I, Action::Heard, Facts::default());
        assert_eq!((s.step, s.turn()), (Step::Empathy, vec![P]));
        let s = step(&s, P, Action::Share(TextKind::Empathy), draft());
        assert_eq!((s.step, s.turn()), (Step::OwnIt, vec![P]));
        assert_eq!(s.stage(), Some(5));
        let s = step(&s, P, Action::Share(TextKind::Own), draft());
        assert_eq!(s.step, Step::NextTime);
    }

    #[test]
    fn not_feeling_safe_stops_quietly_from_anywhere() {
        for st in [State::new(), to_own_it()] {
            let s = step(&st, P, Action::NotSafe, Facts::default());
            assert_eq!((s.status, s.quiet), (Status::Ended, true));
        }
        let paused = State {
            status: Status::Paused,
            ..to_own_it()
        };
        assert!(step(&paused, I, Action::NotSafe, Facts::default()).quiet);
        let done = State {
            status: Status::Completed,
            step: Step::Done,
            ..State::new()
        };
        assert_eq!(
            decide(&done, I, Action::NotSafe, &Facts::default(), &cx()),
            Ok(Outcome::Show(Show::Safety)),
            "a finished flow still shows where to find help"
        );
    }

    #[test]
    fn worrying_words_stay_private_and_the_flow_does_not_go_on_to_next_time() {
        let s = to_own_it();
        let worrying_draft = Facts {
            mine: TextState::Draft,
            mine_worrying: true,
            ..Facts::default()
        };
        assert_eq!(
            decide(&s, I, Action::Share(TextKind::Own), &worrying_draft, &cx()),
            Err(Refusal::StaysPrivate)
        );
        let empathy = State {
            step: Step::Empathy,
            ..to_own_it()
        };
        let after = step(
            &empathy,
            I,
            Action::Share(TextKind::Empathy),
            Facts {
                mine: TextState::Draft,
                worrying: true,
                ..Facts::default()
            },
        );
        assert_eq!(
            (after.step, after.status, after.quiet),
            (Step::Empathy, Status::Ended, true)
        );
    }

    #[test]
    fn only_the_right_partner_acts() {
        let invited = State::new();
        assert_eq!(
            decide(&invited, I, Action::Ready, &Facts::default(), &cx()),
            Err(Refusal::NotYourTurn(P)),
            "the initiator cannot accept their own invitation"
        );
        let own = to_own_it();
        for a in [
            Action::Write(TextKind::Own),
            Action::Submit(TextKind::Own),
            Action::Share(TextKind::Own),
        ] {
            assert_eq!(
                decide(&own, P, a, &draft(), &cx()),
                Err(Refusal::NotYourTurn(I))
            );
        }
        let felt = step(&own, I, Action::Share(TextKind::Own), draft());
        assert_eq!(
            decide(&felt, I, Action::Share(TextKind::Felt), &draft(), &cx()),
            Err(Refusal::NotYourTurn(P)),
            "the initiator cannot answer the partner's step"
        );
        let pick = State {
            step: Step::Agree,
            picked: Some(Picked {
                by: I,
                line: Line::Of(I),
            }),
            ..State::new()
        };
        assert_eq!(
            decide(&pick, I, Action::Agree, &Facts::default(), &cx()),
            Err(Refusal::NotYourTurn(P)),
            "the one who picked cannot also confirm"
        );
    }

    #[test]
    fn buttons_of_finished_steps_are_refused() {
        let own = to_own_it();
        assert_eq!(
            decide(&own, P, Action::Ready, &Facts::default(), &cx()),
            Err(Refusal::StepDone)
        );
        assert_eq!(
            decide(&own, P, Action::Rate(1), &Facts::default(), &cx()),
            Err(Refusal::StepDone)
        );
        let ended = State {
            status: Status::Ended,
            ..own.clone()
        };
        assert_eq!(
            decide(&ended, I, Action::Write(TextKind::Own), &draft(), &cx()),
            Err(Refusal::Finished(Status::Ended))
        );
    }

    #[test]
    fn every_action_everywhere_is_decided_without_panicking() {
        let mut states = vec![State::new()];
        for step in Step::ALL {
            for status in Status::ALL {
                states.push(State {
                    step: *step,
                    status: *status,
                    picked: Some(Picked {
                        by: I,
                        line: Line::Of(P),
                    }),
                    reflect_loops: 1,
                    ..State::new()
                });
            }
        }
        for s in &states {
            for a in RepairAction::ALL
                .iter()
                .filter_map(|a| Action::from_custom(*a))
            {
                for role in Role::BOTH {
                    for mine in [TextState::None, TextState::Draft, TextState::Shared] {
                        let facts = Facts {
                            mine,
                            other_plan: mine,
                            ..Facts::default()
                        };
                        if let Ok(Outcome::Change { next, .. }) = decide(s, role, a, &facts, &cx())
                        {
                            // Nothing moves a flow out of a finished status.
                            assert!(!s.status.is_finished(), "{s:?} {a:?}");
                            // A step-bound action is only ever accepted at its own step.
                            if let Some(homes) = a.homes() {
                                assert!(homes.contains(&s.step), "{a:?}");
                                assert!(s.turn().contains(&role), "{a:?} by {role:?}");
                            }
                            let _ = next;
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_high_rating_is_answered_privately_and_the_step_waits_for_its_rater() {
        let s = step(&State::new(), P, Action::Ready, Facts::default());
        let s = step(&s, I, Action::Rate(2), Facts::default());
        let s = step(&s, P, Action::Rate(5), Facts::default());
        // No public break offer: the step stays where it was, and only the rater can move it.
        assert_eq!((s.step, s.unsettled), (Step::Regulate, [false, true]));
        assert_eq!(
            s.waiting_on([false; 2]),
            Vec::<Role>::new(),
            "nobody is pointed at"
        );
        assert_eq!(
            decide(&s, I, Action::Settled, &Facts::default(), &cx()),
            Err(Refusal::StepDone),
            "the calm partner cannot settle for them"
        );
        let on = step(&s, P, Action::Settled, Facts::default());
        assert_eq!(on.step, Step::OwnIt);
        let paused = step(
            &s,
            P,
            Action::Break(BreakChoice::Minutes20),
            Facts::default(),
        );
        assert_eq!(paused.status, Status::Paused);
        assert_eq!(paused.resume_step, Some(Step::Regulate));
        assert_eq!(paused.resume_at, Some(cx().now + Duration::minutes(20)));
        assert_eq!(paused.activation, [None, None], "everyone rates again");
        assert_eq!(paused.unsettled, [false, false]);
        assert_eq!(
            decide(&paused, P, Action::Rate(1), &Facts::default(), &cx()),
            Err(Refusal::Paused(paused.resume_at))
        );
        let back = reopen(&paused).unwrap();
        assert_eq!((back.step, back.status), (Step::Regulate, Status::Open));
    }

    #[test]
    fn a_break_offer_saved_by_the_previous_release_still_works() {
        let s = State {
            step: Step::BreakOffer,
            activation: [Some(2), Some(5)],
            ..State::new()
        };
        let again = step(&s, P, Action::RateAgain, Facts::default());
        assert_eq!(
            (again.step, again.activation),
            (Step::Regulate, [None, None])
        );
        let paused = step(&s, I, Action::Break(BreakChoice::Hour), Facts::default());
        assert_eq!(paused.resume_step, Some(Step::Regulate));
    }

    #[test]
    fn a_pause_comes_back_to_the_same_step() {
        let s = to_own_it();
        assert_eq!(
            decide(&s, P, Action::Pause, &Facts::default(), &cx()),
            Ok(Outcome::Show(Show::TimeChooser))
        );
        let paused = step(&s, P, Action::Break(BreakChoice::Hour), Facts::default());
        let resumed = step(&paused, I, Action::Resume, Facts::default());
        assert_eq!((resumed.step, resumed.status), (Step::OwnIt, Status::Open));
        assert_eq!(resumed.activation, s.activation, "ratings are kept");
    }

    #[test]
    fn not_quite_loops_until_the_limit_then_offers_to_go_on() {
        let s = to_own_it();
        let s = step(&s, I, Action::Share(TextKind::Own), draft());
        let s = step(&s, P, Action::Share(TextKind::Felt), draft());
        let mut s = settle(&s);
        for try_no in 1..=3u8 {
            assert_eq!((s.step, s.reflect_loops), (Step::Reflect, try_no));
            s = step(&s, I, Action::Share(TextKind::Reflect), draft());
            if try_no < 3 {
                assert_eq!(
                    decide(&s, P, Action::GoOn, &Facts::default(), &cx()),
                    Err(Refusal::StepDone)
                );
                s = step(&s, P, Action::Share(TextKind::Missing), draft());
                if try_no == 2 {
                    assert_eq!(s.step, Step::Recheck, "a second not-quite settles again");
                    s = settle(&s);
                }
            }
        }
        assert_eq!(
            decide(&s, P, Action::Write(TextKind::Missing), &draft(), &cx()),
            Err(Refusal::LoopLimit)
        );
        let s = step(&s, P, Action::GoOn, Facts::default());
        assert_eq!((s.step, s.heard), (Step::Empathy, Some(false)));
        assert_eq!(s.round(TextKind::Reflect), 3);
    }

    #[test]
    fn drafts_are_private_until_shared() {
        let s = to_own_it();
        let out = decide(
            &s,
            I,
            Action::Submit(TextKind::Own),
            &Facts::default(),
            &cx(),
        );
        assert_eq!(
            out,
            Ok(Outcome::Change {
                next: s.clone(),
                write: Write::Draft(TextKind::Own)
            }),
            "a draft saves without moving on"
        );
        assert_eq!(
            decide(
                &s,
                I,
                Action::Share(TextKind::Own),
                &Facts::default(),
                &cx()
            ),
            Err(Refusal::NothingToShare)
        );
        let shared = Facts {
            mine: TextState::Shared,
            ..Facts::default()
        };
        assert_eq!(
            decide(&s, I, Action::Share(TextKind::Moment), &shared, &cx()),
            Err(Refusal::AlreadyShared)
        );
    }

    #[test]
    fn agreement_mechanic_pick_confirm_or_choose_again() {
        let s = State {
            step: Step::Pick,
            ..State::new()
        };
        let picked = step(&s, P, Action::Pick(Line::Of(P)), Facts::default());
        assert_eq!(picked.turn(), vec![I]);
        let both = step(&s, P, Action::Pick(Line::Both), Facts::default());
        let out = decide(&both, I, Action::Agree, &Facts::default(), &cx()).unwrap();
        assert!(
            matches!(
                out,
                Outcome::Change {
                    write: Write::Agreement(Line::Both),
                    ..
                }
            ),
            "both lines together: {out:?}"
        );
        let back = step(&picked, I, Action::NotThis, Facts::default());
        assert_eq!((back.step, back.picked), (Step::Pick, None));
        let fresh = step(&back, I, Action::NewLines, Facts::default());
        assert_eq!((fresh.step, fresh.plan_round), (Step::NextTime, 1));
        assert_eq!(fresh.round(TextKind::Plan), 1);
    }

    #[test]
    fn end_and_expiry() {
        let s = to_own_it();
        assert_eq!(
            decide(&s, P, Action::End, &Facts::default(), &cx()),
            Ok(Outcome::Show(Show::EndConfirm))
        );
        let ended = step(&s, P, Action::EndConfirm, Facts::default());
        assert_eq!(ended.status, Status::Ended);
        assert_eq!(expire(&ended), None);
        assert_eq!(expire(&s).unwrap().status, Status::Expired);
        let closing = State {
            step: Step::Close,
            ..s.clone()
        };
        assert_eq!(expire(&closing).unwrap().status, Status::Completed);
    }

    #[test]
    fn waiting_on_names_only_those_still_to_act() {
        let s = step(&State::new(), P, Action::Ready, Facts::default());
        assert_eq!(s.waiting_on([false; 2]), vec![I, P]);
        let s = step(&s, I, Action::Rate(1), Facts::default());
        assert_eq!(s.waiting_on([false; 2]), vec![P]);
        let next = State {
            step: Step::NextTime,
            ..State::new()
        };
        assert_eq!(next.waiting_on([true, false]), vec![P]);
    }

    #[test]
    fn revisits_need_an_agreement() {
        let done = State {
            step: Step::Done,
            status: Status::Completed,
            ..State::new()
        };
        let with = Facts {
            has_agreement: true,
            ..Facts::default()
        };
        let a = Action::Revisit(RevisitAnswer::Mixed);
        assert_eq!(
            decide(&done, P, a, &with, &cx()),
            Ok(Outcome::Revisit(RevisitAnswer::Mixed))
        );
        assert_eq!(
            decide(&done, P, a, &Facts::default(), &cx()),
            Err(Refusal::StepDone)
        );
    }

    #[test]
    fn break_times() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // 13:00 in Berlin: this evening is 19:00 local.
        let now = at("2026-11-25T12:00:00Z");
        assert_eq!(
            break_until(BreakChoice::Evening, now, berlin),
            at("2026-11-25T18:00:00Z")
        );
        assert_eq!(
            break_until(BreakChoice::Tomorrow, now, berlin),
            at("2026-11-26T12:00:00Z")
        );
        // 18:45 local: evening is too close, so 90 minutes.
        let late = at("2026-11-25T17:45:00Z");
        assert_eq!(
            break_until(BreakChoice::Evening, late, berlin),
            late + Duration::minutes(90)
        );
        // 23:30 local: tomorrow is not at 23:30 but at 20:00.
        let night = at("2026-11-25T22:30:00Z");
        assert_eq!(
            break_until(BreakChoice::Tomorrow, night, berlin),
            at("2026-11-26T19:00:00Z")
        );
        // 06:10 local: tomorrow starts at 09:00.
        let dawn = at("2026-11-25T05:10:00Z");
        assert_eq!(
            break_until(BreakChoice::Tomorrow, dawn, berlin),
            at("2026-11-26T08:00:00Z")
        );
        for c in BreakChoice::ALL {
            assert!(break_until(c, now, berlin) > now);
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Step::ALL {
            assert_eq!(Step::parse(s.as_str()), Some(*s));
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(*s));
        }
        for k in TextKind::ALL {
            assert_eq!(TextKind::parse(k.as_str()), Some(*k));
        }
        for a in RevisitAnswer::ALL {
            assert_eq!(RevisitAnswer::parse(a.as_str()), Some(*a));
        }
    }
}
