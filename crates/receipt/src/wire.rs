//! Wire types of the HESO action receipt (`heso-action/v2+ed25519`, content v2.0).
//!
//! The shapes and their parsing rules follow the vendor package `heso==0.5.1`,
//! because the canonical bytes are a re-serialization of the *parsed* content:
//!
//! - An unknown top-level content field is an error (as in the package).
//! - Absent optional fields are omitted; an explicit `null` reads as absent.
//! - Unknown fields inside `action`, `policy`, a matched condition, the
//!   approver record, the redaction record or one of its markers are *not*
//!   part of the canonical bytes (the package drops them). We keep them aside in
//!   `unsigned` maps that are never serialized, so a caller can see that the
//!   input carried values no signature covers, and refuse it (the approver
//!   workflow does). Nothing here renders them.
//! - Blocks this product does not render (`ert`, `mandate`, `guardrail`, `suspension`, `key_rotation`, `time_anchor`, `anchor_policy`,
//!   `attestation`, `metrics`, the envelope's `transparency`) are carried as
//!   received and canonicalized verbatim. If the vendor's typed parse would
//!   normalize such a block differently, the recomputed hash differs and the
//!   receipt is refused: the failure mode is closed, never open.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The only envelope algorithm this crate produces and accepts.
pub const RECEIPT_ALG: &str = "heso-action/v2+ed25519";
/// The only content version this crate produces and accepts.
pub const ACTION_VERSION: &str = "heso-action/2.0";

/// Values that arrived in a known object but are not covered by any signature.
pub type Unsigned = Map<String, Value>;

/// The signed envelope: content plus one signature per role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub alg: String,
    pub content: Content,
    pub signatures: Vec<SignatureEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparency: Option<Value>,
}

/// One signature over the canonical content bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureEntry {
    /// `"Ed25519"`.
    pub algorithm: String,
    /// The signer's role: `"operator"` or `"approver"`.
    pub key_id: String,
    /// Standard base64 (padded) of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// Standard base64 (padded) of the 64-byte Ed25519 signature.
    pub signature: String,
}

/// The signed statement. Field order mirrors the vendor's declaration; JCS
/// sorts keys anyway, so order never reaches the signed bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    pub action_version: String,
    /// RFC 3339 UTC. Informational: not validated by the vendor either.
    pub captured_at: String,
    /// Base64 operator public key.
    pub agent_identity: String,
    pub action: Action,
    pub policy: Policy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_decision: Option<ApproverRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_approval: Option<MultiApproval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<Redaction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrail: Option<Value>,
    pub trust_level: TrustLevel,
    /// Lowercase hex BLAKE3 of the canonical bytes. Left out of those bytes;
    /// an empty value is not serialized, which is how the canonical form is made.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub action_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_receipt_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ReceiptKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_rotation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_anchor: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Value>,
}

/// What the agent wants to do, already redacted by the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub verb: Verb,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ert: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandate: Option<Value>,
    pub tool_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_host: Option<String>,
    pub workflow: String,
    pub account: String,
    /// The action's arguments. Values are any JSON; redacted ones arrive as
    /// `"[redacted]"` or `{"_sd": "<64 hex>"}`.
    pub fields: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten, skip_serializing)]
    pub unsigned: Unsigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    LlmCall,
    ToolCall,
    HttpRequest,
    Payment,
    DataExport,
    AccountChange,
    Delete,
}

impl Verb {
    pub const ALL: [Verb; 7] = [
        Verb::LlmCall,
        Verb::ToolCall,
        Verb::HttpRequest,
        Verb::Payment,
        Verb::DataExport,
        Verb::AccountChange,
        Verb::Delete,
    ];

    /// The wire name, e.g. `"payment"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::LlmCall => "llm_call",
            Verb::ToolCall => "tool_call",
            Verb::HttpRequest => "http_request",
            Verb::Payment => "payment",
            Verb::DataExport => "data_export",
            Verb::AccountChange => "account_change",
            Verb::Delete => "delete",
        }
    }
}

/// The rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub rule_id: String,
    /// A human sentence describing the rule.
    pub rule_display: String,
    pub matched_conditions: Vec<MatchedCondition>,
    pub decision_path: DecisionPath,
    #[serde(flatten, skip_serializing)]
    pub unsigned: Unsigned,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedCondition {
    pub field: String,
    pub op: String,
    pub value: Value,
    #[serde(flatten, skip_serializing)]
    pub unsigned: Unsigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionPath {
    Allow,
    Block,
    Redact,
    RequireApproval,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TrustLevel {
    L0,
    L1,
}

impl TrustLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustLevel::L0 => "L0",
            TrustLevel::L1 => "L1",
        }
    }
}

/// The lifecycle kind of a receipt (not rendered; carried for the hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Action,
    Suspended,
    Approved,
    Denied,
    Expired,
    Escalated,
    Completed,
    KeyRotation,
}

impl ReceiptKind {
    /// The wire name, e.g. `"suspended"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Action => "action",
            ReceiptKind::Suspended => "suspended",
            ReceiptKind::Approved => "approved",
            ReceiptKind::Denied => "denied",
            ReceiptKind::Expired => "expired",
            ReceiptKind::Escalated => "escalated",
            ReceiptKind::Completed => "completed",
            ReceiptKind::KeyRotation => "key_rotation",
        }
    }

    /// The kind as the vendor names it in its verdicts, e.g. `"KeyRotation"`.
    pub fn verdict_name(self) -> &'static str {
        match self {
            ReceiptKind::Action => "Action",
            ReceiptKind::Suspended => "Suspended",
            ReceiptKind::Approved => "Approved",
            ReceiptKind::Denied => "Denied",
            ReceiptKind::Expired => "Expired",
            ReceiptKind::Escalated => "Escalated",
            ReceiptKind::Completed => "Completed",
            ReceiptKind::KeyRotation => "KeyRotation",
        }
    }

    /// A decision on a suspended action: signed by the decision key alone.
    pub fn is_decision(self) -> bool {
        matches!(
            self,
            ReceiptKind::Approved
                | ReceiptKind::Denied
                | ReceiptKind::Escalated
                | ReceiptKind::Expired
        )
    }
}

/// The approver's decision as written into an L1 body.
///
/// Field order is the order of the record text the approver relays
/// (`decision, approver_identity, reason, decided_at, sla_minutes`), so
/// `serde_json::to_string` of a record produces that text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproverRecord {
    pub decision: Decision,
    /// Base64 approver public key.
    pub approver_identity: String,
    pub reason: String,
    /// RFC 3339 UTC.
    pub decided_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_minutes: Option<u32>,
    #[serde(flatten, skip_serializing)]
    pub unsigned: Unsigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
    Escalated,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
            Decision::Escalated => "escalated",
        }
    }
}

/// A k-of-n approval (a quorum): at least `threshold` distinct keys of the
/// `roster` approved. The operator signs the content with `approvers` empty;
/// each approver co-signs it with only their own record in `approvers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiApproval {
    pub threshold: u32,
    /// Base64 public keys that may approve, fixed when the approval opened.
    pub roster: Vec<String>,
    /// One record per approver, hashed in the order written (as the vendor
    /// does). Assembly writes them sorted by `approver_identity`.
    pub approvers: Vec<ApproverRecord>,
    #[serde(flatten, skip_serializing)]
    pub unsigned: Unsigned,
}

impl MultiApproval {
    /// The order the vendor's assembly writes the records in. Only for
    /// building a quorum: a received one is hashed as written, so sorting it
    /// would change what its hash covers.
    pub fn sort_approvers(&mut self) {
        self.approvers
            .sort_by(|a, b| a.approver_identity.cmp(&b.approver_identity));
    }
}

/// How the operator redacted fields before signing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redaction {
    pub mode: RedactionMode,
    pub markers: Vec<RedactionMarker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merkle_root: Option<String>,
    #[serde(flatten, skip_serializing)]
    pub unsigned: Unsigned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedactionMode {
    Destructive,
    CommitAndReveal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactionMarker {
    /// Dotted path into `action.fields`.
    pub field_path: String,
    pub algorithm: String,
    pub commitment: String,
    #[serde(flatten, skip_serializing)]
    pub unsigned: Unsigned,
}

impl Content {
    /// Paths of values that arrived inside this content but that no signature
    /// covers (see the module docs). Empty for anything this crate produced.
    pub fn unsigned_paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        let mut note = |prefix: &str, extra: &Unsigned| {
            paths.extend(extra.keys().map(|k| format!("{prefix}.{k}")));
        };
        note("action", &self.action.unsigned);
        note("policy", &self.policy.unsigned);
        for (i, c) in self.policy.matched_conditions.iter().enumerate() {
            note(&format!("policy.matched_conditions[{i}]"), &c.unsigned);
        }
        if let Some(record) = &self.approver_decision {
            note("approver_decision", &record.unsigned);
        }
        if let Some(quorum) = &self.multi_approval {
            note("multi_approval", &quorum.unsigned);
            for (i, record) in quorum.approvers.iter().enumerate() {
                note(&format!("multi_approval.approvers[{i}]"), &record.unsigned);
            }
        }
        if let Some(redaction) = &self.redaction {
            note("redaction", &redaction.unsigned);
            for (i, m) in redaction.markers.iter().enumerate() {
                note(&format!("redaction.markers[{i}]"), &m.unsigned);
            }
        }
        paths
    }
}
