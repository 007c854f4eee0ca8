//! The flows without any chat platform: use cases called directly with who acts and where,
//! and the real scheduler delivering through a recording transport, against real Postgres.
//! The people and rooms here have Matrix-shaped ids, which the core must not care about.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use attune::config::Config;
use attune::content::copy::keys;
use attune::domain::clock::{Clock, ManualClock};
use attune::domain::custom_id::{CheckinAction, CustomId, InviteAction};
use attune::domain::ids::TransportKind;
use attune::flows::onboarding::Invitee;
use attune::flows::{self, Answer, FlowError, Here, Reply, Who};
use attune::scheduler::Scheduler;
use attune::state::AppState;
use attune::store;
use attune::transport::recording::Recording;
use attune::transport::{Card, Part, Transports};
use chrono::Duration;

use crate::support::*;

const ROOM: &str = "!couple:attune.test";

fn who(handle: &str) -> Who {
    Who {
        transport: TransportKind::Matrix,
        handle: handle.into(),
    }
}

fn here(room: &str) -> Here {
    Here {
        transport: TransportKind::Matrix,
        room: room.into(),
        space: None,
        direct: false,
        can_post: true,
        open_to_others: None,
    }
}

/// Everything a person reads on a card, people by handle.
fn plain(c: &Card) -> String {
    let mut parts = c.text.0.clone();
    if let Some(p) = &c.panel {
        parts.extend(p.title.0.clone());
        parts.extend(p.body.0.clone());
    }
    parts
        .iter()
        .map(|p| match p {
            Part::Plain(s) | Part::User(s) | Part::Quote(s) => s.clone(),
            Part::Person(p) => p.handle.clone(),
            Part::Instant(..) => "<time>".into(),
        })
        .collect()
}

fn card(a: &Answer) -> &Card {
    match &a.reply {
        Reply::Public(c) | Reply::Private(c) | Reply::Update(c) => c,
        Reply::AskText(_) => panic!("a text request, not a card"),
    }
}

struct World {
    st: Arc<AppState>,
    clock: ManualClock,
    config: Config,
}

impl World {
    async fn start() -> World {
        init_logging();
        let (config, pool) = attune::sandbox::stage::scratch_database(&base_config())
            .await
            .expect("a scratch database (is Postgres reachable?)");
        let clock = ManualClock::new(at("2026-11-25T06:00:00Z"));
        let st = Arc::new(AppState::new(
            pool,
            Arc::new(clock.clone()),
            config.clone(),
            attune::content::Library::builtin(),
        ));
        World { st, clock, config }
    }

    async fn couple_up(&self) {
        let invitee = Invitee {
            who: who("@bob:attune.test"),
            is_bot: false,
        };
        let invite =
            flows::onboarding::setup(&self.st, &who("@alice:attune.test"), &here(ROOM), &invitee)
                .await
                .unwrap();
        let c = card(&invite);
        assert_eq!(c.notify.len(), 1, "the invitation notifies bob only");
        assert_eq!(c.notify[0].handle, "@bob:attune.test");
        let Some(CustomId::Invite(id, _)) = c
            .ids()
            .into_iter()
            .find(|i| matches!(i, CustomId::Invite(_, InviteAction::Accept)))
        else {
            panic!("no Accept on the invitation");
        };
        flows::onboarding::answer_invitation(
            &self.st,
            &who("@bob:attune.test"),
            &here(ROOM),
            id,
            InviteAction::Accept,
        )
        .await
        .unwrap();
    }

    async fn teardown(self) {
        self.st.pool.close().await;
        store::drop_database(&self.config.database.url)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_refuses_with_typed_reasons() {
    let w = World::start().await;
    // Someone invites a bot, or themselves: typed refusals.
    let bot = Invitee {
        who: who("@helper:attune.test"),
        is_bot: true,
    };
    let err = flows::onboarding::setup(&w.st, &who("@alice:attune.test"), &here(ROOM), &bot)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FlowError::Refused(ref r) if r.key == keys::onboarding::SETUP_BOT_PARTNER),
        "{err:?}"
    );
    w.couple_up().await;
    // A stranger in the room, and a partner acting in another room.
    let err = flows::onboarding::status(&w.st, &who("@carol:attune.test"), &here(ROOM))
        .await
        .unwrap_err();
    assert!(
        matches!(err, FlowError::Refused(ref r) if r.key == keys::common::NOT_YOUR_SPACE),
        "{err:?}"
    );
    let err = flows::onboarding::status(
        &w.st,
        &who("@alice:attune.test"),
        &here("!elsewhere:attune.test"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, FlowError::Refused(ref r) if r.key == keys::common::NO_COUPLE_HERE),
        "{err:?}"
    );
    // The couple's status names both partners by their Matrix ids.
    let status = flows::onboarding::status(&w.st, &who("@alice:attune.test"), &here(ROOM))
        .await
        .unwrap();
    let text = plain(card(&status));
    let fields: String = card(&status)
        .panel
        .as_ref()
        .unwrap()
        .fields
        .iter()
        .flat_map(|f| f.value.0.iter())
        .map(|p| match p {
            Part::Person(p) => p.handle.clone(),
            _ => String::new(),
        })
        .collect();
    assert!(
        fields.contains("@alice:attune.test") && fields.contains("@bob:attune.test"),
        "{text} {fields}"
    );
    w.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_checkin_is_delivered_once_and_revealed_through_the_port() {
    let w = World::start().await;
    w.couple_up().await;
    let recording = Arc::new(Recording::new(TransportKind::Matrix));
    let mut transports = Transports::new();
    transports.add(recording.clone());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let scheduler = Scheduler::new(w.st.clone(), transports).spawn(stop_rx);
    let settle = || async {
        for _ in 0..600 {
            w.st.wake.notify_one();
            let n = store::jobs::outstanding(&w.st.pool, w.clock.now())
                .await
                .unwrap();
            if n == 0 {
                return;
            }
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
        panic!("the scheduler did not catch up");
    };
    // Both partners have no zone yet, so their 08:00 check-ins follow UTC.
    w.clock.set(at("2026-11-25T08:00:00Z"));
    settle().await;
    let posts = recording.posts();
    let post = posts
        .iter()
        .find(|p| {
            p.card
                .ids()
                .iter()
                .any(|i| matches!(i, CustomId::Checkin(_, CheckinAction::Answer)))
        })
        .expect("a check-in post");
    assert_eq!(post.room, ROOM);
    assert_eq!(post.to, None, "a post in the couple's room");
    let round = post
        .card
        .ids()
        .into_iter()
        .find_map(|i| match i {
            CustomId::Checkin(r, _) => Some(r),
            _ => None,
        })
        .unwrap();
    // Both answer through the flow; bob shares a note, alice keeps hers.
    for (handle, mood, note, share) in [
        ("@alice:attune.test", "4", "alice private words", false),
        ("@bob:attune.test", "2", "bob shared words", true),
    ] {
        let (me, room) = (who(handle), here(ROOM));
        flows::checkin::press(
            &w.st,
            &me,
            &room,
            round,
            CheckinAction::Mood,
            &[mood.into()],
        )
        .await
        .unwrap();
        flows::checkin::note(&w.st, &me, &room, round, note)
            .await
            .unwrap();
        if share {
            flows::checkin::press(&w.st, &me, &room, round, CheckinAction::ShareNote, &[])
                .await
                .unwrap();
        }
        let done = flows::checkin::press(&w.st, &me, &room, round, CheckinAction::Submit, &[])
            .await
            .unwrap();
        assert!(matches!(done.reply, Reply::Update(_)));
    }
    // A stranger's press on the card is refused and changes nothing.
    let err = flows::checkin::press(
        &w.st,
        &who("@carol:attune.test"),
        &here(ROOM),
        round,
        CheckinAction::Mood,
        &["1".into()],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FlowError::Refused(_)));
    settle().await;
    let reveals: Vec<_> = recording
        .posts()
        .into_iter()
        .filter(|p| plain(&p.card).contains("revealed"))
        .collect();
    assert_eq!(reveals.len(), 1, "revealed exactly once");
    let text = plain(&reveals[0].card);
    assert!(text.contains("bob shared words"), "{text}");
    assert!(
        !text.contains("alice private words"),
        "a private note never reaches the room: {text}"
    );
    // A day later: tomorrow's posts, and every key the transport saw was used once.
    w.clock.set(w.clock.now() + Duration::days(1));
    settle().await;
    let posts = recording.posts();
    let keys: std::collections::HashSet<_> = posts.iter().map(|p| p.key.clone()).collect();
    assert_eq!(keys.len(), posts.len(), "no key posted twice");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(StdDuration::from_secs(5), scheduler).await;
    w.teardown().await;
}
