//! `heso-approver` end to end: the real binary, a real Secret Service (run
//! under `scripts/with-secret-service.sh`, as `scripts/test.sh` does), and the
//! real `heso-control-plane` process with its database in a file.

#[path = "../../control-plane/tests/support/mod.rs"]
mod support;

use heso_receipt::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::Plane;

const BIN: &str = env!("CARGO_BIN_EXE_heso-approver");

fn require_secret_service() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "these tests need a Secret Service: run them under scripts/with-secret-service.sh (scripts/test.sh does)"
    );
}

/// One approver device: its own home (profile, journal, log).
struct Approver {
    home: tempfile::TempDir,
}

impl Approver {
    fn new() -> Approver {
        require_secret_service();
        Approver {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("HESO_APPROVER_HOME", self.home.path());
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    }

    /// Runs off the test's async threads: the control plane lives on them.
    fn run(&self, args: &[&str]) -> Output {
        tokio::task::block_in_place(|| self.run_with(args, &[]))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn enroll(&self, plane: &Plane) {
        let code = plane.enrolment_code("cli device");
        let out = self.ok(&[
            "enroll",
            "--url",
            &plane.url,
            "--code",
            &code,
            "--label",
            "Ana's laptop",
        ]);
        assert!(out.contains("Device key fingerprint: heso:"), "{out}");
        assert!(out.contains("Operator key(s) pinned"), "{out}");
    }

    fn profile(&self) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.home.path().join("profile.json")).unwrap(),
        )
        .unwrap()
    }
}

/// A code of the right form that no control plane issued.
const WELL_FORMED_CODE: &str = "ABCD-EFGH-JKMN-PQRS-TUVW";

/// A control-plane process on a fresh database file.
fn control_plane() -> (tempfile::TempDir, PathBuf, Plane) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cp.db");
    let plane = Plane::spawn_process(db.to_str().unwrap());
    (dir, db, plane)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn poll(plane: &Plane, hash: &str) -> String {
    let (_, view) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}"), None)
        .await;
    view["status"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_queue_show_approve_reject_audit_export() {
    let (_dir, _db, plane) = control_plane();
    let device = Approver::new();
    device.enroll(&plane);
    let who = device.json(&["whoami", "--json"]);
    assert!(who["fingerprint"].as_str().unwrap().starts_with("heso:"));
    assert_eq!(who["public_key"], device.profile()["approver_public_key"]);

    let payment = plane.suspended(4200);
    let big = plane.suspended(9100);
    let pay_hash = plane.park(&payment).await;
    let big_hash = plane.park(&big).await;

    let queue = device.json(&["queue", "--json"]);
    let items = queue.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["action_hash"], pay_hash);
    assert_eq!(items[1]["status"], "verified");
    assert_eq!(items[1]["verb"], "payment");
    assert_eq!(items[1]["tool"], "stripe.transfers.create");
    assert_eq!(items[1]["rule_id"], "payment.large.requires_approval");
    assert!(items[1]["sla_deadline"].as_str().unwrap().ends_with('Z'));
    let text = device.ok(&["queue"]);
    assert!(text.contains("Pay 4,200 USD to Globex LLC"), "{text}");

    let shown = device.json(&["show", &pay_hash, "--json"]);
    assert_eq!(shown["verified"], true);
    let fields = shown["item"]["fields"].as_array().unwrap();
    let amount = fields.iter().find(|f| f["name"] == "amount").unwrap();
    assert_eq!(
        (amount["value"].as_str(), amount["matched"].as_bool()),
        (Some("4200"), Some(true))
    );

    let out = device.ok(&["approve", &pay_hash, "--reason", "invoice checked"]);
    assert!(out.contains("recorded by the control plane"), "{out}");
    assert_eq!(poll(&plane, &pay_hash).await, "approved");
    let out = device.ok(&["reject", &big_hash, "--reason", "unknown payee"]);
    assert!(out.contains("Rejected"), "{out}");
    assert_eq!(poll(&plane, &big_hash).await, "rejected");

    let out = device.run(&["reject", &pay_hash]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot be changed"),
        "{}",
        stderr(&out)
    );

    let l1 = plane.finalize(&pay_hash).await;
    let audit = device.json(&["audit", "--json"]);
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let approved = entries
        .iter()
        .find(|e| e["action_hash"] == pay_hash)
        .unwrap();
    assert_eq!(approved["decision"], "approved");
    assert_eq!(approved["submission"], "confirmed");
    assert_eq!(approved["verification"], "Valid L1");
    assert_eq!(approved["verified"], true);
    let rejected = entries
        .iter()
        .find(|e| e["action_hash"] == big_hash)
        .unwrap();
    assert_eq!(rejected["decision"], "rejected");
    // The history says what was decided, under which rule, and why.
    assert_eq!(approved["summary"], "Pay 4,200 USD to Globex LLC");
    assert_eq!(approved["verb"], "payment");
    assert_eq!(approved["rule_id"], "payment.large.requires_approval");
    assert_eq!(approved["reason"], "invoice checked");
    assert_eq!(rejected["summary"], "Pay 9,100 USD to Globex LLC");
    assert_eq!(rejected["reason"], "unknown payee");
    let text = device.ok(&["audit"]);
    assert!(
        text.contains("approved Pay 4,200 USD to Globex LLC"),
        "{text}"
    );
    assert!(text.contains("reason: invoice checked"), "{text}");
    let lines = device.ok(&["audit", "--jsonl"]);
    assert_eq!(lines.lines().count(), 2);
    for line in lines.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(entry["summary"].as_str().unwrap().starts_with("Pay "));
    }
    let csv = device.ok(&["audit", "--csv"]);
    let mut rows = csv.lines();
    assert!(rows
        .next()
        .unwrap()
        .starts_with("decided_at,decision,summary,verb,"));
    assert!(
        csv.contains(",approved,\"Pay 4,200 USD to Globex LLC\",payment,"),
        "{csv}"
    );
    assert_eq!(rows.count(), 2);

    let export = device.home.path().join("final.jsonl");
    device.ok(&["export", export.to_str().unwrap()]);
    let exported: Receipt =
        serde_json::from_str(std::fs::read_to_string(&export).unwrap().trim()).unwrap();
    assert_eq!(exported, l1);
    let verified = device.ok(&["verify", export.to_str().unwrap()]);
    assert!(verified.ends_with("1 valid, 0 invalid\n"), "{verified}");
}

/// Turns a suspended receipt into what a dishonest control plane serves.
type Tamper = Box<dyn Fn(&Receipt) -> Value>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_items_are_refused_and_nothing_is_signed() {
    let (_dir, db, plane) = control_plane();
    let device = Approver::new();
    device.enroll(&plane);

    let stranger = SigningKey::from_bytes(&[77; 32]);
    let operator = plane.operator.clone();
    let linker = plane.operator.clone();
    // A genuine receipt of another approval (say, a larger payment).
    let other = plane.suspended(99_000);
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "another approval's receipt",
            Box::new(move |_| serde_json::to_value(&other).unwrap()),
            "listed it under action_hash",
        ),
        (
            "changed content",
            Box::new(|r| {
                let mut v = serde_json::to_value(r).unwrap();
                v["content"]["action"]["fields"]["payee"] = "Mallory Ltd".into();
                v
            }),
            "HashMismatch",
        ),
        (
            "forged operator signature",
            Box::new(|r| {
                let mut v = serde_json::to_value(r).unwrap();
                let forged = keys::sign_in_domain(
                    &SigningKey::from_bytes(&[5; 32]),
                    keys::OPERATOR_DOMAIN,
                    b"x",
                );
                v["signatures"][0]["signature"] = keys::b64(&forged.to_bytes()).into();
                v
            }),
            "InvalidSignature",
        ),
        (
            "unknown operator key",
            Box::new(move |r| {
                let mut content = r.content.clone();
                content.agent_identity = keys::public_key_b64(&stranger.verifying_key());
                serde_json::to_value(sign_as_operator(&stranger, content).unwrap()).unwrap()
            }),
            "did not pin",
        ),
        (
            // The operator (the agent's host) signs a gated action's session
            // link as if it were an action: the vendor refuses an L1 over it.
            "a session link",
            Box::new(move |r| {
                let mut content = r.content.clone();
                content.kind = Some(ReceiptKind::Suspended);
                content.session_id = Some("s1".into());
                content.seq = Some(0);
                serde_json::to_value(sign_as_operator(&operator, content).unwrap()).unwrap()
            }),
            "Suspended kind's required domain",
        ),
        (
            // The same link signed as the suspend/resume layer signs it: a
            // valid session link, still never co-signed as an approval.
            "a signed session link",
            Box::new(move |r| {
                let mut content = r.content.clone();
                content.kind = Some(ReceiptKind::Suspended);
                content.session_id = Some("s1".into());
                content.seq = Some(0);
                let link = sign_link(&linker, "operator", content).unwrap().unwrap();
                serde_json::to_value(link).unwrap()
            }),
            "link of a gated action's session",
        ),
    ];
    for (i, (name, tamper, expected)) in cases.iter().enumerate() {
        let receipt = plane.suspended(5000 + i as u64);
        let hash = plane.park(&receipt).await;
        // The control plane now serves something else under this hash.
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "UPDATE receipts SET receipt = ?1 WHERE action_hash = ?2",
            rusqlite::params![tamper(&receipt).to_string(), hash],
        )
        .unwrap();

        let queue = device.json(&["queue", "--json"]);
        let row = queue
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["action_hash"] == hash)
            .unwrap()
            .clone();
        assert_eq!(row["status"], "refused", "{name}: {row}");
        assert!(
            row["refusal"].as_str().unwrap().contains(expected),
            "{name}: {row}"
        );
        let shown = device.json(&["show", &hash, "--json"]);
        assert_eq!(shown["verified"], false, "{name}");

        let out = device.run(&["approve", &hash]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            stderr(&out).contains("not signed"),
            "{name}: {}",
            stderr(&out)
        );
        assert_eq!(
            poll(&plane, &hash).await,
            "pending",
            "{name}: nothing reached the control plane"
        );
    }
    let audit = device.json(&["audit", "--json"]);
    assert_eq!(audit, json!([]), "nothing was journalled as a decision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_journal_and_submit_delivers_exactly_once() {
    let (_dir, _db, plane) = control_plane();
    let device = Approver::new();
    device.enroll(&plane);
    let hash = plane.park(&plane.suspended(4200)).await;

    let out = tokio::task::block_in_place(|| {
        device.run_with(
            &["approve", &hash],
            &[("HESO_APPROVER_FAULT", "crash-after-journal")],
        )
    });
    assert!(!out.status.success(), "the process was killed");
    assert_eq!(
        poll(&plane, &hash).await,
        "pending",
        "nothing sent before the crash"
    );

    // Restarted: the queue command resends what the journal holds.
    device.ok(&["queue", "--json"]);
    assert_eq!(poll(&plane, &hash).await, "approved");
    // Retrying the decision is answered as delivered, not signed again.
    let out = device.ok(&["approve", &hash]);
    assert!(out.contains("recorded"), "{out}");
    let audit = device.json(&["audit", "--json"]);
    assert_eq!(
        audit.as_array().unwrap().len(),
        1,
        "one decision on the control plane: {audit}"
    );
    assert_eq!(audit[0]["submission"], "confirmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_made_while_the_control_plane_is_down_is_delivered_later() {
    let (_dir, _db, mut plane) = control_plane();
    let device = Approver::new();
    device.enroll(&plane);
    let hash = plane.park(&plane.suspended(4200)).await;

    // The approver saw and verified the item; then the control plane dies.
    let item = device.json(&["show", &hash, "--json"]);
    assert_eq!(item["verified"], true);
    plane.kill();

    let out = device.run(&["approve", &hash, "--reason", "ok"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "signed and journalled, not delivered: {}",
        stderr(&out)
    );
    let out = device.run(&["queue"]);
    assert_eq!(out.status.code(), Some(69), "still down: {}", stderr(&out));

    // Back up on the same address and database: the next start delivers it.
    plane.restart();
    device.ok(&["queue"]);
    assert_eq!(poll(&plane, &hash).await, "approved");
    let audit = device.json(&["audit", "--json"]);
    assert_eq!(audit.as_array().unwrap().len(), 1);
    assert_eq!(audit[0]["submission"], "confirmed");
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_in_the_keychain_and_nowhere_on_disk() {
    let (_dir, _db, plane) = control_plane();
    let device = Approver::new();
    device.enroll(&plane);
    let hash = plane.park(&plane.suspended(4200)).await;
    device.ok(&["approve", &hash, "--reason", "checked"]);
    plane.finalize(&hash).await;
    device.ok(&["audit"]);

    // What is on disk is this user's alone: the home 0700, the files 0600.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(device.home.path()), 0o700);
        for name in ["profile.json", "journal.db", "journal.db-wal"] {
            let file = device.home.path().join(name);
            if file.exists() {
                assert_eq!(mode(&file), 0o600, "{name}");
            }
        }
        assert!(device.home.path().join("journal.db").exists());
    }

    // The seed, from the Secret Service, as this device's processes stored it.
    let account = device.profile()["key_account"].as_str().unwrap().to_owned();
    let seed = keyring::Entry::new("heso-approver", &account)
        .unwrap()
        .get_secret()
        .unwrap();
    assert_eq!(seed.len(), 32);
    let key = SigningKey::from_bytes(&seed.clone().try_into().unwrap());
    assert_eq!(
        keys::public_key_b64(&key.verifying_key()),
        device.profile()["approver_public_key"]
    );

    // Secrets derived from it: the expanded key halves (scalar and nonce prefix).
    let expanded = key.to_keypair_bytes();
    let mut needles: Vec<Vec<u8>> = vec![
        seed.clone(),
        hex::encode(&seed).into_bytes(),
        keys::b64(&seed).into_bytes(),
    ];
    let hazmat = sha512(&seed);
    for part in [&hazmat[..32], &hazmat[32..], &expanded[..32]] {
        needles.push(part.to_vec());
        needles.push(hex::encode(part).into_bytes());
        needles.push(keys::b64(part).into_bytes());
    }
    let files = files_under(device.home.path());
    assert!(files.iter().any(|f| f.ends_with("journal.db")), "{files:?}");
    assert!(
        files.iter().any(|f| f.ends_with("heso-approver.log")),
        "{files:?}"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for needle in &needles {
            assert!(
                !contains(&bytes, needle),
                "key material in {}",
                file.display()
            );
        }
    }
}

fn sha512(bytes: &[u8]) -> [u8; 64] {
    use sha2::Digest;
    sha2::Sha512::digest(bytes).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_in_our_name_made_elsewhere_is_flagged() {
    let (_dir, _db, plane) = control_plane();
    let device = Approver::new();
    device.enroll(&plane);
    let receipt = plane.suspended(4200);
    let hash = plane.park(&receipt).await;

    // Someone holding a copy of this device's key votes without this device.
    let account = device.profile()["key_account"].as_str().unwrap().to_owned();
    let seed = keyring::Entry::new("heso-approver", &account)
        .unwrap()
        .get_secret()
        .unwrap();
    let stolen = SigningKey::from_bytes(&seed.try_into().unwrap());
    let token = ApprovalToken::sign(
        &stolen,
        [42; 32],
        support::now() + 300,
        TokenDecision::Approved,
        &receipt.content.policy.rule_id,
        &canonical_bytes(&receipt.content).unwrap(),
    );
    let (status, body) = plane
        .op(
            Method::POST,
            &format!("/v1/approvals/{hash}/submit-token"),
            Some(
                json!({"token_b64": keys::b64(&token.to_bytes()), "action_content": receipt.content,
                        "required_scope": receipt.content.policy.rule_id, "decision": "approved"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let out = device.run(&["audit"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("ALERT: 1 co-signature(s) signed in your name, not by this device."),
        "{text}"
    );
    let out = device.run(&["audit", "--json"]);
    let audit: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit[0]["alert"], "signed in your name, not by this device");
    assert_eq!(audit[0]["submission"], "not in this device's journal");
}

#[test]
fn without_a_keychain_or_enrolment_the_errors_say_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], with_bus: bool| {
        let mut command = Command::new(BIN);
        command.args(args).env("HESO_APPROVER_HOME", home.path());
        if !with_bus {
            command.env_remove("DBUS_SESSION_BUS_ADDRESS");
        }
        command.output().unwrap()
    };
    let out = run(
        &[
            "enroll",
            "--url",
            "http://127.0.0.1:9",
            "--code",
            WELL_FORMED_CODE,
        ],
        false,
    );
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("no OS keychain is reachable"),
        "{}",
        stderr(&out)
    );
    let out = run(&["queue"], true);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("not enrolled yet: run `heso-approver enroll"),
        "{}",
        stderr(&out)
    );
    require_secret_service();
    let out = run(
        &[
            "enroll",
            "--url",
            "http://127.0.0.1:9",
            "--code",
            WELL_FORMED_CODE,
        ],
        true,
    );
    assert_eq!(out.status.code(), Some(69));
    assert!(stderr(&out).contains("unreachable"), "{}", stderr(&out));
    assert!(
        !home.path().join("profile.json").exists(),
        "nothing kept from a failed enrolment"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_refuses_keys_the_code_does_not_vouch_for_and_plain_http_elsewhere() {
    let (_dir, _db, plane) = control_plane();
    let device = Approver::new();
    // A control plane (or anyone on the path) naming other operator keys
    // than the ones the operator's code was made for: the code's check no
    // longer matches, so nothing is pinned and the new key is deleted.
    let code = plane.enrolment_code("cli device");
    let secret = heso_receipt::enrolment::parse(&code).unwrap().secret;
    let impostor = heso_receipt::keys::public_key_b64(
        &heso_receipt::SigningKey::from_bytes(&[66; 32]).verifying_key(),
    );
    let forged = heso_receipt::enrolment::format_code(&secret, &[impostor]);
    let out = device.run(&["enroll", "--url", &plane.url, "--code", &forged]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("do not match this enrolment code"),
        "{}",
        stderr(&out)
    );
    assert!(!device.home.path().join("profile.json").exists());

    // Plain http to another machine: refused before any connection.
    let out = device.run(&[
        "enroll",
        "--url",
        "http://cp.example.com",
        "--code",
        WELL_FORMED_CODE,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("plain http"), "{}", stderr(&out));
    // A mistyped code: refused before anything is created.
    let out = device.run(&["enroll", "--url", &plane.url, "--code", "ABCD-EFGH"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("20 characters"), "{}", stderr(&out));
    assert!(!device.home.path().join("profile.json").exists());
}

/// The control plane is away longer than an approval token lives (10
/// minutes): the decision journalled while it was down is delivered once it
/// is back, with a token made at delivery, after 11 minutes and after a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_decision_survives_an_outage_longer_than_a_token() {
    let (_dir, _db, mut plane) = control_plane();
    let device = Approver::new();
    device.enroll(&plane);
    let mut server_offset = 0;
    // Longer than a token (10 min), shorter than the approval's deadline (the
    // org's 30 min): delivered. Past the deadline: the approval expired, and
    // the person is told the decision did not count.
    for outage in [11 * 60, 24 * 3600] {
        let at = |offset: i64| [("HESO_CLOCK_OFFSET_SECS", offset.to_string())];
        let run_at = |args: &[&str], offset: i64| {
            let env = at(offset);
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            tokio::task::block_in_place(|| device.run_with(args, &env))
        };
        let hash = plane.park(&plane.suspended(4200 + outage as u64)).await;
        let shown = run_at(&["show", &hash, "--json"], server_offset);
        assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
        plane.kill();
        let out = run_at(&["approve", &hash, "--reason", "ok"], server_offset);
        assert_eq!(out.status.code(), Some(3), "journalled: {}", stderr(&out));

        server_offset += outage;
        plane.restart_later(server_offset);
        let out = run_at(&["queue"], server_offset);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let audit: Value =
            serde_json::from_slice(&run_at(&["audit", "--json"], server_offset).stdout).unwrap();
        let entry = audit
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action_hash"] == hash)
            .unwrap()
            .clone();
        if outage < 30 * 60 {
            assert_eq!(poll(&plane, &hash).await, "approved", "after {outage} s");
            assert_eq!(entry["submission"], "confirmed", "{audit}");
            // Sending it again is answered as recorded, not refused.
            let out = run_at(&["approve", &hash], server_offset);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        } else {
            assert_eq!(poll(&plane, &hash).await, "rejected", "after {outage} s");
            assert!(stderr(&out).contains("deadline passed"), "{}", stderr(&out));
            assert_eq!(entry["submission"], "refused", "{audit}");
        }
    }
}

/// Two commands of one device decide one item at once, one approving, one
/// rejecting: exactly one decision is made, and each says what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_between_two_decisions_reports_the_one_that_won() {
    let (_dir, _db, plane) = control_plane();
    let device = Approver::new();
    device.enroll(&plane);
    let hash = plane.park(&plane.suspended(4300)).await;
    let spawn = |verb: &str| {
        Command::new(BIN)
            .args([verb, &hash])
            .env("HESO_APPROVER_HOME", device.home.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (approve, reject) = (spawn("approve"), spawn("reject"));
    let (approve, reject) = tokio::task::block_in_place(|| {
        (
            approve.wait_with_output().unwrap(),
            reject.wait_with_output().unwrap(),
        )
    });
    let status = poll(&plane, &hash).await;
    let (winner, loser) = match status.as_str() {
        "approved" => (&approve, &reject),
        "rejected" => (&reject, &approve),
        other => panic!("undecided: {other}"),
    };
    assert_eq!(winner.status.code(), Some(0), "{}", stderr(winner));
    assert_eq!(loser.status.code(), Some(1), "{}", stderr(loser));
    assert!(
        stderr(loser).contains(&format!("already decided `{status}`")),
        "{}",
        stderr(loser)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_of_three_quorum_from_the_command_line() {
    let (_dir, _db, plane) = control_plane();
    let devices: Vec<Approver> = (0..3).map(|_| Approver::new()).collect();
    for device in &devices {
        device.enroll(&plane);
    }
    let payment = plane.suspended(48_000);
    let hash = plane.park_with_threshold(&payment, 2).await;

    let text = devices[0].ok(&["queue"]);
    assert!(
        text.contains("quorum: 2 of 3 approvers must approve; 0 have so far (2 more needed)"),
        "{text}"
    );
    let shown = devices[0].json(&["show", &hash, "--json"]);
    assert_eq!(shown["item"]["quorum"]["threshold"], 2);
    assert_eq!(shown["item"]["quorum"]["roster_size"], 3);

    let out = devices[0].ok(&["approve", &hash]);
    assert!(
        out.contains("1 of 2 approvals so far: waiting for 1 more approver."),
        "{out}"
    );
    assert_eq!(poll(&plane, &hash).await, "pending");
    let queue = devices[0].json(&["queue", "--json"]);
    assert_eq!(queue[0]["quorum"]["you_voted"], true);
    let text = devices[1].ok(&["show", &hash]);
    assert!(
        text.contains("quorum    2 of 3 approvers must approve; 1 has so far (1 more needed)"),
        "{text}"
    );
    assert!(text.contains("approved  by Ana's laptop (heso:"), "{text}");

    let out = devices[1].ok(&["approve", &hash, "--reason", "second pair of eyes"]);
    assert!(out.contains("The approval is now approved."), "{out}");
    assert_eq!(poll(&plane, &hash).await, "approved");

    // Too late for the third: nothing counts, and it is told why.
    let out = devices[2].run(&["approve", &hash]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("already approved"),
        "{}",
        stderr(&out)
    );

    // A device enrolled after the approval opened is not on its roster: it
    // does not see it.
    let late = Approver::new();
    late.enroll(&plane);
    let queue = late.json(&["queue", "--json"]);
    assert!(queue.as_array().unwrap().is_empty(), "{queue}");
    let out = late.run(&["show", &hash]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));

    let (status, parts) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}/assembly"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{parts}");
    let l1 = plane.assemble_quorum_from_parts(&parts);
    let (status, body) = plane.push(&l1, Some(&hash)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for device in &devices[..2] {
        let audit = device.json(&["audit", "--json"]);
        let entry = audit
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action_hash"] == hash)
            .unwrap()
            .clone();
        assert_eq!(entry["verification"], "Valid L1 (quorum 2 of 3)", "{entry}");
        assert_eq!(entry["verified"], true);
        // Who else signed: the other device of the two, by fingerprint.
        let me = device.json(&["whoami", "--json"])["fingerprint"].clone();
        let others: Vec<Value> = devices[..2]
            .iter()
            .map(|d| d.json(&["whoami", "--json"])["fingerprint"].clone())
            .filter(|f| *f != me)
            .collect();
        assert_eq!(entry["cosigners"], Value::Array(others), "{entry}");
    }
}
