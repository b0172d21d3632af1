//! Signing receipts: the operator's L0 signature, the approver's L1
//! co-signature, and the operator's assembly of the final L1 receipt.

use crate::canonical::{canonical_bytes_in_place, seal, CanonicalError};
use crate::keys::{b64, public_key_b64, sign_in_domain, APPROVAL_DOMAIN, OPERATOR_DOMAIN};
use crate::wire::{
    ApproverRecord, Content, DecisionPath, Receipt, ReceiptKind, SignatureEntry, TrustLevel,
    ACTION_VERSION, RECEIPT_ALG,
};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

/// Why a body cannot be promoted to L1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromoteError {
    #[error("the suspended body is {0}, not L0")]
    NotL0(&'static str),
    #[error("the suspended body's decision path is not require_approval")]
    NotAwaitingApproval,
    #[error("the suspended body already carries an approver decision")]
    AlreadyDecided,
    #[error("unsupported action_version `{0}`")]
    Unsupported(String),
    #[error("the quorum's {0}")]
    Quorum(&'static str),
    /// A link of a suspend/resume session (`suspended`, a decision, ...):
    /// decided by a decision link, never by an L1 over it (the vendor
    /// refuses such an L1).
    #[error("the body is a `{0}` session link, not an action awaiting approval")]
    SessionLink(&'static str),
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

/// The L1 body: the suspended content with the approver's record and
/// `trust_level = L1`, its `action_hash` recomputed.
pub fn promote_to_l1(
    suspended: &Content,
    record: &ApproverRecord,
) -> Result<Content, PromoteError> {
    if suspended.action_version != ACTION_VERSION {
        return Err(PromoteError::Unsupported(suspended.action_version.clone()));
    }
    check_action_kind(suspended)?;
    if suspended.trust_level != TrustLevel::L0 {
        return Err(PromoteError::NotL0(suspended.trust_level.as_str()));
    }
    if suspended.policy.decision_path != DecisionPath::RequireApproval {
        return Err(PromoteError::NotAwaitingApproval);
    }
    if suspended.approver_decision.is_some() {
        return Err(PromoteError::AlreadyDecided);
    }
    let mut l1 = suspended.clone();
    l1.approver_decision = Some(record.clone());
    l1.trust_level = TrustLevel::L1;
    Ok(seal(l1)?)
}

/// Only an `action` receipt (or one without a kind) is promoted.
pub(crate) fn check_action_kind(content: &Content) -> Result<(), PromoteError> {
    match content.kind {
        None | Some(ReceiptKind::Action) => Ok(()),
        Some(kind) => Err(PromoteError::SessionLink(kind.as_str())),
    }
}

/// The exact bytes the approver signs: `"heso-approval/v1" 0x00 ++ C_L1`.
pub fn cosign_payload(
    suspended: &Content,
    record: &ApproverRecord,
) -> Result<Vec<u8>, PromoteError> {
    let mut l1 = promote_to_l1(suspended, record)?;
    Ok(crate::keys::domain_message(
        APPROVAL_DOMAIN,
        &canonical_bytes_in_place(&mut l1)?,
    ))
}

/// The approver's detached co-signature over the promoted body.
pub fn cosign(
    approver: &SigningKey,
    suspended: &Content,
    record: &ApproverRecord,
) -> Result<Signature, PromoteError> {
    let mut l1 = promote_to_l1(suspended, record)?;
    Ok(sign_in_domain(
        approver,
        APPROVAL_DOMAIN,
        &canonical_bytes_in_place(&mut l1)?,
    ))
}

/// The record as the exact JSON text the approver relays and signs into the body.
pub fn record_text(record: &ApproverRecord) -> String {
    serde_json::to_string(record).expect("an approver record always serializes")
}

pub(crate) fn signature_entry(
    role: &str,
    key: &VerifyingKey,
    signature: &Signature,
) -> SignatureEntry {
    SignatureEntry {
        algorithm: "Ed25519".to_owned(),
        key_id: role.to_owned(),
        public_key: public_key_b64(key),
        signature: b64(&signature.to_bytes()),
    }
}

/// Operator side: seal `content` and sign it, giving an L0 (or pre-assembled) receipt.
/// `agent_identity` is left as given: callers set it to the operator key.
pub fn sign_as_operator(
    operator: &SigningKey,
    content: Content,
) -> Result<Receipt, CanonicalError> {
    seal_and_sign(operator, "operator", OPERATOR_DOMAIN, content)
}

/// Seals `content` and makes a receipt with one signature: `key`'s, under
/// `domain`, with role `role`.
pub(crate) fn seal_and_sign(
    key: &SigningKey,
    role: &str,
    domain: &[u8],
    content: Content,
) -> Result<Receipt, CanonicalError> {
    let mut content = seal(content)?;
    let signature = sign_in_domain(key, domain, &canonical_bytes_in_place(&mut content)?);
    Ok(Receipt {
        alg: RECEIPT_ALG.to_owned(),
        content,
        signatures: vec![signature_entry(role, &key.verifying_key(), &signature)],
        transparency: None,
    })
}

/// Operator side: promote, sign the L1 body, and attach the approver's
/// detached co-signature as the second entry.
pub fn assemble_l1(
    operator: &SigningKey,
    suspended: &Content,
    record: &ApproverRecord,
    approver_key: &VerifyingKey,
    co_signature: &Signature,
) -> Result<Receipt, PromoteError> {
    let l1 = promote_to_l1(suspended, record)?;
    let mut receipt = sign_as_operator(operator, l1)?;
    receipt
        .signatures
        .push(signature_entry("approver", approver_key, co_signature));
    Ok(receipt)
}
