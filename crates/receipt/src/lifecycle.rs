//! Session links of the suspend/resume layer (`@heso.gated`): receipts whose
//! `kind` is not `action`. The vendor verifies them by kind, not by role:
//! each kind has one signing domain, and the link is `Valid` when any of its
//! signatures verifies under that domain, whatever its `key_id`. The
//! embedded trust level is returned as written; the algorithm tag, the
//! action version and the redaction markers are not checked.
//!
//! A decision link with only an operator-domain signature is refused in the
//! vendor's words (a customer cannot approve their own pause), and so is one
//! whose first decision signer also signed it under the operator's domain.

use crate::canonical::CanonicalError;
use crate::cosign::seal_and_sign;
use crate::keys::{DECISION_DOMAIN, OPERATOR_DOMAIN, SUSPEND_DOMAIN};
use crate::wire::{Content, Receipt, ReceiptKind};
use ed25519_dalek::SigningKey;

/// How one kind of session link is signed.
pub struct LinkRule {
    /// The domain its signature must verify under.
    pub domain: &'static [u8],
    /// The kind as the vendor names it in its verdicts (`Suspended`, …).
    pub name: &'static str,
    /// A decision (`approved`, `denied`, `escalated`, `expired`): signed by
    /// the decision key, never by the operator.
    pub decision: bool,
}

/// The rule for `kind`, or `None` for a plain action receipt (verified by
/// role: operator signature, optional approver co-signature).
pub fn link_rule(kind: Option<ReceiptKind>) -> Option<LinkRule> {
    use ReceiptKind::*;
    let kind = kind?;
    let domain = match kind {
        Action => return None,
        Suspended => SUSPEND_DOMAIN,
        Approved | Denied | Escalated | Expired => DECISION_DOMAIN,
        Completed | KeyRotation => OPERATOR_DOMAIN,
    };
    Some(LinkRule {
        domain,
        name: kind.verdict_name(),
        decision: kind.is_decision(),
    })
}

impl LinkRule {
    /// The vendor's detail when the decision key also signed the action.
    pub fn self_approval(&self) -> String {
        format!(
            "{} decision is signed by the same key that produced an action \
             authorization on this receipt — no self-approval",
            self.name
        )
    }

    /// The vendor's detail when no signature verifies under the domain;
    /// `operator_signed` says whether one verified under the operator's.
    pub fn refusal(&self, operator_signed: bool) -> String {
        if self.decision && operator_signed {
            format!(
                "{} is decision-signed, but only a producer (operator) signature is present \
                 — a customer cannot approve their own pause",
                self.name
            )
        } else {
            format!(
                "no signature verifies under the {} kind's required domain",
                self.name
            )
        }
    }
}

/// Seals `content` and signs it under its kind's domain as the one
/// signature, with role `key_id` (`operator` for the operator's links,
/// `approver` for decision links). `None` for an action receipt.
pub fn sign_link(
    key: &SigningKey,
    key_id: &str,
    content: Content,
) -> Option<Result<Receipt, CanonicalError>> {
    let rule = link_rule(content.kind)?;
    Some(seal_and_sign(key, key_id, rule.domain, content))
}
