//! Canonical bytes (RFC 8785 JCS) and the BLAKE3 action hash.

use crate::wire::Content;
use serde::Serialize;

/// RFC 8785 bytes of any serializable value. Numbers are written in their
/// ECMAScript double form (integers past 2^53 lose precision, `-0` is `0`),
/// exactly as the vendor does.
///
/// Fails only for values JSON cannot carry (non-finite floats), which no
/// parsed content holds.
pub fn jcs<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    serde_jcs::to_vec(value).map_err(|e| CanonicalError(e.to_string()))
}

/// The bytes that are hashed and signed: the content without `action_hash`.
pub fn canonical_bytes(content: &Content) -> Result<Vec<u8>, CanonicalError> {
    canonical_bytes_in_place(&mut content.clone())
}

/// As [`canonical_bytes`], without copying the content: the hash is taken
/// out for the serialization (an empty `action_hash` is not serialized, see
/// `wire::Content`) and put back. Every list keeps the order written, a
/// quorum's records included: the vendor hashes them as they come.
pub fn canonical_bytes_in_place(content: &mut Content) -> Result<Vec<u8>, CanonicalError> {
    let hash = std::mem::take(&mut content.action_hash);
    let bytes = jcs(content);
    content.action_hash = hash;
    bytes
}

/// `lowercase_hex(BLAKE3(canonical_bytes))`, no prefix.
pub fn hash_hex(canonical: &[u8]) -> String {
    blake3::hash(canonical).to_hex().to_string()
}

/// True for 64 lowercase hex characters: the form of an action hash and of a
/// redaction commitment.
pub fn is_lower_hex_64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The action hash a content should carry.
pub fn action_hash(content: &Content) -> Result<String, CanonicalError> {
    Ok(hash_hex(&canonical_bytes(content)?))
}

/// Parse content JSON text with the vendor's rules (see `wire`).
pub fn parse_content(json: &[u8]) -> Result<Content, CanonicalError> {
    serde_json::from_slice(json).map_err(|e| CanonicalError(format!("parse content: {e}")))
}

/// Returns `content` with its `action_hash` set to the hash of its canonical bytes.
pub fn seal(mut content: Content) -> Result<Content, CanonicalError> {
    content.action_hash = hash_hex(&canonical_bytes_in_place(&mut content)?);
    Ok(content)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot canonicalize: {0}")]
pub struct CanonicalError(pub String);
