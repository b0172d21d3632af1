//! Keeps a verified view of the pending queue fresh in the background: long-
//! polls the control plane (or polls, when long-polls fail or are turned
//! off), reads every page, verifies each item once, backs off while the
//! control plane is away, and publishes each new state (with online/offline)
//! on a `tokio::sync::watch` channel.

use crate::client::{Client, ClientError, PageRequest};
use crate::device_key::DeviceKey;
use crate::profile::Profile;
use crate::view::{item_view, ItemView};
use crate::workflow::verify_item;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
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
    pub view: Option<Arc<ItemView>>,
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
    /// Long-poll (answers as soon as the queue changes); off: poll every `poll_interval`.
    pub long_poll: bool,
    /// How long each long-poll may be held.
    pub long_poll_secs: u64,
    /// The polling interval when long-polls are off or do not work.
    pub poll_interval: Duration,
    /// The longest wait between attempts while offline.
    pub max_backoff: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            long_poll: true,
            long_poll_secs: 25,
            poll_interval: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// The most pending items the queue holds; the rest are counted, not listed.
pub const MAX_ENTRIES: usize = 20_000;
const PAGE_SIZE: u32 = 500;

/// What verifying one item gave: its view, or why it was refused.
type Checked = (Option<Arc<ItemView>>, Option<String>);

/// Verification results of items already seen, keyed by the BLAKE3 hash of
/// the item's listed hash and receipt: the same bytes need not be verified again.
#[derive(Default)]
pub struct VerifiedCache {
    entries: HashMap<[u8; 32], Checked>,
}

impl VerifiedCache {
    /// Verifies every item (or reuses the result for the same receipt and
    /// quorum state), and forgets what is no longer listed. A quorum this
    /// device already voted on waits for others: it leaves the queue.
    pub fn entries_of(&mut self, profile: &Profile, items: &[Value]) -> Vec<QueueEntry> {
        let mut kept = HashMap::with_capacity(items.len());
        let entries = items
            .iter()
            .map(|item| {
                let key = *blake3::Hasher::new()
                    .update(item["action_hash"].to_string().as_bytes())
                    .update(item["receipt"].to_string().as_bytes())
                    .update(item["threshold"].to_string().as_bytes())
                    .update(item["roster"].to_string().as_bytes())
                    .update(item["votes"].to_string().as_bytes())
                    .finalize()
                    .as_bytes();
                let (view, refusal) =
                    self.entries
                        .remove(&key)
                        .unwrap_or_else(|| match verify_item(profile, item) {
                            Ok(verified) => (Some(Arc::new(item_view(&verified))), None),
                            Err(refusal) => (None, Some(refusal.to_string())),
                        });
                kept.insert(key, (view.clone(), refusal.clone()));
                let text = |k: &str| item[k].as_str().unwrap_or_default().to_owned();
                QueueEntry {
                    action_hash: text("action_hash"),
                    opened_at: text("opened_at"),
                    sla_deadline: text("sla_deadline"),
                    view,
                    refusal,
                }
            })
            .filter(|entry| {
                !entry
                    .view
                    .as_ref()
                    .and_then(|v| v.quorum.as_ref())
                    .is_some_and(|q| q.you_voted)
            })
            .collect();
        self.entries = kept;
        entries
    }
}

/// The whole pending list: the first page (long-polled when `wait` is set),
/// then the following pages up to `MAX_ENTRIES`.
async fn fetch_all(
    client: &Client,
    key: &DeviceKey,
    since: Option<u64>,
    wait: Option<u64>,
) -> Result<(Value, Vec<Value>), ClientError> {
    let first = PageRequest {
        since,
        wait,
        limit: Some(PAGE_SIZE),
        ..PageRequest::default()
    };
    let head = client.pending_page(key, &first).await?;
    let mut items = head["items"].as_array().cloned().unwrap_or_default();
    let mut before = head["next_before"].as_i64();
    while let Some(cursor) = before.filter(|_| items.len() < MAX_ENTRIES) {
        let next = PageRequest {
            before: Some(cursor),
            limit: Some(PAGE_SIZE),
            ..PageRequest::default()
        };
        let page = client.pending_page(key, &next).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        before = page["next_before"].as_i64();
    }
    items.truncate(MAX_ENTRIES);
    Ok((head, items))
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
    let mut long_poll = config.long_poll;
    let mut backoff = Duration::from_secs(1);
    let mut refreshes = 0;
    let mut cache = VerifiedCache::default();
    while !states.is_closed() {
        let wait = (long_poll && since.is_some()).then_some(config.long_poll_secs);
        match fetch_all(&client, &key, since, wait).await {
            Ok((head, items)) => {
                refreshes += 1;
                backoff = Duration::from_secs(1);
                let version = head["version"].as_u64();
                // A long-poll that timed out with nothing new: keep the state as is.
                let unchanged = since.is_some() && version == since && states.borrow().online;
                since = version;
                if !unchanged {
                    let entries = cache.entries_of(&profile, &items);
                    // Quorums this device voted on wait for others: not counted as waiting for it.
                    let voted = (items.len() - entries.len()) as u64;
                    let state = QueueState {
                        online: true,
                        last_error: None,
                        pending_total: head["pending_total"]
                            .as_u64()
                            .unwrap_or_default()
                            .saturating_sub(voted),
                        entries,
                        refreshes,
                    };
                    states.send_replace(state);
                }
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
