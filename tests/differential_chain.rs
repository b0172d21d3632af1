//! Differential tests of session chains: our chain verdict against the
//! vendor package's `verify_session_chain`, field for field, on chains the
//! package writes itself (`@heso.gated` parks a payment; `append_decision`,
//! `process_sweep` and the call that fires write the rest) and on
//! must-reject variants of them: links dropped, duplicated, swapped, moved,
//! a link of another session spliced in, links edited and then re-hashed
//! and re-signed by a foreign key (with and without re-linking what
//! follows), kinds relabelled, chain fields stripped, links re-signed under
//! other domains and roles, bit flips; and link hashes of random contents.
//!
//! `HESO_DIFF_SEED` and `HESO_DIFF_CASES` replay or widen a run.

use heso_interop_tests::diff::{cases, key, seed};
use heso_interop_tests::gen::Gen;
use heso_interop_tests::oracle::Oracle;
use heso_receipt::chain::{link_hash, verify_session_chain};
use heso_receipt::keys::{
    public_key_b64, sign_in_domain, APPROVAL_DOMAIN, DECISION_DOMAIN, OPERATOR_DOMAIN,
    SUSPEND_DOMAIN,
};
use heso_receipt::*;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The package writing and judging chains in a throwaway project.
struct Vendor {
    oracle: Oracle,
    _project: tempfile::TempDir,
}

impl Vendor {
    fn start() -> Self {
        let project = tempfile::tempdir().unwrap();
        let mut oracle = Oracle::chain_operator();
        oracle.must(json!({"op": "init", "dir": project.path()}));
        Vendor {
            oracle,
            _project: project,
        }
    }

    /// A session the package writes: a parked payment, then `steps`.
    fn session(&mut self, id: &str, amount: u32, on_timeout: &str, steps: &[&str]) -> Vec<Receipt> {
        let answer = self.oracle.must(json!({
            "op": "session", "session_id": id, "amount": amount, "payee": format!("payee {id}"),
            "on_timeout": on_timeout, "steps": steps,
        }));
        serde_json::from_value(answer["chain"].clone()).unwrap()
    }

    /// The package's verdict on chain JSON, `None` when it cannot read it.
    fn verdict(&mut self, chain: &str) -> Option<Value> {
        let answer = self
            .oracle
            .ask(json!({"op": "verify_chain", "chain": chain}));
        if answer["ok"] == true {
            return Some(answer["verdict"].clone());
        }
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains("parse chain"), "{error}");
        None
    }

    fn link_hash(&mut self, content: &str) -> Option<String> {
        let answer = self
            .oracle
            .ask(json!({"op": "link_hash", "content": content}));
        answer["link_hash"].as_str().map(str::to_owned)
    }
}

/// Our verdict equals the package's, or neither of us can read the input.
/// Returns the verdict's kind.
fn assert_same_verdict(vendor: &mut Vendor, text: &str, what: &str) -> String {
    let theirs = vendor.verdict(text);
    let ours = verify_session_chain(text.as_bytes());
    match (theirs, ours) {
        (Some(theirs), Ok(ours)) => {
            assert_eq!(
                serde_json::to_value(&ours).unwrap(),
                theirs,
                "{what}: {text}"
            );
            ours.name().to_owned()
        }
        (None, Err(_)) => "unreadable".to_owned(),
        (theirs, ours) => panic!("{what}: vendor {theirs:?}, ours {ours:?}: {text}"),
    }
}

/// As [`assert_same_verdict`], except where a flipped byte lands in a block
/// we carry as received (`suspension`, `ert`, …) and the package's typed
/// parse no longer reads the chain: we must then refuse it too, and do so
/// from its hash (see `wire`).
fn assert_same_or_refused(vendor: &mut Vendor, text: &str, what: &str) -> String {
    let theirs = vendor.verdict(text);
    match (theirs, verify_session_chain(text.as_bytes())) {
        (None, Ok(ours)) => {
            assert!(
                !ours.is_valid(),
                "{what}: the package cannot read it, we accept it: {text}"
            );
            "unreadable to the package, refused by us".to_owned()
        }
        (Some(_), _) | (None, Err(_)) => assert_same_verdict(vendor, text, what),
    }
}

/// Sessions of every shape the package writes: escalations, then an
/// approval (fired or not), a denial, an expiry, a timeout, or nothing yet.
fn real_chains(vendor: &mut Vendor, gen: &mut Gen) -> Vec<Vec<Receipt>> {
    let endings: [&[&str]; 6] = [
        &["approved", "fire"],
        &["approved"],
        &["denied"],
        &["expired"],
        &["sweep"],
        &[],
    ];
    (0..12)
        .map(|n| {
            let mut steps = vec!["escalated"; gen.rng.random_range(0..=2)];
            steps.extend_from_slice(endings[n % endings.len()]);
            let on_timeout = ["deny", "escalate"][gen.rng.random_range(0..2)];
            let amount = gen.rng.random_range(1..10_000);
            vendor.session(&format!("session-{n}"), amount, on_timeout, &steps)
        })
        .collect()
}

/// Keys the package never saw.
struct Forger {
    keys: Vec<SigningKey>,
}

impl Forger {
    fn key(&self, gen: &mut Gen) -> &SigningKey {
        &self.keys[gen.rng.random_range(0..self.keys.len())]
    }

    /// Re-seals the link and signs it as its kind is signed.
    fn resign(&self, gen: &mut Gen, link: &mut Receipt) {
        let key = self.key(gen);
        let content = link.content.clone();
        let decision = content.kind.is_some_and(ReceiptKind::is_decision);
        let role = if decision { "approver" } else { "operator" };
        *link = match sign_link(key, role, content.clone()) {
            Some(signed) => signed.unwrap(),
            None => sign_as_operator(key, content).unwrap(),
        };
    }

    /// Re-seals the link and gives it one or two signatures, each under a
    /// random domain with a random role: decisions signed by the operator,
    /// the decision key also signing as the operator, wrong domains.
    fn resign_anyhow(&self, gen: &mut Gen, link: &mut Receipt) {
        const DOMAINS: [&[u8]; 4] = [
            OPERATOR_DOMAIN,
            SUSPEND_DOMAIN,
            DECISION_DOMAIN,
            APPROVAL_DOMAIN,
        ];
        const ROLES: [&str; 3] = ["operator", "approver", "witness"];
        link.content = canonical::seal(link.content.clone()).unwrap();
        let message = canonical_bytes(&link.content).unwrap();
        link.signatures = (0..gen.rng.random_range(1..=2))
            .map(|_| {
                let domain = DOMAINS[gen.rng.random_range(0..DOMAINS.len())];
                let role = ROLES[gen.rng.random_range(0..ROLES.len())];
                self.entry(self.key(gen), role, domain, &message)
            })
            .collect();
    }

    /// Makes the link a plain `action` receipt signed by role, as an
    /// operator signs one: under the action domain or the suspend domain,
    /// sometimes with an approver co-signature by either key, at either
    /// trust level (invalid signatures, self-approvals, trust level
    /// mismatches, valid L1s).
    fn resign_as_action(&self, gen: &mut Gen, link: &mut Receipt) {
        let content = &mut link.content;
        content.kind = Some(ReceiptKind::Action);
        content.trust_level = [TrustLevel::L0, TrustLevel::L1][gen.rng.random_range(0..2)];
        link.content = canonical::seal(link.content.clone()).unwrap();
        let message = canonical_bytes(&link.content).unwrap();
        let operator_domain = [OPERATOR_DOMAIN, SUSPEND_DOMAIN][gen.rng.random_range(0..2)];
        let mut signers = vec![("operator", operator_domain)];
        if gen.rng.random_bool(0.5) {
            signers.push(("approver", APPROVAL_DOMAIN));
        }
        link.signatures = signers
            .into_iter()
            .map(|(role, domain)| self.entry(self.key(gen), role, domain, &message))
            .collect();
    }

    /// Signs a decision link under the decision domain and, by the same key
    /// or the other one, under the operator's (a self-approval when the
    /// same).
    fn resign_decision_twice(&self, gen: &mut Gen, link: &mut Receipt) {
        let kinds = [
            ReceiptKind::Approved,
            ReceiptKind::Denied,
            ReceiptKind::Escalated,
            ReceiptKind::Expired,
        ];
        link.content.kind = Some(kinds[gen.rng.random_range(0..kinds.len())]);
        link.content = canonical::seal(link.content.clone()).unwrap();
        let message = canonical_bytes(&link.content).unwrap();
        link.signatures = vec![
            self.entry(self.key(gen), "approver", DECISION_DOMAIN, &message),
            self.entry(self.key(gen), "operator", OPERATOR_DOMAIN, &message),
        ];
    }

    fn entry(&self, key: &SigningKey, role: &str, domain: &[u8], message: &[u8]) -> SignatureEntry {
        SignatureEntry {
            algorithm: "Ed25519".into(),
            key_id: role.into(),
            public_key: public_key_b64(&key.verifying_key()),
            signature: keys::b64(&sign_in_domain(key, domain, message).to_bytes()),
        }
    }

    /// Numbers the links from `from` on, links each to the one before and
    /// re-signs them: what a forger holding signing keys would do.
    fn relink_from(&self, gen: &mut Gen, chain: &mut [Receipt], from: usize) {
        for at in from..chain.len() {
            chain[at].content.seq = Some(at as u64);
            chain[at].content.prev_receipt_hash = at
                .checked_sub(1)
                .map(|before| link_hash(&chain[before].content));
            self.resign(gen, &mut chain[at]);
        }
    }
}

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

/// Changes one signed value of the content: what it is about, where it
/// sits in the chain, or what kind of link it is.
fn edit(gen: &mut Gen, content: &mut Content) {
    match gen.rng.random_range(0..7) {
        0 => {
            let amount = gen.rng.random_range(0..100);
            content.action.fields.insert("amount".into(), amount.into());
        }
        1 => content.action.tool_name.push('!'),
        2 => content.captured_at = "2030-01-01T00:00:00Z".into(),
        3 => content.seq = Some(gen.rng.random_range(0..6)),
        4 => content.session_id = Some(format!("session-{}", gen.rng.random_range(0..3))),
        5 => content.prev_receipt_hash = Some(hex::encode(gen.rng.random::<[u8; 32]>())),
        _ => content.kind = KINDS[gen.rng.random_range(0..KINDS.len())],
    }
}

/// Breaks `chain` one random way; returns what it did.
fn mutate(
    gen: &mut Gen,
    forger: &Forger,
    chain: &mut Vec<Receipt>,
    others: &[Vec<Receipt>],
) -> &'static str {
    let len = chain.len();
    let any = |gen: &mut Gen| gen.rng.random_range(0..len);
    match gen.rng.random_range(0..15) {
        0 => {
            chain.remove(any(gen));
            "a link dropped"
        }
        1 => {
            let link = chain[any(gen)].clone();
            chain.insert(gen.rng.random_range(0..=len), link);
            "a link duplicated"
        }
        2 => {
            let (i, j) = (any(gen), any(gen));
            chain.swap(i, j);
            "two links swapped"
        }
        3 => {
            let link = chain.remove(any(gen));
            chain.insert(gen.rng.random_range(0..len), link);
            "a link moved"
        }
        4 => {
            let other = others.choose(&mut gen.rng).unwrap();
            let link = other.choose(&mut gen.rng).unwrap().clone();
            let at = gen.rng.random_range(0..=len);
            if at < len && gen.rng.random_bool(0.5) {
                chain[at] = link;
            } else {
                chain.insert(at, link);
            }
            "a link of another session spliced in"
        }
        5 => {
            let at = any(gen);
            edit(gen, &mut chain[at].content);
            "a link edited"
        }
        6 => {
            let at = any(gen);
            edit(gen, &mut chain[at].content);
            forger.resign(gen, &mut chain[at]);
            "a link edited, re-hashed, re-signed by a foreign key"
        }
        7 => {
            let at = any(gen);
            edit(gen, &mut chain[at].content);
            forger.relink_from(gen, chain, at);
            "a link edited, the rest re-linked by a foreign key"
        }
        8 => {
            let at = any(gen);
            chain[at].content.kind = KINDS[gen.rng.random_range(0..KINDS.len())];
            forger.relink_from(gen, chain, at);
            "a kind relabelled, the rest re-linked"
        }
        9 => {
            let at = any(gen);
            let content = &mut chain[at].content;
            match gen.rng.random_range(0..3) {
                0 => content.session_id = None,
                1 => content.seq = None,
                _ => content.prev_receipt_hash = None,
            }
            forger.resign(gen, &mut chain[at]);
            "a chain field stripped"
        }
        10 => {
            let at = any(gen);
            forger.resign_anyhow(gen, &mut chain[at]);
            "a link re-signed under random domains and roles"
        }
        11 => {
            chain.shuffle(&mut gen.rng);
            chain.truncate(gen.rng.random_range(1..=len));
            forger.relink_from(gen, chain, 0);
            "the links shuffled, cut and re-linked"
        }
        12 => {
            let at = any(gen);
            forger.resign_as_action(gen, &mut chain[at]);
            "a link made a plain action signed by role"
        }
        13 => {
            let at = any(gen);
            forger.resign_decision_twice(gen, &mut chain[at]);
            "a decision also signed under the operator's domain"
        }
        _ => {
            let link = chain[any(gen)].clone();
            chain.insert(gen.rng.random_range(0..=len), link);
            forger.relink_from(gen, chain, 0);
            "a link duplicated, the whole chain re-linked"
        }
    }
}

#[test]
fn chain_verdicts_match_the_vendor() {
    let mut vendor = Vendor::start();
    let mut gen = Gen::new(seed() ^ 0xc4a1);
    let forger = Forger {
        keys: (0..2).map(|_| key(&mut gen.rng).0).collect(),
    };
    let chains = real_chains(&mut vendor, &mut gen);
    let mut seen = BTreeMap::<String, usize>::new();
    for (n, chain) in chains.iter().enumerate() {
        let text = serde_json::to_string(chain).unwrap();
        let kind = assert_same_verdict(&mut vendor, &text, &format!("real session {n}"));
        assert_eq!(kind, "Valid", "the package's own session {n}");
    }
    assert_same_verdict(&mut vendor, "[]", "no links");

    let mut mutations = BTreeMap::<&str, usize>::new();
    let mut flips = BTreeMap::<String, usize>::new();
    let rounds = cases(400);
    for round in 0..rounds {
        let mut chain = chains[round % chains.len()].clone();
        for _ in 0..gen.rng.random_range(1..=2) {
            if chain.is_empty() {
                break;
            }
            *mutations
                .entry(mutate(&mut gen, &forger, &mut chain, &chains))
                .or_default() += 1;
        }
        let text = serde_json::to_string(&chain).unwrap();
        let kind = assert_same_verdict(&mut vendor, &text, &format!("round {round}"));
        *seen.entry(kind).or_default() += 1;

        let mut flipped = text.into_bytes();
        let at = gen.rng.random_range(0..flipped.len().max(1));
        if let Some(byte) = flipped.get_mut(at) {
            *byte ^= 1 << gen.rng.random_range(0..8);
        }
        if let Ok(flipped) = String::from_utf8(flipped) {
            let what = format!("round {round}, flip at {at}");
            *flips
                .entry(assert_same_or_refused(&mut vendor, &flipped, &what))
                .or_default() += 1;
        }
    }
    eprintln!(
        "{rounds} chains, same verdicts: {seen:?}\nmutations: {mutations:?}\nflips: {flips:?}"
    );
    for kind in [
        "Valid",
        "ContentTamper",
        "RoleViolation",
        "LinkBroken",
        "IllegalTransition",
        "DoubleTerminal",
    ] {
        assert!(seen.contains_key(kind), "no {kind} in {seen:?}");
    }
}

#[test]
fn link_hashes_match_the_vendor() {
    let mut vendor = Vendor::start();
    let mut gen = Gen::new(seed() ^ 0x11c4);
    let base = vendor.session("base", 1, "deny", &[]).remove(0).content;
    let rounds = cases(300);
    let mut compared = 0;
    for _ in 0..rounds {
        let mut content = base.clone();
        content.session_id = serde_json::from_str(&gen.string(80)).ok();
        content.seq = match gen.rng.random_range(0..4) {
            0 => None,
            1 => Some(gen.rng.random_range(0..4)),
            2 => Some(u64::MAX >> gen.rng.random_range(0..64)),
            _ => Some(gen.rng.random()),
        };
        if gen.rng.random_bool(0.3) {
            content.action_hash = serde_json::from_str(&gen.string(70)).unwrap_or_default();
        }
        let text = serde_json::to_string(&content).unwrap();
        // The package's content type caps seq at 2^64 - 1 but reads it as
        // JSON; a value it cannot read is no link hash.
        if let Some(theirs) = vendor.link_hash(&text) {
            assert_eq!(link_hash(&content), theirs, "{text}");
            compared += 1;
        }
    }
    assert!(
        compared * 10 >= rounds * 9,
        "only {compared} of {rounds} compared"
    );
}

impl Vendor {
    /// Appends `link` to the session's chain file, as an operator does with
    /// a decision link relayed to it, and runs the gated call again: the
    /// package's answer (`paid`, `heso.DENIED`, `heso.SUSPENDED`, …).
    fn append_and_fire(&mut self, session: &str, link: &Receipt) -> String {
        self.oracle
            .must(json!({"op": "append", "session_id": session, "link": link}));
        let answer = self
            .oracle
            .must(json!({"op": "fire", "session_id": session}));
        answer["result"]
            .as_str()
            .or(answer["refused"].as_str())
            .unwrap()
            .to_owned()
    }
}

/// Decision links made here (by a device's key, not the package's local
/// decision key) for sessions the package parked: the package calls the
/// chain Valid and honours it (the gated call fires on an approval, is
/// denied on a denial, stays parked on an escalation), and our verdict is
/// the same. Linked to another session's suspended link, or with its
/// `prev_receipt_hash` taken from elsewhere, the package and we both refuse.
#[test]
fn decision_links_made_here_are_honoured_by_the_vendor() {
    use heso_receipt::decision_link::{sign_decision_link, GatedDecision};
    let mut vendor = Vendor::start();
    let device = SigningKey::from_bytes(&[42; 32]);
    let decided_at = "2026-12-06T22:00:00Z";
    for (decision, fired) in [
        (GatedDecision::Approved, "paid"),
        (GatedDecision::Denied, "heso.DENIED"),
        (GatedDecision::Escalated, "heso.SUSPENDED"),
    ] {
        let session = format!("device {}", decision.as_str());
        let chain = vendor.session(&session, 4200, "deny", &[]);
        let link = sign_decision_link(&device, &chain[0].content, decision, "checked", decided_at)
            .unwrap();
        let text = serde_json::to_string(&[&chain[0], &link]).unwrap();
        let kind = assert_same_verdict(&mut vendor, &text, &session);
        assert_eq!(kind, "Valid", "{text}");
        assert_eq!(vendor.append_and_fire(&session, &link), fired, "{session}");
    }

    // A decision linked to another session's suspended link, appended here.
    let ours = vendor.session("spliced", 4200, "deny", &[]);
    let theirs = vendor.session("elsewhere", 9900, "deny", &[]);
    let foreign = sign_decision_link(
        &device,
        &theirs[0].content,
        GatedDecision::Approved,
        "",
        decided_at,
    )
    .unwrap();
    let text = serde_json::to_string(&[&ours[0], &foreign]).unwrap();
    assert_ne!(assert_same_verdict(&mut vendor, &text, "spliced"), "Valid");
    assert_ne!(vendor.append_and_fire("spliced", &foreign), "paid");

    // The right session, but a prev_receipt_hash of another link, re-signed.
    let session = vendor.session("relinked", 4200, "deny", &[]);
    let mut content = heso_receipt::decision_link::decision_content(
        &session[0].content,
        GatedDecision::Approved,
        &device.verifying_key(),
        "",
        decided_at,
    )
    .unwrap();
    content.prev_receipt_hash = Some(link_hash(&theirs[0].content));
    let content = heso_receipt::canonical::seal(content).unwrap();
    let signature = sign_in_domain(
        &device,
        DECISION_DOMAIN,
        &canonical_bytes(&content).unwrap(),
    );
    let relinked =
        heso_receipt::decision_link::decision_link(content, &device.verifying_key(), &signature);
    let text = serde_json::to_string(&[&session[0], &relinked]).unwrap();
    assert_eq!(
        assert_same_verdict(&mut vendor, &text, "relinked"),
        "LinkBroken"
    );
}
