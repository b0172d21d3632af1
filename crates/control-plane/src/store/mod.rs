//! Storage: the control plane's records behind one interface ([`Backend`])
//! with two implementations: SQLite, embedded, for one machine and the demo
//! ([`sqlite`]); PostgreSQL, for several replicas over a database an org
//! already runs ([`postgres`]). Every SQL statement lives in a backend.
//! The methods block: callers run them on tokio's blocking pool.

pub mod postgres;
pub mod sqlite;

use std::path::Path;

pub type OrgId = i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("database error: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("database unreachable: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The control plane's database: SQLite or PostgreSQL, chosen by where it is.
pub struct Store(Box<dyn Backend>);

impl Store {
    /// A SQLite database file (created and migrated if needed).
    pub fn open(path: &Path) -> Result<Store> {
        Ok(Store(Box::new(sqlite::SqliteStore::open(path)?)))
    }

    /// A private SQLite database in memory (tests, the load bench).
    pub fn open_in_memory() -> Result<Store> {
        Ok(Store(Box::new(sqlite::SqliteStore::open_in_memory()?)))
    }

    /// `postgres://…` or `postgresql://…`: that PostgreSQL database,
    /// migrated if needed; anything else is a SQLite file path.
    pub fn connect(location: &str) -> Result<Store> {
        if postgres::is_url(location) {
            Ok(Store(Box::new(postgres::PgStore::connect(location)?)))
        } else {
            Self::open(Path::new(location))
        }
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &(dyn Backend + 'static) {
        self.0.as_ref()
    }
}

#[derive(Debug, Clone)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub sla_minutes: i64,
}

#[derive(Debug, Clone)]
pub struct Approver {
    pub org_id: OrgId,
    pub key_id: String,
    pub public_key: String,
    pub label: String,
}

/// Whether a roster key may vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Confirmed,
    /// Registered through the operator API; an administrator has not confirmed it.
    Unconfirmed,
    Revoked,
}

/// One roster entry, as administrators and approvers see it.
#[derive(Debug, Clone)]
pub struct RosterEntry {
    pub key_id: String,
    pub public_key: String,
    pub label: String,
    /// `enrolment` or `operator`.
    pub source: String,
    pub standing: Standing,
    pub created_at: i64,
    /// What the device said of its key at enrolment (`signer`, `keychain`),
    /// self-reported; `None` when it said nothing (or was registered by API).
    pub protection: Option<String>,
}

fn standing(confirmed: bool, revoked_at: Option<i64>) -> Standing {
    match (revoked_at, confirmed) {
        (Some(_), _) => Standing::Revoked,
        (None, true) => Standing::Confirmed,
        (None, false) => Standing::Unconfirmed,
    }
}

#[derive(Debug, Clone)]
pub struct StoredReceipt {
    pub seq: i64,
    pub action_hash: String,
    pub trust_level: String,
    pub awaiting: bool,
    pub text: String,
    pub entry_hash: String,
    pub superseded_by: Option<String>,
}

/// A verified receipt to append to an org's log.
#[derive(Debug, Clone, Copy)]
pub struct NewReceipt<'a> {
    pub org: OrgId,
    pub action_hash: &'a str,
    pub trust_level: &'a str,
    /// A suspended L0 awaiting approval.
    pub awaiting: bool,
    pub text: &'a str,
    /// The action hash of the entry this one replaces (L1 finalizing an L0).
    pub supersedes: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    Appended { seq: i64, entry_hash: String },
    Duplicate { seq: i64, entry_hash: String },
}

#[derive(Debug, Clone)]
pub struct ApprovalRow {
    pub id: String,
    pub org_id: OrgId,
    pub action_hash: String,
    pub workflow: String,
    pub account: String,
    pub rule_id: String,
    pub scope: String,
    pub threshold: i64,
    pub matched_conditions: String,
    pub status: String,
    pub opened_at: i64,
    pub deadline_at: i64,
    pub resolved_at: Option<i64>,
    /// A quorum's roster (sorted base64 keys), fixed when it opened; empty
    /// for a single-approver approval.
    pub roster: Vec<String>,
    pub approved_count: i64,
    /// The approver groups the org's policy named (empty: every confirmed approver).
    pub groups: Vec<String>,
    /// For approvers, when the org's policy and the receipt disagree.
    pub routing_note: Option<String>,
    /// `signed` (the operator's deadline in the suspended receipt) or `control_plane`.
    pub deadline_source: String,
    /// Why it resolved, when not by a vote: `expired`.
    pub resolution: Option<String>,
}

impl ApprovalRow {
    /// Whether `key` may vote on this approval (given it is a confirmed
    /// approver of the org, which the caller checks).
    pub fn admits(&self, key: &str) -> bool {
        self.roster.is_empty() || self.roster.iter().any(|k| k == key)
    }
}

#[derive(Debug, Clone)]
pub struct NewApproval {
    pub id: String,
    pub org_id: OrgId,
    pub action_hash: String,
    pub workflow: String,
    pub account: String,
    pub rule_id: String,
    pub scope: String,
    pub threshold: i64,
    pub matched_conditions: String,
    pub opened_at: i64,
    pub deadline_at: i64,
    pub roster: Vec<String>,
    pub groups: Vec<String>,
    pub routing_note: Option<String>,
    pub deadline_source: String,
}

/// Which pending cursors a read takes: strictly below `before`, at or
/// above `from`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CursorRange {
    pub before: Option<i64>,
    pub from: Option<i64>,
}

impl CursorRange {
    fn bounds(self) -> (i64, i64) {
        (
            self.before.unwrap_or(i64::MAX),
            self.from.unwrap_or(i64::MIN),
        )
    }
}

/// One page of the pending list and the cursor of the next, if any.
pub struct PendingPage {
    pub items: Vec<PendingItem>,
    pub next_before: Option<i64>,
}

/// The page of at most `limit` items below `before` whose receipts add up
/// to at most `max_bytes` (always at least one item, whatever its size).
/// Sized first from the receipts' lengths, then read in that cursor range
/// only, so no read holds more than the page, whatever the request.
pub fn pending_page(
    store: &dyn Backend,
    org: OrgId,
    viewer: Option<&str>,
    before: Option<i64>,
    limit: i64,
    max_bytes: i64,
) -> Result<PendingPage> {
    let below = CursorRange { before, from: None };
    let sizes = store.pending_sizes(org, viewer, below, limit)?;
    let mut taken = 0;
    let mut bytes = 0i64;
    for (_, size) in &sizes {
        if taken > 0 && bytes.saturating_add(*size) > max_bytes {
            break;
        }
        bytes = bytes.saturating_add(*size);
        taken += 1;
    }
    let (Some((newest, _)), Some((oldest, _))) = (sizes.first(), sizes.get(taken.max(1) - 1))
    else {
        return Ok(PendingPage {
            items: Vec::new(),
            next_before: None,
        });
    };
    let range = CursorRange {
        before: Some(newest.saturating_add(1)),
        from: Some(*oldest),
    };
    let items = store.pending(org, viewer, range, taken as i64)?;
    // More may follow when the page was cut by size or filled its limit.
    let more = taken < sizes.len() || sizes.len() as i64 == limit;
    Ok(PendingPage {
        next_before: more.then_some(*oldest),
        items,
    })
}

/// A pending approval with the suspended receipt it is about.
#[derive(Debug, Clone)]
pub struct PendingItem {
    pub approval: ApprovalRow,
    pub receipt_text: String,
    pub cursor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteRow {
    pub approval_id: String,
    pub approver_key: String,
    pub decision: String,
    pub record: Option<String>,
    pub co_sig: Option<String>,
    pub token: String,
    pub reason: String,
    pub via: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteOutcome {
    Recorded,
    /// The approval was already decided; here is the deciding vote.
    AlreadyDecided(VoteRow),
    /// This key already voted on this (still pending) quorum; here is its vote.
    AlreadyVoted(VoteRow),
    /// The deadline passed: the approval is rejected as expired.
    Expired,
    ReplayedNonce,
}

/// An approved decision the operator has not turned into an L1 receipt yet.
#[derive(Debug, Clone)]
pub struct Unfinalized {
    pub action_hash: String,
    pub receipt_text: String,
    pub record: String,
    pub co_sig: String,
    pub approver_key: String,
}

/// One co-signature a device made, with the final receipt when the operator pushed it.
#[derive(Debug, Clone)]
pub struct CosignatureRow {
    pub approval: ApprovalRow,
    pub vote: VoteRow,
    pub final_receipt: Option<String>,
}

/// The vote that resolved an approval in `status`: the last one of that
/// decision (`None` while pending).
pub fn deciding_vote_in<'a>(status: &str, votes: &'a [VoteRow]) -> Option<&'a VoteRow> {
    if status == "pending" {
        return None;
    }
    votes.iter().rfind(|v| v.decision == status)
}
/// Why a code that exists may not be redeemed now, if it may not.
fn code_refusal(used_at: Option<i64>, expires_at: i64, now: i64) -> Option<&'static str> {
    if used_at.is_some() {
        Some("this enrolment code has already been used")
    } else if now > expires_at {
        Some("this enrolment code has expired; ask the operator for a new one")
    } else {
        None
    }
}

/// Where a device key redeeming a code stands, read under the backend's lock.
struct EnrollingKey {
    is_operator: bool,
    on_this_roster: bool,
    on_another_roster: bool,
    /// The org enrols only devices that report a signer, and this one does not.
    unprotected_refused: bool,
}

impl EnrollingKey {
    /// Why this key may not enrol with the code's org, if it may not: an
    /// operator key never approves, and a device belongs to one org, once.
    fn refusal(&self) -> Option<&'static str> {
        if self.is_operator {
            Some("an operator key cannot enrol as an approver")
        } else if self.on_this_roster {
            Some("this device key is already enrolled with this org")
        } else if self.on_another_roster {
            Some("this device key is enrolled with another org; remove the device there first")
        } else if self.unprotected_refused {
            Some("this org enrols only devices whose key is held by a system signer (heso-approver-signer); this device keeps it in the keychain")
        } else {
            None
        }
    }
}

/// Whether an org that refuses unprotected devices refuses this one.
fn refuses(org_refuses_unprotected: bool, protection: Option<&str>) -> bool {
    org_refuses_unprotected && protection != Some("signer")
}

/// A roster entry as the operator API finds it under a `key_id`.
pub(crate) struct ExistingEntry {
    pub source: String,
    pub public_key: String,
    pub label: String,
    pub standing: Standing,
}

/// What registering `new` through the operator API does to the entry
/// already under its `key_id`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Registration {
    /// A new entry, or one the API key may change (its own, unconfirmed).
    Write,
    /// The same key and label again (an SDK registering at every start).
    Unchanged,
}

/// The operator API holds the agent's key: it may add entries and change
/// the ones it added that no one vouched for, never an entry a person
/// made (an enrolled device) or an administrator confirmed or revoked, unless
/// the org chose to trust what its API key registers (`trusted`).
pub(crate) fn registration(
    existing: Option<&ExistingEntry>,
    new: &Approver,
    trusted: bool,
) -> Result<Registration> {
    let Some(existing) = existing else {
        return Ok(Registration::Write);
    };
    let id = &new.key_id;
    if existing.source == "enrolment" {
        return Err(StoreError::Conflict(format!(
            "`{id}` is a device enrolled with a one-time code; the operator API cannot change it"
        )));
    }
    let same = existing.public_key == new.public_key && existing.label == new.label;
    match existing.standing {
        _ if same => Ok(Registration::Unchanged),
        Standing::Revoked => Err(StoreError::Conflict(format!(
            "`{id}` was revoked by an administrator; the operator API cannot change it"
        ))),
        Standing::Confirmed if !trusted => Err(StoreError::Conflict(format!(
            "`{id}` was confirmed by an administrator; the operator API cannot change its key or label (an administrator revokes it, and confirms the new one)"
        ))),
        Standing::Confirmed | Standing::Unconfirmed => Ok(Registration::Write),
    }
}

/// The roster entry a device enrolled with a code gets: its key id (from
/// the key) and its label (the device's own, else the code's).
fn enrolled_entry(public_key: &str, device_label: &str, code_label: String) -> (String, String) {
    let key_id = format!(
        "device-{}",
        &blake3::hash(public_key.as_bytes()).to_hex()[..16]
    );
    let label = if device_label.is_empty() {
        code_label
    } else {
        device_label.to_owned()
    };
    (key_id, label)
}

/// The columns both backends select for an approval `a` and a vote `v`,
/// in the order their row readers take them.
const APPROVAL_COLUMNS: &str = "a.id, a.org_id, a.action_hash, a.workflow, a.account, a.rule_id, \
     a.scope, a.threshold, a.matched_conditions, a.status, a.opened_at, a.deadline_at, a.resolved_at, \
     a.roster, a.approved_count, a.groups, a.routing_note, a.deadline_source, a.resolution";
/// How many columns `APPROVAL_COLUMNS` selects: joined columns follow.
const APPROVAL_WIDTH: usize = 19;
const VOTE_COLUMNS: &str =
    "v.approval_id, v.approver_key, v.decision, v.record, v.co_sig, v.token, v.reason, v.via, v.created_at";

/// What appending a receipt under an action hash already in the log means:
/// the same receipt again is a duplicate; other bytes are a conflict.
fn already_appended(
    seq: i64,
    entry_hash: String,
    stored: &str,
    text: &str,
    action_hash: &str,
) -> Result<AppendOutcome> {
    let same = serde_json::from_str::<serde_json::Value>(stored).ok()
        == serde_json::from_str::<serde_json::Value>(text).ok();
    if same {
        Ok(AppendOutcome::Duplicate { seq, entry_hash })
    } else {
        Err(StoreError::Conflict(format!(
            "a different receipt is already recorded under action_hash {action_hash}"
        )))
    }
}

/// An approval as a vote finds it, read under the backend's lock.
struct VoteTarget {
    status: String,
    threshold: i64,
    approved_count: i64,
    deadline_at: i64,
    resolution: Option<String>,
}

/// What a backend does with a vote: the rules live here, once, so both
/// backends keep them alike.
enum VotePlan {
    /// Past its deadline while pending: resolve it rejected as `expired`.
    Expire,
    /// Write nothing; answer this.
    Answer(VoteOutcome),
    /// Burn the token's nonce (a replay answers `ReplayedNonce`), record the
    /// vote, then set the approval's count and, if it resolves, its status.
    Cast {
        approved_count: i64,
        resolution: Option<&'static str>,
    },
}

impl VoteTarget {
    /// A rejection resolves the approval `rejected` (fail closed); approvals
    /// resolve it `approved` once `threshold` distinct keys approved; each
    /// key votes once; nothing counts past the deadline or after resolution.
    /// `votes` reads the votes so far, only when needed.
    fn plan(
        &self,
        vote: &VoteRow,
        votes: impl FnOnce() -> Result<Vec<VoteRow>>,
    ) -> Result<VotePlan> {
        // Past its deadline, a pending approval is expired whether or not the
        // sweep got to it yet.
        if self.status == "pending" && vote.created_at >= self.deadline_at {
            return Ok(VotePlan::Expire);
        }
        if self.resolution.as_deref() == Some("expired") {
            return Ok(VotePlan::Answer(VoteOutcome::Expired));
        }
        let votes = votes()?;
        if self.status != "pending" {
            let deciding = deciding_vote_in(&self.status, &votes)
                .ok_or_else(|| StoreError::Conflict("a resolved approval has no vote".into()))?;
            return Ok(VotePlan::Answer(VoteOutcome::AlreadyDecided(
                deciding.clone(),
            )));
        }
        if let Some(mine) = votes
            .into_iter()
            .find(|v| v.approver_key == vote.approver_key)
        {
            return Ok(VotePlan::Answer(VoteOutcome::AlreadyVoted(mine)));
        }
        let approved_count = self.approved_count + i64::from(vote.decision == "approved");
        let resolution = match vote.decision.as_str() {
            "approved" if approved_count >= self.threshold => Some("approved"),
            "approved" => None,
            _ => Some("rejected"),
        };
        Ok(VotePlan::Cast {
            approved_count,
            resolution,
        })
    }
}

/// The hash chaining an org's receipt log: BLAKE3 over the previous entry
/// hash, the position and the receipt's action hash.
fn entry_hash(previous: &str, seq: i64, action_hash: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"heso-control-plane/entry/v1\0");
    hasher.update(previous.as_bytes());
    hasher.update(b"\0");
    hasher.update(seq.to_string().as_bytes());
    hasher.update(b"\0");
    hasher.update(action_hash.as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// One database behind the control plane. Every SQL statement lives in a
/// backend (`sqlite`, `postgres`); both keep the same guarantees: one
/// decision per approval, each key votes once, a nonce burns once, the receipt
/// log's `seq`/`entry_hash` chain has no gaps.
pub trait Backend: Send + Sync {
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;

    /// Whether the database answers and carries this build's schema (`/readyz`).
    fn ready(&self) -> Result<()>;

    /// Where other replicas announce changes (a PostgreSQL URL to `LISTEN`
    /// on); `None` when this process is the only one (SQLite).
    fn change_feed(&self) -> Option<&str> {
        None
    }

    /// Tells the other replicas that something approvers of `org` see
    /// changed; returns the org's change counter after this change.
    fn announce_change(&self, _org: OrgId) -> Result<i64> {
        Ok(0)
    }

    /// Takes one token from the shared bucket `bucket` (one per `interval_ms`,
    /// up to `burst` at once): `None` when taken, else the milliseconds to
    /// wait. Only a shared database has shared buckets; a single process
    /// keeps its own (`rate_limit`).
    fn take_token(
        &self,
        _bucket: &str,
        _now_ms: i64,
        _interval_ms: i64,
        _burst: i64,
    ) -> Result<Option<i64>> {
        Err(StoreError::Conflict(format!(
            "the {} backend keeps no shared rate limits",
            self.kind()
        )))
    }

    /// The arrival time of the shared bucket `bucket` (see `take_token`),
    /// without taking anything; `None` for a bucket never used.
    fn token_arrival(&self, _bucket: &str) -> Result<Option<i64>> {
        Err(StoreError::Conflict(format!(
            "the {} backend keeps no shared rate limits",
            self.kind()
        )))
    }

    /// Every org's change counter (the safety net for missed announcements).
    fn change_versions(&self) -> Result<Vec<(OrgId, i64)>> {
        Ok(Vec::new())
    }

    fn create_org(
        &self,
        name: &str,
        api_key_hash: &str,
        operator_key: &str,
        sla_minutes: i64,
        now: i64,
    ) -> Result<OrgId>;

    fn org_by_api_key_hash(&self, hash: &str) -> Result<Option<Org>>;

    fn org_by_name(&self, name: &str) -> Result<Option<Org>>;

    fn org_by_id(&self, id: OrgId) -> Result<Option<Org>>;

    fn operator_keys(&self, org: OrgId) -> Result<Vec<String>>;

    fn policy(&self, org: OrgId) -> Result<Option<String>>;

    fn set_policy(&self, org: OrgId, toml: &str) -> Result<()>;

    /// Registers or updates a roster entry keyed on `key_id` through the
    /// operator API. An enrolled device's entry cannot be changed this way; a
    /// new public key under an existing id starts `confirmed` again as given
    /// (an agent cannot swap its key into a confirmed entry); a revoked entry
    /// stays revoked; a key in another org's roster is refused.
    fn upsert_approver(&self, a: &Approver, confirmed: bool, now: i64) -> Result<()>;

    /// Whether the org accepts keys registered through its API key as confirmed.
    fn trusts_api_approvers(&self, org: OrgId) -> Result<bool>;

    fn set_trust_api_approvers(&self, org: OrgId, trust: bool) -> Result<()>;

    /// The standing of a public key on an org's roster, if it is on it.
    fn standing(&self, org: OrgId, public_key: &str) -> Result<Option<Standing>>;

    /// Every roster entry of an org, oldest first.
    fn roster(&self, org: OrgId) -> Result<Vec<RosterEntry>>;

    /// Confirms an entry (a revoked one stays revoked). False when no such entry.
    fn confirm_approver(&self, org: OrgId, key_id: &str) -> Result<bool>;

    /// Revokes an entry for good. False when no such entry.
    fn revoke_approver(&self, org: OrgId, key_id: &str, now: i64) -> Result<bool>;

    /// The roster entries holding this public key, across orgs.
    fn approvers_with_key(&self, public_key: &str) -> Result<Vec<Approver>>;

    /// The keys whose votes count: confirmed and not revoked.
    fn roster_keys(&self, org: OrgId) -> Result<Vec<String>>;

    /// Adds a roster entry to a group. False when the org has no such entry.
    fn add_to_group(&self, org: OrgId, group: &str, key_id: &str) -> Result<bool>;

    /// Takes a roster entry out of a group. False when it was not in it.
    fn remove_from_group(&self, org: OrgId, group: &str, key_id: &str) -> Result<bool>;

    /// Every group of the org with its members' key ids, by name.
    fn groups(&self, org: OrgId) -> Result<Vec<(String, String)>>;

    /// The confirmed, unrevoked keys in any of these groups, sorted.
    fn group_keys(&self, org: OrgId, groups: &[String]) -> Result<Vec<String>>;

    /// A one-time code; the device that redeems it joins `groups`.
    fn add_enrolment_code(
        &self,
        org: OrgId,
        code_hash: &str,
        label: &str,
        expires_at: i64,
        groups: &[String],
    ) -> Result<()>;

    /// Uses up a code and enrols the device in one transaction. Returns the
    /// org and the label the operator gave the code, or why it was refused.
    /// `protection` is what the device says of its key (`signer`, `keychain`).
    fn redeem_enrolment_code(
        &self,
        code_hash: &str,
        public_key: &str,
        device_label: &str,
        protection: Option<&str>,
        now: i64,
    ) -> Result<std::result::Result<(OrgId, String), &'static str>>;

    /// Whether the org enrols only devices that report a signer.
    fn refuses_unprotected(&self, org: OrgId) -> Result<bool>;

    fn set_refuse_unprotected(&self, org: OrgId, refuse: bool) -> Result<()>;

    fn receipt(&self, org: OrgId, action_hash: &str) -> Result<Option<StoredReceipt>>;

    /// Appends a verified receipt to the org's log. The same receipt again is
    /// a duplicate; different bytes under the same action hash are a conflict.
    /// With `supersedes`, marks that entry as replaced, atomically.
    fn append_receipt(&self, new: &NewReceipt<'_>, now: i64) -> Result<AppendOutcome>;

    /// Opens an approval, or returns the one already open for this action.
    fn open_approval(&self, new: &NewApproval) -> Result<(ApprovalRow, bool)>;

    fn approval(&self, org: OrgId, action_hash: &str) -> Result<Option<ApprovalRow>>;

    /// Pending approvals whose suspended receipt has arrived, newest first,
    /// in `cursors`, at most `limit` of them. With `viewer`, only the
    /// approvals that key may decide (its roster holds it, or it has none).
    fn pending(
        &self,
        org: OrgId,
        viewer: Option<&str>,
        cursors: CursorRange,
        limit: i64,
    ) -> Result<Vec<PendingItem>>;

    /// As `pending`, only each item's cursor and the bytes of its receipt:
    /// what a page is sized by before any receipt is read.
    fn pending_sizes(
        &self,
        org: OrgId,
        viewer: Option<&str>,
        cursors: CursorRange,
        limit: i64,
    ) -> Result<Vec<(i64, i64)>>;

    fn pending_count(&self, org: OrgId, viewer: Option<&str>) -> Result<i64>;

    /// Whether some pending approval of the org has a roster (not every
    /// approver may see it).
    fn has_rostered_pending(&self, org: OrgId) -> Result<bool>;

    /// Resolves every pending approval whose deadline passed as `rejected`
    /// (resolution `expired`). Returns the orgs whose lists changed.
    fn expire_overdue(&self, now: i64) -> Result<Vec<OrgId>>;

    /// Records one key's vote. A rejection resolves the approval `rejected`
    /// (fail closed); approvals resolve it `approved` once `threshold`
    /// distinct keys approved. Exactly one vote resolves an approval, each key
    /// votes once, and the token's nonce is burned in the same transaction.
    fn record_vote(&self, org: OrgId, vote: &VoteRow, nonce_hex: &str) -> Result<VoteOutcome>;

    /// Every vote on an approval, in the order they were cast.
    fn votes(&self, approval_id: &str) -> Result<Vec<VoteRow>>;

    /// The vote that resolved an approval, if it is resolved.
    fn deciding_vote(&self, approval: &ApprovalRow) -> Result<Option<VoteRow>> {
        if approval.status == "pending" {
            return Ok(None);
        }
        let votes = self.votes(&approval.id)?;
        Ok(deciding_vote_in(&approval.status, &votes).cloned())
    }

    fn nonce_seen(&self, org: OrgId, nonce_hex: &str) -> Result<bool>;

    /// Every vote cast with this key in this org, newest first, with the
    /// final L1 receipt where the operator has pushed it.
    fn cosignatures_by(&self, org: OrgId, approver_key: &str) -> Result<Vec<CosignatureRow>>;

    /// Approved approvals with a co-signature whose suspended receipt no L1
    /// has superseded yet: what an operator still has to finalize.
    fn approved_unfinalized(&self, org: OrgId) -> Result<Vec<Unfinalized>>;

    /// How many request signatures are remembered now (each one a row).
    fn remembered_request_signatures(&self) -> Result<i64>;

    /// Remembers a request signature until `expires_at`. False when it was
    /// already seen (a replay).
    fn remember_request_signature(
        &self,
        signature: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool>;
}
