//! Keeping replicas in step. Several `serve` processes on one PostgreSQL
//! database each hold their own long-polls and list cache, keyed by a local
//! change counter per org. A change made through one replica is announced
//! (`NOTIFY`, and a counter in the database); every other replica hears it on
//! a `LISTEN` connection and wakes its long-polls at once, and once a second
//! compares the counters, so a notification lost while reconnecting costs a
//! second at most. A counter already known here (its own change, or one
//! heard before) wakes nothing again.

use crate::store::postgres::CHANGES_CHANNEL;
use crate::store::OrgId;
use crate::AppState;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio_postgres::{AsyncMessage, NoTls};

/// How often the counters are compared, and the wait before reconnecting.
const SAFETY_NET: Duration = Duration::from_secs(1);

/// Follows the other replicas' changes until the task is dropped; returns at
/// once when this process is the only one (SQLite).
pub async fn follow(state: AppState) {
    let Some(url) = state.store().change_feed().map(str::to_owned) else {
        return;
    };
    let mut primed = false;
    loop {
        let lost = listen(&state, &url, &mut primed).await;
        tracing::warn!(error = %lost, "change feed interrupted; reconnecting");
        tokio::time::sleep(SAFETY_NET).await;
    }
}

/// Each org's change counter as last known in this process.
#[derive(Default)]
pub struct Versions(Mutex<HashMap<OrgId, i64>>);

impl Versions {
    /// Records `version` of `org`; true when it is newer than what was known.
    pub fn note(&self, org: OrgId, version: i64) -> bool {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let newer = known.get(&org).is_none_or(|k| version > *k);
        if newer {
            known.insert(org, version);
        }
        newer
    }
}

async fn listen(state: &AppState, url: &str, primed: &mut bool) -> String {
    let (client, mut connection) = match tokio_postgres::connect(url, NoTls).await {
        Ok(pair) => pair,
        Err(e) => return e.to_string(),
    };
    let (tx, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    // The connection delivers notifications only while it is polled.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                if tx.send(n.payload().to_owned()).is_err() {
                    break;
                }
            }
        }
    });
    if let Err(e) = client
        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
        .await
    {
        driver.abort();
        return e.to_string();
    }
    let mut check = tokio::time::interval(SAFETY_NET);
    let lost = loop {
        tokio::select! {
            payload = notifications.recv() => match payload {
                Some(payload) => wake(state, &payload),
                None => break "the LISTEN connection closed".to_owned(),
            },
            _ = check.tick() => catch_up(state, primed).await,
        }
    };
    driver.abort();
    lost
}

/// An announcement `org:version` wakes that org here, unless known already.
fn wake(state: &AppState, payload: &str) {
    let Some((org, version)) = payload.split_once(':') else {
        return;
    };
    if let (Ok(org), Ok(version)) = (org.parse(), version.parse()) {
        if state.versions().note(org, version) {
            state.changes().bump(org);
        }
    }
}

/// Wakes every org whose counter moved since the last look.
/// The first look only learns the counters.
async fn catch_up(state: &AppState, primed: &mut bool) {
    let versions = match state.db(|s| s.change_versions()).await {
        Ok(versions) => versions,
        Err(e) => {
            tracing::warn!(error = %e.message, "cannot read the change counters");
            return;
        }
    };
    for (org, version) in versions {
        if state.versions().note(org, version) && *primed {
            state.changes().bump(org);
        }
    }
    *primed = true;
}
