//! `cargo bench -p heso-receipt`: the protocol's hot paths.

use criterion::{criterion_group, criterion_main, Criterion};
use heso_receipt::*;
use std::hint::black_box;

fn payment_content(operator: &SigningKey) -> Content {
    let json = serde_json::json!({
        "action_version": ACTION_VERSION,
        "captured_at": "2026-01-14T18:04:31Z",
        "agent_identity": keys::public_key_b64(&operator.verifying_key()),
        "action": {
            "verb": "payment", "tool_name": "stripe.transfers.create",
            "target_host": "api.stripe.com", "workflow": "vendor-payouts", "account": "acct_19",
            "fields": {"amount": 4200, "currency": "USD", "payee": "Globex LLC",
                       "memo": "Invoice 2026-0114 — net 30", "card": "[redacted]"}
        },
        "policy": {
            "rule_id": "pay-cap", "rule_display": "Require approval to pay over $1,000",
            "matched_conditions": [{"field": "amount", "op": "gt", "value": 1000}],
            "decision_path": "require_approval"
        },
        "trust_level": "L0",
        "action_hash": ""
    });
    serde_json::from_value(json).unwrap()
}

fn record(approver: &SigningKey) -> ApproverRecord {
    ApproverRecord {
        decision: Decision::Approved,
        approver_identity: keys::public_key_b64(&approver.verifying_key()),
        reason: "vendor invoice checked".into(),
        decided_at: "2026-01-14T18:10:00Z".into(),
        sla_minutes: Some(30),
        unsigned: Default::default(),
    }
}

fn benches(c: &mut Criterion) {
    let operator = SigningKey::from_bytes(&[0; 32]);
    let approver = SigningKey::from_bytes(&[7; 32]);
    let content = payment_content(&operator);
    let l0 = sign_as_operator(&operator, content.clone()).unwrap();
    let record = record(&approver);
    let co_sig = cosign(&approver, &l0.content, &record).unwrap();
    let l1 = assemble_l1(
        &operator,
        &l0.content,
        &record,
        &approver.verifying_key(),
        &co_sig,
    )
    .unwrap();
    let l0_json = serde_json::to_vec(&l0).unwrap();
    let l1_json = serde_json::to_vec(&l1).unwrap();

    let mut sealed = l0.content.clone();
    c.bench_function("canonicalize+hash", |b| {
        b.iter(|| {
            canonical::hash_hex(
                &canonical::canonical_bytes_in_place(black_box(&mut sealed)).unwrap(),
            )
        })
    });
    c.bench_function("co-sign (payload + signature + token)", |b| {
        b.iter(|| {
            let signature = cosign(&approver, black_box(&l0.content), &record).unwrap();
            let canonical = canonical_bytes(&l0.content).unwrap();
            let token = ApprovalToken::sign(
                &approver,
                [9; 32],
                1_768_414_800,
                TokenDecision::Approved,
                "pay-cap",
                &canonical,
            );
            (signature, token.to_bytes())
        })
    });
    c.bench_function("verify L0 (parse + gates)", |b| {
        b.iter(|| assert!(verify_receipt_bytes(black_box(&l0_json)).verdict.is_valid()))
    });
    c.bench_function("verify L1 (parse + gates)", |b| {
        b.iter(|| assert!(verify_receipt_bytes(black_box(&l1_json)).verdict.is_valid()))
    });
}

criterion_group!(receipt, benches);

fn primitives(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let bytes = public.to_bytes();
    let message = vec![42u8; 600];
    let signature = keys::sign_in_domain(&key, keys::APPROVAL_DOMAIN, &message);
    c.bench_function("ed25519 verify_strict (600 B)", |b| {
        b.iter(|| {
            keys::verify_in_domain(
                &public,
                keys::APPROVAL_DOMAIN,
                black_box(&message),
                &signature,
            )
        })
    });
    c.bench_function("ed25519 key decompress", |b| {
        b.iter(|| VerifyingKey::from_bytes(black_box(&bytes)).unwrap())
    });
}

criterion_group!(primitive, primitives);
criterion_main!(receipt, primitive);
