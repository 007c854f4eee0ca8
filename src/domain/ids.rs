//! Typed identifiers, so a user id can never be passed where a channel id belongs.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! snowflake {
    ($name:ident) => {
        /// A Discord snowflake. Stored as `bigint`: snowflakes stay below 2^63.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        pub struct $name(pub u64);

        impl $name {
            pub fn as_i64(self) -> i64 {
                self.0 as i64
            }
            pub fn from_i64(v: i64) -> Self {
                Self(v as u64)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

snowflake!(UserId);
snowflake!(ChannelId);
snowflake!(GuildId);
snowflake!(MessageId);

impl UserId {
    /// A Discord mention; it renders as the person's name for every reader.
    pub fn mention(self) -> String {
        format!("<@{}>", self.0)
    }
}

macro_rules! uuid_id {
    ($name:ident) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    };
}

uuid_id!(CoupleId);
uuid_id!(InvitationId);
uuid_id!(JobId);
uuid_id!(CheckinId);
uuid_id!(MicroId);
uuid_id!(RepairId);
uuid_id!(AgreementId);
