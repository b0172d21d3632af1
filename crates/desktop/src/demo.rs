//! The embedded demo: a real control plane served in-process on loopback,
//! with a demo operator opening realistic approvals every few seconds and
//! finalizing approved ones. Its database lives in the approver's home, so
//! the demo (and its audit trail) survives a restart of the app.

use heso_control_plane::demo::{self, DEMO_ORG};
use heso_control_plane::store::Store;
use heso_control_plane::{serve, AppState, Config};
use heso_receipt::SigningKey;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// How often the demo operator opens a new approval.
const INTERVAL: Duration = Duration::from_secs(20);
/// Approvals waiting when the demo starts.
const INITIAL: usize = 6;

/// A running demo control plane; dropping it stops it.
pub struct EmbeddedDemo {
    pub url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    operator_task: tokio::task::JoinHandle<()>,
}

impl Drop for EmbeddedDemo {
    fn drop(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        self.operator_task.abort();
    }
}

fn dir(home: &Path) -> PathBuf {
    home.join("demo")
}

/// Starts a fresh demo (any earlier one is discarded) and returns it with
/// a one-time enrolment code.
pub async fn start_fresh(home: &Path) -> anyhow::Result<(EmbeddedDemo, String)> {
    let dir = dir(home);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    heso_approver::private_files::private_dir(&dir)?;
    let state = AppState::new(
        Store::open(&dir.join("control-plane.db"))?,
        Config::default(),
    );
    let seed = demo::seed(&state, INITIAL)?;
    // The demo operator's key: a stand-in for an operator, never the approver's key.
    heso_approver::private_files::write_private(
        &dir.join("demo-operator.seed"),
        &seed.operator.to_bytes(),
    )?;
    let running = serve_demo(state, seed.org_id, seed.operator, 0).await?;
    Ok((running, seed.enrolment_code))
}

/// Restarts the demo kept in `home`, preferably on `port` (the one the
/// profile was enrolled with).
pub async fn resume(home: &Path, port: u16) -> anyhow::Result<EmbeddedDemo> {
    let dir = dir(home);
    let state = AppState::new(
        Store::open(&dir.join("control-plane.db"))?,
        Config::default(),
    );
    let org = state
        .store()
        .org_by_name(DEMO_ORG)?
        .ok_or_else(|| anyhow::anyhow!("the demo database has no demo org"))?;
    let seed: Zeroizing<Vec<u8>> = Zeroizing::new(std::fs::read(dir.join("demo-operator.seed"))?);
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("the demo operator key file is damaged"))?;
    serve_demo(state, org.id, SigningKey::from_bytes(&seed), port).await
}

async fn serve_demo(
    state: AppState,
    org_id: heso_control_plane::store::OrgId,
    operator: SigningKey,
    port: u16,
) -> anyhow::Result<EmbeddedDemo> {
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?,
    };
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let operator_task = tokio::spawn(demo::run(state, org_id, operator, INTERVAL));
    Ok(EmbeddedDemo {
        url,
        shutdown: Some(stop),
        operator_task,
    })
}

/// The port of a loopback URL such as `http://127.0.0.1:41234`.
pub fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_port_of_a_loopback_url() {
        assert_eq!(super::port_of("http://127.0.0.1:41234"), 41234);
        assert_eq!(super::port_of("http://127.0.0.1:41234/"), 41234);
        assert_eq!(super::port_of("not a url"), 0);
    }
}
