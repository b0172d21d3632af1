//! The decision link an approver's device signs for a gated session (the
//! vendor SDK's `@heso.gated`): the link that follows the operator's
//! `suspended` link and says `approved`, `denied` or `escalated`.
//!
//! As the vendor writes one: the suspended link's content without its
//! `suspension`, with an `approver_decision` record (the decision key as
//! `approver_identity`), trust level L1, the next `seq`, `prev_receipt_hash`
//! the [`link_hash`] of the suspended link, the decision's `kind`, and its
//! own action hash; one signature, `key_id` `approver`, over
//! `"heso-action-decision/v1" 0x00 ++ canonical bytes`. The action, policy
//! and times stay as the operator signed them, so the chain's lifecycle
//! pass sees one action.
//!
//! Everything the link says about the session comes from the suspended
//! link passed in, which the caller has verified and shown: never from a
//! control plane's word.

use crate::canonical::{canonical_bytes, seal, CanonicalError};
use crate::chain::link_hash;
use crate::cosign::signature_entry;
use crate::keys::{domain_message, public_key_b64, sign_in_domain, DECISION_DOMAIN};
use crate::wire::{
    ApproverRecord, Content, Decision, Receipt, ReceiptKind, TrustLevel, RECEIPT_ALG,
};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// What an approver may decide on a gated session. (`expired` is the
/// operator's sweep, never a person's.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatedDecision {
    Approved,
    Denied,
    Escalated,
}

impl GatedDecision {
    /// The link's `kind`.
    pub fn kind(self) -> ReceiptKind {
        match self {
            GatedDecision::Approved => ReceiptKind::Approved,
            GatedDecision::Denied => ReceiptKind::Denied,
            GatedDecision::Escalated => ReceiptKind::Escalated,
        }
    }

    /// The decision record's word, as the vendor writes it (`denied` links
    /// record `rejected`).
    pub fn record(self) -> Decision {
        match self {
            GatedDecision::Approved => Decision::Approved,
            GatedDecision::Denied => Decision::Rejected,
            GatedDecision::Escalated => Decision::Escalated,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.kind().as_str()
    }
}

/// The signed terms of a suspension (`suspension.approval`): the deadline
/// and what happens when it passes, and the keys that may decide, when it
/// names any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionTerms {
    #[serde(default)]
    pub sla: String,
    /// RFC 3339 UTC.
    #[serde(default)]
    pub expires_at: String,
    /// `deny` or `escalate`, as the operator signed it.
    #[serde(default)]
    pub on_timeout: String,
    /// Base64 public keys; empty: any decision key.
    #[serde(default)]
    pub approver_pubkeys: Vec<String>,
}

impl SuspensionTerms {
    /// Whether `key` (base64) may decide under these terms.
    pub fn allows(&self, key: &str) -> bool {
        self.approver_pubkeys.is_empty() || self.approver_pubkeys.iter().any(|k| k == key)
    }
}

/// Why no decision link can follow a link.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecisionLinkError {
    #[error("this receipt is not a suspended session link (its kind is {0})")]
    NotSuspended(String),
    #[error(
        "the suspended link names no session (session_id and seq are needed to link a decision)"
    )]
    NoSession,
    #[error("the suspended link carries no terms (suspension.approval)")]
    NoTerms,
    #[error("this key is not among the keys the suspension names as deciders")]
    NotADecider,
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

/// The terms of a `suspended` link.
pub fn suspension_terms(content: &Content) -> Result<SuspensionTerms, DecisionLinkError> {
    if content.kind != Some(ReceiptKind::Suspended) {
        let kind = content.kind.map(ReceiptKind::as_str).unwrap_or("action");
        return Err(DecisionLinkError::NotSuspended(kind.to_owned()));
    }
    let approval = content
        .suspension
        .as_ref()
        .and_then(|s| s.get("approval"))
        .ok_or(DecisionLinkError::NoTerms)?;
    serde_json::from_value(approval.clone()).map_err(|_| DecisionLinkError::NoTerms)
}

/// The sealed content of the decision link that follows `suspended`, for
/// the decision key `decider`. `decided_at` is RFC 3339 UTC.
pub fn decision_content(
    suspended: &Content,
    decision: GatedDecision,
    decider: &VerifyingKey,
    reason: &str,
    decided_at: &str,
) -> Result<Content, DecisionLinkError> {
    let terms = suspension_terms(suspended)?;
    let identity = public_key_b64(decider);
    if !terms.allows(&identity) {
        return Err(DecisionLinkError::NotADecider);
    }
    let (Some(_), Some(seq)) = (&suspended.session_id, suspended.seq) else {
        return Err(DecisionLinkError::NoSession);
    };
    let mut content = suspended.clone();
    content.suspension = None;
    content.approver_decision = Some(ApproverRecord {
        decision: decision.record(),
        approver_identity: identity,
        reason: reason.to_owned(),
        decided_at: decided_at.to_owned(),
        sla_minutes: None,
        unsigned: Default::default(),
    });
    content.trust_level = TrustLevel::L1;
    content.seq = Some(seq + 1);
    content.prev_receipt_hash = Some(link_hash(suspended));
    content.kind = Some(decision.kind());
    content.action_hash = String::new();
    Ok(seal(content)?)
}

/// The bytes the decision key signs for `content`.
pub fn decision_message(content: &Content) -> Result<Vec<u8>, CanonicalError> {
    Ok(domain_message(DECISION_DOMAIN, &canonical_bytes(content)?))
}

/// The link: `content` with the decision key's signature (made elsewhere,
/// e.g. by the system signer, over [`decision_message`]).
pub fn decision_link(content: Content, decider: &VerifyingKey, signature: &Signature) -> Receipt {
    Receipt {
        alg: RECEIPT_ALG.to_owned(),
        content,
        signatures: vec![signature_entry("approver", decider, signature)],
        transparency: None,
    }
}

/// Builds and signs the decision link with a key held here.
pub fn sign_decision_link(
    key: &SigningKey,
    suspended: &Content,
    decision: GatedDecision,
    reason: &str,
    decided_at: &str,
) -> Result<Receipt, DecisionLinkError> {
    let decider = key.verifying_key();
    let content = decision_content(suspended, decision, &decider, reason, decided_at)?;
    let signature = sign_in_domain(key, DECISION_DOMAIN, &canonical_bytes(&content)?);
    Ok(decision_link(content, &decider, &signature))
}
