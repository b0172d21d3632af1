//! The offline verifier. Gates run in the vendor's order and the first
//! failing gate gives the one verdict.

use crate::canonical::{canonical_bytes_in_place, hash_hex, is_lower_hex_64};
use crate::keys::{
    decode_public_key, decode_signature, public_key_b64, verify_in_domain, KeyError,
    APPROVAL_DOMAIN, OPERATOR_DOMAIN,
};
use crate::wire::{
    Receipt, RedactionMode, SignatureEntry, TrustLevel, ACTION_VERSION, RECEIPT_ALG,
};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use std::collections::HashMap;

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
}

impl Verdict {
    fn fail(kind: VerdictKind, detail: impl Into<Option<String>>) -> Self {
        Verdict {
            kind,
            trust_level: None,
            detail: detail.into(),
            approver_identity_mismatch: false,
            unsigned_paths: Vec::new(),
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
            },
        }
    }

    pub fn verify(&mut self, mut receipt: Receipt) -> Verified {
        let mut operator_key = None;
        let mut approver_key = None;
        let verdict = self.run_gates(&mut receipt, &mut operator_key, &mut approver_key);
        Verified {
            receipt: Some(receipt),
            verdict,
            operator_key,
            approver_key,
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

    fn run_gates(
        &mut self,
        receipt: &mut Receipt,
        operator_key: &mut Option<VerifyingKey>,
        approver_key: &mut Option<VerifyingKey>,
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

        let roles = match sort_roles(&receipt.signatures) {
            Ok(roles) => roles,
            Err(detail) => return Verdict::fail(Malformed, detail),
        };

        let operator = match self.check_signature(roles.operator, OPERATOR_DOMAIN, &canonical) {
            Ok(key) => key,
            Err(detail) => return Verdict::fail(InvalidSignature, detail),
        };
        *operator_key = Some(operator);

        if let Some(entry) = roles.approver {
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

        if let Err(detail) = check_redaction(receipt) {
            return Verdict::fail(MalformedRedaction, detail);
        }

        let derived = if approver_key.is_some() {
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
        }
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
    approver: Option<&'a SignatureEntry>,
}

fn sort_roles(entries: &[SignatureEntry]) -> Result<Roles<'_>, String> {
    let mut operator = None;
    let mut approver = None;
    for entry in entries {
        let slot = match entry.key_id.as_str() {
            "operator" => &mut operator,
            "approver" => &mut approver,
            other => return Err(format!("unknown signature role `{other}`")),
        };
        if slot.replace(entry).is_some() {
            return Err(format!("more than one `{}` signature entry", entry.key_id));
        }
    }
    let operator = operator.ok_or_else(|| "no `operator` signature entry".to_owned())?;
    Ok(Roles { operator, approver })
}

/// Gate 6. As in the vendor, a destructive marker's algorithm name is not
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
