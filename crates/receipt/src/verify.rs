//! The offline verifier. Gates run in the vendor's order and the first
//! failing gate gives the one verdict.

use crate::canonical::{canonical_bytes_in_place, hash_hex, is_lower_hex_64};
use crate::keys::{
    decode_public_key, decode_signature, public_key_b64, verify_in_domain, KeyError,
    APPROVAL_DOMAIN, OPERATOR_DOMAIN,
};
use crate::lifecycle::{link_rule, LinkRule};
use crate::quorum::canonical_with_records;
use crate::wire::{
    Content, Decision, MultiApproval, Receipt, ReceiptKind, RedactionMode, SignatureEntry,
    TrustLevel, ACTION_VERSION, RECEIPT_ALG,
};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// The verdict names, exactly as the vendor spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum VerdictKind {
    Valid,
    WrongAlgorithm,
    Unsupported,
    HashMismatch,
    InvalidSignature,
    SelfApproval,
    MalformedRedaction,
    TrustLevelMismatch,
    ThresholdNotMet,
    Malformed,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Valid => "Valid",
            VerdictKind::WrongAlgorithm => "WrongAlgorithm",
            VerdictKind::Unsupported => "Unsupported",
            VerdictKind::HashMismatch => "HashMismatch",
            VerdictKind::InvalidSignature => "InvalidSignature",
            VerdictKind::SelfApproval => "SelfApproval",
            VerdictKind::MalformedRedaction => "MalformedRedaction",
            VerdictKind::TrustLevelMismatch => "TrustLevelMismatch",
            VerdictKind::ThresholdNotMet => "ThresholdNotMet",
            VerdictKind::Malformed => "Malformed",
        }
    }

    /// Not a receipt we can judge at all (as opposed to one that fails a check).
    pub fn is_unrecognized(self) -> bool {
        matches!(
            self,
            VerdictKind::WrongAlgorithm | VerdictKind::Unsupported | VerdictKind::Malformed
        )
    }
}

/// The outcome of verifying one receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub kind: VerdictKind,
    /// Derived from the verified signatures; only for `Valid`.
    pub trust_level: Option<TrustLevel>,
    pub detail: Option<String>,
    /// Set on a `Valid` L1 whose `approver_decision.approver_identity` is not
    /// the key that co-signed. The vendor accepts this; we flag it.
    pub approver_identity_mismatch: bool,
    /// Values present in the input that no signature covers (see `wire`).
    pub unsigned_paths: Vec<String>,
    /// Set for a session link (`suspended`, a decision, `completed`, …),
    /// whose trust level is the one written in it, not derived from roles.
    pub session_link: Option<ReceiptKind>,
}

impl Verdict {
    fn fail(kind: VerdictKind, detail: impl Into<Option<String>>) -> Self {
        Verdict {
            kind,
            trust_level: None,
            detail: detail.into(),
            approver_identity_mismatch: false,
            unsigned_paths: Vec::new(),
            session_link: None,
        }
    }

    pub fn is_valid(&self) -> bool {
        self.kind == VerdictKind::Valid
    }
}

/// A verified receipt: the parsed receipt and its verdict. `receipt` is
/// `None` only when the input did not parse.
#[derive(Debug, Clone)]
pub struct Verified {
    pub receipt: Option<Receipt>,
    pub verdict: Verdict,
    /// The operator key, once the operator signature has verified.
    pub operator_key: Option<VerifyingKey>,
    /// The approver key, once the approver co-signature has verified.
    pub approver_key: Option<VerifyingKey>,
    /// A quorum's approver keys, in signature order, once every leg has
    /// verified and the threshold is met.
    pub quorum_keys: Vec<VerifyingKey>,
    /// A session link's signer: the key whose signature verified under the
    /// link's domain. Session links have no `operator_key` or `approver_key`:
    /// the vendor does not read roles from them.
    pub link_signer: Option<VerifyingKey>,
}

/// Verify receipt JSON bytes.
pub fn verify_receipt_bytes(input: &[u8]) -> Verified {
    Verifier::default().verify_bytes(input)
}

/// Verify an already parsed receipt.
pub fn verify_receipt(receipt: Receipt) -> Verified {
    Verifier::default().verify(receipt)
}

/// A verifier for many receipts. It remembers decoded public keys, since a
/// file of receipts is mostly signed by the same few keys and decoding one
/// costs a point decompression.
#[derive(Default)]
pub struct Verifier {
    keys: HashMap<String, Result<VerifyingKey, KeyError>>,
}

impl Verifier {
    const KEY_CACHE_LIMIT: usize = 4096;

    pub fn verify_bytes(&mut self, input: &[u8]) -> Verified {
        match serde_json::from_slice::<Receipt>(input) {
            Ok(receipt) => self.verify(receipt),
            Err(e) => Verified {
                receipt: None,
                verdict: Verdict::fail(
                    VerdictKind::Malformed,
                    format!("input is not a well-formed action receipt: {e}"),
                ),
                operator_key: None,
                approver_key: None,
                quorum_keys: Vec::new(),
                link_signer: None,
            },
        }
    }

    pub fn verify(&mut self, mut receipt: Receipt) -> Verified {
        let mut operator_key = None;
        let mut approver_key = None;
        let mut quorum_keys = Vec::new();
        let mut link_signer = None;
        let verdict = match link_rule(receipt.content.kind) {
            Some(rule) => self.verify_link(&mut receipt, &rule, &mut link_signer),
            None => self.run_gates(
                &mut receipt,
                &mut operator_key,
                &mut approver_key,
                &mut quorum_keys,
            ),
        };
        Verified {
            receipt: Some(receipt),
            verdict,
            operator_key,
            approver_key,
            quorum_keys,
            link_signer,
        }
    }

    fn public_key(&mut self, text: &str) -> Result<VerifyingKey, KeyError> {
        if let Some(known) = self.keys.get(text) {
            return *known;
        }
        if self.keys.len() >= Self::KEY_CACHE_LIMIT {
            self.keys.clear();
        }
        let decoded = decode_public_key(text);
        self.keys.insert(text.to_owned(), decoded);
        decoded
    }

    /// A session link, checked as the vendor does (see `lifecycle`): the
    /// hash, then any signature under the kind's domain.
    fn verify_link(
        &mut self,
        receipt: &mut Receipt,
        rule: &LinkRule,
        signer: &mut Option<VerifyingKey>,
    ) -> Verdict {
        let canonical = match canonical_bytes_in_place(&mut receipt.content) {
            Ok(bytes) => bytes,
            Err(e) => return Verdict::fail(VerdictKind::Malformed, e.to_string()),
        };
        let content = &receipt.content;
        if hash_hex(&canonical) != content.action_hash {
            return Verdict::fail(VerdictKind::HashMismatch, None);
        }
        // The keys whose signatures verify under `domain`, in order.
        let signers = |verifier: &mut Self, domain: &[u8]| -> Vec<VerifyingKey> {
            receipt
                .signatures
                .iter()
                .filter_map(|entry| verifier.check_signature(entry, domain, &canonical).ok())
                .collect()
        };
        let refuse = |detail: String| Verdict {
            session_link: content.kind,
            ..Verdict::fail(VerdictKind::Malformed, detail)
        };
        let Some(&key) = signers(self, rule.domain).first() else {
            let operator_signed = rule.decision && !signers(self, OPERATOR_DOMAIN).is_empty();
            return refuse(rule.refusal(operator_signed));
        };
        // The first decision signer must not also have signed the action.
        if rule.decision && signers(self, OPERATOR_DOMAIN).contains(&key) {
            return refuse(rule.self_approval());
        }
        *signer = Some(key);
        Verdict {
            kind: VerdictKind::Valid,
            trust_level: Some(content.trust_level),
            detail: None,
            approver_identity_mismatch: false,
            unsigned_paths: content.unsigned_paths(),
            session_link: content.kind,
        }
    }

    fn run_gates(
        &mut self,
        receipt: &mut Receipt,
        operator_key: &mut Option<VerifyingKey>,
        approver_key: &mut Option<VerifyingKey>,
        quorum_keys: &mut Vec<VerifyingKey>,
    ) -> Verdict {
        use VerdictKind::*;
        let canonical = canonical_bytes_in_place(&mut receipt.content);
        let receipt = &*receipt;
        let content = &receipt.content;

        if receipt.alg != RECEIPT_ALG {
            return Verdict::fail(WrongAlgorithm, receipt.alg.clone());
        }
        if content.action_version != ACTION_VERSION {
            return Verdict::fail(
                Unsupported,
                format!(
                    "action_version `{}` (this verifier supports `{ACTION_VERSION}`)",
                    content.action_version
                ),
            );
        }

        let canonical = match canonical {
            Ok(bytes) => bytes,
            Err(e) => return Verdict::fail(Malformed, e.to_string()),
        };
        if hash_hex(&canonical) != content.action_hash {
            return Verdict::fail(HashMismatch, None);
        }

        let roles = match sort_roles(&receipt.signatures, content) {
            Ok(roles) => roles,
            Err(detail) => return Verdict::fail(Malformed, detail),
        };

        // A quorum's operator signs the body with no approver records.
        let operator_message = match &content.multi_approval {
            Some(_) => match canonical_with_records(content, &[]) {
                Ok(bytes) => bytes,
                Err(e) => return Verdict::fail(Malformed, e.to_string()),
            },
            None => Vec::new(),
        };
        let operator_message = match &content.multi_approval {
            Some(_) => &operator_message,
            None => &canonical,
        };
        let operator = match self.check_signature(roles.operator, OPERATOR_DOMAIN, operator_message)
        {
            Ok(key) => key,
            Err(detail) => return Verdict::fail(InvalidSignature, detail),
        };
        *operator_key = Some(operator);

        if let Some(quorum) = &content.multi_approval {
            match self.check_quorum(content, quorum, roles.operator, &roles.approvers) {
                Ok(keys) => *quorum_keys = keys,
                Err(verdict) => return verdict,
            }
        } else if let Some(entry) = roles.approvers.first() {
            let approver = match self.check_signature(entry, APPROVAL_DOMAIN, &canonical) {
                Ok(key) => key,
                Err(detail) => return Verdict::fail(InvalidSignature, detail),
            };
            if approver == operator {
                return Verdict::fail(
                    SelfApproval,
                    "the approver key is the operator key".to_owned(),
                );
            }
            *approver_key = Some(approver);
        }

        let derived = if approver_key.is_some() || !quorum_keys.is_empty() {
            TrustLevel::L1
        } else {
            TrustLevel::L0
        };
        if derived != content.trust_level {
            return Verdict::fail(
                TrustLevelMismatch,
                format!(
                    "embedded={} derived={}",
                    content.trust_level.as_str(),
                    derived.as_str()
                ),
            );
        }

        // The vendor checks the trust level before the redaction markers.
        if let Err(detail) = check_redaction(receipt) {
            return Verdict::fail(MalformedRedaction, detail);
        }

        let approver_identity_mismatch = match (approver_key.as_ref(), &content.approver_decision) {
            (Some(key), Some(record)) => record.approver_identity != public_key_b64(key),
            (Some(_), None) => true,
            _ => false,
        };
        Verdict {
            kind: Valid,
            trust_level: Some(derived),
            detail: None,
            approver_identity_mismatch,
            unsigned_paths: content.unsigned_paths(),
            session_link: None,
        }
    }

    /// A quorum's legs, in signature order, each checked in the vendor's
    /// order: its record, not the operator, on the roster, approved, not a
    /// duplicate, its co-signature; then the threshold. Returns the keys.
    fn check_quorum(
        &mut self,
        content: &Content,
        quorum: &MultiApproval,
        operator: &SignatureEntry,
        legs: &[&SignatureEntry],
    ) -> Result<Vec<VerifyingKey>, Verdict> {
        use VerdictKind::*;
        let malformed = |detail: String| Verdict::fail(Malformed, detail);
        if quorum.approvers.len() != legs.len() {
            return Err(malformed(format!(
                "multi_approval has {} record(s) but {} approver signature entr(ies)",
                quorum.approvers.len(),
                legs.len()
            )));
        }
        let mut seen = HashSet::new();
        let mut keys = Vec::with_capacity(legs.len());
        for entry in legs {
            let key = &entry.public_key;
            let Some(record) = quorum
                .approvers
                .iter()
                .find(|r| &r.approver_identity == key)
            else {
                return Err(malformed(format!(
                    "approver signature key `{key}` has no matching multi_approval record"
                )));
            };
            if key == &operator.public_key {
                return Err(Verdict::fail(
                    SelfApproval,
                    "an approver key is the operator key".to_owned(),
                ));
            }
            if !quorum.roster.contains(key) {
                return Err(malformed(format!(
                    "approver key `{key}` is not on the signed roster"
                )));
            }
            if record.decision != Decision::Approved {
                return Err(malformed(format!(
                    "multi_approval record for key `{key}` is not `approved`"
                )));
            }
            if !seen.insert(key.as_str()) {
                return Err(malformed(format!(
                    "duplicate approver key `{key}` in multi_approval"
                )));
            }
            let message = canonical_with_records(content, std::slice::from_ref(record))
                .map_err(|e| malformed(e.to_string()))?;
            let verified = self
                .check_signature(entry, APPROVAL_DOMAIN, &message)
                .map_err(|detail| Verdict::fail(InvalidSignature, detail))?;
            keys.push(verified);
        }
        let have = seen.len();
        if have < quorum.threshold as usize {
            return Err(Verdict::fail(
                ThresholdNotMet,
                format!("have={have} need={}", quorum.threshold),
            ));
        }
        Ok(keys)
    }

    fn check_signature(
        &mut self,
        entry: &SignatureEntry,
        domain: &[u8],
        canonical: &[u8],
    ) -> Result<VerifyingKey, String> {
        if entry.algorithm != "Ed25519" {
            return Err(format!(
                "unsupported signature algorithm `{}` — expected Ed25519",
                entry.algorithm
            ));
        }
        let envelope = |e: KeyError| format!("malformed signature envelope: {e}");
        let key = self.public_key(&entry.public_key).map_err(envelope)?;
        let signature = decode_signature(&entry.signature).map_err(envelope)?;
        if verify_in_domain(&key, domain, canonical, &signature) {
            Ok(key)
        } else {
            Err("signature verification failed".to_owned())
        }
    }
}

struct Roles<'a> {
    operator: &'a SignatureEntry,
    approvers: Vec<&'a SignatureEntry>,
}

/// The vendor's order: unknown roles, then a quorum's shape, then the
/// operator entry, then (outside a quorum) at most one approver entry.
fn sort_roles<'a>(entries: &'a [SignatureEntry], content: &Content) -> Result<Roles<'a>, String> {
    if let Some(entry) = entries
        .iter()
        .find(|e| !matches!(e.key_id.as_str(), "operator" | "approver"))
    {
        return Err(format!("unknown signature role `{}`", entry.key_id));
    }
    if let Some(quorum) = &content.multi_approval {
        check_quorum_shape(content, quorum)?;
    }
    let mut operators = entries.iter().filter(|e| e.key_id == "operator");
    let operator = operators
        .next()
        .ok_or_else(|| "no `operator` signature entry".to_owned())?;
    if operators.next().is_some() {
        return Err("more than one `operator` signature entry".to_owned());
    }
    let approvers: Vec<_> = entries.iter().filter(|e| e.key_id == "approver").collect();
    if content.multi_approval.is_none() && approvers.len() > 1 {
        return Err("more than one `approver` signature entry".to_owned());
    }
    Ok(Roles {
        operator,
        approvers,
    })
}

fn check_quorum_shape(content: &Content, quorum: &MultiApproval) -> Result<(), String> {
    if content.approver_decision.is_some() {
        return Err("receipt carries both `approver_decision` and `multi_approval`".to_owned());
    }
    if quorum.threshold == 0 {
        return Err("multi_approval threshold must be >= 1".to_owned());
    }
    if quorum.roster.is_empty() {
        return Err("multi_approval roster must be non-empty".to_owned());
    }
    Ok(())
}

/// The last gate. As in the vendor, a destructive marker's algorithm name is not
/// checked, only that it carries no commitment.
fn check_redaction(receipt: &Receipt) -> Result<(), String> {
    let Some(redaction) = &receipt.content.redaction else {
        return Ok(());
    };
    for marker in &redaction.markers {
        let path = &marker.field_path;
        match redaction.mode {
            RedactionMode::CommitAndReveal => {
                if marker.algorithm != "salted-blake3/v1" {
                    return Err(format!(
                        "redaction marker `{path}` uses algorithm `{}` (expected `salted-blake3/v1`)",
                        marker.algorithm
                    ));
                }
                if !is_lower_hex_64(&marker.commitment) {
                    return Err(format!(
                        "redaction marker `{path}` commitment is not 64 lowercase-hex"
                    ));
                }
            }
            RedactionMode::Destructive => {
                if !marker.commitment.is_empty() {
                    return Err(format!(
                        "destructive redaction marker `{path}` must carry no commitment"
                    ));
                }
            }
        }
    }
    Ok(())
}
