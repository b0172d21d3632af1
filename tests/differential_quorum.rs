//! Differential tests of k-of-n quorum receipts: our protocol crate against
//! the vendor package (`heso==0.5.1`) on generated contents, rosters and legs.
//! Same co-sign bytes and assembled receipts, and the same verdict (kind,
//! trust level, and the vendor's words where it gives them) on quorums broken
//! one to three ways at once, on bit flips, and on genuine quorums whose
//! records and approver entries are put in every order (hash kept or redone).
//!
//! `HESO_DIFF_SEED` and `HESO_DIFF_CASES` replay or widen a run.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_interop_tests::diff::{
    accepted_contents, assert_same_verdict, cases, key, ours_verdict, permutations, reordered, seed,
};
use heso_interop_tests::gen::Gen;
use heso_interop_tests::oracle::Oracle;
use heso_receipt::keys::{public_key_b64, sign_in_domain, APPROVAL_DOMAIN, OPERATOR_DOMAIN};
use heso_receipt::*;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};

/// A roster of `n` approvers, the threshold, and the legs that sign.
struct Quorum {
    approvers: Vec<SigningKey>,
    threshold: u32,
    roster: Vec<String>,
    signers: Vec<usize>,
}

fn random_quorum(gen: &mut Gen) -> Quorum {
    let n = gen.rng.random_range(1..=5);
    let threshold = gen.rng.random_range(1..=n);
    let signing = gen.rng.random_range(threshold..=n);
    shaped_quorum(gen, n, threshold, signing)
}

/// `signing` of `n` approvers sign, in a random order; the roster is shuffled.
fn shaped_quorum(gen: &mut Gen, n: usize, threshold: usize, signing: usize) -> Quorum {
    let approvers: Vec<SigningKey> = (0..n).map(|_| key(&mut gen.rng).0).collect();
    let mut roster: Vec<String> = approvers
        .iter()
        .map(|k| public_key_b64(&k.verifying_key()))
        .collect();
    roster.shuffle(&mut gen.rng);
    let mut signers: Vec<usize> = (0..n).collect();
    signers.shuffle(&mut gen.rng);
    signers.truncate(signing);
    Quorum {
        approvers,
        threshold: threshold as u32,
        roster,
        signers,
    }
}

fn record(gen: &mut Gen, approver: &SigningKey, decision: Decision) -> ApproverRecord {
    let reason: String = serde_json::from_str(&gen.string(24)).unwrap();
    ApproverRecord {
        decision,
        approver_identity: public_key_b64(&approver.verifying_key()),
        reason,
        decided_at: "2026-11-27T10:00:00Z".to_owned(),
        sla_minutes: gen.rng.random_bool(0.5).then_some(30),
        unsigned: Default::default(),
    }
}

#[test]
fn quorums_made_here_are_the_vendors_byte_for_byte() {
    let mut oracle = Oracle::start();
    let mut gen = Gen::new(seed() ^ 0x51);
    let (operator, operator_hex) = key(&mut gen.rng);
    let agent = public_key_b64(&operator.verifying_key());
    for (i, text) in accepted_contents(&mut gen, &mut oracle, &agent, cases(60))
        .iter()
        .enumerate()
    {
        let suspended = sign_as_operator(&operator, parse_content(text.as_bytes()).unwrap())
            .unwrap()
            .content;
        let content_text = serde_json::to_string(&suspended).unwrap();
        let quorum = random_quorum(&mut gen);
        let mut legs = Vec::new();
        let mut parts = Vec::new();
        for &s in &quorum.signers {
            let approver = &quorum.approvers[s];
            let record = record(&mut gen, approver, Decision::Approved);
            let ours = quorum_cosign_payload(&suspended, quorum.threshold, &quorum.roster, &record)
                .unwrap();
            let theirs = oracle.must(json!({
                "op": "quorum_cosign_payload", "content": content_text,
                "threshold": quorum.threshold, "roster": quorum.roster,
                "record": record_text(&record),
            }));
            assert_eq!(STANDARD.encode(&ours), theirs["payload_b64"], "case {i}");
            let co_signature = quorum_cosign(
                approver,
                &suspended,
                quorum.threshold,
                &quorum.roster,
                &record,
            )
            .unwrap();
            parts.push(json!({
                "record": record_text(&record),
                "approver_pubkey_b64": public_key_b64(&approver.verifying_key()),
                "co_sig_b64": STANDARD.encode(co_signature.to_bytes()),
            }));
            legs.push(QuorumLeg {
                record,
                approver_key: approver.verifying_key(),
                co_signature,
            });
        }
        let ours = assemble_quorum(
            &operator,
            &suspended,
            quorum.threshold,
            &quorum.roster,
            &legs,
        )
        .unwrap();
        let ours_text = serde_json::to_string(&ours).unwrap();
        assert_eq!(
            oracle.verdict(&ours_text),
            ("Valid".into(), Some("L1".into())),
            "case {i}: {ours_text}"
        );
        let theirs = oracle.must(json!({
            "op": "assemble_quorum", "operator_seed_hex": operator_hex,
            "content": content_text, "threshold": quorum.threshold,
            "roster": quorum.roster, "parts": parts,
        }));
        let theirs: Receipt = serde_json::from_str(theirs["receipt"].as_str().unwrap()).unwrap();
        assert_eq!(theirs, ours, "case {i}");
        let verified = verify_receipt(theirs);
        assert_eq!(verified.verdict.kind, VerdictKind::Valid, "case {i}");
        assert_eq!(verified.quorum_keys.len(), legs.len());
    }
}

/// The ways a quorum can be broken before it is signed.
#[derive(Debug, Clone, Copy)]
enum Defect {
    ThresholdZero,
    ThresholdAboveSigners,
    EmptyRoster,
    AlsoApproverDecision,
    StrangerSigns,
    OperatorSigns,
    OperatorOnRosterSigns,
    LegRejected,
    LegEscalated,
    DuplicateLeg,
    RecordWithoutSignature,
    SignatureWithoutRecord,
    RecordNamesAnotherKey,
    EmbeddedL0,
    LegOverFullContent,
}

const DEFECTS: [Defect; 15] = [
    Defect::ThresholdZero,
    Defect::ThresholdAboveSigners,
    Defect::EmptyRoster,
    Defect::AlsoApproverDecision,
    Defect::StrangerSigns,
    Defect::OperatorSigns,
    Defect::OperatorOnRosterSigns,
    Defect::LegRejected,
    Defect::LegEscalated,
    Defect::DuplicateLeg,
    Defect::RecordWithoutSignature,
    Defect::SignatureWithoutRecord,
    Defect::RecordNamesAnotherKey,
    Defect::EmbeddedL0,
    Defect::LegOverFullContent,
];

/// A quorum receipt signed the way the vendor signs one, over whatever
/// content, records and legs it is given (nothing is checked here).
struct Draft {
    content: Content,
    records: Vec<ApproverRecord>,
    /// Each leg: its key and the record it signs.
    legs: Vec<(SigningKey, ApproverRecord)>,
    /// Legs that sign the full content instead of their own record's body.
    over_full_content: bool,
}

impl Draft {
    fn sign(mut self, operator: &SigningKey) -> Receipt {
        let quorum = self.content.multi_approval.as_mut().unwrap();
        quorum.approvers = self.records.clone();
        let content = canonical::seal(self.content).unwrap();
        let with = |records: Vec<ApproverRecord>| {
            let mut body = content.clone();
            body.multi_approval.as_mut().unwrap().approvers = records;
            canonical_bytes(&body).unwrap()
        };
        let mut signatures = vec![SignatureEntry {
            algorithm: "Ed25519".into(),
            key_id: "operator".into(),
            public_key: public_key_b64(&operator.verifying_key()),
            signature: STANDARD
                .encode(sign_in_domain(operator, OPERATOR_DOMAIN, &with(Vec::new())).to_bytes()),
        }];
        for (key, record) in &self.legs {
            let message = if self.over_full_content {
                canonical_bytes(&content).unwrap()
            } else {
                with(vec![record.clone()])
            };
            signatures.push(SignatureEntry {
                algorithm: "Ed25519".into(),
                key_id: "approver".into(),
                public_key: public_key_b64(&key.verifying_key()),
                signature: STANDARD
                    .encode(sign_in_domain(key, APPROVAL_DOMAIN, &message).to_bytes()),
            });
        }
        Receipt {
            alg: RECEIPT_ALG.into(),
            content,
            signatures,
            transparency: None,
        }
    }
}

fn broken_quorum(
    gen: &mut Gen,
    operator: &SigningKey,
    suspended: &Content,
    defects: &[Defect],
) -> Receipt {
    let quorum = random_quorum(gen);
    let mut content = quorum_base(suspended, quorum.threshold, &quorum.roster).unwrap();
    let mut legs: Vec<(SigningKey, ApproverRecord)> = quorum
        .signers
        .iter()
        .map(|&s| {
            let key = quorum.approvers[s].clone();
            let record = record(gen, &key, Decision::Approved);
            (key, record)
        })
        .collect();
    let mut records: Vec<ApproverRecord> = legs.iter().map(|(_, r)| r.clone()).collect();
    let mut over_full_content = false;
    let some = |gen: &mut Gen, len: usize| gen.rng.random_range(0..len.max(1));
    for defect in defects {
        let multi = content.multi_approval.as_mut().unwrap();
        match defect {
            Defect::ThresholdZero => multi.threshold = 0,
            Defect::ThresholdAboveSigners => multi.threshold = legs.len() as u32 + 1,
            Defect::EmptyRoster => multi.roster.clear(),
            Defect::AlsoApproverDecision => {
                content.approver_decision = Some(record(gen, operator, Decision::Approved))
            }
            Defect::StrangerSigns | Defect::OperatorSigns | Defect::OperatorOnRosterSigns => {
                let key = match defect {
                    Defect::StrangerSigns => key(&mut gen.rng).0,
                    _ => operator.clone(),
                };
                if matches!(defect, Defect::OperatorOnRosterSigns) {
                    multi.roster.push(public_key_b64(&key.verifying_key()));
                }
                let record = record(gen, &key, Decision::Approved);
                let at = some(gen, legs.len() + 1).min(legs.len());
                legs.insert(at, (key, record.clone()));
                records.push(record);
            }
            Defect::LegRejected | Defect::LegEscalated if !legs.is_empty() => {
                let at = some(gen, legs.len());
                let decision = match defect {
                    Defect::LegRejected => Decision::Rejected,
                    _ => Decision::Escalated,
                };
                legs[at].1.decision = decision;
                let identity = legs[at].1.approver_identity.clone();
                for r in records
                    .iter_mut()
                    .filter(|r| r.approver_identity == identity)
                {
                    r.decision = decision;
                }
            }
            Defect::DuplicateLeg if !legs.is_empty() => {
                let at = some(gen, legs.len());
                let leg = legs[at].clone();
                legs.push(leg);
                if gen.rng.random_bool(0.5) {
                    records.push(legs[at].1.clone());
                }
            }
            Defect::RecordWithoutSignature if !legs.is_empty() => {
                legs.remove(some(gen, legs.len()));
            }
            Defect::SignatureWithoutRecord if !records.is_empty() => {
                records.remove(some(gen, records.len()));
            }
            Defect::RecordNamesAnotherKey if legs.len() >= 2 => {
                let other = legs[1].1.approver_identity.clone();
                legs[0].1.approver_identity = other.clone();
                records[0].approver_identity = other;
            }
            Defect::EmbeddedL0 => content.trust_level = TrustLevel::L0,
            Defect::LegOverFullContent => over_full_content = true,
            _ => {}
        }
    }
    if gen.rng.random_bool(0.3) {
        records.shuffle(&mut gen.rng);
    }
    Draft {
        content,
        records,
        legs,
        over_full_content,
    }
    .sign(operator)
}

#[test]
fn verdicts_match_the_vendor_on_broken_quorums() {
    let mut oracle = Oracle::start();
    let mut gen = Gen::new(seed() ^ 0x52);
    let (operator, _) = key(&mut gen.rng);
    let agent = public_key_b64(&operator.verifying_key());
    let contents = accepted_contents(&mut gen, &mut oracle, &agent, 10);
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let rounds = cases(600);
    for round in 0..rounds {
        let text = &contents[round % contents.len()];
        let suspended = sign_as_operator(&operator, parse_content(text.as_bytes()).unwrap())
            .unwrap()
            .content;
        let count = gen.rng.random_range(0..=3);
        let defects: Vec<Defect> = (0..count)
            .map(|_| DEFECTS[gen.rng.random_range(0..DEFECTS.len())])
            .collect();
        let receipt = broken_quorum(&mut gen, &operator, &suspended, &defects);
        let receipt_text = serde_json::to_string(&receipt).unwrap();
        assert_same_verdict(&mut oracle, &receipt_text, &format!("{defects:?}"));
        *kinds
            .entry(verify_receipt(receipt).verdict.kind.as_str().to_owned())
            .or_default() += 1;

        // And a bit flip anywhere in it.
        let mut flipped = receipt_text.into_bytes();
        let at = gen.rng.random_range(0..flipped.len());
        flipped[at] ^= 1 << gen.rng.random_range(0..8);
        if let Ok(flipped) = String::from_utf8(flipped) {
            let ours = heso_interop_tests::diff::ours_verdict(&flipped);
            assert_eq!(ours, oracle.verdict(&flipped), "flip at {at}: {flipped}");
        }
    }
    eprintln!("{rounds} broken quorums, same verdicts: {kinds:?}");
    // The generator reaches every verdict a quorum can get.
    for kind in [
        "Valid",
        "Malformed",
        "ThresholdNotMet",
        "SelfApproval",
        "InvalidSignature",
        "TrustLevelMismatch",
    ] {
        assert!(kinds.contains_key(kind), "no {kind} in {kinds:?}");
    }
}

#[test]
fn the_vendor_refuses_the_quorum_bases_we_refuse() {
    let mut oracle = Oracle::start();
    let mut gen = Gen::new(seed() ^ 0x53);
    let (operator, _) = key(&mut gen.rng);
    let agent = public_key_b64(&operator.verifying_key());
    let text = &accepted_contents(&mut gen, &mut oracle, &agent, 1)[0];
    let suspended = sign_as_operator(&operator, parse_content(text.as_bytes()).unwrap())
        .unwrap()
        .content;
    let quorum = random_quorum(&mut gen);
    let approver = &quorum.approvers[0];
    let record = record(&mut gen, approver, Decision::Approved);
    let decided = quorum_base(&suspended, 1, &quorum.roster).unwrap();
    for (what, content, threshold, roster) in [
        ("threshold 0", &suspended, 0, quorum.roster.clone()),
        ("empty roster", &suspended, 1, Vec::new()),
        ("already a quorum", &decided, 1, quorum.roster.clone()),
    ] {
        assert!(
            quorum_cosign_payload(content, threshold, &roster, &record).is_err(),
            "{what}"
        );
        let theirs: Value = oracle.ask(json!({
            "op": "quorum_cosign_payload", "content": serde_json::to_string(content).unwrap(),
            "threshold": threshold, "roster": roster, "record": record_text(&record),
        }));
        assert_eq!(theirs["ok"], false, "{what}: {theirs}");
    }
}

/// The legs of `quorum`'s signers over `suspended`, signed as the vendor's
/// approvers sign them.
fn signed_legs(gen: &mut Gen, suspended: &Content, quorum: &Quorum) -> Vec<QuorumLeg> {
    quorum
        .signers
        .iter()
        .map(|&s| {
            let approver = &quorum.approvers[s];
            let record = record(gen, approver, Decision::Approved);
            let co_signature = quorum_cosign(
                approver,
                suspended,
                quorum.threshold,
                &quorum.roster,
                &record,
            )
            .unwrap();
            QuorumLeg {
                record,
                approver_key: approver.verifying_key(),
                co_signature,
            }
        })
        .collect()
}

/// `(records order, approver entries order)` pairs for `n` legs: every pair
/// up to three legs, the identity and a sample beyond (all would be n!²).
fn orders(gen: &mut Gen, n: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    let all = permutations(n);
    let mut pairs: Vec<_> = all
        .iter()
        .flat_map(|r| all.iter().map(move |s| (r.clone(), s.clone())))
        .collect();
    if pairs.len() > 64 {
        pairs[1..].shuffle(&mut gen.rng);
        pairs.truncate(64);
    }
    pairs
}

/// `genuine` with its records and approver entries put in the given orders,
/// its hash kept. The operator entry stays first.
fn reorder(genuine: &Receipt, records: &[usize], legs: &[usize]) -> Receipt {
    let mut moved = genuine.clone();
    let quorum = moved.content.multi_approval.as_mut().unwrap();
    quorum.approvers = reordered(&quorum.approvers, records);
    let (operator, approvers) = genuine.signatures.split_at(1);
    moved.signatures = [operator.to_vec(), reordered(approvers, legs)].concat();
    moved
}

/// `receipt` with the action hash the vendor computes for its content.
fn rehashed_by_vendor(oracle: &mut Oracle, receipt: &Receipt) -> Receipt {
    let content = serde_json::to_string(&receipt.content).unwrap();
    let answer = oracle.must(json!({"op": "canon", "content": content}));
    let mut rehashed = receipt.clone();
    rehashed.content.action_hash = answer["action_hash"].as_str().unwrap().to_owned();
    rehashed
}

/// The vendor hashes a quorum's records as written and does not read the
/// order of the signature entries: a genuine quorum with its records moved
/// is `HashMismatch` with the old hash and `Valid` once re-hashed (the
/// operator signs no records and each leg only its own); its approver
/// entries in any order change nothing. Our verdict is the vendor's in each.
#[test]
fn verdicts_match_the_vendor_whatever_the_order_of_the_approvers() {
    let mut oracle = Oracle::start();
    let mut gen = Gen::new(seed() ^ 0x54);
    let (operator, _) = key(&mut gen.rng);
    let agent = public_key_b64(&operator.verifying_key());
    let contents = accepted_contents(&mut gen, &mut oracle, &agent, 4);
    // (roster size, threshold, signers): 2 of 3, 3 of 3, then wider; each
    // once unless HESO_DIFF_CASES asks for more rounds.
    let shapes = [(3, 2, 2), (3, 3, 3), (4, 2, 3), (4, 4, 4), (5, 3, 4)];
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..cases(shapes.len()) {
        let suspended = sign_as_operator(
            &operator,
            parse_content(contents[round % contents.len()].as_bytes()).unwrap(),
        )
        .unwrap()
        .content;
        let (n, threshold, signing) = shapes[round % shapes.len()];
        let quorum = shaped_quorum(&mut gen, n, threshold, signing);
        let legs = signed_legs(&mut gen, &suspended, &quorum);
        let genuine = assemble_quorum(
            &operator,
            &suspended,
            quorum.threshold,
            &quorum.roster,
            &legs,
        )
        .unwrap();
        for (records, entries) in orders(&mut gen, legs.len()) {
            let kept = reorder(&genuine, &records, &entries);
            let records_moved = records.iter().enumerate().any(|(i, &r)| i != r);
            for rehash in [false, true] {
                let receipt = if rehash {
                    rehashed_by_vendor(&mut oracle, &kept)
                } else {
                    kept.clone()
                };
                let text = serde_json::to_string(&receipt).unwrap();
                let what = format!("round {round}: records {records:?}, entries {entries:?}");
                let what = format!("{what}, re-hashed {rehash}: {text}");
                let theirs = oracle.verdict(&text);
                // The vendor's rule, checked so that a change in it shows.
                let expected = if records_moved && !rehash {
                    ("HashMismatch".to_owned(), None)
                } else {
                    ("Valid".to_owned(), Some("L1".to_owned()))
                };
                assert_eq!(theirs, expected, "the vendor, {what}");
                assert_eq!(ours_verdict(&text), theirs, "{what}");
                *kinds.entry(theirs.0).or_default() += 1;
            }
        }
    }
    eprintln!("reordered quorums, same verdicts: {kinds:?}");
}
