//! The Matrix transport: matrix-sdk 0.18 as a plain user account with one stable device.
//! It logs in ([`connect`]), joins rooms it is invited to by an allowed user, reads text
//! commands in the couple room ([`commands`]) and numbered or written replies ([`router`]),
//! renders cards as `m.notice` HTML with a plain fallback ([`render`]), posts for the
//! scheduler ([`transport`]) and syncs in a loop with back-off ([`Running`]). It parses and
//! renders; what anything means is decided in `flows`.
//!
//! The SDK's store (sync position, end-to-end encryption keys, `m.direct`) lives at
//! `matrix.store_path`; everything else Attune knows is in Postgres.

pub mod commands;
pub mod render;
pub mod router;
pub mod transport;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use matrix_sdk::config::{RequestConfig, SyncSettings};
use matrix_sdk::ruma::OwnedUserId;
use matrix_sdk::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::MatrixConfig;
use crate::domain::backoff::Policy;
use crate::state::AppState;
pub use transport::MatrixTransport;

/// The file in the store folder that says the bot has synced once: events older than the
/// first sync (history from before the bot ran) are never acted on.
const SYNCED_MARKER: &str = "attune-synced-once";

/// Builds the client on the store and logs in (password) or restores the session (token).
pub async fn connect(config: &MatrixConfig) -> anyhow::Result<Client> {
    crate::process::install_tls_provider();
    let homeserver = config
        .homeserver
        .as_ref()
        .context("config key `matrix.homeserver`: missing")?;
    let user = config
        .user_id
        .as_deref()
        .context("config key `matrix.user_id`: missing")?;
    let user: OwnedUserId = user
        .try_into()
        .map_err(|_| anyhow::anyhow!("config key `matrix.user_id`: not a Matrix user id"))?;
    std::fs::create_dir_all(&config.store_path).with_context(|| {
        format!(
            "config key `matrix.store_path`: cannot create {}",
            config.store_path.display()
        )
    })?;
    let client = Client::builder()
        .homeserver_url(homeserver.as_str())
        .sqlite_store(
            &config.store_path,
            config.store_passphrase.as_ref().map(|s| s.expose()),
        )
        .request_config(RequestConfig::new().timeout(config.request_timeout))
        .build()
        .await
        .context("could not open the Matrix store or reach the homeserver")?;
    if let Some(token) = &config.access_token {
        let session = matrix_sdk::authentication::matrix::MatrixSession {
            meta: matrix_sdk::SessionMeta {
                user_id: user.clone(),
                device_id: config.device_id.as_str().into(),
            },
            tokens: matrix_sdk::SessionTokens {
                access_token: token.expose().to_string(),
                refresh_token: None,
            },
        };
        client
            .restore_session(session)
            .await
            .context("config key `matrix.access_token`: the session could not be restored")?;
        client.whoami().await.map_err(|e| {
            match e.as_client_api_error().map(|a| a.status_code.as_u16()) {
                Some(401) => anyhow::anyhow!(
                    "config key `matrix.access_token`: the homeserver refused it (401)"
                ),
                _ => anyhow::anyhow!("could not reach the Matrix homeserver {homeserver}"),
            }
        })?;
    } else if let Some(password) = &config.password {
        client
            .matrix_auth()
            .login_username(&user, password.expose())
            .device_id(&config.device_id)
            .initial_device_display_name("Attune")
            .send()
            .await
            .map_err(
                |e| match e.as_client_api_error().map(|a| a.status_code.as_u16()) {
                    Some(401 | 403) => anyhow::anyhow!(
                        "config key `matrix.password`: the homeserver refused the login for {user}"
                    ),
                    _ => anyhow::anyhow!("could not log in to the Matrix homeserver {homeserver}"),
                },
            )?;
    } else {
        anyhow::bail!("config key `matrix.password`: missing (or set matrix.access_token)");
    }
    tracing::info!(user = %user, device = %config.device_id, "logged in to Matrix");
    Ok(client)
}

/// Cross-signs the bot's own device when it has no identity yet, so clients that exclude
/// unverified devices still talk to it. Needs the password when the homeserver asks again.
async fn cross_sign(client: &Client, config: &MatrixConfig) {
    use matrix_sdk::ruma::api::client::uiaa;
    let enc = client.encryption();
    let first = enc.bootstrap_cross_signing_if_needed(None).await;
    let Err(e) = first else {
        return;
    };
    let (Some(response), Some(password), Some(user)) = (
        e.as_uiaa_response(),
        config.password.as_ref(),
        config.user_id.as_deref(),
    ) else {
        tracing::warn!("could not cross-sign the bot's device (it needs matrix.password)");
        return;
    };
    let mut auth = uiaa::Password::new(
        uiaa::UserIdentifier::Matrix(uiaa::MatrixUserIdentifier::new(user.to_string())),
        password.expose().to_string(),
    );
    auth.session = response.session.clone();
    if enc
        .bootstrap_cross_signing(Some(uiaa::AuthData::Password(auth)))
        .await
        .is_err()
    {
        tracing::warn!("could not cross-sign the bot's device");
    }
}

/// The Matrix side of a running bot: the sync loop.
pub struct Running {
    pub transport: Arc<MatrixTransport>,
    task: JoinHandle<()>,
}

impl Running {
    /// Logs in, syncs once (ignoring history on the very first run), installs the handlers and
    /// keeps syncing until `stop`.
    pub async fn start(
        state: Arc<AppState>,
        client: Client,
        stop: watch::Receiver<bool>,
    ) -> anyhow::Result<Running> {
        let config = state.config.matrix.clone();
        let transport = Arc::new(MatrixTransport::new(
            client.clone(),
            state.content.clone(),
            Some(state.pool.clone()),
        ));
        let marker = config.store_path.join(SYNCED_MARKER);
        if !marker.exists() {
            client
                .sync_once(SyncSettings::default())
                .await
                .context("the first Matrix sync failed")?;
            std::fs::write(&marker, b"")
                .with_context(|| format!("cannot write {}", marker.display()))?;
        }
        router::install(&client, state.clone(), transport.clone());
        cross_sign(&client, &config).await;
        let task = tokio::spawn(sync_loop(client, stop));
        Ok(Running { transport, task })
    }

    pub async fn shutdown(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// How long a failed sync waits: doubling from half a second up to a minute.
const SYNC_BACKOFF: Policy = Policy {
    initial: Duration::from_millis(500),
    max: Duration::from_secs(60),
};

/// `client.sync_once` in a loop: a failure waits (the one back-off policy) and tries again;
/// the position is the store's, so a restart continues where the last sync ended.
async fn sync_loop(client: Client, mut stop: watch::Receiver<bool>) {
    let settings = SyncSettings::default().timeout(Duration::from_secs(10));
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            r = client.sync_once(settings.clone()) => match r {
                Ok(_) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = SYNC_BACKOFF.delay(failures);
                    let status = e.as_client_api_error().map(|a| a.status_code.as_u16());
                    tracing::warn!(?status, ?wait, "Matrix sync failed; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => return,
                    }
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// Whether a store folder exists with the marker of a first sync (for `check-config`).
pub fn store_is_initialised(path: &Path) -> bool {
    path.join(SYNCED_MARKER).exists()
}
