//! Posting scheduled messages: every post carries a nonce with `enforce_nonce`, so a retry
//! after a lost response returns the first message instead of posting twice; Discord's
//! answers are sorted into "gone for good" and "try again later".

use std::time::Duration;

use poise::serenity_prelude as serenity;
use tokio::time::Instant;

use crate::domain::ids::{ChannelId, MessageId};

#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// 403 or 404: the bot was removed or the channel deleted. Retrying will not help.
    #[error("channel unreachable ({status})")]
    Gone { status: u16 },
    /// Anything else (429, 5xx, timeouts, resets): retry with back-off.
    #[error("transient: {0}")]
    Transient(String),
}

pub fn classify(e: &serenity::Error) -> PostError {
    if let serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) = e {
        let status = r.status_code.as_u16();
        if status == 403 || status == 404 {
            return PostError::Gone { status };
        }
        return PostError::Transient(format!("HTTP {status}"));
    }
    // Never log the error's Display wholesale: it can carry request URLs with tokens.
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

pub async fn send(
    http: &serenity::Http,
    pacer: &Pacer,
    channel: ChannelId,
    message: serenity::CreateMessage,
    nonce: &str,
) -> Result<MessageId, PostError> {
    pacer.wait().await;
    let message = message
        .nonce(serenity::Nonce::String(nonce.to_string()))
        .enforce_nonce(true);
    match serenity::ChannelId::new(channel.0)
        .send_message(http, message)
        .await
    {
        Ok(m) => Ok(MessageId(m.id.get())),
        Err(e) => Err(classify(&e)),
    }
}
