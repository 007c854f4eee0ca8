//! The Matrix side of the transport port. A post is an `m.notice` sent with a transaction id
//! derived from its idempotency key, on the bot's stable device: the homeserver answers a
//! retry with the first event instead of posting twice. Past that window,
//! [`Transport::find_recent`] looks for the key inside the bot's own recent events.
//!
//! Private deliveries go to a direct room the bot creates with that partner (encrypted; the
//! SDK turns encryption on for direct rooms it creates), one per partner, found again after
//! a restart through the `m.direct` account data the SDK keeps in its store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId, RoomId};
use matrix_sdk::Client;
use serde_json::Value;
use tokio::sync::Mutex;

use super::render;
use crate::content::Library;
use crate::domain::couple::Room;
use crate::domain::ids::{MessageRef, PersonRef, TransportKind};
use crate::transport::{Caps, Card, PostError, Transport};

/// Sorts a failed request by what it means for the post. Never the error's text: it can
/// carry request details.
pub fn classify(e: &matrix_sdk::Error) -> PostError {
    match e.as_client_api_error().map(|a| a.status_code.as_u16()) {
        Some(401) => PostError::Unauthorised,
        // Not in the room any more, or the room is gone.
        Some(status @ (403 | 404)) => PostError::Gone { status },
        Some(429) => PostError::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        Some(status) => PostError::Transient(format!("HTTP {status}")),
        None => PostError::Transient("request failed".into()),
    }
}

/// A transaction id from an idempotency key: stable across retries and restarts, and safe in
/// a URL path whatever the key holds.
pub fn txn_id(key: &str) -> OwnedTransactionId {
    use std::hash::{Hash, Hasher};
    // Two independent 64-bit hashes of the key: a collision would need both to collide.
    let mut a = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    (key, "attune").hash(&mut b);
    OwnedTransactionId::from(format!("attune.{:016x}{:016x}", a.finish(), b.finish()))
}

pub struct MatrixTransport {
    client: Client,
    content: Arc<Library>,
    /// Direct rooms created in this process, until the SDK's store knows them; also
    /// serialises creating them, so two deliveries never open two rooms for one partner.
    dms: Mutex<HashMap<OwnedUserId, OwnedRoomId>>,
    /// Where the couple's zones are read, to write a card's times in them (none: in UTC,
    /// as a bench that posts without a database does).
    pool: Option<sqlx::PgPool>,
}

impl MatrixTransport {
    pub fn new(
        client: Client,
        content: Arc<Library>,
        pool: Option<sqlx::PgPool>,
    ) -> MatrixTransport {
        MatrixTransport {
            client,
            content,
            dms: Mutex::new(HashMap::new()),
            pool,
        }
    }

    /// The zones a couple room's times are shown in (none: UTC, said so). Read only for a
    /// card that shows a time, so most posts cost no query.
    async fn zones(&self, couple_room: &str, card: &Card) -> Vec<chrono_tz::Tz> {
        let Some(pool) = &self.pool else {
            return Vec::new();
        };
        if !render::shows_a_time(&self.content, card) {
            return Vec::new();
        }
        crate::flows::access::zones_in_room(pool, TransportKind::Matrix, couple_room)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not read the couple's zones; times shown in UTC");
                Vec::new()
            })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn content(&self) -> &Library {
        &self.content
    }

    fn room(&self, id: &str) -> Result<matrix_sdk::Room, PostError> {
        let id = RoomId::parse(id).map_err(|_| PostError::Gone { status: 404 })?;
        self.client
            .get_room(&id)
            .ok_or(PostError::Gone { status: 404 })
    }

    /// Sends an `m.room.message` content, once per `key`.
    pub async fn send(
        &self,
        room: &matrix_sdk::Room,
        content: Value,
        key: Option<&str>,
    ) -> Result<OwnedEventId, PostError> {
        let mut send = room.send_raw("m.room.message", content);
        let txn;
        if let Some(k) = key {
            txn = txn_id(k);
            send = send.with_transaction_id(&txn);
        }
        let r = send.await.map_err(|e| classify(&e))?;
        Ok(r.response.event_id)
    }

    /// The partner's direct room with the bot, created (and the partner invited) when there
    /// is none yet. The second value says whether it was just made.
    pub async fn direct_room(&self, user: &str) -> Result<(matrix_sdk::Room, bool), PostError> {
        let user = OwnedUserId::try_from(user).map_err(|_| PostError::Gone { status: 400 })?;
        let mut dms = self.dms.lock().await;
        if let Some(r) = dms.get(&user).and_then(|id| self.client.get_room(id)) {
            return Ok((r, false));
        }
        if let Some(r) = self.client.get_dm_room(&user) {
            dms.insert(user, r.room_id().to_owned());
            return Ok((r, false));
        }
        let room = self
            .client
            .create_dm(&user)
            .await
            .map_err(|e| classify(&e))?;
        tracing::info!(room = %room.room_id(), "opened a direct room with a partner");
        dms.insert(user, room.room_id().to_owned());
        Ok((room, true))
    }

    /// Sends a card's image after its words (an `m.image` with the alt text as its caption).
    async fn send_image(&self, room: &matrix_sdk::Room, card: &Card, key: Option<&str>) {
        use matrix_sdk::attachment::AttachmentConfig;
        use matrix_sdk::ruma::events::room::message::TextMessageEventContent;
        let Some(img) = &card.image else { return };
        let mut config = AttachmentConfig::new();
        config.caption = Some(TextMessageEventContent::plain(img.alt.clone()));
        if let Some(k) = key {
            config = config.txn_id(txn_id(&format!("{k}:image")));
        }
        if let Err(e) = room
            .send_attachment(
                img.filename.clone(),
                &mime::IMAGE_PNG,
                img.png.clone(),
                config,
            )
            .await
        {
            tracing::warn!(error = %classify(&e), "could not send a chart");
        }
    }

    /// Sends a card's file after its words (an `m.file`).
    async fn send_file(&self, room: &matrix_sdk::Room, card: &Card, key: Option<&str>) {
        use matrix_sdk::attachment::AttachmentConfig;
        let Some(f) = &card.file else { return };
        let mut config = AttachmentConfig::new();
        if let Some(k) = key {
            config = config.txn_id(txn_id(&format!("{k}:file")));
        }
        let mime = if f.filename.ends_with(".json") {
            mime::APPLICATION_JSON
        } else {
            mime::APPLICATION_OCTET_STREAM
        };
        if let Err(e) = room
            .send_attachment(f.filename.clone(), &mime, f.bytes.clone(), config)
            .await
        {
            tracing::warn!(error = %classify(&e), "could not send a file");
        }
    }

    /// Sends a card into a Matrix room: words, then its image and file. `couple_room` is the
    /// room its choices act in.
    pub async fn send_card(
        &self,
        room: &matrix_sdk::Room,
        couple_room: &str,
        card: &Card,
        key: Option<&str>,
        reply_to: Option<&str>,
    ) -> Result<OwnedEventId, PostError> {
        let zones = self.zones(couple_room, card).await;
        let (mut content, _) = render::content(&self.content, card, couple_room, key, &zones);
        if let Some(ev) = reply_to {
            content = render::as_reply(content, ev);
        }
        let id = self.send(room, content, key).await?;
        self.send_image(room, card, key).await;
        self.send_file(room, card, key).await;
        Ok(id)
    }

    /// Replaces an earlier card in a Matrix room (`m.replace`).
    pub async fn replace_in(
        &self,
        room: &matrix_sdk::Room,
        couple_room: &str,
        original: &str,
        card: &Card,
    ) -> Result<(), PostError> {
        let zones = self.zones(couple_room, card).await;
        let (content, _) = render::content(&self.content, card, couple_room, None, &zones);
        self.send(room, render::replacement(original, content), None)
            .await?;
        self.send_image(room, card, None).await;
        Ok(())
    }
}

#[async_trait]
impl Transport for MatrixTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Matrix
    }

    fn caps(&self) -> Caps {
        Caps {
            controls: false,
            forms: false,
            ephemeral: false,
            edits: true,
            max_choices: 25,
        }
    }

    async fn post(&self, room: &Room, card: &Card, key: &str) -> Result<MessageRef, PostError> {
        let r = self.room(&room.external)?;
        let id = self
            .send_card(&r, &room.external, card, Some(key), None)
            .await?;
        Ok(MessageRef(id.to_string()))
    }

    async fn find_recent(
        &self,
        room: &Room,
        _card: &Card,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<MessageRef>, PostError> {
        // Every post carries its key in the card's metadata (kept by the homeserver, encrypted
        // in encrypted rooms), so the bot's own recent events say whether it went out.
        let r = self.room(&room.external)?;
        let Some(me) = self.client.user_id().map(|u| u.to_string()) else {
            return Ok(None);
        };
        let since_ms = since.timestamp_millis();
        for (id, ev) in recent_own(&r, &me, FIND_LIMIT).await {
            let at = ev.get("origin_server_ts").and_then(Value::as_i64);
            let posted = ev
                .get("content")
                .and_then(|c| c.get(render::META_KEY))
                .and_then(|m| m.get("key"))
                .and_then(Value::as_str);
            if posted == Some(key) && at.is_some_and(|t| t >= since_ms) {
                return Ok(Some(MessageRef(id)));
            }
        }
        Ok(None)
    }

    async fn post_private(
        &self,
        room: &Room,
        to: &PersonRef,
        card: &Card,
        key: &str,
    ) -> Result<MessageRef, PostError> {
        let (dm, _) = self.direct_room(&to.handle).await?;
        let id = self
            .send_card(&dm, &room.external, card, Some(key), None)
            .await?;
        Ok(MessageRef(id.to_string()))
    }

    async fn replace(
        &self,
        room: &Room,
        message: &MessageRef,
        card: &Card,
    ) -> Result<(), PostError> {
        let r = self.room(&room.external)?;
        self.replace_in(&r, &room.external, &message.0, card).await
    }

    async fn retract(&self, room: &Room, message: &MessageRef) -> Result<(), PostError> {
        let r = self.room(&room.external)?;
        let id = matrix_sdk::ruma::EventId::parse(&message.0)
            .map_err(|_| PostError::Gone { status: 404 })?;
        r.redact(&id, None, None)
            .await
            .map(|_| ())
            .map_err(|e| classify(&matrix_sdk::Error::Http(Box::new(e))))
    }

    async fn display_name(&self, room: &Room, person: &PersonRef) -> Option<String> {
        let r = self.room(&room.external).ok()?;
        let user = matrix_sdk::ruma::UserId::parse(&person.handle).ok()?;
        let member = r.get_member(&user).await.ok()??;
        member.display_name().map(str::to_string)
    }
}

/// How far back (events) a retried post looks for its earlier send: the retry follows within
/// hours, and a couple room sees few messages in that time.
const FIND_LIMIT: u32 = 100;

/// The bot's recent events in a room, newest first, as raw JSON (decrypted where the SDK
/// could), for reading back what its numbers and questions mean.
pub async fn recent_own(room: &matrix_sdk::Room, bot: &str, limit: u32) -> Vec<(String, Value)> {
    let mut opts = MessagesOptions::backward();
    opts.limit = limit.into();
    let Ok(page) = room.messages(opts).await else {
        return Vec::new();
    };
    page.chunk
        .iter()
        .filter_map(|ev| {
            let v: Value = ev.raw().deserialize_as::<Value>().ok()?;
            (v.get("sender")?.as_str()? == bot).then_some(())?;
            let id = v.get("event_id")?.as_str()?.to_string();
            Some((id, v))
        })
        .collect()
}
