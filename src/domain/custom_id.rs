//! The typed codec for component custom ids: `kind:uuid:action`, at most 100 characters.
//!
//! A custom id comes back from Discord exactly as we sent it, but a client can forge one, so it
//! is parsed strictly: only the canonical encoding of a known variant is accepted. The uuid
//! names a row in Postgres; what it means and whether the clicker may use it is decided there.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use super::ids::{CheckinId, CoupleId, InvitationId, MicroId, RepairId};

/// Discord's limit on `custom_id`.
pub const MAX_LEN: usize = 100;

macro_rules! actions {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

actions!(InviteAction { Accept => "accept", Decline => "decline" });
actions!(LeaveAction { Confirm => "confirm", Cancel => "cancel" });
actions!(CheckinAction {
    // On the public check-in post.
    Answer => "answer",
    Skip => "skip",
    // On the private answer card.
    Mood => "mood",
    Feelings => "feel",
    Guess => "guess",
    Note => "note",
    NoteModal => "notemodal",
    ShareNote => "share",
    Submit => "submit",
    Edit => "edit",
    // A gentler day, and the private way out.
    LightDay => "light",
    NotSafe => "unsafe",
    // The weekly check-in's answers (one request with a box per theme).
    WeeklyWrite => "wkwrite",
    WeeklyModal => "wkmodal",
});
actions!(RepairAction {
    // The `/repair` chooser (own something, or be heard about a hurt), its two modals, and
    // sharing the moment it named. `Start` is the "own something" modal (as in 0.1).
    ChooseOwn => "chooseown",
    ChooseHurt => "choosehurt",
    Start => "start",
    StartHurt => "starthurt",
    ShareMoment => "momentshare",
    // The invitation.
    Ready => "ready",
    NeedTime => "needtime",
    // Regulate: how stirred up each feels, 1 (calm) to 5 (flooded).
    Calm1 => "act1",
    Calm2 => "act2",
    Calm3 => "act3",
    Calm4 => "act4",
    Calm5 => "act5",
    RateAgain => "rerate",
    // After a high rating, privately: "I can go on" (or a break).
    Settled => "settled",
    // "I don't feel safe": stops the flow quietly, at any step.
    NotSafe => "unsafe",
    // A break or a pause, at any open step, and coming back early.
    Pause => "pause",
    Break20 => "brk20",
    Break60 => "brk60",
    BreakEvening => "brkeve",
    BreakTomorrow => "brktom",
    Resume => "resume",
    End => "end",
    EndYes => "endyes",
    EndNo => "endno",
    // Own it (initiator): open the modal, its submit, share the draft.
    WriteOwn => "own",
    SubmitOwn => "ownmodal",
    ShareOwn => "ownshare",
    // What it was like (partner).
    WriteFelt => "felt",
    SubmitFelt => "feltmodal",
    ShareFelt => "feltshare",
    // Reflect back (initiator), and the partner's answer.
    WriteReflect => "reflect",
    SubmitReflect => "reflectmodal",
    ShareReflect => "reflectshare",
    Heard => "heard",
    NotQuite => "notquite",
    SubmitMissing => "missingmodal",
    ShareMissing => "missingshare",
    GoOn => "goon",
    // Empathy (owner): a few words that the feelings make sense.
    WriteEmpathy => "empathy",
    SubmitEmpathy => "empathymodal",
    ShareEmpathy => "empathyshare",
    // Next time: each proposes a line, one picks, the other confirms.
    WritePlan => "plan",
    SubmitPlan => "planmodal",
    SharePlan => "planshare",
    PickFirst => "pick1",
    PickSecond => "pick2",
    PickBoth => "pickboth",
    NewLines => "newlines",
    Agree => "agree",
    NotThis => "notthis",
    // Close: how connected each feels now.
    Close1 => "con1",
    Close2 => "con2",
    Close3 => "con3",
    Close4 => "con4",
    Close5 => "con5",
    // The revisit of the agreement, days later.
    RevisitWell => "revwell",
    RevisitMixed => "revmixed",
    RevisitHard => "revhard",
    // After a completed round: another round, the other way.
    OtherWay => "otherway",
});

actions!(ForgetAction { Confirm => "confirm", Cancel => "cancel" });
// What a partner does for themselves only, in their couple.
actions!(PersonalAction {
    // The ways they like to receive care (a menu).
    Care => "care",
    // Their own numbers of the week, from the recap.
    MyNumbers => "numbers",
});
actions!(MicroAction {
    Open => "open",
    Done => "done",
    NotNow => "notnow",
    Another => "another",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomId {
    Invite(InvitationId, InviteAction),
    Leave(CoupleId, LeaveAction),
    Checkin(CheckinId, CheckinAction),
    Micro(MicroId, MicroAction),
    /// The uuid only makes each confirmation distinct: forgetting always acts on the person
    /// who clicks, so a forged id can do nothing another click could not.
    Forget(Uuid, ForgetAction),
    Repair(RepairId, RepairAction),
    /// The uuid is the couple's; the act is always on the person who clicks.
    Personal(CoupleId, PersonalAction),
}

/// What a custom id asks for, without the row it names: how tests and the sandbox find a
/// control on a message ("the Accept button"), whatever its label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    Invite(InviteAction),
    Leave(LeaveAction),
    Checkin(CheckinAction),
    Micro(MicroAction),
    Forget(ForgetAction),
    Repair(RepairAction),
    Personal(PersonalAction),
}

impl Act {
    /// Every kind and every action: a new one cannot be left out of the codec's tests.
    pub fn all() -> Vec<Act> {
        let mut v: Vec<Act> = Vec::new();
        v.extend(InviteAction::ALL.iter().map(|a| Act::Invite(*a)));
        v.extend(LeaveAction::ALL.iter().map(|a| Act::Leave(*a)));
        v.extend(CheckinAction::ALL.iter().map(|a| Act::Checkin(*a)));
        v.extend(MicroAction::ALL.iter().map(|a| Act::Micro(*a)));
        v.extend(ForgetAction::ALL.iter().map(|a| Act::Forget(*a)));
        v.extend(RepairAction::ALL.iter().map(|a| Act::Repair(*a)));
        v.extend(PersonalAction::ALL.iter().map(|a| Act::Personal(*a)));
        v
    }

    /// A custom id for this action on the row `id`.
    pub fn on(self, id: Uuid) -> CustomId {
        match self {
            Act::Invite(a) => CustomId::Invite(InvitationId(id), a),
            Act::Leave(a) => CustomId::Leave(CoupleId(id), a),
            Act::Checkin(a) => CustomId::Checkin(CheckinId(id), a),
            Act::Micro(a) => CustomId::Micro(MicroId(id), a),
            Act::Forget(a) => CustomId::Forget(id, a),
            Act::Repair(a) => CustomId::Repair(RepairId(id), a),
            Act::Personal(a) => CustomId::Personal(CoupleId(id), a),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomIdError {
    #[error("custom id is longer than {MAX_LEN} characters")]
    TooLong,
    #[error("custom id is not kind:uuid:action")]
    Shape,
    #[error("unknown custom id kind")]
    UnknownKind,
    #[error("custom id uuid is not canonical")]
    BadUuid,
    #[error("unknown action for this kind")]
    UnknownAction,
}

impl CustomId {
    fn parts(&self) -> (&'static str, Uuid, &'static str) {
        match *self {
            CustomId::Invite(id, a) => ("inv", id.0, a.as_str()),
            CustomId::Leave(id, a) => ("leave", id.0, a.as_str()),
            CustomId::Checkin(id, a) => ("ci", id.0, a.as_str()),
            CustomId::Micro(id, a) => ("mic", id.0, a.as_str()),
            CustomId::Forget(id, a) => ("forget", id, a.as_str()),
            CustomId::Repair(id, a) => ("rep", id.0, a.as_str()),
            CustomId::Personal(id, a) => ("me", id.0, a.as_str()),
        }
    }

    pub fn encode(&self) -> String {
        self.to_string()
    }

    /// What this id asks for, without its row.
    pub fn act(&self) -> Act {
        match *self {
            CustomId::Invite(_, a) => Act::Invite(a),
            CustomId::Leave(_, a) => Act::Leave(a),
            CustomId::Checkin(_, a) => Act::Checkin(a),
            CustomId::Micro(_, a) => Act::Micro(a),
            CustomId::Forget(_, a) => Act::Forget(a),
            CustomId::Repair(_, a) => Act::Repair(a),
            CustomId::Personal(_, a) => Act::Personal(a),
        }
    }
}

impl fmt::Display for CustomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, id, action) = self.parts();
        write!(f, "{kind}:{}:{action}", id.as_hyphenated())
    }
}

impl FromStr for CustomId {
    type Err = CustomIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_LEN {
            return Err(CustomIdError::TooLong);
        }
        let mut it = s.split(':');
        let (Some(kind), Some(id), Some(action), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(CustomIdError::Shape);
        };
        // Only the lowercase hyphenated form we emit; other spellings of a uuid are forgeries.
        let uuid = Uuid::try_parse(id).map_err(|_| CustomIdError::BadUuid)?;
        if uuid.as_hyphenated().to_string() != id {
            return Err(CustomIdError::BadUuid);
        }
        let parsed = match kind {
            "inv" => CustomId::Invite(
                InvitationId(uuid),
                InviteAction::parse(action).ok_or(CustomIdError::UnknownAction)?,
            ),
            "leave" => CustomId::Leave(
                CoupleId(uuid),
                LeaveAction::parse(action).ok_or(CustomIdError::UnknownAction)?,
            ),
            "ci" => CustomId::Checkin(
                CheckinId(uuid),
                CheckinAction::parse(action).ok_or(CustomIdError::UnknownAction)?,
            ),
            "mic" => CustomId::Micro(
                MicroId(uuid),
                MicroAction::parse(action).ok_or(CustomIdError::UnknownAction)?,
            ),
            "rep" => CustomId::Repair(
                RepairId(uuid),
                RepairAction::parse(action).ok_or(CustomIdError::UnknownAction)?,
            ),
            "forget" => CustomId::Forget(
                uuid,
                ForgetAction::parse(action).ok_or(CustomIdError::UnknownAction)?,
            ),
            "me" => CustomId::Personal(
                CoupleId(uuid),
                PersonalAction::parse(action).ok_or(CustomIdError::UnknownAction)?,
            ),
            _ => return Err(CustomIdError::UnknownKind),
        };
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_ids() -> Vec<CustomId> {
        let u = Uuid::new_v4();
        Act::all().into_iter().map(|a| a.on(u)).collect()
    }

    #[test]
    fn every_variant_round_trips_within_discord_limit() {
        let ids = all_ids();
        // Every kind is in the list (a kind with no actions would be a bug of its own).
        let kinds: std::collections::HashSet<_> = ids
            .iter()
            .map(|i| i.to_string().split(':').next().unwrap().to_string())
            .collect();
        assert_eq!(kinds.len(), 7, "{kinds:?}");
        for id in ids {
            assert_eq!(id.act().on(Uuid::nil()).act(), id.act());
            let s = id.encode();
            assert!(s.len() <= MAX_LEN, "{s}");
            assert_eq!(s.parse::<CustomId>(), Ok(id), "{s}");
        }
    }

    #[test]
    fn junk_is_refused() {
        let u = Uuid::new_v4();
        let cases = [
            String::new(),
            "inv".into(),
            format!("inv:{u}"),
            format!("inv:{u}:accept:extra"),
            format!("inv:{u}:ACCEPT"),
            format!("nope:{u}:accept"),
            format!("inv:{}:accept", u.simple()),
            format!("inv:{}:accept", u.to_string().to_uppercase()),
            format!("inv:{u}:accept{}", "x".repeat(100)),
            "inv:not-a-uuid:accept".into(),
            "::".into(),
            "ci:\u{0}:answer".into(),
            format!("rep:{u}:nope"),
            format!("rep:{u}:READY"),
            format!("rep:{u}:ready:"),
            format!("rep:{}:ready", u.simple()),
        ];
        for c in cases {
            assert!(c.parse::<CustomId>().is_err(), "accepted {c:?}");
        }
    }

    #[test]
    fn parser_never_panics_on_arbitrary_bytes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet: Vec<char> = "inv:leavcirp-0123456789abcdef\u{e9}\u{1F49B} "
            .chars()
            .collect();
        for _ in 0..20_000 {
            let len = rng.random_range(0..120);
            let s: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            if let Ok(id) = s.parse::<CustomId>() {
                // Anything accepted must be exactly what we would have emitted.
                assert_eq!(id.encode(), s);
            }
        }
    }
}
