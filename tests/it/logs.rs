//! What reaches the logs when talking to Discord goes wrong mid-reply: never an interaction
//! or webhook token (reqwest names the request's URL in its errors, and an interaction's URL
//! carries its token).

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::support::*;
use attune::sandbox::fake::Fault;
use attune::sandbox::stage::{Stage, ALICE, BOB};

/// Log lines written while a test runs, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// One thread, so the subscriber set for this test sees every task the bot runs.
#[tokio::test(flavor = "current_thread")]
async fn a_reply_cut_off_by_a_connection_reset_logs_no_token() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(attune::telemetry::filter("trace"))
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let stage = Stage::start(&base_config(), at("2026-11-24T09:00:00Z"))
        .await
        .expect("stage starts");
    let invite = stage
        .cmd(
            ALICE,
            "attune setup",
            vec![("partner", serde_json::json!(BOB.to_string()))],
        )
        .await
        .expect("setup")
        .message()
        .cloned()
        .expect("the invitation");
    stage.fake.push_fault(Fault::Reset {
        path_contains: "/callback".into(),
        times: 1,
    });
    let accept = invite
        .control(Act::Invite(InviteAction::Accept))
        .expect("the invitation's Accept button");
    // The answer is lost to the reset; what matters here is what the bot logged about it.
    let _ = stage.fake.click_button(BOB, invite.id, &accept).await;

    let callback = stage
        .fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.contains("/callback"))
        .expect("the bot tried to answer");
    // /api/v10/interactions/{id}/{token}/callback
    let token = callback
        .path
        .split('/')
        .rev()
        .nth(1)
        .expect("a token in the path")
        .to_string();
    stage.teardown().await.unwrap();
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(
        text.contains("could not answer a component interaction"),
        "the failed reply was logged: {text}"
    );
    assert!(
        !token.is_empty() && !text.contains(&token),
        "the logs hold the interaction token: {text}"
    );
}
