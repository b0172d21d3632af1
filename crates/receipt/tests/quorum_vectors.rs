//! The quorum (k-of-n) vectors, made with the vendor package by
//! `tests/oracle/quorum_vectors.py`: the bytes each approver signs, the
//! co-signatures, the assembled receipt, and the verdict on quorum receipts
//! broken one or two ways (kind, detail and trust level, in the vendor's order).

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
