//! Properties of signing and verification over generated contents.

use heso_receipt::*;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

prop_compose! {
    fn arb_content(agent: String)(
        verb in prop::sample::select(Verb::ALL.to_vec()),
        tool in "\\PC{1,20}",
        fields in prop::collection::btree_map("\\PC{0,10}", arb_json(), 0..8),
        rule_id in "[a-z.\\-]{1,20}",
        rule_display in "\\PC{0,60}",
        condition in arb_json(),
        host in proptest::option::of("[a-z.]{1,20}"),
    ) -> Content {
        let fields: Map<String, Value> = fields.into_iter().collect();
        let mut action = json!({"verb": verb.as_str(), "tool_name": tool, "workflow": "w",
            "account": "a", "fields": fields});
        if let Some(host) = host {
            action["target_host"] = host.into();
        }
        serde_json::from_value(json!({
            "action_version": ACTION_VERSION,
            "captured_at": "2026-11-21T10:00:00Z",
            "agent_identity": agent,
            "action": action,
            "policy": {"rule_id": rule_id, "rule_display": rule_display,
                "matched_conditions": [{"field": "amount", "op": "gt", "value": condition}],
                "decision_path": "require_approval"},
            "trust_level": "L0",
            "action_hash": "",
        })).unwrap()
    }
}

fn operator() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn approver() -> SigningKey {
    SigningKey::from_bytes(&[4; 32])
}

fn agent() -> String {
    keys::public_key_b64(&operator().verifying_key())
}

fn l1_of(l0: &Receipt) -> Receipt {
    let record = ApproverRecord {
        decision: Decision::Approved,
        approver_identity: keys::public_key_b64(&approver().verifying_key()),
        reason: String::new(),
        decided_at: "2026-11-21T10:01:00Z".into(),
        sla_minutes: None,
        unsigned: Default::default(),
    };
    let co_sig = cosign(&approver(), &l0.content, &record).unwrap();
    assemble_l1(
        &operator(),
        &l0.content,
        &record,
        &approver().verifying_key(),
        &co_sig,
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn signed_then_verified_is_valid(content in arb_content(agent())) {
        let l0 = sign_as_operator(&operator(), content).unwrap();
        let verdict = verify_receipt(l0.clone()).verdict;
        prop_assert_eq!(verdict.kind, VerdictKind::Valid);
        prop_assert_eq!(verdict.trust_level, Some(TrustLevel::L0));

        let verdict = verify_receipt_bytes(&serde_json::to_vec(&l1_of(&l0)).unwrap()).verdict;
        prop_assert_eq!(verdict.kind, VerdictKind::Valid);
        prop_assert_eq!(verdict.trust_level, Some(TrustLevel::L1));
        prop_assert!(!verdict.approver_identity_mismatch);
    }

    /// A single flipped bit anywhere in a signed receipt's text is never
    /// `Valid`, unless the flip left the signed statement itself unchanged
    /// (say `\u001f` written `\u001F`): the canonical bytes are what is signed.
    #[test]
    fn a_changed_byte_is_never_valid(
        content in arb_content(agent()),
        l1 in any::<bool>(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let l0 = sign_as_operator(&operator(), content).unwrap();
        let original = if l1 { l1_of(&l0) } else { l0 };
        let mut bytes = serde_json::to_vec(&original).unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let verified = verify_receipt_bytes(&bytes);
        if verified.verdict.is_valid() {
            let changed = verified.receipt.unwrap();
            prop_assert_eq!(
                canonical_bytes(&changed.content).unwrap(),
                canonical_bytes(&original.content).unwrap(),
                "a changed statement verified: byte {}", i
            );
        }
    }

    #[test]
    fn a_changed_token_byte_is_refused(
        content in arb_content(agent()),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let canonical = canonical_bytes(&content).unwrap();
        let token = ApprovalToken::sign(&approver(), [5; 32], 100, TokenDecision::Approved,
            &content.policy.rule_id, &canonical);
        let bytes = token.to_bytes();
        prop_assert_eq!(ApprovalToken::parse(&bytes).unwrap(), token.clone());
        let requirements = TokenRequirements {
            canonical_suspended: &canonical,
            now_unix_secs: 100,
            required_scope: &content.policy.rule_id,
            required_decision: TokenDecision::Approved,
            registered_keys: &[approver().verifying_key()],
        };
        prop_assert!(token::verify(&bytes, &requirements, |_| false).is_ok());
        let mut changed = bytes.clone();
        let i = at.index(changed.len());
        changed[i] ^= 1 << bit;
        prop_assert!(token::verify(&changed, &requirements, |_| false).is_err(), "byte {}", i);
    }
}
