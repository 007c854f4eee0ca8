//! Onboarding through the stand-in against real Postgres: setup, accept, zones, status, leave,
//! and every refusal on the way.

use crate::support::*;
use attune::sandbox::fake::Reply;
use attune::sandbox::stage::{ALICE, BOB, CAROL, CHANNEL, DM_CHANNEL, HELPERBOT};
use chrono::Duration;
use serde_json::json;

fn ephemeral_text(reply: &Reply, user: u64) -> String {
    let m = reply.message().cloned().expect("a message reply");
    assert_eq!(
        m.ephemeral_for,
        Some(user),
        "expected a private reply: {m:?}"
    );
    m.text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_journey() {
    let stage = stage().await;

    let invite = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(invite.ephemeral_for, None, "the invitation is public");
    assert!(invite.content.contains(&format!("<@{BOB}>")));
    let accept = invite.control(Act::Invite(InviteAction::Accept)).unwrap();
    assert!(invite.control(Act::Invite(InviteAction::Decline)).is_some());

    // carol cannot accept for bob; nothing changes.
    let before = snapshot(&stage).await;
    let refused = stage
        .fake
        .click_button(CAROL, invite.id, &accept)
        .await
        .unwrap();
    let text = ephemeral_text(&refused, CAROL);
    assert!(text.contains("only they can answer"), "{text}");
    assert_eq!(snapshot(&stage).await, before);
    // alice cannot accept her own invitation either.
    let own = stage
        .fake
        .click_button(ALICE, invite.id, &accept)
        .await
        .unwrap();
    assert!(ephemeral_text(&own, ALICE).contains("your own invitation"));
    assert_eq!(snapshot(&stage).await, before);

    let accepted = stage
        .fake
        .click_button(BOB, invite.id, &accept)
        .await
        .unwrap();
    let Reply::Updated(m) = &accepted else {
        panic!("accept should update the invitation: {accepted:?}")
    };
    assert!(m.text().contains("linked"), "{}", m.text());
    assert!(m.buttons().is_empty(), "buttons are gone after accepting");
    assert_eq!(
        count(
            &stage,
            "select count(*) from couples where ended_at is null"
        )
        .await,
        1
    );
    assert_eq!(count(&stage, "select count(*) from partners").await, 2);

    let r = stage
        .cmd(ALICE, "attune timezone", vec![("zone", json!("berlin"))])
        .await
        .unwrap();
    assert!(ephemeral_text(&r, ALICE).contains("Europe/Berlin"));
    let r = stage
        .cmd(
            BOB,
            "attune timezone",
            vec![("zone", json!("America/New_York"))],
        )
        .await
        .unwrap();
    assert!(ephemeral_text(&r, BOB).contains("America/New_York"));

    let status = stage.cmd(ALICE, "attune status", vec![]).await.unwrap();
    let text = ephemeral_text(&status, ALICE);
    assert!(
        text.contains("Europe/Berlin") && text.contains("America/New_York"),
        "{text}"
    );
    // 07:00 UTC on the 25th is 08:00 in Berlin and 02:00 in New York.
    assert!(text.contains("08:00") && text.contains("02:00"), "{text}");
    assert!(text.contains("Active"), "{text}");

    // An outsider cannot read the couple's status.
    let r = stage.cmd(CAROL, "attune status", vec![]).await.unwrap();
    assert!(ephemeral_text(&r, CAROL).contains("another couple"));

    // Leave asks first; "keep" changes nothing, "yes" unlinks.
    let confirm = stage
        .cmd(BOB, "attune leave", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(confirm.ephemeral_for, Some(BOB));
    let keep = confirm.control(Act::Leave(LeaveAction::Cancel)).unwrap();
    stage
        .fake
        .click_button(BOB, confirm.id, &keep)
        .await
        .unwrap();
    assert_eq!(
        count(
            &stage,
            "select count(*) from couples where ended_at is null"
        )
        .await,
        1
    );

    let confirm = stage
        .cmd(BOB, "attune leave", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let yes = confirm.control(Act::Leave(LeaveAction::Confirm)).unwrap();
    stage
        .fake
        .click_button(BOB, confirm.id, &yes)
        .await
        .unwrap();
    assert_eq!(
        count(
            &stage,
            "select count(*) from couples where ended_at is null"
        )
        .await,
        0
    );
    let notice = stage
        .fake
        .wait_for_message(CHANNEL, std::time::Duration::from_secs(3), |m| {
            m.ephemeral_for.is_none() && m.content.contains("unlinked")
        })
        .await
        .unwrap();
    assert!(notice.content.contains(&format!("<@{BOB}>")));

    let r = stage.cmd(ALICE, "attune status", vec![]).await.unwrap();
    assert!(ephemeral_text(&r, ALICE).contains("/attune setup"));
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_refusals_change_nothing() {
    let stage = stage().await;
    let before = snapshot(&stage).await;

    let r = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(HELPERBOT.to_string()))],
        )
        .await
        .unwrap();
    assert!(ephemeral_text(&r, ALICE).contains("Bots"));
    let r = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(ALICE.to_string()))],
        )
        .await
        .unwrap();
    assert!(ephemeral_text(&r, ALICE).contains("for two"));
    let r = stage
        .fake
        .run_command(
            ALICE,
            DM_CHANNEL,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap();
    assert!(ephemeral_text(&r, ALICE).contains("channel the two of you share"));
    assert_eq!(snapshot(&stage).await, before, "refusals wrote nothing");

    // A second invitation to the same person while one is pending.
    stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap();
    let r = stage
        .cmd(
            CAROL,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap();
    assert!(ephemeral_text(&r, CAROL).contains("already has an invitation"));
    assert_eq!(count(&stage, "select count(*) from invitations").await, 1);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_with_a_couple_refuses_new_setup() {
    let stage = stage().await;
    couple_up(&stage).await;
    let r = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap();
    assert!(ephemeral_text(&r, ALICE).contains("already set up"));
    let r = stage
        .cmd(
            CAROL,
            "attune setup",
            vec![("partner", json!(ALICE.to_string()))],
        )
        .await
        .unwrap();
    assert!(ephemeral_text(&r, CAROL).contains("already belongs to a couple"));
    assert_eq!(count(&stage, "select count(*) from invitations").await, 1);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_invitation_cannot_be_accepted() {
    let stage = stage().await;
    let invite = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    stage
        .clock
        .advance(Duration::days(7) + Duration::minutes(1));
    let before = snapshot(&stage).await;
    let accept = invite.control(Act::Invite(InviteAction::Accept)).unwrap();
    let r = stage
        .fake
        .click_button(BOB, invite.id, &accept)
        .await
        .unwrap();
    assert!(ephemeral_text(&r, BOB).contains("expired"));
    assert_eq!(snapshot(&stage).await, before);
    // Expired invitations do not block a fresh one.
    let again = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(again.ephemeral_for, None);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decline_and_withdraw() {
    let stage = stage().await;
    let invite = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let decline = invite.control(Act::Invite(InviteAction::Decline)).unwrap();
    let r = stage
        .fake
        .click_button(BOB, invite.id, &decline)
        .await
        .unwrap();
    assert!(
        matches!(&r, Reply::Updated(m) if m.text().contains("not now")),
        "{r:?}"
    );
    assert_eq!(count(&stage, "select count(*) from couples").await, 0);
    // The old Accept button is gone; a replayed click is refused.
    let accept = invite.control(Act::Invite(InviteAction::Accept)).unwrap();
    let r = stage.fake.click_raw(BOB, invite.id, &accept).await.unwrap();
    assert!(ephemeral_text(&r, BOB).contains("already been answered"));
    assert_eq!(count(&stage, "select count(*) from couples").await, 0);

    let invite = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let withdraw = invite.control(Act::Invite(InviteAction::Decline)).unwrap();
    let r = stage
        .fake
        .click_button(ALICE, invite.id, &withdraw)
        .await
        .unwrap();
    assert!(
        matches!(&r, Reply::Updated(m) if m.text().contains("withdrew")),
        "{r:?}"
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_custom_ids_are_refused_without_writes() {
    let stage = stage().await;
    let invite = couple_up(&stage).await;
    let before = snapshot(&stage).await;
    let forged = [
        "".to_string(),
        "x".repeat(100),
        "inv:not-a-uuid:accept".to_string(),
        format!("inv:{}:accept", uuid::Uuid::new_v4()),
        format!("leave:{}:confirm", uuid::Uuid::new_v4()),
        format!("ci:{}:answer", uuid::Uuid::new_v4()),
        "leave:../../etc:confirm".to_string(),
    ];
    for id in forged.iter().filter(|s| !s.is_empty()) {
        let r = stage.fake.click_raw(CAROL, invite.id, id).await.unwrap();
        let text = ephemeral_text(&r, CAROL);
        assert!(text.contains("Nothing was changed"), "{id}: {text}");
    }
    // The couple's own leave id, pressed by an outsider.
    let couple: uuid::Uuid = sqlx::query_scalar("select id from couples")
        .fetch_one(stage.pool())
        .await
        .unwrap();
    let r = stage
        .fake
        .click_raw(CAROL, invite.id, &format!("leave:{couple}:confirm"))
        .await
        .unwrap();
    assert!(ephemeral_text(&r, CAROL).contains("another couple"));
    assert_eq!(snapshot(&stage).await, before);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timezone_bad_input_and_autocomplete() {
    let stage = stage().await;
    let before = snapshot(&stage).await;
    let r = stage
        .cmd(ALICE, "attune timezone", vec![("zone", json!("Berlinn"))])
        .await
        .unwrap();
    let text = ephemeral_text(&r, ALICE);
    assert!(
        text.contains("Did you mean") && text.contains("Europe/Berlin"),
        "{text}"
    );
    let r = stage
        .cmd(ALICE, "attune timezone", vec![("zone", json!("   "))])
        .await
        .unwrap();
    assert!(ephemeral_text(&r, ALICE).contains("Please give a time zone"));
    let r = stage
        .cmd(
            ALICE,
            "attune timezone",
            vec![("zone", json!("Z".repeat(100)))],
        )
        .await
        .unwrap();
    assert!(ephemeral_text(&r, ALICE).contains("longer than any time zone"));
    assert_eq!(snapshot(&stage).await, before, "bad zones wrote nothing");

    let choices = stage
        .fake
        .autocomplete(
            ALICE,
            CHANNEL,
            "attune timezone",
            vec![("zone", json!("berl"))],
            "zone",
        )
        .await
        .unwrap();
    assert_eq!(
        choices.first().map(|c| c.0.as_str()),
        Some("Europe/Berlin"),
        "{choices:?}"
    );
    assert!(choices.len() <= 25);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_the_bot_cannot_post_in_explains_itself() {
    let stage = stage().await;
    stage.fake.set_channel_forbidden(CHANNEL, true);
    let before = snapshot(&stage).await;
    let r = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", json!(BOB.to_string()))],
        )
        .await
        .unwrap();
    let text = ephemeral_text(&r, ALICE);
    assert!(
        text.contains("can't post in this channel") && text.contains("Send Messages"),
        "{text}"
    );
    assert_eq!(snapshot(&stage).await, before, "nothing was written");
    finish(stage).await;
}

/// A channel everyone in the server can read: setup says so privately to the one setting up,
/// with how to make it theirs, and status says who can read it. A channel kept to the two of
/// them gets no such warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_and_status_say_when_others_can_read_the_channel() {
    let mut world = attune::sandbox::fake::couple_demo();
    world.guilds[0].channels[0].private = false;
    let open = attune::sandbox::stage::Stage::start_with_world(
        &base_config(),
        at("2026-11-24T09:00:00Z"),
        world,
    )
    .await
    .unwrap();
    let private = stage().await;
    for (stage, is_open) in [(&open, true), (&private, false)] {
        couple_up(stage).await;
        let warnings: Vec<_> = stage
            .fake
            .messages(CHANNEL)
            .into_iter()
            .filter(|m| {
                m.text()
                    .contains("Everyone in this server can read this channel")
            })
            .collect();
        if is_open {
            assert_eq!(warnings.len(), 1, "one warning after setup");
            assert_eq!(
                warnings[0].ephemeral_for,
                Some(ALICE),
                "said privately to the one setting up"
            );
            assert!(
                warnings[0].text().contains("View Channel"),
                "says how to fix it"
            );
        } else {
            assert!(warnings.is_empty(), "no warning in a private channel");
        }
        let status = stage.cmd(ALICE, "attune status", vec![]).await.unwrap();
        let text = ephemeral_text(&status, ALICE);
        assert!(text.contains("Who can read this channel"), "{text}");
        assert_eq!(
            text.contains("Everyone in this server can read this channel"),
            is_open,
            "{text}"
        );
        assert!(
            stage.fake.violations().is_empty(),
            "{:?}",
            stage.fake.violations()
        );
    }
    finish(open).await;
    finish(private).await;
}
