//! The Discord side of the transport port: posts with a nonce and `enforce_nonce` (a retry
//! after a lost answer returns the first message instead of posting twice), paced under
//! Discord's global rate limit, with Discord's answers sorted into what they mean.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use poise::serenity_prelude as serenity;
use tokio::time::Instant;

use super::render;
use crate::domain::couple::Room;
use crate::domain::ids::{MessageRef, PersonRef, TransportKind};
use crate::transport::{Caps, Card, PostError, Transport};

/// Sorts a failed request by what it means for the post.
pub fn classify(e: &serenity::Error) -> PostError {
    if let serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) = e {
        let status = r.status_code.as_u16();
        return match status {
            403 | 404 => PostError::Gone { status },
            401 => PostError::Unauthorised,
            _ => PostError::Transient(format!("HTTP {status}")),
        };
    }
    // Never the error's Display wholesale: it can carry request URLs with tokens.
    PostError::Transient(match e {
        serenity::Error::Http(_) => "request failed".into(),
        serenity::Error::Json(_) => "unreadable response".into(),
        _ => "client error".into(),
    })
}

/// Spaces scheduled posts so that a burst (many couples due in the same minute) stays under
/// Discord's global limit of 50 requests a second, with room left for everything else.
pub struct Pacer {
    interval: Option<Duration>,
    next: tokio::sync::Mutex<Instant>,
}

impl Pacer {
    /// `per_second` 0 means no pacing (a proxy in front of Discord, or a benchmark).
    pub fn new(per_second: u32) -> Self {
        Pacer {
            interval: (per_second > 0)
                .then(|| Duration::from_secs_f64(1.0 / f64::from(per_second))),
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    pub async fn wait(&self) {
        let Some(step) = self.interval else {
            return;
        };
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + step;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Discord as a transport. It posts through the HTTP client of the gateway client that is
/// running now (the restart loop replaces it), so both share one rate limiter.
pub struct DiscordTransport {
    http: std::sync::RwLock<Option<Arc<serenity::Http>>>,
    pacer: Pacer,
}

impl DiscordTransport {
    pub fn new(per_second: u32) -> Self {
        DiscordTransport {
            http: std::sync::RwLock::new(None),
            pacer: Pacer::new(per_second),
        }
    }

    pub fn set_http(&self, http: Arc<serenity::Http>) {
        *self.http.write().unwrap_or_else(|e| e.into_inner()) = Some(http);
    }

    fn http(&self) -> Result<Arc<serenity::Http>, PostError> {
        self.http
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| PostError::Transient("not connected to Discord yet".into()))
    }

    fn channel(room: &Room) -> Result<serenity::ChannelId, PostError> {
        room.external
            .parse::<u64>()
            .ok()
            .filter(|id| *id != 0)
            .map(serenity::ChannelId::new)
            .ok_or(PostError::Gone { status: 404 })
    }
}

#[async_trait]
impl Transport for DiscordTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Discord
    }

    fn caps(&self) -> Caps {
        Caps {
            controls: true,
            forms: true,
            ephemeral: true,
            edits: true,
            max_choices: 25,
        }
    }

    async fn post(&self, room: &Room, card: &Card, key: &str) -> Result<MessageRef, PostError> {
        let channel = Self::channel(room)?;
        let http = self.http()?;
        self.pacer.wait().await;
        let message = render::message(card)
            .nonce(serenity::Nonce::String(key.to_string()))
            .enforce_nonce(true);
        match channel.send_message(&http, message).await {
            Ok(m) => Ok(MessageRef(m.id.get().to_string())),
            Err(e) => Err(classify(&e)),
        }
    }

    async fn post_private(
        &self,
        _room: &Room,
        _to: &PersonRef,
        _card: &Card,
        _key: &str,
    ) -> Result<MessageRef, PostError> {
        // Ephemeral messages exist only as answers to an interaction.
        Err(PostError::Transient(
            "no private posts outside an interaction".into(),
        ))
    }

    async fn replace(
        &self,
        room: &Room,
        message: &MessageRef,
        card: &Card,
    ) -> Result<(), PostError> {
        let channel = Self::channel(room)?;
        let id = message
            .0
            .parse::<u64>()
            .map_err(|_| PostError::Gone { status: 404 })?;
        let edit = serenity::EditMessage::new()
            .content(render::text(&card.text))
            .allowed_mentions(render::ping(&card.notify));
        channel
            .edit_message(&self.http()?, serenity::MessageId::new(id), edit)
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }

    async fn retract(&self, room: &Room, message: &MessageRef) -> Result<(), PostError> {
        let channel = Self::channel(room)?;
        let id = message
            .0
            .parse::<u64>()
            .map_err(|_| PostError::Gone { status: 404 })?;
        channel
            .delete_message(&self.http()?, serenity::MessageId::new(id))
            .await
            .map_err(|e| classify(&e))
    }

    async fn display_name(&self, room: &Room, person: &PersonRef) -> Option<String> {
        let guild = room.space.as_deref()?.parse::<u64>().ok()?;
        let user = person.handle.parse::<u64>().ok()?;
        serenity::GuildId::new(guild)
            .member(&self.http().ok()?, serenity::UserId::new(user))
            .await
            .ok()
            .map(|m| m.display_name().trim().to_string())
    }
}
