//! A couple as the rest of the bot sees it: two partners sharing one room.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::ids::{CoupleId, PersonId, PersonRef, RoomId, TransportKind};

/// Where a couple lives: a Discord channel (in a server) or a Matrix room.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Room {
    pub id: RoomId,
    pub transport: TransportKind,
    /// The room's id on its transport (a Discord channel id, a Matrix room id).
    pub external: String,
    /// What the room belongs to on its transport, where that matters (a Discord server id).
    pub space: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Partner {
    pub person: PersonId,
    /// The partner's id on the room's transport.
    pub handle: String,
    /// 1 for the partner who ran setup, 2 for the one who accepted.
    pub seat: i16,
    pub zone: Option<Tz>,
}

impl Partner {
    pub fn person_ref(&self) -> PersonRef {
        PersonRef {
            id: self.person,
            handle: self.handle.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Couple {
    pub id: CoupleId,
    pub room: Room,
    /// The partner who ran setup (gone after they asked to be forgotten).
    pub created_by: Option<PersonId>,
    pub created_at: DateTime<Utc>,
    pub paused_until: Option<DateTime<Utc>>,
    /// Set when the room refused our posts; prompts wait until someone resumes.
    pub unreachable_since: Option<DateTime<Utc>>,
    pub partners: Vec<Partner>,
}

impl Couple {
    pub fn partner(&self, person: PersonId) -> Option<&Partner> {
        self.partners.iter().find(|p| p.person == person)
    }

    /// The partner behind a transport id, if the room's transport knows them by it.
    pub fn partner_by_handle(&self, handle: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.handle == handle)
    }

    pub fn is_partner(&self, person: PersonId) -> bool {
        self.partner(person).is_some()
    }

    /// The other partner of `person`.
    pub fn other(&self, person: PersonId) -> Option<&Partner> {
        self.partners.iter().find(|p| p.person != person)
    }

    pub fn is_paused(&self, now: DateTime<Utc>) -> bool {
        self.unreachable_since.is_some() || self.paused_until.is_some_and(|t| t > now)
    }

    pub fn partner_ids(&self) -> Vec<PersonId> {
        self.partners.iter().map(|p| p.person).collect()
    }

    pub fn person_ref(&self, person: PersonId) -> Option<PersonRef> {
        self.partner(person).map(Partner::person_ref)
    }

    pub fn refs(&self) -> Vec<PersonRef> {
        self.partners.iter().map(Partner::person_ref).collect()
    }

    /// The zone that anchors couple-wide events (the weekly recap): the setup partner's,
    /// else the other's, else UTC.
    pub fn home_zone(&self) -> Tz {
        self.created_by
            .and_then(|c| self.partner(c))
            .and_then(|p| p.zone)
            .or_else(|| self.partners.iter().find_map(|p| p.zone))
            .unwrap_or(Tz::UTC)
    }

    /// The setup partner, else the first seat: whose zone names the recap's time.
    pub fn home_partner(&self) -> Option<&Partner> {
        self.created_by
            .and_then(|c| self.partner(c))
            .or_else(|| self.partners.first())
    }
}
