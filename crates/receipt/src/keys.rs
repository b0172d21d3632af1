//! Ed25519 keys, the signing domains, and their base64 forms.
//!
//! Every signature is Ed25519 over `domain ++ 0x00 ++ message`. Verification is
//! strict (canonical `S`, no small-order keys or `R`), as the vendor requires.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// The operator signs receipt content under this domain.
pub const OPERATOR_DOMAIN: &[u8] = b"heso-action/v1";
/// The approver co-signs the L1 content under this domain.
pub const APPROVAL_DOMAIN: &[u8] = b"heso-approval/v1";
/// The approval token's signature uses this domain.
pub const TOKEN_DOMAIN: &[u8] = b"heso-approval-token/v1";
/// A gated action's `suspended` session link is signed under this domain.
pub const SUSPEND_DOMAIN: &[u8] = b"heso-action-suspend/v1";
/// A session's decision links (`approved`, `denied`, `escalated`, `expired`)
/// are signed under this domain, by the decision key alone.
pub const DECISION_DOMAIN: &[u8] = b"heso-action-decision/v1";

/// `domain ++ 0x00 ++ message`: the exact bytes a signature covers.
pub fn domain_message(domain: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(domain.len() + 1 + message.len());
    out.extend_from_slice(domain);
    out.push(0);
    out.extend_from_slice(message);
    out
}

/// A signing key made from a 32-byte seed. The seed copy is zeroized on
/// return and `SigningKey` zeroizes itself on drop.
pub fn signing_key_from_seed(seed: &Zeroizing<[u8; 32]>) -> SigningKey {
    SigningKey::from_bytes(seed)
}

pub fn sign_in_domain(key: &SigningKey, domain: &[u8], message: &[u8]) -> Signature {
    key.sign(&domain_message(domain, message))
}

pub fn verify_in_domain(
    key: &VerifyingKey,
    domain: &[u8],
    message: &[u8],
    signature: &Signature,
) -> bool {
    key.verify_strict(&domain_message(domain, message), signature)
        .is_ok()
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn public_key_b64(key: &VerifyingKey) -> String {
    b64(key.as_bytes())
}

/// Why a base64 key or signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public_key not base64")]
    KeyNotBase64,
    #[error("public_key wrong length")]
    KeyWrongLength,
    #[error("public_key is not a valid Ed25519 point")]
    KeyInvalid,
    #[error("signature not base64")]
    SignatureNotBase64,
    #[error("signature wrong length")]
    SignatureWrongLength,
}

/// Decode a padded standard-base64 Ed25519 public key.
pub fn decode_public_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = STANDARD.decode(text).map_err(|_| KeyError::KeyNotBase64)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::KeyWrongLength)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::KeyInvalid)
}

/// Decode a padded standard-base64 Ed25519 signature.
pub fn decode_signature(text: &str) -> Result<Signature, KeyError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| KeyError::SignatureNotBase64)?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| KeyError::SignatureWrongLength)?;
    Ok(Signature::from_bytes(&bytes))
}

/// The vendor's signer fingerprint: `heso:` and the first 16 bytes of
/// BLAKE3(public key) in lowercase hex. Short enough to read out loud.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let digest = blake3::hash(key.as_bytes());
    format!("heso:{}", hex::encode(&digest.as_bytes()[..16]))
}
