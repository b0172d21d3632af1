//! The one place that builds the pending-list pages devices see, whether
//! the request waited for a change or not.
//!
//! A page is shared by every approver of the org at one change version
//! (one database read answers a thousand woken long-polls), except while
//! some pending approval is for some approvers only (a quorum's roster, a
//! policy's groups): then each device gets the page of what it may decide.
//! Whether a page may be shared is decided from the very read that fills it,
//! never beforehand, so an approval opened in between cannot slip into a
//! page for everyone.
//!
//! Memory is bounded whatever the request: a page carries at most
//! `MAX_PAGE_BYTES` of receipts (the rest follows through `next_before`),
//! and at most `BUILDS_AT_ONCE` pages are built at the same time.

use crate::error::{ApiError, ApiResult};
use crate::list_cache::{CachedPage, ListKey};
use crate::store::{self, Store};
use crate::views::{roster_labels, ApprovalItem, Labels};
use crate::AppState;
use axum::body::Bytes;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Serialize;

/// Receipt bytes in one page (one item always goes, whatever its size).
pub const MAX_PAGE_BYTES: i64 = 4 * 1024 * 1024;

/// Pages built at once; others wait their turn (most are then cached).
pub const BUILDS_AT_ONCE: usize = 4;

/// What a device asked for.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub org: store::OrgId,
    /// The org's change version the answer is for.
    pub version: u64,
    pub before: Option<i64>,
    pub limit: i64,
    /// The asking device's key.
    pub viewer: [u8; 32],
}

/// The serialized page `request`'s device may see.
pub async fn page_for(state: &AppState, request: PageRequest) -> ApiResult<Bytes> {
    let shared = ListKey {
        org: request.org,
        version: request.version,
        before: request.before,
        limit: request.limit,
        viewer: None,
    };
    if let CachedPage::Page(bytes) = cached(state, shared).await? {
        return Ok(bytes);
    }
    let own = ListKey {
        viewer: Some(request.viewer),
        ..shared
    };
    match cached(state, own).await? {
        CachedPage::Page(bytes) => Ok(bytes),
        CachedPage::PerDevice => Err(ApiError::internal("a device's own page was not built")),
    }
}

async fn cached(state: &AppState, key: ListKey) -> ApiResult<CachedPage> {
    let cell = state.lists().cell(key);
    let page = cell.get_or_try_init(|| build(state, key)).await?;
    Ok(page.clone())
}

/// The JSON of one page, written straight from the rows (no value tree).
#[derive(Serialize)]
struct Page<'a> {
    version: u64,
    pending_total: i64,
    items: &'a [ApprovalItem],
    next_before: Option<i64>,
}

/// What one read of the store gives for a page.
struct Read {
    page: store::PendingPage,
    votes: Vec<Vec<store::VoteRow>>,
    labels: Labels,
    total: i64,
}

async fn build(state: &AppState, key: ListKey) -> ApiResult<CachedPage> {
    let _turn = state
        .page_builds()
        .acquire()
        .await
        .map_err(|_| ApiError::internal("the server is shutting down"))?;
    let viewer = key.viewer.map(|bytes| STANDARD.encode(bytes));
    let read = state.db(move |s| read(s, key, viewer.as_deref())).await?;
    let Some(read) = read else {
        return Ok(CachedPage::PerDevice);
    };
    let items: Vec<ApprovalItem> = read
        .page
        .items
        .iter()
        .zip(&read.votes)
        .map(|(i, votes)| ApprovalItem::of(&i.approval, &i.receipt_text, votes, &read.labels))
        .collect();
    let page = Page {
        version: key.version,
        pending_total: read.total,
        items: &items,
        next_before: read.page.next_before,
    };
    let body = serde_json::to_vec(&page).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(CachedPage::Page(Bytes::from(body)))
}

/// Reads a page; `None` when the key has no viewer and what was read holds
/// an approval for some approvers only.
fn read(store: &Store, key: ListKey, viewer: Option<&str>) -> store::Result<Option<Read>> {
    let ListKey {
        org, before, limit, ..
    } = key;
    let page = store::pending_page(&**store, org, viewer, before, limit, MAX_PAGE_BYTES)?;
    let total = store.pending_count(org, viewer)?;
    // Checked after the reads: an approval with a roster is either among the
    // items read, or still pending now, so neither can reach a shared page.
    let shared = viewer.is_none();
    if shared
        && (page.items.iter().any(|i| !i.approval.roster.is_empty())
            || store.has_rostered_pending(org)?)
    {
        return Ok(None);
    }
    // Only a quorum has votes while pending.
    let votes = page
        .items
        .iter()
        .map(|i| match i.approval.threshold {
            1 => Ok(Vec::new()),
            _ => store.votes(&i.approval.id),
        })
        .collect::<store::Result<Vec<_>>>()?;
    // Labels name voters: read the roster only for a page with votes.
    let labels = match votes.iter().any(|v| !v.is_empty()) {
        true => roster_labels(store, org)?,
        false => Labels::new(),
    };
    Ok(Some(Read {
        page,
        votes,
        labels,
        total,
    }))
}
