//! Pending-list answers shared by every approver of an org at one change
//! version: when an approval opens, all long-polls wake at once and one
//! database read answers them all.

use crate::store::OrgId;
use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListKey {
    pub org: OrgId,
    /// The org's change version the answer was computed at.
    pub version: u64,
    pub before: Option<i64>,
    pub limit: i64,
}

#[derive(Default)]
pub struct ListCache {
    entries: Mutex<HashMap<ListKey, Arc<OnceCell<Bytes>>>>,
}

impl ListCache {
    const MAX_ENTRIES: usize = 4096;

    /// The cell for `key`; the first caller fills it, the others wait for it.
    /// Answers for older versions of the same org are dropped.
    pub fn cell(&self, key: ListKey) -> Arc<OnceCell<Bytes>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|k, _| k.org != key.org || k.version >= key.version);
        if entries.len() >= Self::MAX_ENTRIES {
            entries.clear();
        }
        entries.entry(key).or_default().clone()
    }
}
