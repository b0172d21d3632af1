//! The quorum (k-of-n) vectors, made with the vendor package by
//! `tests/oracle/quorum_vectors.py`: the bytes each approver signs, the
//! co-signatures, the assembled receipt, the verdict on quorum receipts
//! broken one or two ways (kind, detail and trust level, in the vendor's
//! order), and on assembled ones with their records and legs reordered.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_receipt::cosign::PromoteError;
use heso_receipt::*;
use serde_json::Value;

fn doc() -> Value {
    let path = format!("{}/tests/vectors/quorum.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing"))
}

fn key_from(case: &Value, key: &str) -> SigningKey {
    let bytes: [u8; 32] = hex::decode(text(case, key)).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&bytes)
}

#[test]
fn each_leg_signs_the_vendors_bytes_and_assembly_matches() {
    let cases = doc()["cosign"].as_array().unwrap().clone();
    assert!(cases.len() >= 4);
    for case in cases {
        let name = text(&case, "name");
        let operator = key_from(&case, "operator_seed_hex");
        let suspended: Receipt = serde_json::from_value(case["suspended_receipt"].clone()).unwrap();
        let threshold = case["threshold"].as_u64().unwrap() as u32;
        let roster: Vec<String> = serde_json::from_value(case["roster"].clone()).unwrap();

        let mut legs = Vec::new();
        for leg in case["legs"].as_array().unwrap() {
            let approver = key_from(leg, "approver_seed_hex");
            let expected_text = text(leg, "record_text");
            let record: ApproverRecord = serde_json::from_str(expected_text).unwrap();
            assert_eq!(record_text(&record), expected_text, "{name}: record text");
            let payload =
                quorum_cosign_payload(&suspended.content, threshold, &roster, &record).unwrap();
            assert_eq!(
                STANDARD.encode(&payload),
                text(leg, "payload_b64"),
                "{name}: payload"
            );
            let co_signature =
                quorum_cosign(&approver, &suspended.content, threshold, &roster, &record).unwrap();
            assert_eq!(
                STANDARD.encode(co_signature.to_bytes()),
                text(leg, "co_sig_b64"),
                "{name}: co-signature"
            );
            legs.push(QuorumLeg {
                record,
                approver_key: approver.verifying_key(),
                co_signature,
            });
        }

        let ours =
            assemble_quorum(&operator, &suspended.content, threshold, &roster, &legs).unwrap();
        let theirs: Receipt = serde_json::from_str(text(&case, "quorum_receipt_text")).unwrap();
        assert_eq!(ours, theirs, "{name}: assembled receipt");
        let verified = verify_receipt(ours);
        assert_eq!(verified.verdict.kind, VerdictKind::Valid, "{name}");
        assert_eq!(verified.verdict.trust_level, Some(TrustLevel::L1));
        assert_eq!(verified.quorum_keys.len(), legs.len());
        assert!(verified.approver_key.is_none());
    }
}

/// The legs of a `cosign` case, as the operator receives them.
fn legs_of(case: &Value) -> Vec<QuorumLeg> {
    case["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|leg| {
            let approver = key_from(leg, "approver_seed_hex");
            let co_signature: [u8; 64] = STANDARD
                .decode(text(leg, "co_sig_b64"))
                .unwrap()
                .try_into()
                .unwrap();
            QuorumLeg {
                record: serde_json::from_str(text(leg, "record_text")).unwrap(),
                approver_key: approver.verifying_key(),
                co_signature: Signature::from_bytes(&co_signature),
            }
        })
        .collect()
}

/// Every order of `0..n`.
fn orders(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    orders(n - 1)
        .into_iter()
        .flat_map(|shorter| {
            (0..n).map(move |at| {
                let mut order = shorter.clone();
                order.insert(at, n - 1);
                order
            })
        })
        .collect()
}

fn identities(content: &Content) -> Vec<&str> {
    let quorum = content.multi_approval.as_ref().unwrap();
    quorum
        .approvers
        .iter()
        .map(|r| r.approver_identity.as_str())
        .collect()
}

#[test]
fn assembly_sorts_the_records_by_key_and_keeps_the_legs_order() {
    let case = doc()["cosign"][1].clone();
    assert_eq!(text(&case, "name"), "3 of 3, legs in reverse key order");
    let operator = key_from(&case, "operator_seed_hex");
    let suspended: Receipt = serde_json::from_value(case["suspended_receipt"].clone()).unwrap();
    let roster: Vec<String> = serde_json::from_value(case["roster"].clone()).unwrap();
    let theirs: Receipt = serde_json::from_str(text(&case, "quorum_receipt_text")).unwrap();
    let legs = legs_of(&case);
    for order in orders(legs.len()) {
        let legs: Vec<QuorumLeg> = order.iter().map(|&i| legs[i].clone()).collect();
        let ours = assemble_quorum(&operator, &suspended.content, 3, &roster, &legs).unwrap();
        // The same content (records sorted by key) whatever the legs' order.
        assert_eq!(ours.content, theirs.content, "legs {order:?}");
        let entries: Vec<String> = ours.signatures[1..]
            .iter()
            .map(|s| s.public_key.clone())
            .collect();
        let given: Vec<String> = legs
            .iter()
            .map(|l| keys::public_key_b64(&l.approver_key))
            .collect();
        assert_eq!(entries, given, "legs {order:?}");
    }
    let sorted = identities(&theirs.content);
    assert!(sorted.windows(2).all(|w| w[0] < w[1]), "{sorted:?}");
}

#[test]
fn a_quorums_records_are_hashed_in_the_order_written() {
    let case = &doc()["cosign"][1];
    let genuine: Receipt = serde_json::from_str(text(case, "quorum_receipt_text")).unwrap();
    let mut reversed = genuine.clone();
    let quorum = reversed.content.multi_approval.as_mut().unwrap();
    quorum.approvers.reverse();
    let written = identities(&reversed.content)
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert!(
        canonical_bytes(&reversed.content).unwrap() != canonical_bytes(&genuine.content).unwrap(),
        "the canonical bytes follow the records' order"
    );

    // The old hash no longer covers them.
    let verdict = verify_receipt(reversed.clone()).verdict;
    assert_eq!(verdict.kind, VerdictKind::HashMismatch);

    // Re-hashed, the signatures still hold (the operator signs no records,
    // each leg only its own), and nothing reorders them on the way.
    reversed.content = canonical::seal(reversed.content).unwrap();
    assert_ne!(reversed.content.action_hash, genuine.content.action_hash);
    assert_eq!(identities(&reversed.content), written);
    let verified = verify_receipt(reversed);
    assert_eq!(verified.verdict.kind, VerdictKind::Valid);
    assert_eq!(verified.verdict.trust_level, Some(TrustLevel::L1));
    assert_eq!(identities(&verified.receipt.unwrap().content), written);

    // The order of the approver entries is not hashed and not read.
    let mut entries_moved = genuine.clone();
    entries_moved.signatures[1..].reverse();
    assert_eq!(
        verify_receipt(entries_moved).verdict.kind,
        VerdictKind::Valid
    );
}

#[test]
fn verdicts_on_reordered_quorums_are_the_vendors() {
    let cases = doc()["order"].as_array().unwrap().clone();
    // 2 of 3 (2 record orders) and 3 of 3 (6), entries both ways, the hash
    // kept and redone.
    assert_eq!(cases.len(), 2 * 2 * 2 + 6 * 2 * 2);
    let mut kinds = std::collections::BTreeSet::new();
    for case in &cases {
        let name = text(case, "name");
        let verdict = verify_receipt_bytes(text(case, "receipt_text").as_bytes()).verdict;
        assert_eq!(verdict.kind.as_str(), text(case, "expected_kind"), "{name}");
        assert_eq!(
            verdict.trust_level.map(TrustLevel::as_str),
            case["expected_trust_level"].as_str(),
            "{name}"
        );
        kinds.insert(text(case, "expected_kind"));
    }
    assert_eq!(
        kinds,
        ["HashMismatch", "Valid"].into_iter().collect(),
        "both outcomes are pinned"
    );
}

#[test]
fn verdicts_on_quorum_receipts_are_the_vendors() {
    let cases = doc()["verify"].as_array().unwrap().clone();
    assert!(cases.len() >= 40);
    for case in cases {
        let name = text(&case, "name");
        let verdict = verify_receipt_bytes(text(&case, "receipt_text").as_bytes()).verdict;
        assert_eq!(
            verdict.kind.as_str(),
            text(&case, "expected_kind"),
            "{name}"
        );
        // Where the vendor explains, we say the same words; where it says
        // nothing (SelfApproval, HashMismatch) we may say more.
        if let Some(detail) = case["expected_detail"].as_str() {
            assert_eq!(verdict.detail.as_deref(), Some(detail), "{name}");
        }
        assert_eq!(
            verdict.trust_level.map(TrustLevel::as_str),
            case["expected_trust_level"].as_str(),
            "{name}"
        );
    }
}

#[test]
fn a_quorum_base_refuses_what_the_vendor_refuses() {
    let case = &doc()["cosign"][0];
    let suspended: Receipt = serde_json::from_value(case["suspended_receipt"].clone()).unwrap();
    let roster: Vec<String> = serde_json::from_value(case["roster"].clone()).unwrap();
    assert!(matches!(
        quorum_base(&suspended.content, 0, &roster),
        Err(PromoteError::Quorum(_))
    ));
    assert!(matches!(
        quorum_base(&suspended.content, 1, &[]),
        Err(PromoteError::Quorum(_))
    ));
    let base = quorum_base(&suspended.content, 2, &roster).unwrap();
    assert!(matches!(
        quorum_base(&base, 2, &roster),
        Err(PromoteError::NotL0("L1"))
    ));
    let sorted = &base.multi_approval.as_ref().unwrap().roster;
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "roster sorted");
}
