//! Differential tests of session links (the suspend/resume layer's
//! `suspended`, decision and `completed` receipts): our verifier against the
//! vendor package (`heso==0.5.1`) on generated links of every kind, signed
//! under every domain, by either role or an unknown one, with garbage,
//! foreign algorithms, edited bodies and bit flips. Same kind, trust level
//! and detail.
//!
//! `HESO_DIFF_SEED` and `HESO_DIFF_CASES` replay or widen a run.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_interop_tests::diff::{
    accepted_contents, approver_record, assert_same_verdict, cases, key, ours_verdict, seed,
};
use heso_interop_tests::gen::Gen;
use heso_interop_tests::oracle::Oracle;
use heso_receipt::keys::{
    public_key_b64, sign_in_domain, APPROVAL_DOMAIN, DECISION_DOMAIN, OPERATOR_DOMAIN,
    SUSPEND_DOMAIN, TOKEN_DOMAIN,
};
use heso_receipt::*;
use rand::Rng;
use std::collections::BTreeMap;

const KINDS: [Option<ReceiptKind>; 9] = [
    None,
    Some(ReceiptKind::Action),
    Some(ReceiptKind::Suspended),
    Some(ReceiptKind::Approved),
    Some(ReceiptKind::Denied),
    Some(ReceiptKind::Escalated),
    Some(ReceiptKind::Expired),
    Some(ReceiptKind::Completed),
    Some(ReceiptKind::KeyRotation),
];
const DOMAINS: [&[u8]; 5] = [
    OPERATOR_DOMAIN,
    SUSPEND_DOMAIN,
    DECISION_DOMAIN,
    APPROVAL_DOMAIN,
    TOKEN_DOMAIN,
];
const ROLES: [&str; 3] = ["operator", "approver", "witness"];

/// A link of a random kind over `content`, with zero to three signatures
/// each made one random way, sometimes edited after signing.
fn random_link(gen: &mut Gen, keys: &[SigningKey], content: &Content) -> Receipt {
    let mut content = content.clone();
    content.kind = KINDS[gen.rng.random_range(0..KINDS.len())];
    content.session_id = Some(format!("session-{}", gen.rng.random::<u16>()));
    content.seq = Some(gen.rng.random_range(0..4));
    content.prev_receipt_hash =
        (gen.rng.random_bool(0.7)).then(|| hex::encode(gen.rng.random::<[u8; 32]>()));
    if gen.rng.random_bool(0.5) {
        content.trust_level = TrustLevel::L1;
    }
    if gen.rng.random_bool(0.5) {
        let decision = [Decision::Approved, Decision::Rejected][gen.rng.random_range(0..2)];
        content.approver_decision = Some(approver_record(&keys[1], decision, "looked at it"));
    }
    let mut content = canonical::seal(content).unwrap();
    let message = canonical_bytes(&content).unwrap();
    let signatures = (0..gen.rng.random_range(0..=3))
        .map(|_| {
            let signer = &keys[gen.rng.random_range(0..keys.len())];
            let domain = DOMAINS[gen.rng.random_range(0..DOMAINS.len())];
            let mut signature = sign_in_domain(signer, domain, &message).to_bytes();
            if gen.rng.random_bool(0.1) {
                signature[gen.rng.random_range(0..64)] ^= 1;
            }
            SignatureEntry {
                algorithm: if gen.rng.random_bool(0.05) {
                    "RSA".to_owned()
                } else {
                    "Ed25519".to_owned()
                },
                key_id: ROLES[gen.rng.random_range(0..ROLES.len())].to_owned(),
                public_key: public_key_b64(&signer.verifying_key()),
                signature: STANDARD.encode(signature),
            }
        })
        .collect();
    if gen.rng.random_bool(0.1) {
        content.action.tool_name.push('!');
    }
    Receipt {
        alg: if gen.rng.random_bool(0.05) {
            "other".to_owned()
        } else {
            RECEIPT_ALG.to_owned()
        },
        content,
        signatures,
        transparency: None,
    }
}

#[test]
fn link_verdicts_match_the_vendor() {
    let mut oracle = Oracle::start();
    let mut gen = Gen::new(seed() ^ 0x53);
    let keys: Vec<SigningKey> = (0..3).map(|_| key(&mut gen.rng).0).collect();
    let agent = public_key_b64(&keys[0].verifying_key());
    let contents = accepted_contents(&mut gen, &mut oracle, &agent, 12);
    let mut seen = BTreeMap::<String, usize>::new();
    let rounds = cases(800);
    for round in 0..rounds {
        let content = parse_content(contents[round % contents.len()].as_bytes()).unwrap();
        let link = random_link(&mut gen, &keys, &content);
        let text = serde_json::to_string(&link).unwrap();
        assert_same_verdict(&mut oracle, &text, &format!("round {round}"));
        let verdict = verify_receipt(link).verdict;
        let label = match &verdict.detail {
            Some(d) if d.contains("producer") => "Malformed (operator-signed decision)",
            Some(d) if d.contains("required domain") => "Malformed (wrong domain)",
            Some(d) if d.contains("no self-approval") => {
                "Malformed (decision key signed the action)"
            }
            _ => verdict.kind.as_str(),
        };
        *seen.entry(label.to_owned()).or_default() += 1;

        let mut flipped = text.into_bytes();
        let at = gen.rng.random_range(0..flipped.len());
        flipped[at] ^= 1 << gen.rng.random_range(0..8);
        if let Ok(flipped) = String::from_utf8(flipped) {
            assert_eq!(
                ours_verdict(&flipped),
                oracle.verdict(&flipped),
                "flip at {at}: {flipped}"
            );
        }
    }
    eprintln!("{rounds} session links, same verdicts: {seen:?}");
    for label in [
        "Valid",
        "HashMismatch",
        "Malformed (operator-signed decision)",
        "Malformed (wrong domain)",
        "Malformed (decision key signed the action)",
    ] {
        assert!(seen.contains_key(label), "no {label} in {seen:?}");
    }
}
