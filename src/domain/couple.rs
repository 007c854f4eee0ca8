//! A couple as the rest of the bot sees it: two partners bound to one channel.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::ids::{ChannelId, CoupleId, GuildId, UserId};

#[derive(Debug, Clone, PartialEq)]
pub struct Partner {
    pub user: UserId,
    /// 1 for the partner who ran setup, 2 for the one who accepted.
    pub seat: i16,
    pub zone: Option<Tz>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Couple {
    pub id: CoupleId,
    pub guild: GuildId,
    pub channel: ChannelId,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub paused_until: Option<DateTime<Utc>>,
    /// Set when the channel refused our posts; prompts wait until someone resumes.
    pub unreachable_since: Option<DateTime<Utc>>,
    pub partners: Vec<Partner>,
}

impl Couple {
    pub fn partner(&self, user: UserId) -> Option<&Partner> {
        self.partners.iter().find(|p| p.user == user)
    }

    pub fn is_partner(&self, user: UserId) -> bool {
        self.partner(user).is_some()
    }

    /// The other partner of `user`.
    pub fn other(&self, user: UserId) -> Option<&Partner> {
        self.partners.iter().find(|p| p.user != user)
    }

    pub fn is_paused(&self, now: DateTime<Utc>) -> bool {
        self.unreachable_since.is_some() || self.paused_until.is_some_and(|t| t > now)
    }

    pub fn partner_ids(&self) -> Vec<UserId> {
        self.partners.iter().map(|p| p.user).collect()
    }

    /// The zone that anchors couple-wide events (the weekly recap): the setup partner's,
    /// else the other's, else UTC.
    pub fn home_zone(&self) -> Tz {
        self.partner(self.created_by)
            .and_then(|p| p.zone)
            .or_else(|| self.partners.iter().find_map(|p| p.zone))
            .unwrap_or(Tz::UTC)
    }
}
