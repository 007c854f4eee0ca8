//! Typed identifiers, so a person id can never be passed where a room id belongs.
//!
//! Every id here is Attune's own (a uuid). What a chat transport calls a user, a channel or a
//! message is text in that transport's own format, mapped to these ids in `store::identity`:
//! one couple's data never depends on which chat it lives in.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($($name:ident),+ $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

uuid_id!(
    PersonId,
    RoomId,
    CoupleId,
    InvitationId,
    JobId,
    CheckinId,
    MicroId,
    RepairId,
    AgreementId,
);

/// The chat a room, person or message lives on.
/// The names are the ones stored in Postgres.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum TransportKind {
    Discord,
    Matrix,
}

impl TransportKind {
    pub const ALL: [TransportKind; 2] = [TransportKind::Discord, TransportKind::Matrix];

    /// The name stored in Postgres.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A message as its transport names it (a Discord snowflake, a Matrix event id), kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageRef(pub String);

impl fmt::Display for MessageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person as one transport knows them: who pressed, who is mentioned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonRef {
    pub id: PersonId,
    /// The person's id on the transport of the room at hand (a Discord user id, a Matrix
    /// user id).
    pub handle: String,
}
