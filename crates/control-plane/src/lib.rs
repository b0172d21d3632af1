//! A self-hostable HESO control plane.
//!
//! - The operator API the vendor SDK (`heso.cloud`) speaks, authenticated by a
//!   per-org `x-api-key`: receipts, approvals, tokens, assembly parts, policy.
//! - The approver API the HESO Approver app speaks, authenticated by a
//!   signature from the device key on every request (see `heso_receipt::request_auth`).
//!
//! It holds no signing key: everything it is sent is re-verified with the
//! protocol crate and refused when it does not verify. Usable as a library
//! (the desktop app embeds the demo).

pub mod admin;
pub mod approver_api;
pub mod auth;
pub mod body;
pub mod changes;
pub mod clock;
pub mod connections;
pub mod demo;
pub mod error;
pub mod json_errors;
pub mod list_cache;
pub mod operator_api;
pub mod pending_pages;
pub mod policy;
pub mod rate_limit;
pub mod replicas;
pub mod roster_text;
pub mod routing;
pub mod secrets;
pub mod store;
pub mod views;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use store::Store;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Tunables, with the defaults a deployment wants.
#[derive(Debug, Clone)]
pub struct Config {
    /// How far a device's request timestamp may be from the server clock.
    pub clock_skew_secs: i64,
    /// The longest an approver long-poll is held.
    pub max_wait_secs: u64,
    /// How many failed enrolment attempts are let through.
    pub enrolment_quota: rate_limit::EnrolmentQuota,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for the
    /// per-client limits); from anyone else the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How often approvals past their deadline are resolved as expired.
    pub expiry_sweep_secs: u64,
    /// How long a connection has to send a request's headers, from its
    /// opening or its previous answer (so also how long an idle keep-alive
    /// connection stays open).
    pub header_read_timeout: Duration,
    /// How long a request has to send its whole body.
    pub body_read_timeout: Duration,
    /// Connections served at once (held long-polls count: leave room for
    /// every device); more wait to be accepted.
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            clock_skew_secs: 120,
            max_wait_secs: 30,
            enrolment_quota: rate_limit::EnrolmentQuota::default(),
            trusted_proxies: Vec::new(),
            expiry_sweep_secs: 5,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

struct Inner {
    store: Store,
    changes: changes::Changes,
    lists: list_cache::ListCache,
    /// Pending-list pages being built at once (`pending_pages`).
    page_builds: tokio::sync::Semaphore,
    limits: rate_limit::Limits,
    config: Config,
    /// Each org's change counter in a shared database, as last known here.
    versions: replicas::Versions,
    /// True once the server is shutting down: held long-polls answer now.
    draining: tokio::sync::watch::Sender<bool>,
}

/// Shared by every request handler.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(store: Store, config: Config) -> Self {
        AppState(Arc::new(Inner {
            store,
            changes: changes::Changes::default(),
            lists: list_cache::ListCache::default(),
            page_builds: tokio::sync::Semaphore::new(pending_pages::BUILDS_AT_ONCE),
            limits: rate_limit::Limits::new(config.enrolment_quota),
            config,
            versions: replicas::Versions::default(),
            draining: tokio::sync::watch::Sender::new(false),
        }))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn changes(&self) -> &changes::Changes {
        &self.0.changes
    }

    pub fn limits(&self) -> &rate_limit::Limits {
        &self.0.limits
    }

    /// Resolves once the server is shutting down.
    pub async fn draining(&self) {
        let _ = self.0.draining.subscribe().wait_for(|d| *d).await;
    }

    pub fn versions(&self) -> &replicas::Versions {
        &self.0.versions
    }

    /// Something approvers of `org` see changed: wakes its long-polls here
    /// and, on a shared database, on every other replica. There each
    /// counter value wakes once, whether it is learnt here, from the
    /// notification or from the safety net first.
    pub async fn changed(&self, org: store::OrgId) {
        if self.store().change_feed().is_none() {
            self.0.changes.bump(org);
            return;
        }
        match self.db(move |s| s.announce_change(org)).await {
            Ok(version) => {
                if self.0.versions.note(org, version) {
                    self.0.changes.bump(org);
                }
            }
            Err(e) => {
                self.0.changes.bump(org);
                tracing::warn!(error = %e.message, "cannot announce a change to other replicas");
            }
        }
    }

    pub fn lists(&self) -> &list_cache::ListCache {
        &self.0.lists
    }

    pub fn page_builds(&self) -> &tokio::sync::Semaphore {
        &self.0.page_builds
    }

    /// Runs storage work on the blocking pool.
    pub async fn db<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> store::Result<T> + Send + 'static,
    ) -> error::ApiResult<T> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            store::postgres::on_blocking_thread(|| work(&state.0.store))
        })
        .await
        .map_err(|e| error::ApiError::internal(format!("storage task failed: {e}")))?
        .map_err(Into::into)
    }

    /// Direct storage access for synchronous callers (admin commands, tests).
    pub fn store(&self) -> &Store {
        &self.0.store
    }
}

/// Every route of the control plane.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/v1/receipts", post(operator_api::push_receipt))
        .route("/v1/approvals", post(operator_api::open_approval))
        .route(
            "/v1/approvals/{action_hash}",
            get(operator_api::poll_approval),
        )
        .route(
            "/v1/approvals/{action_hash}/submit-token",
            post(operator_api::submit_token),
        )
        .route(
            "/v1/approvals/{action_hash}/assembly",
            get(operator_api::assembly),
        )
        .route(
            "/v1/orgs/register-approver-pubkey",
            post(operator_api::register_approver),
        )
        .route("/v1/policy/pull", get(operator_api::pull_policy))
        .route("/v1/approver/enroll", post(approver_api::enroll))
        .route("/v1/approver/approvals", get(approver_api::list_pending))
        .route(
            "/v1/approver/approvals/{action_hash}",
            get(approver_api::show),
        )
        .route(
            "/v1/approver/approvals/{action_hash}/decision",
            post(approver_api::decide),
        )
        .route("/v1/approver/cosignatures", get(approver_api::cosignatures))
        .route("/v1/approver/roster", get(approver_api::roster))
        .route("/v1/approver/retire", post(approver_api::retire))
        .method_not_allowed_fallback(json_errors::method_not_allowed)
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            body::read_in_time,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(json_errors::as_json))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// For load balancers: the database answers and carries this build's
/// schema (`/healthz` says only that the process is up).
async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.db(|s| s.ready()).await {
        Ok(()) => "ready".into_response(),
        Err(e) => error::ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            e.message,
        )
        .into_response(),
    }
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_expired_forever(state.clone()));
    let follower = tokio::spawn(replicas::follow(state.clone()));
    // On shutdown, held long-polls answer at once (their devices ask again,
    // of another replica behind the load balancer) and in-flight requests
    // finish; then the server stops.
    let drain = state.0.draining.clone();
    let shutdown = async move {
        shutdown.await;
        drain.send_replace(true);
    };
    let limits = connections::ConnectionLimits {
        header_read_timeout: state.config().header_read_timeout,
        max_connections: state.config().max_connections,
    };
    connections::serve(listener, router(state), limits, shutdown).await;
    sweeper.abort();
    follower.abort();
    Ok(())
}

/// Resolves every approval past its deadline as rejected (`expired`) and
/// wakes the lists it leaves. Returns how many orgs changed.
pub async fn sweep_expired(state: &AppState) -> error::ApiResult<usize> {
    let now = clock::now();
    let orgs = state.db(move |s| s.expire_overdue(now)).await?;
    for org in &orgs {
        state.changed(*org).await;
    }
    Ok(orgs.len())
}

async fn sweep_expired_forever(state: AppState) {
    let every = std::time::Duration::from_secs(state.config().expiry_sweep_secs.max(1));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = sweep_expired(&state).await {
            tracing::warn!(error = %e.message, "expiry sweep failed");
        }
    }
}
