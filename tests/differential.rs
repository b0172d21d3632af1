//! Differential tests: our protocol crate against the vendor package
//! (`heso==0.5.1`) on generated input. Same canonical bytes and hashes, each
//! side's signatures verify on the other, and the same verdict on tampered
//! receipts.
//!
//! `HESO_DIFF_SEED` and `HESO_DIFF_CASES` replay or widen a run.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_interop_tests::diff::{
    accepted_contents, approver_record, cases, key, ours_verdict, seed,
};
use heso_interop_tests::gen::Gen;
use heso_interop_tests::oracle::Oracle;
use heso_receipt::*;
use rand::Rng;
use serde_json::{json, Value};

#[test]
fn canonical_bytes_and_hash_match_the_vendor() {
    let mut oracle = Oracle::start();
    let mut gen = Gen::new(seed());
    let (_, _) = key(&mut gen.rng);
    let total = cases(1200);
    let (mut agreed_ok, mut agreed_err) = (0, 0);
    for i in 0..total {
        let text = gen.content("O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=", false);
        let theirs = oracle.ask(json!({"op": "canon", "content": text}));
        let ours = parse_content(text.as_bytes()).and_then(|c| {
            let bytes = canonical_bytes(&c)?;
            Ok((bytes, action_hash(&c)?))
        });
        match (&ours, theirs["ok"].as_bool().unwrap()) {
            (Ok((bytes, hash)), true) => {
                let expected = STANDARD
                    .decode(theirs["canonical_b64"].as_str().unwrap())
                    .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(bytes),
                    String::from_utf8_lossy(&expected),
                    "case {i}: canonical bytes differ for {text}"
                );
                assert_eq!(hash, theirs["action_hash"].as_str().unwrap(), "case {i}");
                agreed_ok += 1;
            }
            (Err(_), false) => agreed_err += 1,
            (ours, _) => panic!("case {i}: ours {ours:?}, vendor {theirs} for {text}"),
        }
    }
    eprintln!("{agreed_ok} identical, {agreed_err} refused by both");
    assert!(
        agreed_ok >= total * 5 / 6,
        "too few comparable cases: {agreed_ok} of {total}"
    );
}

/// Generated contents the vendor accepts, for the signing tests.
#[test]
fn signatures_made_here_verify_in_the_vendor_and_back() {
    let mut oracle = Oracle::start();
    let mut gen = Gen::new(seed() ^ 1);
    let (operator, operator_hex) = key(&mut gen.rng);
    let (approver, _) = key(&mut gen.rng);
    let agent = keys::public_key_b64(&operator.verifying_key());
    let approver_b64 = keys::public_key_b64(&approver.verifying_key());

    for (i, text) in accepted_contents(&mut gen, &mut oracle, &agent, cases(250) / 2)
        .iter()
        .enumerate()
    {
        let content = parse_content(text.as_bytes()).unwrap();

        // Ours signs L0 -> vendor says Valid L0; the vendor's L0 is ours, byte for byte.
        let l0 = sign_as_operator(&operator, content.clone()).unwrap();
        let l0_text = serde_json::to_string(&l0).unwrap();
        assert_eq!(
            oracle.verdict(&l0_text),
            ("Valid".into(), Some("L0".into())),
            "case {i}"
        );
        let vendor_l0 =
            oracle.must(json!({"op": "sign", "seed_hex": operator_hex, "content": text}));
        let vendor_l0: Receipt =
            serde_json::from_str(vendor_l0["receipt"].as_str().unwrap()).unwrap();
        assert_eq!(vendor_l0.signatures, l0.signatures, "case {i}");
        assert_eq!(
            ours_verdict(&serde_json::to_string(&vendor_l0).unwrap()),
            ("Valid".into(), Some("L0".into()))
        );

        // Co-sign payload, then L1 assembled on each side verifies on the other.
        let decision = if i % 3 == 0 {
            Decision::Rejected
        } else {
            Decision::Approved
        };
        let record = approver_record(&approver, decision, "checked — ok ✓");
        let record_json = record_text(&record);
        let payload = cosign_payload(&l0.content, &record).unwrap();
        let theirs = oracle.must(
            json!({"op": "cosign_payload", "content": l0_text_content(&l0), "record": record_json}),
        );
        assert_eq!(STANDARD.encode(&payload), theirs["payload_b64"], "case {i}");

        let co_sig = cosign(&approver, &l0.content, &record).unwrap();
        let ours_l1 = assemble_l1(
            &operator,
            &l0.content,
            &record,
            &approver.verifying_key(),
            &co_sig,
        )
        .unwrap();
        let ours_l1_text = serde_json::to_string(&ours_l1).unwrap();
        assert_eq!(
            oracle.verdict(&ours_l1_text),
            ("Valid".into(), Some("L1".into())),
            "case {i}"
        );

        let vendor_l1 = oracle.must(json!({
            "op": "assemble_l1", "operator_seed_hex": operator_hex,
            "content": l0_text_content(&l0), "record": record_json,
            "approver_pubkey_b64": approver_b64, "co_sig_b64": STANDARD.encode(co_sig.to_bytes()),
        }));
        let vendor_l1_text = vendor_l1["receipt"].as_str().unwrap();
        let verified = verify_receipt_bytes(vendor_l1_text.as_bytes());
        assert_eq!(verified.verdict.kind, VerdictKind::Valid, "case {i}");
        assert_eq!(verified.verdict.trust_level, Some(TrustLevel::L1));
        assert!(!verified.verdict.approver_identity_mismatch);
        let vendor_l1: Receipt = serde_json::from_str(vendor_l1_text).unwrap();
        assert_eq!(vendor_l1.content, ours_l1.content, "case {i}");
        assert_eq!(vendor_l1.signatures, ours_l1.signatures, "case {i}");

        // The approval token verifies in the vendor, and its refusals match ours.
        check_token(&mut oracle, &approver, &l0.content, decision, i);
    }
}

fn l0_text_content(receipt: &Receipt) -> String {
    serde_json::to_string(&receipt.content).unwrap()
}

fn check_token(
    oracle: &mut Oracle,
    approver: &SigningKey,
    content: &Content,
    decision: Decision,
    i: usize,
) {
    let canonical = canonical_bytes(content).unwrap();
    let vote = match decision {
        Decision::Rejected => TokenDecision::Rejected,
        _ => TokenDecision::Approved,
    };
    let nonce = [i as u8; 32];
    let token = ApprovalToken::sign(
        approver,
        nonce,
        2_000_000_000,
        vote,
        &content.policy.rule_id,
        &canonical,
    );
    let registered = keys::public_key_b64(&approver.verifying_key());
    let ask = |oracle: &mut Oracle, now: u64, seen: Vec<String>, scope: &str, required: &str| {
        oracle.ask(json!({
            "op": "verify_token", "token_b64": STANDARD.encode(token.to_bytes()),
            "canonical_b64": STANDARD.encode(&canonical), "now": now,
            "seen_nonces_b64": seen, "scope": scope, "decision": required,
            "registered_keys_b64": [registered],
        }))
    };
    let ok = ask(
        oracle,
        1_900_000_000,
        vec![],
        &content.policy.rule_id,
        vote.as_str(),
    );
    assert_eq!(ok["ok"], true, "case {i}: {ok}");
    let expired = ask(
        oracle,
        2_000_000_001,
        vec![],
        &content.policy.rule_id,
        vote.as_str(),
    );
    assert!(expired["error"].as_str().unwrap().contains("Expired"));
    let replay = ask(
        oracle,
        1,
        vec![STANDARD.encode(nonce)],
        &content.policy.rule_id,
        vote.as_str(),
    );
    assert!(replay["error"].as_str().unwrap().contains("ReplayedNonce"));

    let requirements = TokenRequirements {
        canonical_suspended: &canonical,
        now_unix_secs: 1_900_000_000,
        required_scope: &content.policy.rule_id,
        required_decision: vote,
        registered_keys: &[approver.verifying_key()],
    };
    assert!(token::verify(&token.to_bytes(), &requirements, |_| false).is_ok());
    assert_eq!(
        token::verify(&token.to_bytes(), &requirements, |n| n == &nonce),
        Err(TokenError::ReplayedNonce)
    );
}

/// Structured tampering that must give the same verdict on both sides.
fn structured_mutations(
    l0: &Receipt,
    l1: &Receipt,
    operator: &SigningKey,
) -> Vec<(&'static str, String)> {
    let to_value = |r: &Receipt| serde_json::to_value(r).unwrap();
    let mut out = Vec::new();
    let mut push = |name: &'static str, base: &Receipt, edit: &dyn Fn(&mut Value)| {
        let mut v = to_value(base);
        edit(&mut v);
        out.push((name, v.to_string()));
    };
    push("duplicate operator", l0, &|v| {
        let first = v["signatures"][0].clone();
        v["signatures"].as_array_mut().unwrap().push(first)
    });
    push("unknown role", l0, &|v| {
        let mut extra = v["signatures"][0].clone();
        extra["key_id"] = "witness".into();
        v["signatures"].as_array_mut().unwrap().push(extra)
    });
    push("RSA", l0, &|v| {
        v["signatures"][0]["algorithm"] = "RSA".into()
    });
    push("signature not base64", l0, &|v| {
        v["signatures"][0]["signature"] = "!!!".into()
    });
    push("short signature", l0, &|v| {
        v["signatures"][0]["signature"] = "eHh4eA==".into()
    });
    push("key not base64", l0, &|v| {
        v["signatures"][0]["public_key"] = "!!!".into()
    });
    push("short key", l0, &|v| {
        v["signatures"][0]["public_key"] = "eHh4eA==".into()
    });
    push("unpadded key", l0, &|v| {
        let key = v["signatures"][0]["public_key"]
            .as_str()
            .unwrap()
            .trim_end_matches('=')
            .to_owned();
        v["signatures"][0]["public_key"] = key.into()
    });
    push("old version", l0, &|v| {
        v["content"]["action_version"] = "heso-action/1.0".into()
    });
    push("wrong alg", l0, &|v| {
        v["alg"] = "heso-action/v9+ed25519".into()
    });
    push("wrong alg and version", l0, &|v| {
        v["alg"] = "x".into();
        v["content"]["action_version"] = "y".into()
    });
    push("unknown envelope field", l0, &|v| v["zzz"] = 1.into());
    push("unknown content field", l0, &|v| {
        v["content"]["zzz"] = 1.into()
    });
    push("unknown signature field", l0, &|v| {
        v["signatures"][0]["zzz"] = 1.into()
    });
    push("signatures null", l0, &|v| v["signatures"] = Value::Null);
    push("no signatures", l0, &|v| v["signatures"] = json!([]));
    push("approver only", l0, &|v| {
        v["signatures"][0]["key_id"] = "approver".into()
    });
    push("uppercase hash", l0, &|v| {
        let hash = v["content"]["action_hash"].as_str().unwrap().to_uppercase();
        v["content"]["action_hash"] = hash.into()
    });
    push("claims L1", l0, &|v| {
        v["content"]["trust_level"] = "L1".into()
    });
    push("L1 approver first", l1, &|v| {
        v["signatures"].as_array_mut().unwrap().reverse()
    });
    push("L1 duplicate approver", l1, &|v| {
        let second = v["signatures"][1].clone();
        v["signatures"].as_array_mut().unwrap().push(second)
    });
    push("L1 approver key swapped for operator", l1, &|v| {
        v["signatures"][1]["public_key"] = v["signatures"][0]["public_key"].clone()
    });
    push("L1 without approver", l1, &|v| {
        v["signatures"].as_array_mut().unwrap().pop();
    });
    push("L1 claims L0", l1, &|v| {
        v["content"]["trust_level"] = "L0".into()
    });
    push("not an object", l0, &|v| *v = json!([]));

    // A real self-approval: the operator co-signs its own action.
    let record = approver_record(operator, Decision::Approved, "");
    let co_sig = cosign(operator, &l0.content, &record).unwrap();
    let selfie = assemble_l1(
        operator,
        &l0.content,
        &record,
        &operator.verifying_key(),
        &co_sig,
    )
    .unwrap();
    out.push(("self-approval", serde_json::to_string(&selfie).unwrap()));

    // Bad redaction markers, correctly signed.
    for (name, mode, algorithm, commitment) in [
        (
            "commitment uppercase",
            "commit_and_reveal",
            "salted-blake3/v1",
            "A".repeat(64),
        ),
        (
            "commitment short",
            "commit_and_reveal",
            "salted-blake3/v1",
            "ab".into(),
        ),
        (
            "commit algorithm wrong",
            "commit_and_reveal",
            "drop/v1",
            "a".repeat(64),
        ),
        (
            "destructive with commitment",
            "destructive",
            "drop/v1",
            "ab".into(),
        ),
        (
            "destructive other algorithm",
            "destructive",
            "x",
            String::new(),
        ),
    ] {
        let mut content = l0.content.clone();
        content.redaction = Some(
            serde_json::from_value(json!({"mode": mode, "markers": [
                {"field_path": "card", "algorithm": algorithm, "commitment": commitment}]}))
            .unwrap(),
        );
        let receipt = sign_as_operator(operator, content).unwrap();
        out.push((name, serde_json::to_string(&receipt).unwrap()));
    }

    // Signed by a key that is not the content's agent_identity.
    let stranger = SigningKey::from_bytes(&[42; 32]);
    let foreign = sign_as_operator(&stranger, l0.content.clone()).unwrap();
    out.push((
        "signer is not agent_identity",
        serde_json::to_string(&foreign).unwrap(),
    ));
    out
}

#[test]
fn verdicts_match_the_vendor_on_tampered_receipts() {
    let mut oracle = Oracle::start();
    let mut gen = Gen::new(seed() ^ 2);
    let (operator, _) = key(&mut gen.rng);
    let (approver, _) = key(&mut gen.rng);
    let agent = keys::public_key_b64(&operator.verifying_key());
    let contents = accepted_contents(&mut gen, &mut oracle, &agent, 12);
    let mut compared = 0;
    for text in &contents {
        let l0 = sign_as_operator(&operator, parse_content(text.as_bytes()).unwrap()).unwrap();
        let record = approver_record(&approver, Decision::Approved, "");
        let co_sig = cosign(&approver, &l0.content, &record).unwrap();
        let l1 = assemble_l1(
            &operator,
            &l0.content,
            &record,
            &approver.verifying_key(),
            &co_sig,
        )
        .unwrap();

        for (name, mutated) in structured_mutations(&l0, &l1, &operator) {
            assert_eq!(
                ours_verdict(&mutated),
                oracle.verdict(&mutated),
                "{name}: {mutated}"
            );
            compared += 1;
        }
        for base in [&l0, &l1] {
            let bytes = serde_json::to_vec(base).unwrap();
            for _ in 0..cases(400) / 12 {
                let mut mutated = bytes.clone();
                let at = gen.rng.random_range(0..mutated.len());
                mutated[at] ^= 1 << gen.rng.random_range(0..8);
                let Ok(text) = String::from_utf8(mutated) else {
                    continue;
                };
                assert_eq!(
                    ours_verdict(&text),
                    oracle.verdict(&text),
                    "flip at {at}: {text}"
                );
                compared += 1;
            }
        }
    }
    eprintln!("{compared} tampered receipts, same verdict");
}
