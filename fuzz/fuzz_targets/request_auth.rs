//! Device-signed request headers from anywhere, checked the way the control
//! plane checks them (its checker is async and needs its store, so this
//! drives the protocol crate's functions it is built from).
//!
//! Input: `METHOD \n PATH?QUERY \n TIMESTAMP \n NONCE \n KEY \n SIGNATURE \n BODY`.
//!
//! Invariants: nothing panics; verification answers the same twice; a
//! signature made over any request verifies, and stops verifying when the
//! body changes.

use heso_receipt::keys::{decode_public_key, decode_signature};
use heso_receipt::request_auth::{
    nonce_is_well_formed, request_message, sign_request, verify_request, SignedRequest,
};
use heso_receipt::SigningKey;

fn main() {
    let own = SigningKey::from_bytes(&[7; 32]);
    afl::fuzz(true, move |data: &[u8]| {
        let mut parts = data.splitn(7, |&b| b == b'\n');
        let mut field = || std::str::from_utf8(parts.next().unwrap_or_default()).ok();
        let (Some(method), Some(target), Some(timestamp), Some(nonce), Some(key), Some(sig)) =
            (field(), field(), field(), field(), field(), field())
        else {
            return;
        };
        let body = parts.next().unwrap_or_default();

        let well_formed = nonce_is_well_formed(nonce);
        assert_eq!(
            well_formed,
            (16..=64).contains(&nonce.len())
                && nonce
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let timestamp = timestamp.parse::<i64>().ok();
        let request = SignedRequest {
            method,
            path_and_query: target,
            // The control plane casts its checked i64 the same way.
            timestamp: timestamp.unwrap_or_default() as u64,
            nonce,
            body,
        };
        assert!(request_message(&request).starts_with(method.to_ascii_uppercase().as_bytes()));

        // The headers as sent, in the control plane's order.
        if let (Ok(key), Some(_), true, Ok(signature)) = (
            decode_public_key(key),
            timestamp,
            well_formed,
            decode_signature(sig),
        ) {
            let verdict = verify_request(&key, &request, &signature);
            assert_eq!(verdict, verify_request(&key, &request, &signature));
        }

        // Our own signature over the same request.
        let signature = sign_request(&own, &request);
        let public = own.verifying_key();
        assert!(verify_request(&public, &request, &signature));
        let mut other_body = body.to_vec();
        other_body.push(b'x');
        let changed = SignedRequest {
            body: &other_body,
            ..request
        };
        assert!(!verify_request(&public, &changed, &signature));
    });
}
