//! What the differential tests share: the replayable seed and size, keys,
//! our verdict in the oracle's shape, and contents the vendor accepts.

use crate::gen::Gen;
use crate::oracle::Oracle;
use heso_receipt::{keys, verify_receipt_bytes, ApproverRecord, Decision, SigningKey, TrustLevel};
use rand::Rng;
use serde_json::json;

/// `HESO_DIFF_SEED` replays a run.
pub fn seed() -> u64 {
    let seed = std::env::var("HESO_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x4e50_2026);
    eprintln!("HESO_DIFF_SEED={seed}");
    seed
}

/// `HESO_DIFF_CASES` widens a run.
pub fn cases(default: usize) -> usize {
    std::env::var("HESO_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A random key and its seed in hex (for the oracle).
pub fn key(rng: &mut impl Rng) -> (SigningKey, String) {
    let seed: [u8; 32] = rng.random();
    (SigningKey::from_bytes(&seed), hex::encode(seed))
}

/// Our verdict as `(kind, trust_level)`, the shape `Oracle::verdict` answers.
pub fn ours_verdict(text: &str) -> (String, Option<String>) {
    let verdict = verify_receipt_bytes(text.as_bytes()).verdict;
    (
        verdict.kind.as_str().to_owned(),
        verdict.trust_level.map(|t| t.as_str().to_owned()),
    )
}

pub fn approver_record(approver: &SigningKey, decision: Decision, reason: &str) -> ApproverRecord {
    ApproverRecord {
        decision,
        approver_identity: keys::public_key_b64(&approver.verifying_key()),
        reason: reason.to_owned(),
        decided_at: "2026-11-21T10:00:00Z".to_owned(),
        sla_minutes: Some(30),
        unsigned: Default::default(),
    }
}

/// `n` generated suspended contents the vendor parses.
pub fn accepted_contents(gen: &mut Gen, oracle: &mut Oracle, agent: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        let text = gen.content(agent, true);
        if oracle.ask(json!({"op": "canon", "content": text}))["ok"] == true {
            out.push(text);
        }
    }
    out
}

/// Our verdict and the vendor's agree on kind and trust level, and on the
/// detail wherever the vendor gives one.
pub fn assert_same_verdict(oracle: &mut Oracle, text: &str, what: &str) {
    let theirs = oracle.must(json!({"op": "verify", "receipt": text}))["verdict"].clone();
    let ours = verify_receipt_bytes(text.as_bytes()).verdict;
    assert_eq!(ours.kind.as_str(), theirs["kind"], "{what}: {text}");
    assert_eq!(
        ours.trust_level.map(TrustLevel::as_str),
        theirs["trust_level"].as_str(),
        "{what}: {text}"
    );
    if let Some(detail) = theirs["detail"].as_str() {
        assert_eq!(ours.detail.as_deref(), Some(detail), "{what}: {text}");
    }
}

/// Every ordering of `0..n`, the identity first.
pub fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for shorter in permutations(n - 1) {
        // Put the new last index at every place, from the end.
        for at in (0..n).rev() {
            let mut order = shorter.clone();
            order.insert(at, n - 1);
            out.push(order);
        }
    }
    out
}

/// `items` in the given `order` (indices into `items`).
pub fn reordered<T: Clone>(items: &[T], order: &[usize]) -> Vec<T> {
    order.iter().map(|&i| items[i].clone()).collect()
}
