//! Keeps a verified view of the pending queue fresh in the background: long-
//! polls the control plane, falls back to plain polling when long-polls fail,
//! backs off while the control plane is away, and publishes each new state
//! (with online/offline) on a `tokio::sync::watch` channel.

use crate::client::Client;
use crate::device_key::DeviceKey;
use crate::profile::Profile;
use crate::view::{item_view, ItemView};
use crate::workflow::verify_item;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// One pending approval as the queue shows it: verified, or refused with why.
#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    pub action_hash: String,
    pub opened_at: String,
    pub sla_deadline: String,
    /// The verified view; `None` when the item was refused.
    pub view: Option<ItemView>,
    pub refusal: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueState {
    /// The last exchange with the control plane succeeded.
    pub online: bool,
    /// Why the control plane is considered away, while offline.
    pub last_error: Option<String>,
    pub pending_total: u64,
    /// Newest first, as the control plane lists them.
    pub entries: Vec<QueueEntry>,
    /// How many answers have been published (0: none yet).
    pub refreshes: u64,
}

#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// How long each long-poll may be held.
    pub long_poll_secs: u64,
    /// The polling interval when long-polls do not work.
    pub poll_interval: Duration,
    /// The longest wait between attempts while offline.
    pub max_backoff: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            long_poll_secs: 25,
            poll_interval: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Verifies every item of a page of the pending list.
pub fn entries_of(profile: &Profile, page: &Value) -> Vec<QueueEntry> {
    page["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let text = |k: &str| item[k].as_str().unwrap_or_default().to_owned();
            let (view, refusal) = match verify_item(profile, item) {
                Ok(verified) => (Some(item_view(&verified)), None),
                Err(refusal) => (None, Some(refusal.to_string())),
            };
            QueueEntry {
                action_hash: text("action_hash"),
                opened_at: text("opened_at"),
                sla_deadline: text("sla_deadline"),
                view,
                refusal,
            }
        })
        .collect()
}

/// Runs until every receiver of `states` is gone.
pub async fn watch_queue(
    client: Client,
    key: Arc<DeviceKey>,
    profile: Profile,
    config: WatchConfig,
    states: watch::Sender<QueueState>,
) {
    let mut since: Option<u64> = None;
    let mut long_poll = true;
    let mut backoff = Duration::from_secs(1);
    let mut refreshes = 0;
    while !states.is_closed() {
        let wait = (long_poll && since.is_some()).then_some(config.long_poll_secs);
        match client.pending(&key, since, wait).await {
            Ok(page) => {
                refreshes += 1;
                backoff = Duration::from_secs(1);
                since = page["version"].as_u64();
                let state = QueueState {
                    online: true,
                    last_error: None,
                    pending_total: page["pending_total"].as_u64().unwrap_or_default(),
                    entries: entries_of(&profile, &page),
                    refreshes,
                };
                states.send_replace(state);
                if !long_poll {
                    tokio::time::sleep(config.poll_interval).await;
                }
            }
            Err(e) => {
                let transient = e.is_transient();
                if wait.is_some() && !transient {
                    // The control plane refused the long-poll form: poll instead.
                    long_poll = false;
                    continue;
                }
                states.send_modify(|s| {
                    s.online = false;
                    s.last_error = Some(e.to_string());
                });
                since = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(config.max_backoff);
            }
        }
    }
}
