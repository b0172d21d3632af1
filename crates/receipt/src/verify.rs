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
    /// How a session chain names this failure; `None` when valid.
    pub link_fault: Option<LinkFault>,
}

/// A failed link as the vendor's session-chain verdict names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFault {
    /// `ContentTamper`, quoting the failure in the vendor's own rendering:
    /// `HashMismatch`, `Malformed("…")`, `InvalidSignature(VerificationFailed)`,
    /// `TrustLevelMismatch { embedded: L1, derived: L0 }`, ….
    Tamper(String),
    /// `RoleViolation`: a decision link signed with the operator's authority
    /// only, or by the key that also signed it as the operator.
    Role,
}

impl Verdict {
    /// A failure whose rendering is the kind with its detail quoted, as
    /// `Malformed("…")`, or the bare kind when there is no detail.
    fn fail(kind: VerdictKind, detail: impl Into<Option<String>>) -> Self {
        let detail = detail.into();
        let rendering = match &detail {
            Some(text) => format!("{}({text:?})", kind.as_str()),
            None => kind.as_str().to_owned(),
        };
        Verdict {
            kind,
            trust_level: None,
            detail,
            approver_identity_mismatch: false,
            unsigned_paths: Vec::new(),
            session_link: None,
            link_fault: Some(LinkFault::Tamper(rendering)),
        }
    }

    /// The same failure, rendered as the vendor does where it carries
    /// structured values rather than its detail text.
    fn rendered(self, rendering: String) -> Self {
        Verdict {
            link_fault: Some(LinkFault::Tamper(rendering)),
            ..self
        }
    }

    /// An invalid signature, its detail and the vendor's rendering from the fault.
    fn bad_signature(fault: SignatureFault) -> Self {
        Verdict::fail(VerdictKind::InvalidSignature, fault.to_string())
            .rendered(format!("InvalidSignature({})", fault.rendering()))
    }

    /// A self-approval; the vendor renders it bare, whatever the detail.
    fn self_approval(detail: &str) -> Self {
        Verdict::fail(VerdictKind::SelfApproval, detail.to_owned()).rendered("SelfApproval".into())
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
        // `role`: refused for who signed (a chain names it `RoleViolation`).
        let refuse = |detail: String, role: bool| {
            let mut verdict = Verdict {
                session_link: content.kind,
                ..Verdict::fail(VerdictKind::Malformed, detail)
            };
            if role {
                verdict.link_fault = Some(LinkFault::Role);
            }
            verdict
        };
        let Some(&key) = signers(self, rule.domain).first() else {
            let operator_signed = rule.decision && !signers(self, OPERATOR_DOMAIN).is_empty();
            return refuse(rule.refusal(operator_signed), operator_signed);
        };
        // The first decision signer must not also have signed the action.
        if rule.decision && signers(self, OPERATOR_DOMAIN).contains(&key) {
            return refuse(rule.self_approval(), true);
        }
        *signer = Some(key);
        Verdict {
            kind: VerdictKind::Valid,
            trust_level: Some(content.trust_level),
            detail: None,
            approver_identity_mismatch: false,
            unsigned_paths: content.unsigned_paths(),
            session_link: content.kind,
            link_fault: None,
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
            Err(fault) => return Verdict::bad_signature(fault),
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
                Err(fault) => return Verdict::bad_signature(fault),
            };
            if approver == operator {
                return Verdict::self_approval("the approver key is the operator key");
            }
            *approver_key = Some(approver);
        }

        let derived = if approver_key.is_some() || !quorum_keys.is_empty() {
            TrustLevel::L1
        } else {
            TrustLevel::L0
        };
        if derived != content.trust_level {
            let (embedded, derived) = (content.trust_level.as_str(), derived.as_str());
            return Verdict::fail(
                TrustLevelMismatch,
                format!("embedded={embedded} derived={derived}"),
            )
            .rendered(format!(
                "TrustLevelMismatch {{ embedded: {embedded}, derived: {derived} }}"
            ));
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
            link_fault: None,
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
                return Err(Verdict::self_approval(
                    "an approver key is the operator key",
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
                .map_err(Verdict::bad_signature)?;
            keys.push(verified);
        }
        let have = seen.len();
        let need = quorum.threshold;
        if have < need as usize {
            return Err(
                Verdict::fail(ThresholdNotMet, format!("have={have} need={need}"))
                    .rendered(format!("ThresholdNotMet {{ have: {have}, need: {need} }}")),
            );
        }
        Ok(keys)
    }

    fn check_signature(
        &mut self,
        entry: &SignatureEntry,
        domain: &[u8],
        canonical: &[u8],
    ) -> Result<VerifyingKey, SignatureFault> {
        if entry.algorithm != "Ed25519" {
            return Err(SignatureFault::Algorithm(entry.algorithm.clone()));
        }
        let key = self
            .public_key(&entry.public_key)
            .map_err(SignatureFault::Envelope)?;
        let signature = decode_signature(&entry.signature).map_err(SignatureFault::Envelope)?;
        if verify_in_domain(&key, domain, canonical, &signature) {
            Ok(key)
        } else {
            Err(SignatureFault::Failed)
        }
    }
}

/// Why one signature entry did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum SignatureFault {
    #[error("unsupported signature algorithm `{0}` — expected Ed25519")]
    Algorithm(String),
    #[error("malformed signature envelope: {0}")]
    Envelope(KeyError),
    #[error("signature verification failed")]
    Failed,
}

impl SignatureFault {
    /// The vendor's rendering, as its session-chain verdict quotes it.
    fn rendering(&self) -> String {
        match self {
            SignatureFault::Algorithm(name) => format!("UnknownAlgorithm({name:?})"),
            SignatureFault::Envelope(e) => format!("Malformed({:?})", e.to_string()),
            SignatureFault::Failed => "VerificationFailed".to_owned(),
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
