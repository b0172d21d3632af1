//! Pending-list answers shared by every approver of an org at one change
//! version: when an approval opens, all long-polls wake at once and one
//! database read answers them all. Bounded by entries and by bytes: pages of
//! many orgs and cursors must not grow without end.

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
    /// The device the answer is for, while some pending approval of the org
    /// is for some approvers only; `None`: every approver sees the same.
    pub viewer: Option<[u8; 32]>,
}

/// What a cell holds.
#[derive(Debug, Clone)]
pub enum CachedPage {
    /// The serialized answer.
    Page(Bytes),
    /// Only under a key without a viewer: at this version some pending
    /// approval is for some approvers only, so each device gets its own.
    PerDevice,
}

impl CachedPage {
    fn len(&self) -> usize {
        match self {
            CachedPage::Page(bytes) => bytes.len(),
            CachedPage::PerDevice => 0,
        }
    }
}

pub struct ListCache {
    entries: Mutex<HashMap<ListKey, Arc<OnceCell<CachedPage>>>>,
    max_bytes: usize,
}

impl Default for ListCache {
    fn default() -> Self {
        Self::with_max_bytes(64 * 1024 * 1024)
    }
}

impl ListCache {
    const MAX_ENTRIES: usize = 4096;

    pub fn with_max_bytes(max_bytes: usize) -> Self {
        ListCache {
            entries: Mutex::default(),
            max_bytes,
        }
    }

    /// The cell for `key`; the first caller fills it, the others wait for it.
    /// Answers for older versions of the same org are dropped; past the
    /// bounds, everything held is dropped (a dropped answer is only read
    /// again from the database).
    pub fn cell(&self, key: ListKey) -> Arc<OnceCell<CachedPage>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|k, _| k.org != key.org || k.version >= key.version);
        if entries.len() >= Self::MAX_ENTRIES || held(&entries) > self.max_bytes {
            entries.clear();
        }
        entries.entry(key).or_default().clone()
    }

    /// Bytes of the answers held now.
    pub fn held_bytes(&self) -> usize {
        held(&self.entries.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn held(entries: &HashMap<ListKey, Arc<OnceCell<CachedPage>>>) -> usize {
    entries
        .values()
        .filter_map(|c| c.get())
        .map(CachedPage::len)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_held_stay_within_the_byte_bound() {
        let cache = ListCache::with_max_bytes(4 << 20);
        let page = CachedPage::Page(Bytes::from(vec![b' '; 1 << 20]));
        for org in 0..40 {
            let key = ListKey {
                org,
                version: 1,
                before: None,
                limit: 500,
                viewer: None,
            };
            cache.cell(key).set(page.clone()).unwrap();
            assert!(
                cache.held_bytes() <= (4 << 20) + page.len(),
                "{} bytes held after {org}",
                cache.held_bytes()
            );
        }
        // Within the bound it is still a cache: the same key, the same answer.
        let small = ListCache::with_max_bytes(4 << 20);
        let key = ListKey {
            org: 1,
            version: 1,
            before: None,
            limit: 500,
            viewer: None,
        };
        small.cell(key).set(page.clone()).unwrap();
        assert!(small.cell(key).get().is_some_and(|b| b.len() == page.len()));
    }
}
