//! Device-signed approver requests: the approver's key signs each request, so
//! no bearer secret is ever stored.
//!
//! ```text
//! signature = Ed25519("heso-approver-request/v1" 0x00 ++
//!     METHOD "\n" PATH_AND_QUERY "\n" TIMESTAMP "\n" NONCE "\n" hex(BLAKE3(body)))
//! ```
//! The server also bounds the timestamp (clock skew) and refuses a signature it
//! has seen before (replay). The random per-request nonce keeps two identical
//! requests in the same second apart (Ed25519 signatures are deterministic).

use crate::keys::{sign_in_domain, verify_in_domain};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

pub const REQUEST_DOMAIN: &[u8] = b"heso-approver-request/v1";

/// Header carrying the base64 device public key.
pub const KEY_HEADER: &str = "x-heso-approver-key";
/// Header carrying the request time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-heso-timestamp";
/// Header carrying the request's random nonce (hex, 16 to 64 characters).
pub const NONCE_HEADER: &str = "x-heso-nonce";
/// Header carrying the base64 signature.
pub const SIGNATURE_HEADER: &str = "x-heso-signature";

/// The signed statement for one request. `path_and_query` is the request
/// target exactly as sent (e.g. `/v1/approver/approvals?wait=30`).
/// The fields of one request that its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The request target exactly as sent, e.g. `/v1/approver/approvals?wait=30`.
    pub path_and_query: &'a str,
    /// Unix seconds.
    pub timestamp: u64,
    pub nonce: &'a str,
    pub body: &'a [u8],
}

/// The signed statement for one request.
pub fn request_message(request: &SignedRequest<'_>) -> Vec<u8> {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        request.path_and_query,
        request.timestamp,
        request.nonce,
        blake3::hash(request.body).to_hex()
    )
    .into_bytes()
}

/// A nonce is 16 to 64 lowercase hex characters.
pub fn nonce_is_well_formed(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn sign_request(key: &SigningKey, request: &SignedRequest<'_>) -> Signature {
    sign_in_domain(key, REQUEST_DOMAIN, &request_message(request))
}

pub fn verify_request(
    key: &VerifyingKey,
    request: &SignedRequest<'_>,
    signature: &Signature,
) -> bool {
    verify_in_domain(key, REQUEST_DOMAIN, &request_message(request), signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_changed_part_breaks_the_signature() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let public = key.verifying_key();
        let request = SignedRequest {
            method: "post",
            path_and_query: "/v1/x?a=1",
            timestamp: 100,
            nonce: "00112233445566778899aabbccddeeff",
            body: b"{}",
        };
        let sig = sign_request(&key, &request);
        assert!(verify_request(
            &public,
            &SignedRequest {
                method: "POST",
                ..request
            },
            &sig
        ));
        for changed in [
            SignedRequest {
                method: "GET",
                ..request
            },
            SignedRequest {
                path_and_query: "/v1/x?a=2",
                ..request
            },
            SignedRequest {
                timestamp: 101,
                ..request
            },
            SignedRequest {
                nonce: "00112233445566778899aabbccddeefe",
                ..request
            },
            SignedRequest {
                body: b"{ }",
                ..request
            },
        ] {
            assert!(!verify_request(&public, &changed, &sig), "{changed:?}");
        }
        assert!(nonce_is_well_formed(request.nonce));
        assert!(!nonce_is_well_formed("short"));
        assert!(!nonce_is_well_formed(&"A".repeat(32)));
    }
}
