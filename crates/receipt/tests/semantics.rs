//! Parsing rules, flags and typed errors that the vectors do not pin.

use heso_receipt::*;
use serde_json::{json, Value};

fn operator() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

fn approver() -> SigningKey {
    SigningKey::from_bytes(&[2; 32])
}

fn content_json() -> Value {
    json!({
        "action_version": ACTION_VERSION,
        "captured_at": "2026-11-21T10:00:00Z",
        "agent_identity": keys::public_key_b64(&operator().verifying_key()),
        "action": {"verb": "payment", "tool_name": "stripe.transfers.create", "workflow": "payouts",
                   "account": "acct_1", "fields": {"amount": 4200, "currency": "USD", "payee": "Globex LLC"}},
        "policy": {"rule_id": "pay-cap", "rule_display": "Require approval to pay over $1,000",
                   "matched_conditions": [{"field": "amount", "op": "gt", "value": 1000}],
                   "decision_path": "require_approval"},
        "trust_level": "L0",
        "action_hash": ""
    })
}

fn content(edit: impl FnOnce(&mut Value)) -> Result<Content, CanonicalError> {
    let mut v = content_json();
    edit(&mut v);
    parse_content(v.to_string().as_bytes())
}

fn record(identity: String) -> ApproverRecord {
    ApproverRecord {
        decision: Decision::Approved,
        approver_identity: identity,
        reason: "ok".into(),
        decided_at: "2026-11-21T10:01:00Z".into(),
        sla_minutes: Some(30),
        unsigned: Default::default(),
    }
}

#[test]
fn unknown_top_level_field_is_refused() {
    let err = content(|v| v["surprise"] = 1.into()).unwrap_err();
    assert!(err.0.contains("unknown field `surprise`"), "{err}");
}

#[test]
fn unsigned_action_fields_are_left_out_and_reported() {
    let plain = content(|_| {}).unwrap();
    let extra = content(|v| {
        v["action"]["payee_display"] = "Totally Legit Inc".into();
        v["policy"]["matched_conditions"][0]["note"] = "x".into();
    })
    .unwrap();
    assert_eq!(
        canonical_bytes(&plain).unwrap(),
        canonical_bytes(&extra).unwrap()
    );
    assert_eq!(
        extra.unsigned_paths(),
        ["action.payee_display", "policy.matched_conditions[0].note"]
    );

    // Signed without the extra value, shipped with it: valid, and flagged.
    let mut receipt = sign_as_operator(&operator(), plain).unwrap();
    receipt.content.action.unsigned = extra.action.unsigned.clone();
    let verdict = verify_receipt_bytes(&serde_json::to_vec(&with_extra(&receipt)).unwrap()).verdict;
    assert_eq!(verdict.kind, VerdictKind::Valid);
    assert_eq!(verdict.unsigned_paths, ["action.payee_display"]);
}

/// `unsigned` maps are never serialized, so put the extra value back by hand.
fn with_extra(receipt: &Receipt) -> Value {
    let mut v = serde_json::to_value(receipt).unwrap();
    for (k, val) in &receipt.content.action.unsigned {
        v["content"]["action"][k] = val.clone();
    }
    v
}

#[test]
fn null_optionals_read_as_absent() {
    let with_nulls = content(|v| {
        v["action"]["target_host"] = Value::Null;
        v["session_id"] = Value::Null;
        v["redaction"] = Value::Null;
    })
    .unwrap();
    assert_eq!(
        canonical_bytes(&with_nulls).unwrap(),
        canonical_bytes(&content(|_| {}).unwrap()).unwrap()
    );
    // A null inside `fields` is a value and stays.
    let null_field = content(|v| v["action"]["fields"]["memo"] = Value::Null).unwrap();
    assert!(String::from_utf8(canonical_bytes(&null_field).unwrap())
        .unwrap()
        .contains("\"memo\":null"));
}

#[test]
fn numbers_take_their_ecmascript_form() {
    let c = parse_content(
        content_json()
            .to_string()
            .replace("4200", "9007199254740993")
            .replace("1000", "-0.0")
            .as_bytes(),
    )
    .unwrap();
    let text = String::from_utf8(canonical_bytes(&c).unwrap()).unwrap();
    assert!(text.contains("\"amount\":9007199254740992"), "{text}");
    assert!(text.contains("\"value\":0}"), "{text}");
}

#[test]
fn promotion_refuses_what_is_not_awaiting_approval() {
    let rec = record(keys::public_key_b64(&approver().verifying_key()));
    let allow = content(|v| v["policy"]["decision_path"] = "allow".into()).unwrap();
    assert_eq!(
        promote_to_l1(&allow, &rec),
        Err(cosign::PromoteError::NotAwaitingApproval)
    );
    let l1 = promote_to_l1(&content(|_| {}).unwrap(), &rec).unwrap();
    assert_eq!(l1.trust_level, TrustLevel::L1);
    assert_eq!(l1.action_hash, action_hash(&l1).unwrap());
    assert_eq!(
        promote_to_l1(&l1, &rec),
        Err(cosign::PromoteError::NotL0("L1"))
    );
    // A gated action's session link is decided by a decision link: the
    // vendor refuses an L1 over it, so nothing here makes one.
    let link = content(|v| v["kind"] = "suspended".into()).unwrap();
    assert_eq!(
        promote_to_l1(&link, &rec),
        Err(cosign::PromoteError::SessionLink("suspended"))
    );
    assert_eq!(
        quorum_base(&link, 1, std::slice::from_ref(&rec.approver_identity)),
        Err(cosign::PromoteError::SessionLink("suspended"))
    );
    let action = content(|v| v["kind"] = "action".into()).unwrap();
    assert!(promote_to_l1(&action, &rec).is_ok());
}

#[test]
fn approver_identity_other_than_the_cosigner_is_flagged() {
    let l0 = sign_as_operator(&operator(), content(|_| {}).unwrap()).unwrap();
    let someone_else = keys::public_key_b64(&SigningKey::from_bytes(&[9; 32]).verifying_key());
    let rec = record(someone_else);
    let co_sig = cosign(&approver(), &l0.content, &rec).unwrap();
    let l1 = assemble_l1(
        &operator(),
        &l0.content,
        &rec,
        &approver().verifying_key(),
        &co_sig,
    )
    .unwrap();
    let verdict = verify_receipt(l1).verdict;
    assert_eq!(verdict.kind, VerdictKind::Valid);
    assert!(verdict.approver_identity_mismatch);
}

#[test]
fn token_checks_run_in_order_with_typed_errors() {
    let c = content(|_| {}).unwrap();
    let canonical = canonical_bytes(&c).unwrap();
    let token = ApprovalToken::sign(
        &approver(),
        [7; 32],
        1000,
        TokenDecision::Approved,
        "pay-cap",
        &canonical,
    );
    let bytes = token.to_bytes();
    let keys = [approver().verifying_key()];
    let req = |now, scope, decision, keys| TokenRequirements {
        canonical_suspended: &canonical,
        now_unix_secs: now,
        required_scope: scope,
        required_decision: decision,
        registered_keys: keys,
    };
    let ok = req(1000, "pay-cap", TokenDecision::Approved, &keys);
    assert!(
        token::verify(&bytes, &ok, |_| false).is_ok(),
        "valid through its expiry second"
    );
    assert_eq!(
        token::verify(
            &bytes,
            &req(1001, "pay-cap", TokenDecision::Approved, &keys),
            |_| true
        ),
        Err(TokenError::Expired {
            expiry: 1000,
            now: 1001
        })
    );
    assert_eq!(
        token::verify(&bytes, &ok, |n| n == &[7; 32]),
        Err(TokenError::ReplayedNonce)
    );
    assert!(matches!(
        token::verify(
            &bytes,
            &req(1, "other", TokenDecision::Rejected, &[]),
            |_| false
        ),
        Err(TokenError::OutOfScope { .. })
    ));
    assert_eq!(
        token::verify(
            &bytes,
            &req(1, "pay-cap", TokenDecision::Rejected, &[]),
            |_| false
        ),
        Err(TokenError::UnregisteredKey)
    );
    assert!(matches!(
        token::verify(
            &bytes,
            &req(1, "pay-cap", TokenDecision::Rejected, &keys),
            |_| false
        ),
        Err(TokenError::OutOfDecision { .. })
    ));
    let other =
        canonical_bytes(&content(|v| v["action"]["fields"]["amount"] = 4201.into()).unwrap())
            .unwrap();
    let mut wrong_body = req(1, "pay-cap", TokenDecision::Approved, &keys);
    wrong_body.canonical_suspended = &other;
    assert_eq!(
        token::verify(&bytes, &wrong_body, |_| false),
        Err(TokenError::InvalidSignature)
    );

    let mut bad_tag = bytes.clone();
    bad_tag[40] = 3;
    assert_eq!(
        ApprovalToken::parse(&bad_tag),
        Err(TokenError::InvalidDecision(3))
    );
    assert!(matches!(
        ApprovalToken::parse(&bytes[..bytes.len() - 1]),
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(
        ApprovalToken::parse(&[bytes.as_slice(), b"x"].concat()),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn fingerprint_is_the_vendors() {
    // heso._core.signer_fingerprint of the zero-seed key.
    let key = SigningKey::from_bytes(&[0; 32]).verifying_key();
    assert_eq!(
        keys::fingerprint(&key),
        "heso:51f1365add907c3dcaead8fae90cfe55"
    );
}
