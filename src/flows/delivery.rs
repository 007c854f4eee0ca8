//! What a flow hands the scheduler for a job: a [`Plan`] (deliver this card, or why not) and
//! the [`Record`] that says where a delivered message is written down.

use chrono::NaiveDate;

use crate::domain::couple::Room;
use crate::domain::ids::{CheckinId, CoupleId, MicroId, PersonId, PersonRef};
use crate::domain::recap::IsoWeek;
use crate::transport::Card;

/// What a flow wants done for a job.
#[derive(Debug)]
pub enum Plan {
    /// Post this card to this room, with this idempotency key, then record it.
    Deliver(Box<Delivery>),
    /// Nothing to do (already posted, paused, answered …); the reason is kept on the row.
    Skipped(&'static str),
    /// Found too late to be useful; recorded, not posted.
    Missed,
    /// Not now, but it still matters: try again after the usual back-off (a reveal waiting
    /// for a couple whose room refused the bot to come back with `/attune resume`).
    Later(&'static str),
    /// This attempt lost its lease while preparing (nothing it wrote was kept): the job
    /// belongs to its new holder.
    Superseded,
}

#[derive(Debug)]
pub struct Delivery {
    pub room: Room,
    /// Delivered to this person alone (their direct messages), rather than posted in `room`,
    /// which is then only where they asked.
    pub to: Option<PersonRef>,
    pub card: Card,
    pub key: String,
    pub record: Record,
    /// The flow already noted, in its own transaction, that this attempt is about to send
    /// (see `store::jobs::mark_sending`).
    pub marked: bool,
}

impl Plan {
    pub fn deliver(room: Room, card: Card, key: String, record: Record) -> Plan {
        Plan::Deliver(Box::new(Delivery {
            room,
            to: None,
            card,
            key,
            record,
            marked: false,
        }))
    }

    /// A card for one person only, outside any conversation they started.
    pub fn deliver_privately(
        room: Room,
        to: PersonRef,
        card: Card,
        key: String,
        record: Record,
    ) -> Plan {
        Plan::Deliver(Box::new(Delivery {
            room,
            to: Some(to),
            card,
            key,
            record,
            marked: false,
        }))
    }
}

/// Where a delivered message is written down.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Nothing to keep (a reminder, a repair card): the key alone makes a retry land once.
    Nothing,
    CheckinPost {
        couple: CoupleId,
        person: PersonId,
        slot: &'static str,
        date: NaiveDate,
    },
    Reveal(CheckinId),
    /// The weekly check-in's post (one for both partners).
    WeeklyPost(CheckinId),
    Micro(MicroId),
    Recap {
        couple: CoupleId,
        week: IsoWeek,
    },
    /// A person was erased and told: the job itself is deleted, since it names them.
    Erased,
}
