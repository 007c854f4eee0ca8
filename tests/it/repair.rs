//! The guided repair flow (`/repair`) through the stand-in against real Postgres: the full
//! walk to an agreement, a break with its scheduled return, the "not quite" loop, ending,
//! expiry after one reminder, restarts, refusals that write nothing, racing clicks, the
//! revisit days later, one open repair per couple, over-long text, and privacy of drafts.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use crate::support::*;
use attune::domain::clock::Clock;
use attune::sandbox::fake::{FakeMessage, Reply};
use attune::sandbox::stage::{Stage, ALICE, BOB, CAROL, CHANNEL};
use chrono::Duration;
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Playing the couple.
// ---------------------------------------------------------------------------------------

/// The custom id of a button on the message as it is now.
fn button(stage: &Stage, m: &FakeMessage, act: RepairAction) -> String {
    let now = stage.fake.message(m.id).expect("message exists");
    now.control(Act::Repair(act)).unwrap_or_else(|| {
        panic!(
            "no button {act:?} on message:\n{}\nbuttons: {:?}",
            now.text(),
            now.buttons()
        )
    })
}

/// The action of the one "share" button on a private draft.
fn share_of(m: &FakeMessage) -> RepairAction {
    use RepairAction as R;
    [
        R::ShareMoment,
        R::ShareOwn,
        R::ShareFelt,
        R::ShareReflect,
        R::ShareMissing,
        R::ShareEmpathy,
        R::SharePlan,
    ]
    .into_iter()
    .find(|a| m.control(Act::Repair(*a)).is_some())
    .unwrap_or_else(|| panic!("no share button on: {}", m.text()))
}

/// The action of the "rewrite" button on a private draft (it opens the same writing again).
fn rewrite_of(m: &FakeMessage) -> RepairAction {
    use RepairAction as R;
    [
        R::WriteOwn,
        R::WriteFelt,
        R::WriteReflect,
        R::NotQuite,
        R::WriteEmpathy,
        R::WritePlan,
    ]
    .into_iter()
    .find(|a| m.control(Act::Repair(*a)).is_some())
    .unwrap_or_else(|| panic!("no rewrite button on: {}", m.text()))
}

async fn press(stage: &Stage, user: u64, m: &FakeMessage, act: RepairAction) -> Reply {
    let id = button(stage, m, act);
    stage.fake.click_button(user, m.id, &id).await.unwrap()
}

/// A press that is answered with a new public message (a transition).
async fn advance(stage: &Stage, user: u64, m: &FakeMessage, act: RepairAction) -> FakeMessage {
    let r = press(stage, user, m, act).await;
    let msg = r
        .new_message()
        .cloned()
        .unwrap_or_else(|e| panic!("{e}: {r:?}"));
    assert_eq!(msg.ephemeral_for, None, "{}", msg.text());
    msg
}

/// A press answered privately to `user`; returns the text.
async fn private(stage: &Stage, user: u64, m: &FakeMessage, act: RepairAction) -> String {
    let r = press(stage, user, m, act).await;
    let msg = r.message().cloned().unwrap();
    assert_eq!(msg.ephemeral_for, Some(user), "{}", msg.text());
    msg.text()
}

/// Opens a writing modal from `label` and submits `text`; returns the private preview.
async fn write(
    stage: &Stage,
    user: u64,
    m: &FakeMessage,
    act: RepairAction,
    text: &str,
) -> FakeMessage {
    let modal = press(stage, user, m, act).await.modal().cloned().unwrap();
    let input = modal.input("text").expect("a text input");
    assert!(input.max_length.is_some(), "the modal limits its length");
    let preview = stage
        .fake
        .submit_modal(user, &modal, vec![("text", text)])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    assert_eq!(preview.ephemeral_for, Some(user), "{}", preview.text());
    assert!(preview.text().contains("Only you can see this"));
    preview
}

/// Writes and shares in one go; returns the public message that follows.
async fn say(
    stage: &Stage,
    user: u64,
    m: &FakeMessage,
    act: RepairAction,
    text: &str,
) -> FakeMessage {
    let preview = write(stage, user, m, act, text).await;
    advance(stage, user, &preview, share_of(&preview)).await
}

/// alice (or `who`) runs /repair and submits the start modal; returns the invitation.
async fn start(stage: &Stage, who: u64, moment: &str) -> FakeMessage {
    let modal = repair_modal(stage, who, RepairAction::ChooseOwn).await;
    assert!(modal.title.chars().count() <= 45);
    let invite = stage
        .fake
        .submit_modal(who, &modal, vec![("text", moment)])
        .await
        .unwrap()
        .new_message()
        .cloned()
        .unwrap();
    assert_eq!(invite.ephemeral_for, None);
    invite
}

/// The users a message (found by a piece of its content) was allowed to ping.
fn pinged(stage: &Stage, needle: &str) -> BTreeSet<u64> {
    let body = stage
        .fake
        .requests()
        .into_iter()
        .rev()
        .filter_map(|r| r.body)
        .map(|b| {
            if b.get("data").is_some() {
                b["data"].clone()
            } else {
                b
            }
        })
        .find(|d| d["content"].as_str().is_some_and(|c| c.contains(needle)))
        .unwrap_or_else(|| panic!("no request with content {needle:?}"));
    body["allowed_mentions"]["users"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| s.parse().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn public_with(stage: &Stage, needle: &str) -> Vec<FakeMessage> {
    stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_none() && m.text().contains(needle))
        .collect()
}

async fn repair_row(stage: &Stage) -> (String, String, i32) {
    sqlx::query_as(
        "select step, status, version from repairs
         order by status in ('open', 'paused') desc, created_at desc limit 1",
    )
    .fetch_one(stage.pool())
    .await
    .unwrap()
}

/// Invitation accepted and both calm enough: the own-it step.
async fn to_own_it(stage: &Stage) -> FakeMessage {
    let invite = start(stage, ALICE, "").await;
    let regulate = advance(stage, BOB, &invite, RepairAction::Ready).await;
    assert!(
        regulate.text().contains("Step 1 of 7"),
        "{}",
        regulate.text()
    );
    let t = private(stage, ALICE, &regulate, RepairAction::Calm2).await;
    assert!(t.contains("Waiting for"), "{t}");
    let own = advance(stage, BOB, &regulate, RepairAction::Calm1).await;
    assert!(own.text().contains("Step 2 of 7"), "{}", own.text());
    own
}

/// Both rate calm at a settling step; returns the step that follows.
async fn settle(stage: &Stage, card: &FakeMessage) -> FakeMessage {
    let t = private(stage, ALICE, card, RepairAction::Calm2).await;
    assert!(t.contains("Waiting for"), "{t}");
    advance(stage, BOB, card, RepairAction::Calm1).await
}

/// From own-it to the partner's confirmation of the first reflection.
async fn to_confirm(stage: &Stage) -> FakeMessage {
    let own = to_own_it(stage).await;
    let felt = say(
        stage,
        ALICE,
        &own,
        RepairAction::WriteOwn,
        "I cut you off at dinner.",
    )
    .await;
    let recheck = say(
        stage,
        BOB,
        &felt,
        RepairAction::WriteFelt,
        "I felt brushed aside.",
    )
    .await;
    assert!(
        recheck.text().contains("check in with yourselves again"),
        "after the hurt is shared, both settle again: {}",
        recheck.text()
    );
    let reflect = settle(stage, &recheck).await;
    say(
        stage,
        ALICE,
        &reflect,
        RepairAction::WriteReflect,
        "You felt brushed aside when I cut you off.",
    )
    .await
}

/// From "yes, that's it" (the empathy step) to "next time".
async fn empathy_to_next(stage: &Stage, empathy: &FakeMessage) -> FakeMessage {
    assert!(empathy.text().contains("makes sense"), "{}", empathy.text());
    let next = say(
        stage,
        ALICE,
        empathy,
        RepairAction::WriteEmpathy,
        "SENTINEL-EMPATHY It makes sense you felt brushed aside.",
    )
    .await;
    assert!(next.text().contains("Step 6 of 7"), "{}", next.text());
    assert!(next.text().contains("SENTINEL-EMPATHY"), "{}", next.text());
    next
}

/// From the confirmation to the closing ratings, with bob's line picked by alice.
async fn to_close(stage: &Stage, confirm: &FakeMessage) -> FakeMessage {
    let empathy = advance(stage, BOB, confirm, RepairAction::Heard).await;
    assert!(empathy.text().contains("Step 5 of 7"), "{}", empathy.text());
    let next = empathy_to_next(stage, &empathy).await;
    let after_alice = say(
        stage,
        ALICE,
        &next,
        RepairAction::WritePlan,
        "I'll let you finish before I answer.",
    )
    .await;
    assert!(
        after_alice.text().contains("proposed a line"),
        "{}",
        after_alice.text()
    );
    let pick = say(
        stage,
        BOB,
        &after_alice,
        RepairAction::WritePlan,
        "SENTINEL-LINE we say pause when talk gets fast.",
    )
    .await;
    assert!(
        pick.control(Act::Repair(RepairAction::PickFirst)).is_some(),
        "{}",
        pick.text()
    );
    let agree = advance(stage, ALICE, &pick, RepairAction::PickSecond).await;
    assert!(
        agree.text().contains("Shall we keep it"),
        "{}",
        agree.text()
    );
    advance(stage, BOB, &agree, RepairAction::Agree).await
}

// ---------------------------------------------------------------------------------------
// Journeys.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_repair_reaches_an_agreement_and_closes_warmly() {
    let stage = stage().await;
    couple_up(&stage).await;
    let invite = start(&stage, ALICE, "SENTINEL-MOMENT the dinner").await;
    let t = invite.text();
    assert!(t.contains(&format!("<@{BOB}>")), "{t}");
    assert!(
        t.contains("not therapy"),
        "the safety line shows at the start: {t}"
    );
    assert!(
        t.contains("If you feel unsafe"),
        "resources at the start: {t}"
    );
    assert_eq!(
        pinged(&stage, "would like to repair"),
        BTreeSet::from([BOB]),
        "the invitation pings only bob"
    );
    // The named moment comes back privately to alice, with a way to share it.
    let moment = stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(5), |m| {
            m.text().contains("SENTINEL-MOMENT")
        })
        .await
        .unwrap();
    assert_eq!(moment.ephemeral_for, Some(ALICE));
    assert!(moment
        .control(Act::Repair(RepairAction::ShareMoment))
        .is_some());

    let regulate = advance(&stage, BOB, &invite, RepairAction::Ready).await;
    assert!(
        regulate.text().contains("how stirred up"),
        "{}",
        regulate.text()
    );
    assert_eq!(
        pinged(&stage, "is ready"),
        BTreeSet::from([ALICE]),
        "bob pressed; only alice still has to act"
    );
    private(&stage, ALICE, &regulate, RepairAction::Calm2).await;
    let own = advance(&stage, BOB, &regulate, RepairAction::Calm3).await;
    assert!(own.text().contains("Own your part"), "{}", own.text());
    assert!(
        !own.text().contains("(2 of 5)") && !own.text().contains("(3 of 5)"),
        "ratings stay private"
    );
    assert!(
        own.text().contains("What I want to own is"),
        "stems as examples"
    );
    assert_eq!(
        pinged(&stage, "this step is yours"),
        BTreeSet::from([ALICE])
    );

    let felt = say(
        &stage,
        ALICE,
        &own,
        RepairAction::WriteOwn,
        "SENTINEL-OWN I cut you off.",
    )
    .await;
    assert!(
        felt.text().contains("SENTINEL-OWN"),
        "shared: {}",
        felt.text()
    );
    assert!(felt.text().contains("Step 3 of 7"));
    assert_eq!(
        pinged(&stage, "what was that moment like"),
        BTreeSet::from([BOB])
    );

    let recheck = say(
        &stage,
        BOB,
        &felt,
        RepairAction::WriteFelt,
        "SENTINEL-FELT small.",
    )
    .await;
    assert!(
        recheck.text().contains("how stirred up"),
        "{}",
        recheck.text()
    );
    let reflect = settle(&stage, &recheck).await;
    assert!(reflect.text().contains("SENTINEL-FELT"));
    let confirm = say(
        &stage,
        ALICE,
        &reflect,
        RepairAction::WriteReflect,
        "SENTINEL-HEARD you felt small.",
    )
    .await;
    assert!(confirm.text().contains("is that it?"), "{}", confirm.text());
    assert!(confirm.text().contains("SENTINEL-HEARD"));

    let close = to_close(&stage, &confirm).await;
    assert!(close.text().contains("Agreed"), "{}", close.text());
    assert!(close.text().contains("SENTINEL-LINE"), "{}", close.text());
    assert!(close.text().contains("Step 7 of 7"));
    private(&stage, ALICE, &close, RepairAction::Close4).await;
    let summary = advance(&stage, BOB, &close, RepairAction::Close5).await;
    let t = summary.text();
    assert!(t.contains("Repair complete"), "{t}");
    assert!(
        t.contains("SENTINEL-LINE"),
        "the agreement is in the summary: {t}"
    );
    assert!(t.contains("felt heard"), "{t}");
    assert!(!t.contains("tries"), "no counts in the summary: {t}");
    assert!(t.contains("I'll ask how it's going"), "{t}");
    assert!(
        summary
            .control(Act::Repair(RepairAction::OtherWay))
            .is_some(),
        "a round the other way is offered"
    );
    assert!(
        !t.contains("SENTINEL-MOMENT"),
        "the unshared moment stays private: {t}"
    );

    let (step, status, _) = repair_row(&stage).await;
    assert_eq!((step.as_str(), status.as_str()), ("done", "completed"));
    let (agreement_id, agreement): (uuid::Uuid, String) =
        sqlx::query_as("select id, text from agreements")
            .fetch_one(stage.pool())
            .await
            .unwrap();
    // Sealed at rest; the configured key opens it.
    assert!(
        !agreement.contains("SENTINEL"),
        "agreements are encrypted at rest"
    );
    let agreement = stage
        .config
        .privacy
        .keys
        .open(
            &agreement,
            &attune::store::privacy::agreement_place(attune::domain::ids::AgreementId(
                agreement_id,
            )),
        )
        .unwrap();
    assert_eq!(agreement, "SENTINEL-LINE we say pause when talk gets fast.");
    let (ci, cp): (Option<i16>, Option<i16>) =
        sqlx::query_as("select initiator_connection, partner_connection from repairs")
            .fetch_one(stage.pool())
            .await
            .unwrap();
    assert_eq!((ci, cp), (Some(4), Some(5)));
    // Nothing is left to nudge or expire a finished repair.
    assert_eq!(
        count(
            &stage,
            "select count(*) from jobs where kind in ('repair_remind', 'repair_expire') and status = 'pending'"
        )
        .await,
        0
    );
    // Old buttons answer kindly and change nothing.
    let before = snapshot(&stage).await;
    let t = private(&stage, BOB, &invite, RepairAction::Ready).await;
    assert!(t.contains("complete"), "{t}");
    assert_eq!(snapshot(&stage).await, before);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_rating_gets_a_private_break_offer_and_the_flow_returns_at_the_chosen_time() {
    let mut stage = stage().await;
    couple_up(&stage).await;
    let invite = start(&stage, ALICE, "").await;
    let regulate = advance(&stage, BOB, &invite, RepairAction::Ready).await;
    private(&stage, ALICE, &regulate, RepairAction::Calm2).await;
    let public_before = stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .filter(|m| m.ephemeral_for.is_none())
        .count();
    // bob is very stirred up: only he hears about a break, and the flow waits for him.
    let offer = press(&stage, BOB, &regulate, RepairAction::Calm5)
        .await
        .message()
        .cloned()
        .unwrap();
    assert_eq!(offer.ephemeral_for, Some(BOB), "the offer is bob's alone");
    let t = offer.text();
    assert!(t.contains("nobody will be told why"), "{t}");
    assert!(offer.control(Act::Repair(RepairAction::Settled)).is_some());
    assert_eq!(
        stage
            .fake
            .messages(CHANNEL)
            .into_iter()
            .filter(|m| m.ephemeral_for.is_none())
            .count(),
        public_before,
        "nothing public says anyone rated high"
    );
    let (step, _, _) = repair_row(&stage).await;
    assert_eq!(step, "regulate", "the step waits for bob's choice");
    let paused = advance(&stage, BOB, &offer, RepairAction::Break20).await;
    let t = paused.text();
    assert!(t.contains("Paused until"), "{t}");
    assert!(
        !t.contains(&format!("<@{BOB}>")),
        "the break does not say whose it is: {t}"
    );
    let (_, status, _) = repair_row(&stage).await;
    assert_eq!(status, "paused");
    // While paused, steps wait; the flow survives a restart.
    let t = private(&stage, ALICE, &regulate, RepairAction::Calm1).await;
    assert!(t.contains("paused until"), "{t}");
    stage.stop_bot().await;
    stage.start_bot().await.unwrap();
    stage.run_until(t0() + Duration::minutes(19)).await.unwrap();
    assert!(public_with(&stage, "Welcome back").is_empty(), "not yet");
    stage.run_until(t0() + Duration::minutes(21)).await.unwrap();
    let back = public_with(&stage, "Welcome back");
    assert_eq!(back.len(), 1, "one gentle return message");
    assert!(
        back[0].text().contains("how stirred up"),
        "back to settling first"
    );
    assert_eq!(
        pinged(&stage, "Welcome back"),
        BTreeSet::from([ALICE, BOB]),
        "both are asked to rate again"
    );
    let (step, status, _) = repair_row(&stage).await;
    assert_eq!((step.as_str(), status.as_str()), ("regulate", "open"));
    private(&stage, ALICE, &back[0], RepairAction::Calm1).await;
    let own = advance(&stage, BOB, &back[0], RepairAction::Calm2).await;
    assert!(own.text().contains("Own your part"), "{}", own.text());

    // Pausing later is a private choice of time, too.
    let own_pause = private(&stage, BOB, &own, RepairAction::Pause).await;
    assert!(
        own_pause.contains("When shall I bring you both back"),
        "{own_pause}"
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_needs_a_little_time_and_can_come_back_early() {
    let stage = stage().await;
    couple_up(&stage).await;
    let invite = start(&stage, ALICE, "").await;
    let chooser = press(&stage, BOB, &invite, RepairAction::NeedTime)
        .await
        .message()
        .cloned()
        .unwrap();
    assert_eq!(chooser.ephemeral_for, Some(BOB));
    let paused = advance(&stage, BOB, &chooser, RepairAction::BreakTomorrow).await;
    assert!(paused.text().contains("Paused until"), "{}", paused.text());
    assert_eq!(
        count(
            &stage,
            "select count(*) from jobs where kind = 'repair_return' and status = 'pending'"
        )
        .await,
        1
    );
    let back = advance(&stage, ALICE, &paused, RepairAction::Resume).await;
    assert!(back.text().contains("Welcome back"), "{}", back.text());
    assert!(
        back.control(Act::Repair(RepairAction::Ready)).is_some(),
        "the invitation again: {}",
        back.text()
    );
    assert_eq!(
        count(
            &stage,
            "select count(*) from jobs where kind = 'repair_return' and status = 'pending'"
        )
        .await,
        0,
        "the scheduled return is cancelled"
    );
    // The scheduled time passes: nothing more is posted.
    stage.run_until(t0() + Duration::days(2)).await.unwrap();
    assert_eq!(public_with(&stage, "Welcome back").len(), 1);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_quite_loops_up_to_the_limit_then_goes_on() {
    let stage = stage().await;
    couple_up(&stage).await;
    let mut confirm = to_confirm(&stage).await;
    let first_confirm = confirm.clone();
    for try_no in 2..=3 {
        let mut reflect = say(
            &stage,
            BOB,
            &confirm,
            RepairAction::NotQuite,
            &format!("SENTINEL-MISSING-{try_no} it was also about being ignored"),
        )
        .await;
        if try_no == 3 {
            // A second "not quite" is a lot: both settle again, privately, first.
            assert!(
                reflect.text().contains("how stirred up"),
                "{}",
                reflect.text()
            );
            reflect = settle(&stage, &reflect).await;
        }
        let t = reflect.text();
        assert!(t.contains(&format!("try {try_no} of 3")), "{t}");
        assert!(t.contains(&format!("SENTINEL-MISSING-{try_no}")), "{t}");
        assert_eq!(
            pinged(&stage, "say back what you heard"),
            BTreeSet::from([ALICE])
        );
        confirm = say(
            &stage,
            ALICE,
            &reflect,
            RepairAction::WriteReflect,
            &format!("Reflection {try_no}"),
        )
        .await;
        assert!(confirm.text().contains(&format!("Reflection {try_no}")));
    }
    // At the limit: no more "not quite", an offer to go on instead.
    assert!(
        confirm
            .control(Act::Repair(RepairAction::NotQuite))
            .is_none(),
        "{:?}",
        confirm.buttons()
    );
    assert!(
        confirm.text().contains("gone round 3 times"),
        "{}",
        confirm.text()
    );
    let before = snapshot(&stage).await;
    let t = private(&stage, BOB, &first_confirm, RepairAction::NotQuite).await;
    assert!(
        t.contains("gone round"),
        "an old not-quite button is refused: {t}"
    );
    assert_eq!(snapshot(&stage).await, before);
    let empathy = advance(&stage, BOB, &confirm, RepairAction::GoOn).await;
    assert!(
        empathy.text().contains("go on for now"),
        "{}",
        empathy.text()
    );
    let next = empathy_to_next(&stage, &empathy).await;
    assert!(next.text().contains("Step 6 of 7"));
    let loops: i16 = sqlx::query_scalar("select reflect_loops from repairs")
        .fetch_one(stage.pool())
        .await
        .unwrap();
    assert_eq!(loops, 3);
    assert_eq!(
        count(
            &stage,
            "select count(*) from repair_texts where kind = 'reflect' and shared"
        )
        .await,
        3
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn either_partner_can_end_it() {
    let stage = stage().await;
    couple_up(&stage).await;
    // bob ends at the invitation, after changing his mind once.
    let invite = start(&stage, ALICE, "").await;
    let confirm = press(&stage, BOB, &invite, RepairAction::End)
        .await
        .message()
        .cloned()
        .unwrap();
    assert_eq!(confirm.ephemeral_for, Some(BOB));
    let kept = press(&stage, BOB, &confirm, RepairAction::EndNo).await;
    assert!(kept.text().contains("carrying on"), "{}", kept.text());
    assert_eq!(repair_row(&stage).await.1, "open");
    let confirm = press(&stage, BOB, &invite, RepairAction::End)
        .await
        .message()
        .cloned()
        .unwrap();
    let ended = advance(&stage, BOB, &confirm, RepairAction::EndYes).await;
    assert!(
        ended.text().contains("ended this repair"),
        "{}",
        ended.text()
    );
    assert!(ended.text().contains(&format!("<@{BOB}>")));
    assert_eq!(repair_row(&stage).await.1, "ended");
    assert_eq!(
        count(
            &stage,
            "select count(*) from jobs where kind like 'repair_%' and status = 'pending'"
        )
        .await,
        0,
        "nothing is left to nudge, expire or post again"
    );
    let t = private(&stage, BOB, &invite, RepairAction::Ready).await;
    assert!(t.contains("was ended"), "{t}");

    // A new one can start; alice ends it mid-flow.
    let own = to_own_it(&stage).await;
    let confirm = press(&stage, ALICE, &own, RepairAction::End)
        .await
        .message()
        .cloned()
        .unwrap();
    advance(&stage, ALICE, &confirm, RepairAction::EndYes).await;
    assert_eq!(repair_row(&stage).await.1, "ended");
    assert_eq!(
        count(
            &stage,
            "select count(*) from repairs where status = 'ended'"
        )
        .await,
        2
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactivity_brings_one_reminder_then_a_kind_expiry() {
    let stage = stage().await;
    couple_up(&stage).await;
    let own = to_own_it(&stage).await;
    let _ = own;
    stage.run_until(t0() + Duration::hours(11)).await.unwrap();
    assert!(public_with(&stage, "your repair is still open").is_empty());
    stage.run_until(t0() + Duration::hours(13)).await.unwrap();
    let nudges = public_with(&stage, "your repair is still open");
    assert_eq!(nudges.len(), 1);
    assert!(
        nudges[0]
            .control(Act::Repair(RepairAction::WriteOwn))
            .is_some(),
        "the step's buttons come along"
    );
    assert_eq!(
        pinged(&stage, "your repair is still open"),
        BTreeSet::from([ALICE]),
        "only the partner whose turn it is"
    );
    stage.run_until(t0() + Duration::hours(47)).await.unwrap();
    assert_eq!(repair_row(&stage).await.1, "open");
    stage.run_until(t0() + Duration::hours(49)).await.unwrap();
    let closed = public_with(&stage, "rested for a while");
    assert_eq!(closed.len(), 1, "a kind note");
    assert!(closed[0].text().contains("nobody did anything wrong"));
    assert_eq!(repair_row(&stage).await.1, "expired");
    stage.run_until(t0() + Duration::days(6)).await.unwrap();
    assert_eq!(
        public_with(&stage, "your repair is still open").len(),
        1,
        "one reminder only"
    );
    assert_eq!(public_with(&stage, "rested for a while").len(), 1);
    // After expiry a fresh repair can start.
    start(&stage, BOB, "").await;
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_resets_the_quiet_clock() {
    let stage = stage().await;
    couple_up(&stage).await;
    let own = to_own_it(&stage).await;
    stage.run_until(t0() + Duration::hours(10)).await.unwrap();
    let preview = write(&stage, ALICE, &own, RepairAction::WriteOwn, "A first go.").await;
    let _ = preview;
    // 10 h of quiet since the draft: no nudge yet (it would have come at 12 h otherwise).
    stage.run_until(t0() + Duration::hours(20)).await.unwrap();
    assert!(public_with(&stage, "your repair is still open").is_empty());
    stage.run_until(t0() + Duration::hours(23)).await.unwrap();
    assert_eq!(public_with(&stage, "your repair is still open").len(), 1);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agreed_repair_left_at_the_close_completes_instead_of_expiring() {
    let stage = stage().await;
    couple_up(&stage).await;
    let confirm = to_confirm(&stage).await;
    let close = to_close(&stage, &confirm).await;
    // Only alice rates; then both go quiet.
    private(&stage, ALICE, &close, RepairAction::Close4).await;
    stage.run_until(t0() + Duration::hours(49)).await.unwrap();
    assert!(public_with(&stage, "rested for a while").is_empty());
    let summary = public_with(&stage, "Repair complete");
    assert_eq!(
        summary.len(),
        1,
        "the work was done: a warm close, not an expiry"
    );
    assert!(summary[0].text().contains("SENTINEL-LINE"));
    let (step, status, _) = repair_row(&stage).await;
    assert_eq!((step.as_str(), status.as_str()), ("done", "completed"));
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_flow_continues_with_old_buttons() {
    let mut stage = stage().await;
    couple_up(&stage).await;
    let invite = start(&stage, ALICE, "").await;
    let regulate = advance(&stage, BOB, &invite, RepairAction::Ready).await;
    private(&stage, ALICE, &regulate, RepairAction::Calm3).await;
    stage.stop_bot().await;
    stage.start_bot().await.unwrap();
    let own = advance(&stage, BOB, &regulate, RepairAction::Calm2).await;
    let preview = write(
        &stage,
        ALICE,
        &own,
        RepairAction::WriteOwn,
        "SENTINEL-OWN after restart",
    )
    .await;
    stage.stop_bot().await;
    stage.start_bot().await.unwrap();
    let felt = advance(&stage, ALICE, &preview, share_of(&preview)).await;
    assert!(felt.text().contains("SENTINEL-OWN after restart"));
    // The draft's old Rewrite button, after it was shared, says so kindly.
    let t = private(&stage, ALICE, &preview, rewrite_of(&preview)).await;
    assert!(
        t.contains("already done") || t.contains("already shared"),
        "{t}"
    );
    let (step, _, _) = repair_row(&stage).await;
    assert_eq!(step, "felt");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_partner_and_outsiders_change_nothing() {
    let stage = stage().await;
    couple_up(&stage).await;
    let invite = start(&stage, ALICE, "").await;
    let repair: uuid::Uuid = sqlx::query_scalar("select id from repairs")
        .fetch_one(stage.pool())
        .await
        .unwrap();
    let before = snapshot(&stage).await;
    let t = private(&stage, ALICE, &invite, RepairAction::Ready).await;
    assert!(t.contains(&format!("<@{BOB}>'s to answer")), "{t}");
    let t = private(&stage, CAROL, &invite, RepairAction::Ready).await;
    assert!(t.contains("another couple"), "{t}");
    let t = private(&stage, CAROL, &invite, RepairAction::End).await;
    assert!(t.contains("another couple"), "{t}");
    for action in ["endyes", "brk20", "act1", "ownshare", "revwell"] {
        let r = stage
            .fake
            .click_raw(CAROL, invite.id, &format!("rep:{repair}:{action}"))
            .await
            .unwrap();
        assert!(
            r.text().contains("another couple"),
            "{action}: {}",
            r.text()
        );
    }
    // A forged id of an unknown repair.
    let r = stage
        .fake
        .click_raw(
            BOB,
            invite.id,
            &format!("rep:{}:ready", uuid::Uuid::new_v4()),
        )
        .await
        .unwrap();
    assert!(r.text().contains("isn't active"), "{}", r.text());
    assert_eq!(snapshot(&stage).await, before, "refusals wrote nothing");

    let regulate = advance(&stage, BOB, &invite, RepairAction::Ready).await;
    private(&stage, ALICE, &regulate, RepairAction::Calm1).await;
    let own = advance(&stage, BOB, &regulate, RepairAction::Calm1).await;
    let before = snapshot(&stage).await;
    // bob cannot write alice's part, nor share it by forging her button.
    let t = private(&stage, BOB, &own, RepairAction::WriteOwn).await;
    assert!(t.contains(&format!("<@{ALICE}>'s to answer")), "{t}");
    let r = stage
        .fake
        .click_raw(BOB, own.id, &format!("rep:{repair}:ownshare"))
        .await
        .unwrap();
    assert!(r.text().contains("to answer"), "{}", r.text());
    // Nor confirm a reflection that does not exist yet (a button of a later step).
    let r = stage
        .fake
        .click_raw(BOB, own.id, &format!("rep:{repair}:heard"))
        .await
        .unwrap();
    assert!(r.text().contains("Nothing was changed"), "{}", r.text());
    assert_eq!(snapshot(&stage).await, before, "refusals wrote nothing");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_clicks_make_exactly_one_transition() {
    let stage = stage().await;
    couple_up(&stage).await;
    let invite = start(&stage, ALICE, "").await;
    let ready = button(&stage, &invite, RepairAction::Ready);
    let (a, b) = tokio::join!(
        stage.fake.click_raw(BOB, invite.id, &ready),
        stage.fake.click_raw(BOB, invite.id, &ready)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let public = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Reply::Message(m) if m.ephemeral_for.is_none()))
        .count();
    assert_eq!(public, 1, "one transition: {a:?} / {b:?}");
    assert!(
        [&a, &b].iter().any(|r| r.text().contains("already done")),
        "the other click is told kindly"
    );
    assert_eq!(
        repair_row(&stage).await,
        ("regulate".into(), "open".into(), 1)
    );
    let regulate = public_with(&stage, "how stirred up").remove(0);

    // Both partners rate at the same instant: both ratings count, one step follows.
    let (x, y) = (
        button(&stage, &regulate, RepairAction::Calm2),
        button(&stage, &regulate, RepairAction::Calm3),
    );
    let (a, b) = tokio::join!(
        stage.fake.click_raw(ALICE, regulate.id, &x),
        stage.fake.click_raw(BOB, regulate.id, &y)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(public_with(&stage, "Own your part").len(), 1);
    let (step, _, version) = repair_row(&stage).await;
    assert_eq!((step.as_str(), version), ("own_it", 3));

    // Both pick a different line at once: one pick wins.
    let own = public_with(&stage, "Own your part").remove(0);
    let felt = say(&stage, ALICE, &own, RepairAction::WriteOwn, "Mine.").await;
    let recheck = say(&stage, BOB, &felt, RepairAction::WriteFelt, "Felt.").await;
    let reflect = settle(&stage, &recheck).await;
    let confirm = say(
        &stage,
        ALICE,
        &reflect,
        RepairAction::WriteReflect,
        "Heard.",
    )
    .await;
    let empathy = advance(&stage, BOB, &confirm, RepairAction::Heard).await;
    let next = empathy_to_next(&stage, &empathy).await;
    let after = say(&stage, ALICE, &next, RepairAction::WritePlan, "Line one.").await;
    let pick = say(&stage, BOB, &after, RepairAction::WritePlan, "Line two.").await;
    let (p1, p2) = (
        button(&stage, &pick, RepairAction::PickFirst),
        button(&stage, &pick, RepairAction::PickSecond),
    );
    let (a, b) = tokio::join!(
        stage.fake.click_raw(ALICE, pick.id, &p1),
        stage.fake.click_raw(BOB, pick.id, &p2)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let transitions = [&a, &b]
        .iter()
        .filter(|r| r.text().contains("Shall we keep it"))
        .count();
    assert_eq!(transitions, 1, "{a:?} / {b:?}");
    assert_eq!(repair_row(&stage).await.0, "agree");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agreement_is_revisited_days_later() {
    let stage = stage().await;
    couple_up(&stage).await;
    let confirm = to_confirm(&stage).await;
    let close = to_close(&stage, &confirm).await;
    private(&stage, ALICE, &close, RepairAction::Close3).await;
    advance(&stage, BOB, &close, RepairAction::Close4).await;
    stage
        .run_until(t0() + Duration::days(3) - Duration::minutes(5))
        .await
        .unwrap();
    assert!(public_with(&stage, "How is it going").is_empty(), "not yet");
    stage
        .run_until(t0() + Duration::days(3) + Duration::hours(1))
        .await
        .unwrap();
    let revisit = public_with(&stage, "How is it going");
    assert_eq!(revisit.len(), 1);
    let revisit = revisit[0].clone();
    assert!(
        revisit.text().contains("SENTINEL-LINE"),
        "{}",
        revisit.text()
    );
    assert_eq!(
        pinged(&stage, "How is it going"),
        BTreeSet::from([ALICE, BOB])
    );
    let t = private(&stage, ALICE, &revisit, RepairAction::RevisitWell).await;
    assert!(t.contains("noted"), "{t}");
    private(&stage, BOB, &revisit, RepairAction::RevisitMixed).await;
    private(&stage, BOB, &revisit, RepairAction::RevisitHard).await;
    let before = snapshot(&stage).await;
    let t = private(&stage, CAROL, &revisit, RepairAction::RevisitWell).await;
    assert!(t.contains("another couple"), "{t}");
    assert_eq!(snapshot(&stage).await, before);
    let answers: Vec<(i64, String)> = sqlx::query_as(
        "select i.external_id::bigint, r.answer from agreement_revisits r
         join identities i on i.person_id = r.person_id order by 1",
    )
    .fetch_all(stage.pool())
    .await
    .unwrap();
    assert_eq!(
        answers,
        vec![
            (ALICE as i64, "going_well".to_string()),
            (BOB as i64, "hard".to_string())
        ],
        "one answer per partner; a second press changes it"
    );
    // It comes back at about ten and thirty days, then rests.
    stage
        .run_until(t0() + Duration::days(10) + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        public_with(&stage, "How is it going").len(),
        2,
        "at ten days"
    );
    stage
        .run_until(t0() + Duration::days(30) + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        public_with(&stage, "How is it going").len(),
        3,
        "at thirty days"
    );
    stage.run_until(t0() + Duration::days(45)).await.unwrap();
    assert_eq!(
        public_with(&stage, "How is it going").len(),
        3,
        "then it rests"
    );
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_repair_points_to_the_open_one() {
    let stage = stage().await;
    couple_up(&stage).await;
    let invite = start(&stage, ALICE, "").await;
    for who in [ALICE, BOB] {
        let r = stage.cmd(who, "repair", vec![]).await.unwrap();
        let m = r.message().cloned().unwrap_or_else(|_| panic!("{r:?}"));
        assert_eq!(m.ephemeral_for, Some(who));
        assert!(
            m.text().contains("already have a repair open"),
            "{}",
            m.text()
        );
    }
    assert_eq!(count(&stage, "select count(*) from repairs").await, 1);
    // The pointer carries the current step's buttons, and they work.
    let pointer = stage
        .cmd(BOB, "repair", vec![])
        .await
        .unwrap()
        .message()
        .cloned()
        .unwrap();
    let regulate = advance(&stage, BOB, &pointer, RepairAction::Ready).await;
    assert!(regulate.text().contains("Step 1 of 7"));
    let _ = invite;
    // Outsiders cannot start one in this channel.
    let r = stage.cmd(CAROL, "repair", vec![]).await.unwrap();
    assert!(r.text().contains("another couple"), "{}", r.text());
    assert_eq!(count(&stage, "select count(*) from repairs").await, 1);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_start_modals_make_one_repair() {
    let stage = stage().await;
    couple_up(&stage).await;
    let m1 = repair_modal(&stage, ALICE, RepairAction::ChooseOwn).await;
    let m2 = repair_modal(&stage, BOB, RepairAction::ChooseOwn).await;
    let (a, b) = tokio::join!(
        stage.fake.submit_modal(ALICE, &m1, vec![("text", "")]),
        stage.fake.submit_modal(BOB, &m2, vec![("text", "")])
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(count(&stage, "select count(*) from repairs").await, 1);
    let pointers = [&a, &b]
        .iter()
        .filter(|r| r.text().contains("already have a repair open"))
        .count();
    assert_eq!(pointers, 1, "{a:?} / {b:?}");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_text_is_refused_and_nothing_is_stored() {
    let stage = stage().await;
    couple_up(&stage).await;
    // The start modal: a moment over its limit starts nothing.
    let modal = repair_modal(&stage, ALICE, RepairAction::ChooseOwn).await;
    let max = modal.input("text").unwrap().max_length.unwrap() as usize;
    let before = snapshot(&stage).await;
    let r = stage
        .fake
        .submit_modal_raw(ALICE, &modal, vec![("text", &"m".repeat(max + 1))])
        .await
        .unwrap();
    assert!(r.text().contains("longer than I can keep"), "{}", r.text());
    assert!(r.is_ephemeral());
    assert_eq!(snapshot(&stage).await, before);

    let own = to_own_it(&stage).await;
    let modal = press(&stage, ALICE, &own, RepairAction::WriteOwn)
        .await
        .modal()
        .cloned()
        .unwrap();
    let max = modal.input("text").unwrap().max_length.unwrap() as usize;
    assert_eq!(max, 1000);
    let before = snapshot(&stage).await;
    let long = "x".repeat(max + 1);
    // A real client refuses it before sending…
    assert!(stage
        .fake
        .submit_modal(ALICE, &modal, vec![("text", &long)])
        .await
        .is_err());
    // …and a forged submit is refused kindly, with nothing stored.
    let r = stage
        .fake
        .submit_modal_raw(ALICE, &modal, vec![("text", &long)])
        .await
        .unwrap();
    assert!(r.is_ephemeral());
    assert!(r.text().contains("longer than I can keep"), "{}", r.text());
    let r = stage
        .fake
        .submit_modal_raw(ALICE, &modal, vec![("text", "   \n  ")])
        .await
        .unwrap();
    assert!(r.text().contains("looks empty"), "{}", r.text());
    assert_eq!(snapshot(&stage).await, before);
    assert_eq!(count(&stage, "select count(*) from repair_texts").await, 0);
    // Exactly at the limit is fine, and kept whole.
    let exact = "y".repeat(max);
    stage
        .fake
        .submit_modal(ALICE, &modal, vec![("text", &exact)])
        .await
        .unwrap();
    let (rid, writer, kind, round, body): (uuid::Uuid, uuid::Uuid, String, i16, String) =
        sqlx::query_as("select repair_id, writer, kind, round, body from repair_texts")
            .fetch_one(stage.pool())
            .await
            .unwrap();
    let place = attune::store::privacy::repair_text_place(
        attune::domain::ids::RepairId(rid),
        attune::domain::ids::PersonId(writer),
        &kind,
        round,
    );
    let body = stage.config.privacy.keys.open(&body, &place).unwrap();
    assert_eq!(body.len(), max);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_stay_private_until_their_writer_shares_them() {
    let stage = stage().await;
    couple_up(&stage).await;
    let invite = start(&stage, ALICE, "SENTINEL-MOMENT").await;
    let _ = invite;
    let own = to_own_it_after_start(&stage).await;
    let preview = write(
        &stage,
        ALICE,
        &own,
        RepairAction::WriteOwn,
        "SENTINEL-DRAFT-1",
    )
    .await;
    // Rewriting keeps it private too.
    let preview = {
        let modal = press(&stage, ALICE, &preview, rewrite_of(&preview))
            .await
            .modal()
            .cloned()
            .unwrap();
        assert_eq!(
            modal.input("text").unwrap().value.as_deref(),
            Some("SENTINEL-DRAFT-1"),
            "the draft comes back to edit"
        );
        stage
            .fake
            .submit_modal(ALICE, &modal, vec![("text", "SENTINEL-DRAFT-2")])
            .await
            .unwrap()
            .message()
            .cloned()
            .unwrap()
    };
    for viewer in [BOB, CAROL] {
        for m in stage.fake.visible_to(viewer, CHANNEL) {
            let t = m.text();
            assert!(!t.contains("SENTINEL"), "leaked to {viewer}: {t}");
        }
    }
    // alice shares the moment on purpose; bob now sees it, but not the draft.
    let moment = stage
        .fake
        .messages(CHANNEL)
        .into_iter()
        .find(|m| m.text().contains("SENTINEL-MOMENT"))
        .unwrap();
    let shared = advance(&stage, ALICE, &moment, share_of(&moment)).await;
    assert!(
        shared.text().contains("named the moment"),
        "{}",
        shared.text()
    );
    let bob_sees: Vec<String> = stage
        .fake
        .visible_to(BOB, CHANNEL)
        .iter()
        .map(FakeMessage::text)
        .collect();
    assert!(bob_sees.iter().any(|t| t.contains("SENTINEL-MOMENT")));
    assert!(!bob_sees.iter().any(|t| t.contains("SENTINEL-DRAFT")));
    // Sharing the draft makes the latest version public; the first never was.
    advance(&stage, ALICE, &preview, share_of(&preview)).await;
    let bob_sees: Vec<String> = stage
        .fake
        .visible_to(BOB, CHANNEL)
        .iter()
        .map(FakeMessage::text)
        .collect();
    assert!(bob_sees.iter().any(|t| t.contains("SENTINEL-DRAFT-2")));
    assert!(!bob_sees.iter().any(|t| t.contains("SENTINEL-DRAFT-1")));
    finish(stage).await;
}

/// Like [`to_own_it`], for a repair that was already started.
async fn to_own_it_after_start(stage: &Stage) -> FakeMessage {
    let invite = public_with(stage, "would like to repair").remove(0);
    let regulate = advance(stage, BOB, &invite, RepairAction::Ready).await;
    private(stage, ALICE, &regulate, RepairAction::Calm2).await;
    advance(stage, BOB, &regulate, RepairAction::Calm2).await
}

/// alice runs /repair as the one who was hurt; returns the invitation.
async fn start_hurt(stage: &Stage, moment: &str) -> FakeMessage {
    let modal = repair_modal(stage, ALICE, RepairAction::ChooseHurt).await;
    assert!(modal.title.contains("heard"), "{}", modal.title);
    stage
        .fake
        .submit_modal(ALICE, &modal, vec![("text", moment)])
        .await
        .unwrap()
        .new_message()
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hurt_partner_who_starts_is_heard_first_then_a_round_goes_the_other_way() {
    let stage = stage().await;
    couple_up(&stage).await;
    let invite = start_hurt(&stage, "").await;
    let t = invite.text();
    assert!(t.contains("a moment that hurt, and to feel heard"), "{t}");
    let regulate = advance(&stage, BOB, &invite, RepairAction::Ready).await;
    let felt = settle(&stage, &regulate).await;
    // alice was hurt: she is heard first and never asked to own anything.
    assert!(felt.text().contains("Step 2 of 7"), "{}", felt.text());
    assert_eq!(
        pinged(&stage, "what was that moment like"),
        BTreeSet::from([ALICE])
    );
    assert!(felt.control(Act::Repair(RepairAction::WriteOwn)).is_none());
    let before = snapshot(&stage).await;
    let t = private(&stage, BOB, &felt, RepairAction::WriteFelt).await;
    assert!(t.contains(&format!("<@{ALICE}>")), "it's alice's step: {t}");
    assert_eq!(snapshot(&stage).await, before);
    let recheck = say(
        &stage,
        ALICE,
        &felt,
        RepairAction::WriteFelt,
        "SENTINEL-HURT I felt left out.",
    )
    .await;
    let reflect = settle(&stage, &recheck).await;
    assert!(
        reflect
            .text()
            .contains(&format!("<@{BOB}>, say back what you heard")),
        "{}",
        reflect.text()
    );
    let confirm = say(
        &stage,
        BOB,
        &reflect,
        RepairAction::WriteReflect,
        "You felt left out.",
    )
    .await;
    let empathy = advance(&stage, ALICE, &confirm, RepairAction::Heard).await;
    assert!(empathy.text().contains("Step 4 of 7"), "{}", empathy.text());
    let own = say(
        &stage,
        BOB,
        &empathy,
        RepairAction::WriteEmpathy,
        "It makes sense you felt left out.",
    )
    .await;
    assert!(own.text().contains("Step 5 of 7"), "{}", own.text());
    assert!(own.text().contains("Own your part"), "{}", own.text());
    let next = say(
        &stage,
        BOB,
        &own,
        RepairAction::WriteOwn,
        "I made plans without you.",
    )
    .await;
    let after_bob = say(
        &stage,
        BOB,
        &next,
        RepairAction::WritePlan,
        "SENTINEL-A I ask first.",
    )
    .await;
    let pick = say(
        &stage,
        ALICE,
        &after_bob,
        RepairAction::WritePlan,
        "SENTINEL-B I say when I feel left out.",
    )
    .await;
    // A third choice: keep both lines.
    let agree = advance(&stage, ALICE, &pick, RepairAction::PickBoth).await;
    assert!(agree.text().contains("SENTINEL-A") && agree.text().contains("SENTINEL-B"));
    let close = advance(&stage, BOB, &agree, RepairAction::Agree).await;
    private(&stage, ALICE, &close, RepairAction::Close4).await;
    let summary = advance(&stage, BOB, &close, RepairAction::Close4).await;
    let (agreement_id, agreement): (uuid::Uuid, String) =
        sqlx::query_as("select id, text from agreements")
            .fetch_one(stage.pool())
            .await
            .unwrap();
    let agreement = stage
        .config
        .privacy
        .keys
        .open(
            &agreement,
            &attune::store::privacy::agreement_place(attune::domain::ids::AgreementId(
                agreement_id,
            )),
        )
        .unwrap();
    assert!(
        agreement.contains("SENTINEL-A") && agreement.contains("SENTINEL-B"),
        "{agreement}"
    );
    // Another round, the other way: now alice owns her part.
    let round2 = advance(&stage, ALICE, &summary, RepairAction::OtherWay).await;
    let t = round2.text();
    assert!(
        t.contains(&format!("this time <@{ALICE}> owns their part")),
        "{t}"
    );
    assert!(t.contains("how stirred up"), "it starts by settling: {t}");
    let own2 = settle(&stage, &round2).await;
    assert!(own2.text().contains("Own your part"), "{}", own2.text());
    assert_eq!(
        pinged(&stage, "this step is yours"),
        BTreeSet::from([ALICE])
    );
    let (n, follows): (i64, i64) = sqlx::query_as("select count(*), count(follows) from repairs")
        .fetch_one(stage.pool())
        .await
        .unwrap();
    assert_eq!((n, follows), (2, 1), "one round follows the other");
    // The other-way button works once.
    let before = snapshot(&stage).await;
    let t = private(&stage, BOB, &summary, RepairAction::OtherWay).await;
    assert!(t.contains("already"), "{t}");
    assert_eq!(snapshot(&stage).await, before);
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_feeling_safe_pauses_quietly_and_only_the_presser_sees_help() {
    let stage = stage().await;
    couple_up(&stage).await;
    let invite = start(&stage, ALICE, "").await;
    let regulate = advance(&stage, BOB, &invite, RepairAction::Ready).await;
    let r = press(&stage, BOB, &regulate, RepairAction::NotSafe).await;
    let help = r.message().cloned().unwrap();
    assert_eq!(help.ephemeral_for, Some(BOB), "help is bob's alone");
    let lib = attune::content::Library::builtin();
    assert!(
        help.text().contains(&lib.safety.resources[..40]),
        "{}",
        help.text()
    );
    assert!(
        help.text().contains(&lib.safety.self_harm[..40]),
        "{}",
        help.text()
    );
    stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(5), |m| {
            m.ephemeral_for.is_none() && m.text().contains(&lib.safety.paused_public)
        })
        .await
        .unwrap();
    let notice = public_with(&stage, &lib.safety.paused_public);
    assert_eq!(notice.len(), 1, "one neutral line in the room");
    assert!(
        !notice[0].text().contains(&format!("<@{BOB}>")),
        "it does not say who: {}",
        notice[0].text()
    );
    assert!(
        public_with(&stage, &lib.safety.unsafe_private[..40]).is_empty(),
        "what bob was told never reaches the room"
    );
    let (_, status, _) = repair_row(&stage).await;
    assert_eq!(status, "ended");
    assert_eq!(
        count(
            &stage,
            "select count(*) from jobs where kind like 'repair_%' and status = 'pending'"
        )
        .await,
        0,
        "nothing more is posted about it"
    );
    // The partner's old buttons change nothing and reveal nothing.
    let t = private(&stage, ALICE, &regulate, RepairAction::Calm1).await;
    assert!(!t.contains("safe"), "{t}");
    finish(stage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worrying_words_stay_private_and_the_flow_stops_before_next_time() {
    let stage = stage().await;
    couple_up(&stage).await;
    let confirm = to_confirm(&stage).await;
    // bob's "not quite" draft describes danger: it is never offered for sharing.
    let preview = write(
        &stage,
        BOB,
        &confirm,
        RepairAction::NotQuite,
        "SENTINEL-DANGER when he hit me I froze",
    )
    .await;
    let lib = attune::content::Library::builtin();
    assert!(
        preview.text().contains(&lib.safety.signal_note[..40]),
        "{}",
        preview.text()
    );
    assert!(
        preview
            .control(Act::Repair(RepairAction::ShareMissing))
            .is_none(),
        "no way to share it"
    );
    assert!(preview
        .control(Act::Repair(RepairAction::NotSafe))
        .is_some());
    // He goes on without it; the flow still never asks "what would help next time".
    let empathy = advance(&stage, BOB, &confirm, RepairAction::Heard).await;
    let stopped = say(
        &stage,
        ALICE,
        &empathy,
        RepairAction::WriteEmpathy,
        "It makes sense.",
    )
    .await;
    assert!(
        stopped.text().contains(&lib.safety.paused_public),
        "{}",
        stopped.text()
    );
    assert!(
        public_with(&stage, "SENTINEL-DANGER").is_empty(),
        "never shown in the room"
    );
    let (step, status, _) = repair_row(&stage).await;
    assert_eq!(
        (step.as_str(), status.as_str()),
        ("empathy", "ended"),
        "it never reached next time"
    );
    finish(stage).await;
}

// ---------------------------------------------------------------------------------------
// A committed step whose answer never reaches the couple.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_whose_answer_is_lost_still_reaches_the_partner_once() {
    let stage = stage().await;
    couple_up(&stage).await;
    let own = to_own_it(&stage).await;
    // An answer that did arrive: nothing is posted again later.
    stage
        .run_until(stage.clock.now() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(public_with(&stage, "Step 2 of 7").len(), 1, "posted once");

    let preview = write(
        &stage,
        ALICE,
        &own,
        RepairAction::WriteOwn,
        "I cut you off at dinner.",
    )
    .await;
    // alice shares: the step commits, but Discord never gets the answer that shows it.
    stage.fake.push_fault(attune::sandbox::fake::Fault::Status {
        path_contains: "/callback".into(),
        status: 500,
        retry_after: None,
        times: 1,
    });
    let share = button(&stage, &preview, share_of(&preview));
    let _ = stage.fake.click_button(ALICE, preview.id, &share).await;
    let (step, _, _) = repair_row(&stage).await;
    assert_eq!(step, "felt", "the share was saved");
    // The bot posts the step itself, at once.
    stage
        .fake
        .wait_for_message(CHANNEL, StdDuration::from_secs(5), |m| {
            m.ephemeral_for.is_none() && m.text().contains("I cut you off at dinner.")
        })
        .await
        .expect("the step reaches the channel");
    stage
        .run_until(stage.clock.now() + Duration::minutes(1))
        .await
        .unwrap();
    let cards = public_with(&stage, "I cut you off at dinner.");
    assert_eq!(cards.len(), 1, "bob gets the step once");
    let card = &cards[0];
    assert!(
        card.text().contains("here's where you are"),
        "{}",
        card.text()
    );
    // bob goes on from the card the bot posted for the lost answer.
    let recheck = say(
        &stage,
        BOB,
        card,
        RepairAction::WriteFelt,
        "I felt brushed aside.",
    )
    .await;
    assert!(
        recheck.text().contains("check in with yourselves again"),
        "{}",
        recheck.text()
    );
    stage
        .run_until(stage.clock.now() + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(public_with(&stage, "I cut you off at dinner.").len(), 1);
    finish(stage).await;
}
