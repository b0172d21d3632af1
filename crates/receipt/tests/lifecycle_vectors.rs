//! Session links of the suspend/resume layer, pinned by vectors written with
//! the vendor package (`tests/oracle/lifecycle_vectors.py`): real chains made
//! by `@heso.gated` and `append_decision`, and each link re-signed every way
//! that matters. Same kind, trust level and detail as the package.

use heso_receipt::{verify_receipt_bytes, TrustLevel};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let text = include_str!("vectors/lifecycle.json");
    let all: Value = serde_json::from_str(text).unwrap();
    all["links"].as_array().unwrap().clone()
}

#[test]
fn every_link_gets_the_vendors_verdict() {
    let cases = vectors();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_string(&case["receipt"]).unwrap();
        let ours = verify_receipt_bytes(text.as_bytes()).verdict;
        let theirs = &case["verdict"];
        assert_eq!(ours.kind.as_str(), theirs["kind"], "{name}");
        assert_eq!(
            ours.trust_level.map(TrustLevel::as_str),
            theirs["trust_level"].as_str(),
            "{name}"
        );
        assert_eq!(ours.detail.as_deref(), theirs["detail"].as_str(), "{name}");
    }
}

#[test]
fn the_real_chains_verify_link_by_link() {
    let real: Vec<Value> = vectors()
        .into_iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("real "))
        .collect();
    // suspended, escalated, approved, completed; two suspended + a decision.
    assert_eq!(real.len(), 8);
    for case in real {
        let text = serde_json::to_string(&case["receipt"]).unwrap();
        let verified = verify_receipt_bytes(text.as_bytes());
        assert!(verified.verdict.is_valid(), "{}", case["name"]);
        // A link has a signer but no roles: nothing downstream may read it
        // as an operator-signed action or an approver's co-signature.
        assert!(verified.link_signer.is_some());
        assert!(verified.operator_key.is_none() && verified.approver_key.is_none());
    }
}
