//! Every case in the vendor-produced vectors (`tests/vectors/`, copied from
//! the project's shared vectors), reproduced byte for byte.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_receipt::*;
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap().clone();
    assert!(!cases.is_empty(), "{name} has no cases");
    cases
}

fn str_of<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing"))
}

fn seed(case: &Value, key: &str) -> SigningKey {
    let bytes: [u8; 32] = hex::decode(str_of(case, key)).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&bytes)
}

#[test]
fn canonical_bytes_and_action_hash() {
    for case in load("canonical.json") {
        let content = parse_content(str_of(&case, "content_text").as_bytes()).unwrap();
        let expected = STANDARD.decode(str_of(&case, "canonical_b64")).unwrap();
        let canonical = canonical_bytes(&content).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&canonical),
            String::from_utf8_lossy(&expected),
            "{}",
            case["name"]
        );
        assert_eq!(action_hash(&content).unwrap(), str_of(&case, "action_hash"));
    }
}

#[test]
fn cosign_payload_signature_token_and_assembly() {
    for case in load("cosign.json") {
        let name = str_of(&case, "name");
        let operator = seed(&case, "operator_seed_hex");
        let approver = seed(&case, "approver_seed_hex");
        assert_eq!(
            keys::public_key_b64(&approver.verifying_key()),
            str_of(&case, "approver_public_key")
        );
        let suspended: Receipt = serde_json::from_value(case["suspended_receipt"].clone()).unwrap();
        assert!(
            verify_receipt(suspended.clone()).verdict.is_valid(),
            "{name}"
        );

        // Our own operator signature over the same body is the vendor's, byte for byte.
        let resigned = sign_as_operator(&operator, suspended.content.clone()).unwrap();
        assert_eq!(resigned, suspended, "{name}: operator signature");

        let record_text_expected = str_of(&case, "approver_record_text");
        let record: ApproverRecord = serde_json::from_str(record_text_expected).unwrap();
        assert_eq!(
            record_text(&record),
            record_text_expected,
            "{name}: record text"
        );

        let payload = cosign_payload(&suspended.content, &record).unwrap();
        assert_eq!(
            STANDARD.encode(&payload),
            str_of(&case, "l1_cosign_payload_b64"),
            "{name}: co-sign payload"
        );
        let co_sig = cosign(&approver, &suspended.content, &record).unwrap();
        assert_eq!(
            STANDARD.encode(co_sig.to_bytes()),
            str_of(&case, "co_sig_b64"),
            "{name}: co-signature"
        );

        let token_case = &case["token"];
        let nonce: [u8; 32] = hex::decode(str_of(token_case, "nonce_hex"))
            .unwrap()
            .try_into()
            .unwrap();
        let decision = match str_of(token_case, "decision") {
            "approved" => TokenDecision::Approved,
            "rejected" => TokenDecision::Rejected,
            other => panic!("decision {other}"),
        };
        let expiry = token_case["expiry_unix_secs"].as_u64().unwrap();
        let scope = str_of(token_case, "scope");
        let canonical = canonical_bytes(&suspended.content).unwrap();
        let token = ApprovalToken::sign(&approver, nonce, expiry, decision, scope, &canonical);
        let token_bytes = token.to_bytes();
        assert_eq!(
            STANDARD.encode(&token_bytes),
            str_of(token_case, "token_b64"),
            "{name}: token"
        );
        let requirements = TokenRequirements {
            canonical_suspended: &canonical,
            now_unix_secs: expiry,
            required_scope: scope,
            required_decision: decision,
            registered_keys: &[approver.verifying_key()],
        };
        assert_eq!(
            token::verify(&token_bytes, &requirements, |_| false).unwrap(),
            token
        );

        if let Some(expected_l1) = case.get("l1_receipt") {
            let expected: Receipt = serde_json::from_value(expected_l1.clone()).unwrap();
            let l1 = assemble_l1(
                &operator,
                &suspended.content,
                &record,
                &approver.verifying_key(),
                &co_sig,
            )
            .unwrap();
            assert_eq!(l1, expected, "{name}: assembled L1");
            let verified = verify_receipt(l1);
            assert_eq!(verified.verdict.kind, VerdictKind::Valid);
            assert_eq!(verified.verdict.trust_level, Some(TrustLevel::L1));
            assert!(!verified.verdict.approver_identity_mismatch);
        }
    }
}

#[test]
fn verdicts() {
    for case in load("verify.json") {
        let name = str_of(&case, "name");
        let verdict = verify_receipt_bytes(str_of(&case, "receipt_text").as_bytes()).verdict;
        assert_eq!(
            verdict.kind.as_str(),
            str_of(&case, "expected_kind"),
            "{name}"
        );
        assert_eq!(
            verdict.trust_level.map(TrustLevel::as_str),
            case["expected_trust_level"].as_str(),
            "{name}"
        );
        if let Some(detail) = case["detail"].as_str() {
            assert_eq!(verdict.detail.as_deref(), Some(detail), "{name}");
        }
    }
}
