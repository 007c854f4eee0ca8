//! The Matrix journeys against a real Synapse (started by `scripts/synapse`, which
//! `scripts/test` always runs): the bot as `attune run` wires it, the partners as plain
//! matrix-sdk clients with their own devices, in an end-to-end encrypted couple room and
//! encrypted direct rooms.
//!
//! These tests need `ATTUNE_SYNAPSE_URL` and `ATTUNE_SYNAPSE_SECRET`; without them they fail
//! with a message saying how to start Synapse (they never pass silently). Every wait polls
//! with a deadline; no sleep stands in for an assertion.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use attune::config::Config;
use attune::content::copy::keys;
use attune::content::Library;
use attune::domain::clock::SystemClock;
use attune::domain::custom_id::{Act, CustomId, MicroAction, RepairAction};
use attune::matrix::render::META_KEY;
use hmac::{Hmac, Mac};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::event_handler::RawEvent;
use matrix_sdk::ruma::api::client::room::create_room::v3::{Request as CreateRoom, RoomPreset};
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent;
use matrix_sdk::ruma::events::room::message::{
    OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use matrix_sdk::Client;
use serde_json::{json, Value};

use super::support::base_config;

const WAIT: Duration = Duration::from_secs(45);

fn synapse() -> (String, String) {
    match (
        std::env::var("ATTUNE_SYNAPSE_URL"),
        std::env::var("ATTUNE_SYNAPSE_SECRET"),
    ) {
        (Ok(u), Ok(s)) => (u, s),
        _ => panic!(
            "the Matrix tests need a Synapse homeserver: run scripts/test, or start one with \
             `eval \"$(scripts/synapse start /tmp/attune-synapse)\"` and export \
             ATTUNE_SYNAPSE_URL and ATTUNE_SYNAPSE_SECRET (stop it with `scripts/synapse stop \
             /tmp/attune-synapse`)"
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Registers a user through Synapse's shared-secret admin API; returns the full user id.
async fn register(name: &str, password: &str) -> String {
    let (url, secret) = synapse();
    let http = reqwest::Client::new();
    let endpoint = format!("{url}/_synapse/admin/v1/register");
    let nonce: Value = serde_json::from_slice(
        &http
            .get(&endpoint)
            .send()
            .await
            .expect("Synapse answers")
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let nonce = nonce["nonce"].as_str().unwrap().to_string();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{nonce}\0{name}\0{password}\0notadmin").as_bytes());
    let body = json!({
        "nonce": nonce, "username": name, "password": password, "admin": false,
        "mac": hex(&mac.finalize().into_bytes()),
    });
    let r = http
        .post(&endpoint)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(status.is_success(), "registering {name}: {v}");
    v["user_id"].as_str().unwrap().to_string()
}

/// A message a partner's client saw.
#[derive(Debug, Clone)]
struct Seen {
    room: String,
    sender: String,
    event_id: String,
    /// The event's content as the client decrypted it.
    content: Value,
}

impl Seen {
    fn body(&self) -> &str {
        self.content["body"].as_str().unwrap_or("")
    }
    fn msgtype(&self) -> &str {
        self.content["msgtype"].as_str().unwrap_or("")
    }
    fn is_edit(&self) -> bool {
        self.content["m.relates_to"]["rel_type"] == "m.replace"
    }
    /// What an edit says now, else the content itself.
    fn current(&self) -> &Value {
        if self.is_edit() {
            &self.content["m.new_content"]
        } else {
            &self.content
        }
    }
}

/// A partner: a real Matrix client with its own device and store, syncing in the background,
/// joining every room it is invited to and remembering every message it sees.
struct Person {
    id: String,
    client: Client,
    seen: Arc<Mutex<Vec<Seen>>>,
    _store: tempfile::TempDir,
    sync: tokio::task::JoinHandle<()>,
}

impl Drop for Person {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

async fn person(name: &str) -> Person {
    attune::process::install_tls_provider();
    let (url, _) = synapse();
    let id = register(name, "pw-partner").await;
    let store = tempfile::tempdir().unwrap();
    let client = Client::builder()
        .homeserver_url(&url)
        .sqlite_store(store.path(), None)
        .build()
        .await
        .unwrap();
    client
        .matrix_auth()
        .login_username(&id, "pw-partner")
        .send()
        .await
        .unwrap();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let me = id.clone();
    client.add_event_handler(move |ev: StrippedRoomMemberEvent, room: matrix_sdk::Room| {
        let me = me.clone();
        async move {
            if ev.state_key.as_str() == me {
                tokio::spawn(async move {
                    for _ in 0..20 {
                        if room.join().await.is_ok() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                });
            }
        }
    });
    let sink = seen.clone();
    client.add_event_handler(
        move |ev: OriginalSyncRoomMessageEvent, room: matrix_sdk::Room, raw: RawEvent| {
            let sink = sink.clone();
            async move {
                let v: Value = serde_json::from_str(raw.get()).unwrap_or_default();
                sink.lock().unwrap().push(Seen {
                    room: room.room_id().to_string(),
                    sender: ev.sender.to_string(),
                    event_id: ev.event_id.to_string(),
                    content: v["content"].clone(),
                });
            }
        },
    );
    client.sync_once(SyncSettings::default()).await.unwrap();
    let c = client.clone();
    let sync = tokio::spawn(async move {
        loop {
            let _ = c
                .sync(SyncSettings::default().timeout(Duration::from_secs(5)))
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Person {
        id,
        client,
        seen,
        _store: store,
        sync,
    }
}

impl Person {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until a message matching `f` arrives; returns it.
    async fn wait_for(&self, what: &str, f: impl Fn(&Seen) -> bool) -> Seen {
        self.wait_after(0, what, f).await
    }

    fn room(&self, id: &str) -> matrix_sdk::Room {
        self.client
            .get_room(&OwnedRoomId::try_from(id).unwrap())
            .expect("a room this client knows")
    }

    async fn say(&self, room: &str, text: &str) -> String {
        let r = self
            .room(room)
            .send(RoomMessageEventContent::text_plain(text))
            .await
            .expect("send");
        r.response.event_id.to_string()
    }

    /// Waits for a message matching `f` among those seen after the first `mark`.
    async fn wait_after(&self, mark: usize, what: &str, f: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let seen = self.seen();
            if let Some(s) = seen.iter().skip(mark).find(|s| f(s)) {
                return s.clone();
            }
            if tokio::time::Instant::now() > deadline {
                let bodies: Vec<String> = seen
                    .iter()
                    .skip(mark)
                    .map(|s| format!("[{}] {}", s.sender, s.body()))
                    .collect();
                panic!(
                    "{} never saw {what}; saw since:\n{}",
                    self.id,
                    bodies.join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Replies to the message `to` in `room` with `text`.
    async fn reply(&self, room: &str, to: &str, text: &str) {
        let mut v = serde_json::to_value(RoomMessageEventContent::text_plain(text)).unwrap();
        v["m.relates_to"] = json!({"m.in_reply_to": {"event_id": to}});
        self.room(room).send_raw("m.room.message", v).await.unwrap();
    }

    /// Presses a repair action on `card` (by the number the card offers for it, as a reply)
    /// and waits for the first new message of `bot` matching `then`.
    async fn press(
        &self,
        bot: &str,
        card: &Seen,
        action: RepairAction,
        then: impl Fn(&Seen) -> bool,
    ) -> Seen {
        let n = repair_choice(card, action)
            .unwrap_or_else(|| panic!("no {action:?} on: {}", card.current()["body"]));
        let mark = self.seen().len();
        self.reply(&card.room, &card.event_id, &n.to_string()).await;
        self.wait_after(mark, &format!("the answer to {action:?}"), |s| {
            s.sender == bot && then(s)
        })
        .await
    }

    /// Opens a repair writing from `card`, answers the request with `text` in the direct
    /// room, and shares the private preview; returns the public card that follows.
    async fn write_and_share(
        &self,
        bot: &str,
        couple_room: &str,
        card: &Seen,
        (write, share): (RepairAction, RepairAction),
        text: &str,
    ) -> Seen {
        let ask = self
            .press(bot, card, write, |s| {
                s.room != couple_room && s.current()[META_KEY]["ask"].is_object()
            })
            .await;
        let mark = self.seen().len();
        self.reply(&ask.room, &ask.event_id, text).await;
        let preview = self
            .wait_after(mark, "the private preview", |s| {
                s.sender == bot && s.room == ask.room && repair_choice(s, share).is_some()
            })
            .await;
        self.press(bot, &preview, share, |s| {
            s.room == couple_room && has_choices(s)
        })
        .await
    }

    /// The direct room the bot opened with this person.
    async fn dm_with(&self, bot: &str, couple_room: &str) -> String {
        let s = self
            .wait_for("a message in a direct room", |s| {
                s.sender == bot && s.room != couple_room
            })
            .await;
        s.room
    }
}

/// The number a card offers for a repair action, read from the choices the bot attached to
/// it (so the test presses by typed action, not by label).
fn choice(s: &Seen, act: Act) -> Option<u32> {
    s.current()[META_KEY]["choices"]
        .as_array()?
        .iter()
        .find_map(|c| {
            let id = c["id"].as_str()?.parse::<CustomId>().ok()?;
            (id.act() == act).then(|| c["n"].as_u64().map(|n| n as u32))?
        })
}

fn repair_choice(s: &Seen, action: RepairAction) -> Option<u32> {
    choice(s, Act::Repair(action))
}

fn has_choices(s: &Seen) -> bool {
    s.current()[META_KEY]["choices"]
        .as_array()
        .is_some_and(|c| !c.is_empty())
}

/// The numbers the card offers for a label, in order (a label can stand in several menus).
fn numbers_for(body: &str, label: &str) -> Vec<u32> {
    body.lines()
        .filter_map(|l| {
            let (n, rest) = l.split_once(". ")?;
            let rest = rest.trim_end_matches(" ✓");
            (rest == label).then(|| n.trim().parse().ok())?
        })
        .collect()
}

struct Bot {
    config: Config,
    pool: sqlx::PgPool,
    running: Option<attune::app::Running>,
    id: String,
    _store: tempfile::TempDir,
}

impl Bot {
    async fn start(name: &str, inviters: Vec<String>) -> Bot {
        super::support::init_logging();
        let (url, _) = synapse();
        let id = register(name, "pw-bot").await;
        let store = tempfile::tempdir().unwrap();
        let (mut config, pool) = attune::sandbox::stage::scratch_database(&base_config())
            .await
            .expect("a scratch database (is Postgres reachable? see scripts/test)");
        config.discord.token = None;
        config.matrix.homeserver = Some(url.parse().unwrap());
        config.matrix.user_id = Some(id.clone());
        config.matrix.password = Some("pw-bot".to_string().into());
        config.matrix.store_path = store.path().join("store");
        config.matrix.allowed_inviters = inviters;
        config.scheduler.poll_interval = Duration::from_millis(50);
        let mut bot = Bot {
            config,
            pool,
            running: None,
            id,
            _store: store,
        };
        bot.restart().await;
        bot
    }

    async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        let running = attune::app::start_with_pool(
            self.config.clone(),
            Arc::new(SystemClock),
            self.pool.clone(),
        )
        .await
        .expect("the bot starts on Matrix");
        self.running = Some(running);
    }

    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn wait_count(&self, sql: &'static str, want: i64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let n = self.count(sql).await;
            if n == want {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{sql} stayed {n}, wanted {want}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn finish(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
        self.pool.close().await;
        attune::store::drop_database(&self.config.database.url)
            .await
            .unwrap();
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A private room made by `owner`, encrypted or not, with the others invited.
async fn room(owner: &Person, invite: &[&str], encrypted: bool) -> String {
    let mut req = CreateRoom::new();
    req.preset = Some(RoomPreset::PrivateChat);
    req.invite = invite
        .iter()
        .map(|u| OwnedUserId::try_from(*u).unwrap())
        .collect();
    if encrypted {
        req.initial_state = vec![InitialStateEvent::with_empty_state_key(
            RoomEncryptionEventContent::with_recommended_defaults(),
        )
        .to_raw_any()];
    }
    let r = owner.client.create_room(req).await.expect("create room");
    r.room_id().to_string()
}

async fn wait_joined(p: &Person, room: &str, user: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    let uid = OwnedUserId::try_from(user).unwrap();
    loop {
        if let Some(r) = p.client.get_room(&OwnedRoomId::try_from(room).unwrap()) {
            if let Ok(Some(m)) = r.get_member(&uid).await {
                if *m.membership() == matrix_sdk::ruma::events::room::member::MembershipState::Join
                {
                    return;
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{user} never joined {room}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ann invites Bob with `!attune setup`; returns the number that accepts. The invitation is
/// a notice in HTML that mentions Bob only.
async fn invitation(lib: &Library, ann: &Person, bob: &Person, b: &str, us: &str) -> u32 {
    ann.say(us, &format!("!attune setup {}", bob.id)).await;
    let accept = lib.t(keys::onboarding::ACCEPT, &[]).words();
    let invite = bob
        .wait_for("the invitation", |s| {
            s.sender == b && s.room == us && !numbers_for(s.body(), &accept).is_empty()
        })
        .await;
    assert_eq!(invite.msgtype(), "m.notice");
    assert_eq!(invite.content["format"], "org.matrix.custom.html");
    assert_eq!(invite.content["m.mentions"]["user_ids"], json!([bob.id]));
    numbers_for(invite.body(), &accept)[0]
}

/// Onboarding with consent, an outsider refused, a check-in answered privately in encrypted
/// direct rooms with nothing in the couple room before the reveal and a restart in the
/// middle, the recap with its chart, then export and forget: all in an encrypted room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_journey() {
    let lib = Library::builtin();
    let ann = person(&unique("ann")).await;
    let bob = person(&unique("bob")).await;
    let eve = person(&unique("eve")).await;
    let mut bot = Bot::start(&unique("attune"), vec![ann.id.clone()]).await;
    let b = bot.id.clone();

    let us = room(&ann, &[&bob.id, &eve.id, &b], true).await;
    wait_joined(&ann, &us, &b).await;
    wait_joined(&ann, &us, &bob.id).await;
    wait_joined(&ann, &us, &eve.id).await;

    // Unknown and malformed commands get a short, kind answer.
    let q = ann.say(&us, "!attune dance").await;
    let unknown = lib.t(keys::matrix::UNKNOWN_COMMAND, &[]).words();
    ann.wait_for("the unknown-command answer", |s| {
        s.sender == b
            && s.body() == unknown
            && s.content["m.relates_to"]["m.in_reply_to"]["event_id"] == q.as_str()
    })
    .await;

    // Setup: the invitation mentions Bob only; Bob accepts by its number.
    let n = invitation(&lib, &ann, &bob, &b, &us).await;
    // An outsider cannot accept for Bob.
    eve.say(&us, &n.to_string()).await;
    bob.say(&us, &n.to_string()).await;
    bot.wait_count("select count(*) from couples", 1).await;
    bot.wait_count("select count(*) from partners", 2).await;
    // Eve can read the room: status tells Ann so privately, with how to keep it theirs.
    ann.say(&us, "!attune status").await;
    let open = lib.t(keys::matrix::ROOM_OPEN, &[]).words();
    ann.wait_for("status saying others can read the room", |s| {
        s.sender == b && s.room != us && s.body().contains(&open)
    })
    .await;

    // The outsider in the room is refused and changes nothing.
    let before = bot.count("select count(*) from checkins").await;
    let q = eve.say(&us, "!checkin").await;
    eve.wait_for("a refusal for the outsider", |s| {
        s.sender == b && s.content["m.relates_to"]["m.in_reply_to"]["event_id"] == q.as_str()
    })
    .await;
    assert_eq!(bot.count("select count(*) from checkins").await, before);

    for p in [&ann, &bob] {
        p.say(&us, "!attune timezone Europe/Berlin").await;
    }

    // A check-in: Ann answers privately, with a note.
    ann.say(&us, "!checkin").await;
    let answer = lib.t(keys::checkin::ANSWER, &[]).words();
    let post = ann
        .wait_for("the check-in post", |s| {
            s.sender == b && s.room == us && !numbers_for(s.body(), &answer).is_empty()
        })
        .await;
    let n = numbers_for(post.body(), &answer)[0];
    let reply = RoomMessageEventContent::text_plain(n.to_string());
    let mut reply = serde_json::to_value(&reply).unwrap();
    reply["m.relates_to"] = json!({"m.in_reply_to": {"event_id": post.event_id}});
    ann.room(&us)
        .send_raw("m.room.message", reply)
        .await
        .unwrap();
    let ann_dm = ann.dm_with(&b, &us).await;
    assert!(
        ann.room(&ann_dm)
            .latest_encryption_state()
            .await
            .unwrap()
            .is_encrypted(),
        "the direct room is encrypted"
    );
    // The bot's device is cross-signed by its own identity, so clients that exclude
    // unverified devices still talk to it.
    let bot_user = OwnedUserId::try_from(b.as_str()).unwrap();
    let devices = ann
        .client
        .encryption()
        .get_user_devices(&bot_user)
        .await
        .unwrap();
    assert!(
        devices.devices().any(|d| d.is_cross_signed_by_owner()),
        "the bot's device is cross-signed"
    );
    let mood = |s: &str| lib.t(keys::mood::HEAVY, &[]).words() == s;
    let card = ann
        .wait_for("Ann's private card", |s| {
            s.room == ann_dm
                && s.body()
                    .lines()
                    .any(|l| l.split_once(". ").is_some_and(|(_, r)| mood(r)))
        })
        .await;
    let heavy = lib.t(keys::mood::HEAVY, &[]).words();
    let good = lib.t(keys::mood::GOOD, &[]).words();
    let feeling = lib.feelings[0].clone();
    let m = numbers_for(card.body(), &heavy)[0];
    let g = numbers_for(card.body(), &good)[1];
    let f = numbers_for(card.body(), &feeling)[0];
    ann.say(&ann_dm, &format!("{m} {f} {g}")).await;
    let note_add = lib.t(keys::checkin::NOTE_ADD, &[]).words();
    let done = lib.t(keys::checkin::DONE, &[]).words();
    let note_n = numbers_for(card.body(), &note_add)
        .first()
        .copied()
        .or_else(|| {
            numbers_for(
                card.body(),
                &lib.t(keys::checkin::ANSWER_QUESTION, &[]).words(),
            )
            .first()
            .copied()
        })
        .expect("a note button");
    // Wait until the answers landed (the card was edited with Heavy ticked).
    ann.wait_for("the card edited with the mood", |s| {
        s.room == ann_dm && s.is_edit() && s.current()["body"].as_str().unwrap_or("").contains("✓")
    })
    .await;
    ann.say(&ann_dm, &note_n.to_string()).await;
    let write = lib.t(keys::matrix::WRITE_REPLY, &[]).words();
    ann.wait_for("the request for a note", |s| {
        s.room == ann_dm && s.body().contains(&write)
    })
    .await;
    let secret = "tangerine-lighthouse-41";
    ann.say(&ann_dm, &format!("my {secret} note")).await;
    bot.wait_count(
        "select count(*) from checkin_answers where note is not null",
        1,
    )
    .await;
    let latest = ann
        .wait_for("the card with the note", |s| {
            let body = s.current()["body"].as_str().unwrap_or("");
            s.room == ann_dm && body.contains(secret) && !numbers_for(body, &done).is_empty()
        })
        .await;
    let done_n = numbers_for(latest.current()["body"].as_str().unwrap(), &done)[0];
    ann.say(&ann_dm, &done_n.to_string()).await;
    bot.wait_count("select count(*) from checkin_answers where submitted", 1)
        .await;

    // Nothing of Ann's answer reaches the couple room before the reveal.
    for s in bob.seen().iter().filter(|s| s.room == us) {
        let text = s.current().to_string();
        assert!(!text.contains(secret), "Ann's note leaked: {text}");
        assert!(
            !text.contains(&feeling) || s.sender != b,
            "Ann's feeling leaked: {text}"
        );
    }

    // The bot restarts in the middle of the check-in; Bob answers after.
    bot.restart().await;
    let post_b = post.clone();
    let reply = RoomMessageEventContent::text_plain(n.to_string());
    let mut reply = serde_json::to_value(&reply).unwrap();
    reply["m.relates_to"] = json!({"m.in_reply_to": {"event_id": post_b.event_id}});
    bob.room(&us)
        .send_raw("m.room.message", reply)
        .await
        .unwrap();
    let bob_dm = bob.dm_with(&b, &us).await;
    let card = bob
        .wait_for("Bob's private card", |s| {
            s.room == bob_dm && !numbers_for(s.body(), &good).is_empty()
        })
        .await;
    let m = numbers_for(card.body(), &good)[0];
    let g = numbers_for(card.body(), &heavy)[1];
    let d = numbers_for(card.body(), &done)[0];
    bob.say(&bob_dm, &format!("{m} {g} {d}")).await;
    let reveal = ann
        .wait_for("the reveal in the couple room", |s| {
            s.room == us && s.sender == b && s.body().contains(&heavy) && s.body().contains(&good)
        })
        .await;
    assert_eq!(reveal.msgtype(), "m.notice");

    // The recap with its chart.
    ann.say(&us, "!recap").await;
    let img = ann
        .wait_for("the recap chart", |s| {
            s.room == us && s.msgtype() == "m.image"
        })
        .await;
    assert!(!img.body().is_empty(), "the chart has alt text");

    // Export (a file in the direct room), then forget.
    ann.say(&us, "!attune export").await;
    ann.wait_for("the export file", |s| {
        s.room == ann_dm && s.msgtype() == "m.file"
    })
    .await;
    ann.say(&us, "!attune forget").await;
    let yes = lib.t(keys::privacy::FORGET_YES, &[]).words();
    let confirm = ann
        .wait_for("the forget confirmation", |s| {
            s.room == ann_dm && !numbers_for(s.body(), &yes).is_empty()
        })
        .await;
    let confirm_n = numbers_for(confirm.body(), &yes)[0];
    ann.say(&ann_dm, &confirm_n.to_string()).await;
    // Then told, in the same direct room, that the erasure is done.
    let done = lib.t(keys::privacy::FORGET_DONE, &[]).words();
    ann.wait_for("the erasure done", |s| s.room == ann_dm && s.body() == done)
        .await;
    // Ann's answers are gone, Bob's stay his.
    bot.wait_count("select count(*) from checkin_answers", 1)
        .await;
    bot.wait_count("select count(*) from partners", 1).await;
    bot.finish().await;
}

/// Invitations from someone not allowed are declined; the bot joins only allowed rooms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_from_others_are_declined() {
    let ann = person(&unique("ann")).await;
    let eve = person(&unique("eve")).await;
    let bot = Bot::start(&unique("attune"), vec![ann.id.clone()]).await;
    let theirs = room(&eve, &[&bot.id], false).await;
    let ours = room(&ann, &[&bot.id], false).await;
    wait_joined(&ann, &ours, &bot.id).await;
    // By now the bot has handled the earlier invitation too: it left (declined).
    let deadline = tokio::time::Instant::now() + WAIT;
    let uid = OwnedUserId::try_from(bot.id.as_str()).unwrap();
    loop {
        let r = eve.room(&theirs);
        let m = r.get_member(&uid).await.unwrap();
        if m.is_some_and(|m| {
            *m.membership() == matrix_sdk::ruma::events::room::member::MembershipState::Leave
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bot never declined"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bot.finish().await;
}

/// A whole repair on Matrix, to an agreement: the writing happens in each partner's direct
/// room and stays there until its writer shares it; each step's card reaches the couple room
/// mentioning only who acts next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_reaches_an_agreement() {
    use RepairAction as R;
    let lib = Library::builtin();
    let ann = person(&unique("ann")).await;
    let bob = person(&unique("bob")).await;
    let bot = Bot::start(&unique("attune"), vec![ann.id.clone()]).await;
    let b = bot.id.clone();
    let us = room(&ann, &[&bob.id, &b], false).await;
    wait_joined(&ann, &us, &b).await;
    wait_joined(&ann, &us, &bob.id).await;
    let n = invitation(&lib, &ann, &bob, &b, &us).await;
    bob.say(&us, &n.to_string()).await;
    bot.wait_count("select count(*) from partners", 2).await;
    // Only the two of them and the bot are in the room, and status says so.
    ann.say(&us, "!attune status").await;
    let private = lib.t(keys::onboarding::ROOM_PRIVATE, &[]).words();
    ann.wait_for("status saying the room is theirs", |s| {
        s.sender == b && s.room != us && s.body().contains(&private)
    })
    .await;
    // Times are written in each partner's own zone, not in UTC.
    ann.say(&us, "!attune timezone Europe/Berlin").await;
    bob.say(&us, "!attune timezone America/New_York").await;
    bot.wait_count(
        "select count(*) from people where time_zone in ('Europe/Berlin', 'America/New_York')",
        2,
    )
    .await;
    let mark = ann.seen().len();
    ann.say(&us, "!attune status").await;
    let status = ann
        .wait_after(mark, "status with the next check-ins", |s| {
            s.sender == b && s.room != us && s.body().contains(&private)
        })
        .await;
    assert!(
        status.body().contains("(Berlin)") && status.body().contains("(New York)"),
        "{}",
        status.body()
    );
    assert!(!status.body().contains(" UTC"), "{}", status.body());

    // Ann starts: the chooser and the request for the moment come to her direct room.
    let mark = ann.seen().len();
    ann.say(&us, "!repair").await;
    let chooser = ann
        .wait_after(mark, "the repair chooser", |s| {
            s.sender == b && repair_choice(s, R::ChooseOwn).is_some()
        })
        .await;
    assert_ne!(chooser.room, us, "the chooser is private");
    let ask = ann
        .press(&b, &chooser, R::ChooseOwn, |s| {
            s.current()[META_KEY]["ask"].is_object()
        })
        .await;
    let moment = "SENTINEL-MOMENT the dinner";
    ann.reply(&ask.room, &ask.event_id, moment).await;
    let invite = bob
        .wait_for("the repair invitation", |s| {
            s.sender == b && s.room == us && repair_choice(s, R::Ready).is_some()
        })
        .await;
    assert_eq!(invite.content["m.mentions"]["user_ids"], json!([bob.id]));

    let public = |s: &Seen| s.room == us && has_choices(s);
    let regulate = bob.press(&b, &invite, R::Ready, public).await;
    ann.press(&b, &regulate, R::Calm2, |s| s.room != us).await;
    let own = bob.press(&b, &regulate, R::Calm3, public).await;
    let felt = ann
        .write_and_share(
            &b,
            &us,
            &own,
            (R::WriteOwn, R::ShareOwn),
            "SENTINEL-OWN I cut you off.",
        )
        .await;
    assert!(felt.body().contains("SENTINEL-OWN"), "{}", felt.body());
    assert_eq!(felt.content["m.mentions"]["user_ids"], json!([bob.id]));
    let recheck = bob
        .write_and_share(
            &b,
            &us,
            &felt,
            (R::WriteFelt, R::ShareFelt),
            "SENTINEL-FELT small.",
        )
        .await;
    ann.press(&b, &recheck, R::Calm2, |s| s.room != us).await;
    let reflect = bob.press(&b, &recheck, R::Calm1, public).await;
    let confirm = ann
        .write_and_share(
            &b,
            &us,
            &reflect,
            (R::WriteReflect, R::ShareReflect),
            "You felt small.",
        )
        .await;
    let empathy = bob.press(&b, &confirm, R::Heard, public).await;
    let next = ann
        .write_and_share(
            &b,
            &us,
            &empathy,
            (R::WriteEmpathy, R::ShareEmpathy),
            "It makes sense you felt small.",
        )
        .await;
    let proposed = ann
        .write_and_share(
            &b,
            &us,
            &next,
            (R::WritePlan, R::SharePlan),
            "I'll let you finish first.",
        )
        .await;
    let pick = bob
        .write_and_share(
            &b,
            &us,
            &proposed,
            (R::WritePlan, R::SharePlan),
            "SENTINEL-LINE we pause when talk gets fast.",
        )
        .await;
    let agree = ann.press(&b, &pick, R::PickSecond, public).await;
    let close = bob.press(&b, &agree, R::Agree, public).await;
    assert!(close.body().contains("SENTINEL-LINE"), "{}", close.body());
    ann.press(&b, &close, R::Close4, |s| s.room != us).await;
    let summary = bob
        .press(&b, &close, R::Close5, |s| {
            s.room == us && repair_choice(s, R::OtherWay).is_some()
        })
        .await;
    assert!(
        summary.body().contains("SENTINEL-LINE"),
        "{}",
        summary.body()
    );
    assert_eq!(summary.msgtype(), "m.notice");

    bot.wait_count(
        "select count(*) from repairs where step = 'done' and status = 'completed'",
        1,
    )
    .await;
    bot.wait_count("select count(*) from agreements", 1).await;
    // A small prompt on request comes privately, and pressing its number records it.
    let mark = ann.seen().len();
    ann.say(&us, "!micro").await;
    let prompt = ann
        .wait_after(mark, "a micro-prompt", |s| {
            s.sender == b && choice(s, Act::Micro(MicroAction::Done)).is_some()
        })
        .await;
    assert_ne!(prompt.room, us, "the prompt is private");
    let n = choice(&prompt, Act::Micro(MicroAction::Done)).unwrap();
    ann.reply(&prompt.room, &prompt.event_id, &n.to_string())
        .await;
    bot.wait_count(
        "select count(*) from micro_prompts where outcome = 'done'",
        1,
    )
    .await;
    // The moment Ann never shared stayed in her direct room.
    for s in bob.seen().iter().filter(|s| s.room == us) {
        assert!(
            !s.current().to_string().contains("SENTINEL-MOMENT"),
            "the unshared moment reached the couple room: {}",
            s.body()
        );
    }
    bot.finish().await;
}

/// A post that went out without being recorded is recognised by its key when the retry comes
/// past the homeserver's transaction window, also in an encrypted room: the scheduler then
/// records it instead of posting it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_post_is_recognised_by_its_key() {
    use attune::domain::couple::Room;
    use attune::domain::ids::{RoomId, TransportKind};
    use attune::transport::{Card, Text, Transport};
    let poster = person(&unique("poster")).await;
    let ann = person(&unique("ann")).await;
    let us = room(&poster, &[&ann.id], true).await;
    wait_joined(&poster, &us, &ann.id).await;
    let t = attune::matrix::MatrixTransport::new(
        poster.client.clone(),
        Arc::new(Library::builtin()),
        None,
    );
    let room = Room {
        id: RoomId::new(),
        transport: TransportKind::Matrix,
        external: us.clone(),
        space: None,
    };
    let card = Card::text(Text::plain("Good morning, you two."));
    let before = chrono::Utc::now() - chrono::Duration::minutes(1);
    let sent = t.post(&room, &card, "post:first").await.expect("posted");
    let found = t
        .find_recent(&room, &card, "post:first", before)
        .await
        .unwrap();
    assert_eq!(found, Some(sent), "the earlier post is found by its key");
    let other = t
        .find_recent(&room, &card, "post:second", before)
        .await
        .unwrap();
    assert_eq!(
        other, None,
        "the same words under another key are another post"
    );
    let later = chrono::Utc::now() + chrono::Duration::minutes(1);
    let too_old = t
        .find_recent(&room, &card, "post:first", later)
        .await
        .unwrap();
    assert_eq!(
        too_old, None,
        "a post from before the first attempt is not this one"
    );
}
