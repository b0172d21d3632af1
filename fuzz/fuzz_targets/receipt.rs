//! Receipt JSON from anywhere: the offline verifier and the canonical bytes.
//!
//! Invariants: nothing panics; the verdict is a function of the bytes alone
//! (a fresh verifier and one that has cached keys from earlier inputs agree);
//! any content that parses survives a round trip through its JSON and its
//! canonical bytes unchanged.

use heso_receipt::verify::Verifier;
use heso_receipt::{canonical::seal, canonical_bytes, jcs, parse_content, verify_receipt_bytes};
use heso_receipt::{Content, VerdictKind};

fn main() {
    // Lives across inputs, so its key cache is exercised the way the command
    // line uses it on a file of receipts.
    let mut cached = Verifier::default();
    afl::fuzz(true, move |data: &[u8]| {
        let fresh = verify_receipt_bytes(data);
        let again = cached.verify_bytes(data);
        assert_eq!(
            fresh.verdict, again.verdict,
            "same bytes, different verdict"
        );
        assert_eq!(fresh.operator_key, again.operator_key);
        assert_eq!(fresh.approver_key, again.approver_key);
        if fresh.verdict.kind == VerdictKind::Valid {
            assert!(
                fresh.verdict.trust_level.is_some(),
                "Valid without a trust level"
            );
            assert!(
                fresh.operator_key.is_some(),
                "Valid without an operator key"
            );
        }

        // The content of a receipt, or the input taken as bare content.
        let content = match fresh.receipt {
            Some(receipt) => Some(receipt.content),
            None => parse_content(data).ok(),
        };
        if let Some(content) = content {
            round_trip(content);
        }
    });
}

fn round_trip(content: Content) {
    // Only values JSON cannot carry fail to canonicalize; none parse.
    let canonical = canonical_bytes(&content).expect("parsed content canonicalizes");

    // The content written out (with its hash) reads back to the same bytes.
    let sealed = seal(content).expect("parsed content seals");
    let text = serde_json::to_vec(&sealed).expect("content serializes");
    let back = parse_content(&text).expect("serialized content parses back");
    assert_eq!(back.action_hash, sealed.action_hash);
    assert_eq!(
        canonical_bytes(&back).expect("re-parsed content canonicalizes"),
        canonical,
        "canonical bytes changed across a JSON round trip"
    );

    // The canonical bytes are a fixed point of canonicalization.
    let value: serde_json::Value =
        serde_json::from_slice(&canonical).expect("canonical bytes are JSON");
    assert_eq!(
        jcs(&value).expect("canonical JSON canonicalizes"),
        canonical,
        "canonicalizing canonical bytes changed them"
    );
}
