//! k-of-n approvals (quorums): the body the operator signs, the bytes each
//! approver co-signs and the operator's assembly of the final L1 receipt.
//!
//! The operator signs the quorum base: the suspended content with
//! `multi_approval = {threshold, roster (sorted), approvers: []}` and
//! `trust_level = L1`. Each approver co-signs the base with only their own
//! record in `approvers`, so a leg does not depend on who else signs.

use crate::canonical::{canonical_bytes_in_place, seal, CanonicalError};
use crate::cosign::{check_action_kind, signature_entry, PromoteError};
use crate::keys::{domain_message, sign_in_domain, APPROVAL_DOMAIN, OPERATOR_DOMAIN};
use crate::wire::{
    ApproverRecord, Content, DecisionPath, MultiApproval, Receipt, TrustLevel, ACTION_VERSION,
    RECEIPT_ALG,
};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

/// One approver's part of a quorum: their record and detached co-signature.
#[derive(Debug, Clone, PartialEq)]
pub struct QuorumLeg {
    pub record: ApproverRecord,
    pub approver_key: VerifyingKey,
    pub co_signature: Signature,
}

/// The body the operator signs: the suspended L0 content promoted to a
/// quorum with no records yet. Refuses what the vendor refuses (a decided or
/// non-L0 body, threshold 0, an empty roster) and, as for a single approver,
/// a body that is not awaiting approval.
pub fn quorum_base(
    suspended: &Content,
    threshold: u32,
    roster: &[String],
) -> Result<Content, PromoteError> {
    if suspended.action_version != ACTION_VERSION {
        return Err(PromoteError::Unsupported(suspended.action_version.clone()));
    }
    check_action_kind(suspended)?;
    if suspended.trust_level != TrustLevel::L0 {
        return Err(PromoteError::NotL0(suspended.trust_level.as_str()));
    }
    if suspended.approver_decision.is_some()
        || suspended.multi_approval.is_some()
        || suspended.time_anchor.is_some()
    {
        return Err(PromoteError::AlreadyDecided);
    }
    if suspended.policy.decision_path != DecisionPath::RequireApproval {
        return Err(PromoteError::NotAwaitingApproval);
    }
    if threshold == 0 {
        return Err(PromoteError::Quorum("threshold must be >= 1"));
    }
    if roster.is_empty() {
        return Err(PromoteError::Quorum("roster must be non-empty"));
    }
    let mut roster = roster.to_vec();
    roster.sort();
    let mut base = suspended.clone();
    base.multi_approval = Some(MultiApproval {
        threshold,
        roster,
        approvers: Vec::new(),
        unsigned: Default::default(),
    });
    base.trust_level = TrustLevel::L1;
    Ok(seal(base)?)
}

/// Canonical bytes of a quorum body with `approvers` set to `records`.
pub(crate) fn canonical_with_records(
    quorum_body: &Content,
    records: &[ApproverRecord],
) -> Result<Vec<u8>, CanonicalError> {
    let mut body = quorum_body.clone();
    if let Some(quorum) = &mut body.multi_approval {
        quorum.approvers = records.to_vec();
    }
    canonical_bytes_in_place(&mut body)
}

/// The canonical bytes one approver's leg covers: the quorum base with
/// only `record` in `approvers`.
fn leg_canonical(
    suspended: &Content,
    threshold: u32,
    roster: &[String],
    record: &ApproverRecord,
) -> Result<Vec<u8>, PromoteError> {
    let base = quorum_base(suspended, threshold, roster)?;
    Ok(canonical_with_records(&base, std::slice::from_ref(record))?)
}

/// The exact bytes one approver signs:
/// `"heso-approval/v1" 0x00 ++ C(base with approvers = [record])`.
pub fn quorum_cosign_payload(
    suspended: &Content,
    threshold: u32,
    roster: &[String],
    record: &ApproverRecord,
) -> Result<Vec<u8>, PromoteError> {
    let canonical = leg_canonical(suspended, threshold, roster, record)?;
    Ok(domain_message(APPROVAL_DOMAIN, &canonical))
}

/// One approver's detached co-signature on a quorum.
pub fn quorum_cosign(
    approver: &SigningKey,
    suspended: &Content,
    threshold: u32,
    roster: &[String],
    record: &ApproverRecord,
) -> Result<Signature, PromoteError> {
    let canonical = leg_canonical(suspended, threshold, roster, record)?;
    Ok(sign_in_domain(approver, APPROVAL_DOMAIN, &canonical))
}

/// Operator side: sign the quorum base and attach every leg, as the
/// vendor's assembly does: the records sorted by key, the signature entries
/// in the order given. The caller verifies the result; nothing here checks
/// the legs.
pub fn assemble_quorum(
    operator: &SigningKey,
    suspended: &Content,
    threshold: u32,
    roster: &[String],
    legs: &[QuorumLeg],
) -> Result<Receipt, PromoteError> {
    let mut base = quorum_base(suspended, threshold, roster)?;
    let operator_signature = sign_in_domain(
        operator,
        OPERATOR_DOMAIN,
        &canonical_bytes_in_place(&mut base)?,
    );
    let mut content = base;
    if let Some(quorum) = &mut content.multi_approval {
        quorum.approvers = legs.iter().map(|leg| leg.record.clone()).collect();
        // The hash covers the records as written, so the order is set here.
        quorum.sort_approvers();
    }
    let content = seal(content)?;
    let mut signatures = vec![signature_entry(
        "operator",
        &operator.verifying_key(),
        &operator_signature,
    )];
    signatures.extend(
        legs.iter()
            .map(|leg| signature_entry("approver", &leg.approver_key, &leg.co_signature)),
    );
    Ok(Receipt {
        alg: RECEIPT_ALG.to_owned(),
        content,
        signatures,
        transparency: None,
    })
}
