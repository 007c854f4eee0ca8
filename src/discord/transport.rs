//! The Discord side of the transport port: posts with a nonce and `enforce_nonce` (a retry
//! after a lost answer returns the first message instead of posting twice), paced under
//! Discord's global rate limit, with Discord's answers sorted into what they mean.
//!
//! A scheduled post is sent by serenity's own request builder but answered here: serenity
//! 0.12.5 drops a 429's `retry_after` behind a proxy (its ratelimiter is off, and the error it
//! returns keeps neither headers nor that field), and without a proxy it sleeps 429s out with
//! no cap. Reading the answer ourselves, the wait Discord asks for reaches the scheduler, which
//! retries then, with or without a proxy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use poise::serenity_prelude as serenity;
use serenity::http::{LightMethod, Multipart, MultipartUpload, Request, Route};
use tokio::time::Instant;

use super::render;
use crate::domain::couple::Room;
use crate::domain::ids::{MessageRef, PersonRef, TransportKind};
use crate::transport::{Caps, Card, PostError, Transport};

/// Discord's JSON error codes that say what a 403 or a 404 means.
mod code {
    /// 404: the channel no longer exists.
    pub const UNKNOWN_CHANNEL: i64 = 10003;
    /// 404: the message no longer exists (an edit or a delete).
    pub const UNKNOWN_MESSAGE: i64 = 10008;
    /// 403: the bot lacks one permission for this request (Attach Files, say).
    pub const MISSING_PERMISSIONS: i64 = 50013;
}

/// What an unsuccessful answer means, from its status and Discord's error code. A 404
/// without a code Discord uses for a missing resource did not come from Discord's API at all
/// (a proxy URL that leads somewhere else): that is the host's to fix, never a reason to
/// pause a couple, so it is transient (and readiness says so).
pub fn sort_status(status: u16, discord_code: Option<i64>) -> PostError {
    match (status, discord_code) {
        (401, _) => PostError::Unauthorised,
        (403, Some(code::MISSING_PERMISSIONS)) => PostError::Forbidden { status },
        // 50001 Missing Access (the bot cannot see the channel: removed, or View Channel
        // taken away) and any other refusal of the room itself.
        (403, _) => PostError::Gone { status },
        (404, Some(code::UNKNOWN_CHANNEL | code::UNKNOWN_MESSAGE)) => PostError::Gone { status },
        (404, _) => PostError::Transient(
            "HTTP 404 from something that is not Discord's API (is discord.proxy_url right?)"
                .into(),
        ),
        _ => PostError::Transient(format!("HTTP {status}")),
    }
}

/// Sorts a failed request by what it means for the post.
pub fn classify(e: &serenity::Error) -> PostError {
    if let serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) = e {
        let code = i64::try_from(r.error.code).ok().filter(|c| *c > 0);
        return sort_status(r.status_code.as_u16(), code);
    }
    // Never the error's Display wholesale: it can carry request URLs with tokens.
    PostError::Transient(match e {
        serenity::Error::Http(_) => "request failed".into(),
        serenity::Error::Json(_) => "unreadable response".into(),
        _ => "client error".into(),
    })
}

/// A serenity error for the logs, without anything a request's URL carries: interaction
/// callbacks and followups put the interaction's token in the path (reqwest's own text names
/// the URL), so only the status, Discord's error code, or the error's causes are kept.
pub fn describe(e: &serenity::Error) -> String {
    match e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
            format!(
                "HTTP {} (Discord code {})",
                r.status_code.as_u16(),
                r.error.code
            )
        }
        serenity::Error::Http(serenity::HttpError::Request(re)) => {
            let kind = if re.is_timeout() {
                "timed out"
            } else if re.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            // The causes (hyper's, the socket's) describe the failure; none holds the URL.
            let mut causes = Vec::new();
            let mut source = std::error::Error::source(re);
            while let Some(c) = source {
                causes.push(c.to_string());
                source = c.source();
            }
            if causes.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}: {}", causes.join(": "))
            }
        }
        serenity::Error::Http(_) => "HTTP client error".into(),
        serenity::Error::Json(_) => "unreadable response".into(),
        serenity::Error::Gateway(g) => format!("gateway: {g}"),
        _ => "client error".into(),
    }
}

/// The wait a 429 asks for: the body's `retry_after` (seconds, fractional), else the
/// `Retry-After` header, else a second.
pub fn retry_after(headers: &reqwest::header::HeaderMap, body: &serde_json::Value) -> Duration {
    let secs = body
        .get("retry_after")
        .and_then(serde_json::Value::as_f64)
        .or_else(|| {
            headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs.min(24.0 * 3600.0))
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
    /// Sends scheduled posts (see the module docs); same timeout as serenity's client.
    client: reqwest::Client,
    pacer: Pacer,
    /// Set while known routes answer 404 without a Discord error code: the proxy URL is wrong.
    misrouted: AtomicBool,
    /// The bot's own user id, learnt once, to know its messages from everyone else's.
    me: tokio::sync::OnceCell<serenity::UserId>,
}

impl DiscordTransport {
    pub fn new(per_second: u32, request_timeout: Duration) -> Self {
        DiscordTransport {
            http: std::sync::RwLock::new(None),
            client: reqwest::Client::builder()
                .timeout(request_timeout)
                .build()
                .unwrap_or_default(),
            pacer: Pacer::new(per_second),
            misrouted: AtomicBool::new(false),
            me: tokio::sync::OnceCell::new(),
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

    /// Remembers whether the last answer looked like a wrong proxy URL, for readiness.
    fn note(&self, result: &Result<MessageRef, PostError>) {
        match result {
            Ok(_) => self.misrouted.store(false, Ordering::Relaxed),
            Err(PostError::Transient(m)) if m.starts_with("HTTP 404") => {
                if !self.misrouted.swap(true, Ordering::Relaxed) {
                    tracing::error!("Discord's API answers 404 for known routes: check discord.proxy_url; couples are not paused for it");
                }
            }
            Err(_) => {}
        }
    }

    /// Creates the message and reads Discord's answer itself (status, headers, body), so a
    /// 429's wait is known and nothing sleeps it out unbounded.
    async fn send(
        &self,
        http: &serenity::Http,
        channel: serenity::ChannelId,
        card: &Card,
        key: &str,
    ) -> Result<MessageRef, PostError> {
        let message = render::message(card)
            .nonce(serenity::Nonce::String(key.to_string()))
            .enforce_nonce(true);
        let files = render::files(card);
        if files.len() > 1 {
            // serenity numbers files only inside its own send; with one file its numbering
            // (0) is already right. Several files are never scheduled; let serenity send them.
            return channel
                .send_message(http, message)
                .await
                .map(|m| MessageRef(m.id.get().to_string()))
                .map_err(|e| classify(&e));
        }
        let mut body = serde_json::to_value(&message)
            .map_err(|_| PostError::Transient("could not encode the message".into()))?;
        if body
            .get("allowed_mentions")
            .is_none_or(serde_json::Value::is_null)
        {
            body["allowed_mentions"] = serde_json::to_value(render::no_pings()).unwrap_or_default();
        }
        let json = body.to_string();
        let route = Route::ChannelMessages {
            channel_id: channel,
        };
        let request = if files.is_empty() {
            Request::new(route, LightMethod::Post).body(Some(json.into_bytes()))
        } else {
            Request::new(route, LightMethod::Post).multipart(Some(Multipart {
                upload: MultipartUpload::Attachments(files),
                fields: vec![],
                payload_json: Some(json),
            }))
        };
        let bytes = self.execute(http, request).await?;
        let m: serenity::Message = serde_json::from_slice(&bytes)
            .map_err(|_| PostError::Transient("unreadable response".into()))?;
        Ok(MessageRef(m.id.get().to_string()))
    }

    /// Sends one request built by serenity and sorts Discord's answer: the body of a
    /// success, or what the failure means (a 429 with the wait it asks for).
    async fn execute(
        &self,
        http: &serenity::Http,
        request: Request<'_>,
    ) -> Result<Vec<u8>, PostError> {
        let built = request
            .build(&self.client, http.token(), http.proxy.as_deref())
            .map_err(|e| classify(&e))?;
        // Never the reqwest error's Display: it names the URL.
        let response = built.send().await.map_err(|e| {
            PostError::Transient(if e.is_timeout() {
                "request timed out".into()
            } else {
                "request failed".into()
            })
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|_| PostError::Transient("answer cut off".into()))?;
        if (200..300).contains(&status) {
            return Ok(bytes.to_vec());
        }
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if status == 429 {
            return Err(PostError::RateLimited {
                retry_after: retry_after(&headers, &body),
            });
        }
        let code = body.get("code").and_then(serde_json::Value::as_i64);
        Err(sort_status(status, code.filter(|c| *c > 0)))
    }

    /// One page of a channel's messages, newest first.
    async fn page(
        &self,
        http: &serenity::Http,
        channel: serenity::ChannelId,
        before: Option<serenity::MessageId>,
    ) -> Result<Vec<serenity::Message>, PostError> {
        let mut params = vec![("limit", "100".to_string())];
        if let Some(b) = before {
            params.push(("before", b.get().to_string()));
        }
        let request = Request::new(
            Route::ChannelMessages {
                channel_id: channel,
            },
            LightMethod::Get,
        )
        .params(Some(params));
        let bytes = self.execute(http, request).await?;
        serde_json::from_slice(&bytes)
            .map_err(|_| PostError::Transient("unreadable response".into()))
    }

    async fn me(&self, http: &serenity::Http) -> Result<serenity::UserId, PostError> {
        self.me
            .get_or_try_init(|| async {
                http.get_current_user()
                    .await
                    .map(|u| u.id)
                    .map_err(|e| classify(&e))
            })
            .await
            .copied()
    }
}

#[async_trait]
impl crate::ops::Readiness for DiscordTransport {
    async fn ready(&self) -> Result<(), String> {
        if self.misrouted.load(Ordering::Relaxed) {
            Err("discord: the API answers 404 for known routes (check discord.proxy_url)".into())
        } else {
            Ok(())
        }
    }
}

/// How many pages of a room's history to look through for an earlier post.
const FIND_PAGES: usize = 5;

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
        let result = self.send(&http, channel, card, key).await;
        self.note(&result);
        result
    }

    /// Looks back through the room's newest messages (up to 500, and no further back than
    /// `since`) for one of the bot's that has this card's fingerprint.
    async fn find_recent(
        &self,
        room: &Room,
        card: &Card,
        // Discord keeps no nonce on a message: the card's fingerprint tells it apart.
        _key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<MessageRef>, PostError> {
        let channel = Self::channel(room)?;
        let http = self.http()?;
        let me = self.me(&http).await?;
        let want = render::fingerprint(card);
        let mut before: Option<serenity::MessageId> = None;
        for _ in 0..FIND_PAGES {
            let page = self.page(&http, channel, before).await?;
            for m in &page {
                // Only messages from after the first send: an identical card posted earlier
                // (last week's quiet reveal, say) is another delivery.
                if m.author.id == me && *m.timestamp >= since && render::fingerprint_of(m) == want {
                    return Ok(Some(MessageRef(m.id.get().to_string())));
                }
            }
            // Newest first: once a page reaches back past `since`, there is nothing older
            // to find.
            match page.last() {
                Some(oldest) if *oldest.timestamp > since && page.len() == 100 => {
                    before = Some(oldest.id);
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// A direct message: ephemeral messages exist only as answers to an interaction, so
    /// what reaches one person later (their erasure is done) goes to their DMs. A person
    /// who takes no DMs from the server answers `Forbidden`.
    async fn post_private(
        &self,
        _room: &Room,
        to: &PersonRef,
        card: &Card,
        key: &str,
    ) -> Result<MessageRef, PostError> {
        let user = to
            .handle
            .parse::<u64>()
            .map_err(|_| PostError::Gone { status: 400 })?;
        let http = self.http()?;
        self.pacer.wait().await;
        let dm = serenity::UserId::new(user)
            .create_dm_channel(&http)
            .await
            .map_err(|e| classify(&e))?;
        let result = self.send(&http, dm.id, card, key).await;
        self.note(&result);
        result
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn answers_are_sorted_by_what_they_mean() {
        assert_eq!(sort_status(401, Some(0)), PostError::Unauthorised);
        // A missing permission for one feature is not a gone room.
        assert_eq!(
            sort_status(403, Some(50013)),
            PostError::Forbidden { status: 403 }
        );
        assert_eq!(
            sort_status(403, Some(50001)),
            PostError::Gone { status: 403 }
        );
        assert_eq!(
            sort_status(404, Some(10003)),
            PostError::Gone { status: 404 }
        );
        // A 404 without a Discord code is a route that is not Discord's: the host's proxy URL.
        for code in [None, Some(0)] {
            assert!(
                matches!(sort_status(404, code.filter(|c| *c > 0)), PostError::Transient(m) if m.contains("discord.proxy_url"))
            );
        }
        assert!(matches!(sort_status(503, None), PostError::Transient(_)));
    }

    #[test]
    fn a_429_waits_what_discord_asked_with_or_without_a_proxy() {
        let body = serde_json::json!({"message": "You are being rate limited.", "retry_after": 2.5, "global": false});
        assert_eq!(
            retry_after(&HeaderMap::new(), &body),
            Duration::from_millis(2500)
        );
        // A proxy that keeps only the header.
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            retry_after(&h, &serde_json::Value::Null),
            Duration::from_secs(7)
        );
        assert_eq!(
            retry_after(&HeaderMap::new(), &serde_json::Value::Null),
            Duration::from_secs(1)
        );
    }
}
