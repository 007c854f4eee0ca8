//! Operations: the optional HTTP port (`ops.listen`) with `/healthz`, `/readyz` and
//! `/metrics`. What "ready" means is asked of each running part (a transport's connection,
//! the scheduler) through [`Readiness`], so this module knows no chat platform.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::task::JoinHandle;

use crate::state::AppState;

/// One part of the process that can say whether it is ready to serve.
#[async_trait]
pub trait Readiness: Send + Sync {
    /// `Err` with a short line for the host when not ready.
    async fn ready(&self) -> Result<(), String>;
}

#[derive(Clone)]
struct OpsState {
    app: Arc<AppState>,
    parts: Arc<Vec<Arc<dyn Readiness>>>,
}

/// Binds `addr` and serves the ops endpoints until the returned task is aborted.
pub async fn serve(
    addr: SocketAddr,
    app: Arc<AppState>,
    parts: Vec<Arc<dyn Readiness>>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("ops.listen {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(OpsState {
            app,
            parts: Arc::new(parts),
        });
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!(error = %e, "ops server stopped");
        }
    });
    tracing::info!(addr = %bound, "ops endpoints listening");
    Ok((bound, task))
}

async fn readyz(State(st): State<OpsState>) -> impl IntoResponse {
    for part in st.parts.iter() {
        if let Err(why) = part.ready().await {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"));
        }
    }
    let db = tokio::time::timeout(
        Duration::from_secs(1),
        sqlx::query_scalar::<_, i32>("select 1").fetch_one(&st.app.pool),
    )
    .await;
    match db {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n".to_string()),
        Ok(Err(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database: query failed\n".to_string(),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database: no answer within 1 s\n".to_string(),
        ),
    }
}

async fn metrics(State(st): State<OpsState>) -> impl IntoResponse {
    let body = st
        .app
        .metrics
        .render(st.app.pool.size(), st.app.pool.num_idle());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
}
