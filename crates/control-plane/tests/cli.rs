//! The `heso-control-plane` command line: admin commands and a served process.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_heso-control-plane");
const OPERATOR_KEY: &str = "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=";

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn orgs_and_enrolment_codes_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::database(dir.path(), "cp.db");
    let db = db.as_str();
    let (code, out, err) = run(&[
        "org",
        "create",
        "--db",
        db,
        "--name",
        "acme",
        "--operator-key",
        OPERATOR_KEY,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["org"], "acme");
    assert!(created["api_key"].as_str().unwrap().starts_with("heso_cp_"));

    let (code, _, err) = run(&[
        "org",
        "create",
        "--db",
        db,
        "--name",
        "acme",
        "--operator-key",
        OPERATOR_KEY,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = run(&[
        "org",
        "create",
        "--db",
        db,
        "--name",
        "b",
        "--operator-key",
        "not-a-key",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--operator-key"), "{err}");

    let (code, out, _) = run(&[
        "enroll",
        "--db",
        db,
        "--org",
        "acme",
        "--label",
        "Ana's laptop",
        "--json",
    ]);
    assert_eq!(code, 0);
    let enrol: serde_json::Value = serde_json::from_str(&out).unwrap();
    let code_text = enrol["code"].as_str().unwrap();
    // Five groups of four: the secret, then the check of the operator keys.
    assert_eq!(code_text.len(), 24, "{code_text}");
    let parsed = heso_receipt::enrolment::parse(code_text).unwrap();
    let (_, shown, _) = run(&["org", "show", "--db", db, "--name", "acme", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["operator_fingerprints"].as_array().unwrap().len(), 1);
    assert_eq!(shown["trust_api_approvers"], false);
    let store = heso_control_plane::store::Store::connect(db).unwrap();
    let org = store.org_by_name("acme").unwrap().unwrap().id;
    assert_eq!(
        parsed.check,
        heso_receipt::enrolment::operator_keys_check(&store.operator_keys(org).unwrap())
    );
    let (code, out, _) = run(&["enroll", "--db", db, "--org", "acme", "--label", "x"]);
    assert_eq!(code, 0);
    assert!(out.contains("one use, 24 h"), "{out}");
    let (code, _, err) = run(&["enroll", "--db", db, "--org", "nobody", "--label", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains("no org named `nobody`"), "{err}");

    assert_eq!(run(&["org", "create"]).0, 64);
    assert_eq!(run(&["serve"]).0, 1, "serve needs --db or --demo");
}

/// A database password given through the environment (the service's
/// settings file) never appears in help or error output.
#[test]
fn a_database_password_is_never_printed() {
    let secret = "postgres://heso:hunter2@127.0.0.1:1/heso";
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .env("HESO_CONTROL_PLANE_DB", secret)
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("HESO_CONTROL_PLANE_DB"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
    let (code, _, err) = run(&["enroll", "--db", secret, "--org", "acme", "--label", "x"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("postgres://heso:***@127.0.0.1:1/heso"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn serves_until_terminated_then_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::database(dir.path(), "cp.db");
    let mut child = Command::new(BIN)
        .args(["serve", "--db", &db, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let health = reqwest::blocking_get(&format!("{url}/healthz"));
    assert_eq!(health, "ok");
    let ready = reqwest::blocking_get(&format!("{url}/readyz"));
    assert_eq!(ready, "ready", "the database answers and is migrated");

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_demo_prints_an_enrolment_code_and_serves_approvals() {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--demo",
            "--print-secrets",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let code = lines.next().unwrap().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.starts_with("HESO demo control plane at http://127.0.0.1:"),
        "{first}"
    );
    assert!(code.trim().starts_with("enrolment code: "), "{code}");
}

#[test]
fn the_demo_keeps_its_secrets_off_logs_and_warns_off_loopback() {
    // Standard output is a pipe (a log): no secrets without --print-secrets.
    // Listening on every interface (nothing is sent anywhere): a warning.
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "0.0.0.0:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = out.next().unwrap().unwrap();
    let second = out.next().unwrap().unwrap();
    let warning = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.starts_with("HESO demo control plane at http://"),
        "{first}"
    );
    assert!(second.contains("demo secrets not printed"), "{second}");
    assert!(!second.contains("heso_cp_"), "{second}");
    assert!(
        warning.starts_with("WARNING: the demo serves plain HTTP"),
        "{warning}"
    );
}

mod reqwest {
    /// A GET with a fresh runtime, for the synchronous tests here.
    pub fn blocking_get(url: &str) -> String {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}

/// A fresh database with the org `acme`; returns where it is.
fn acme(dir: &tempfile::TempDir) -> String {
    let db = support::database(dir.path(), "cp.db");
    let (code, _, err) = run(&[
        "org",
        "create",
        "--db",
        &db,
        "--name",
        "acme",
        "--operator-key",
        OPERATOR_KEY,
    ]);
    assert_eq!(code, 0, "{err}");
    db
}

/// `policy set` of a file for `acme`.
fn policy_set(db: &str, file: &std::path::Path) -> (i32, String, String) {
    run(&[
        "policy",
        "set",
        "--db",
        db,
        "--org",
        "acme",
        "--file",
        file.to_str().unwrap(),
    ])
}

/// The vendor's starter policy (as `heso init` writes it).
const STARTER_POLICY: &str = r#"
[[rule]]
id = "llm.allow"
order = 10
enabled = true
subject = { kind = "any" }
verb = "llm_call"
scope = "*"
decision = "allow"

[[rule]]
id = "payment.large.requires_approval"
order = 40
enabled = true
subject = { kind = "any" }
verb = "payment"
scope = "*"
decision = "require_approval"
approvers = ["Security Admin"]
sla_minutes = 30
conditions = [{ field = "amount", op = "gt", value = 1000, display = "amount > $1,000" }]
"#;

#[test]
fn policy_eval_prints_a_decision_per_action_and_set_refuses_what_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, STARTER_POLICY).unwrap();
    let actions = dir.path().join("actions.jsonl");
    std::fs::write(
        &actions,
        [
            r#"{"verb":"payment","tool_name":"t","workflow":"w","account":"a","fields":{"amount":"$5,000"}}"#,
            r#"{"verb":"payment","tool_name":"t","workflow":"w","account":"a","fields":{"amount":500}}"#,
            "not an action",
            r#"{"verb":"llm_call","tool_name":"t","workflow":"w","account":"a","fields":{}}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let (code, out, err) = run(&[
        "policy",
        "eval",
        "--file",
        policy.to_str().unwrap(),
        actions.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        concat!(
            "{\"decision_path\":\"require_approval\",\"rule_id\":\"payment.large.requires_approval\"}\n",
            "{\"decision_path\":\"require_approval\",\"rule_id\":\"policy.default.deny_unknown\"}\n",
            "{\"decision_path\":\"allow\",\"rule_id\":\"llm.allow\"}\n",
        )
    );
    assert!(err.contains("line 3: skipped, not an action"), "{err}");

    // A policy that would let payments through without a person.
    let widening =
        STARTER_POLICY.replace("decision = \"require_approval\"", "decision = \"allow\"");
    std::fs::write(&policy, &widening).unwrap();
    let (code, _, err) = run(&["policy", "eval", "--file", policy.to_str().unwrap(), "-"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("rule `payment.large.requires_approval` allows-without-approval the dangerous verb `Payment`"),
        "{err}"
    );
    let db = acme(&dir);
    let db = db.as_str();
    let (code, _, err) = policy_set(db, &policy);
    assert_eq!(code, 1);
    assert!(
        err.contains("is refused: line 12: rule `payment.large.requires_approval`"),
        "{err}"
    );
    std::fs::write(&policy, "[[rule]]\nid = \"x\"\norder = \"first\"\n").unwrap();
    let (code, _, err) = policy_set(db, &policy);
    assert_eq!(code, 1);
    assert!(
        err.contains("TOML parse error at line 3, column 9"),
        "{err}"
    );
    std::fs::write(&policy, STARTER_POLICY).unwrap();
    let (code, out, err) = policy_set(db, &policy);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Policy for `acme` set"), "{out}");
}

#[test]
fn groups_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = acme(&dir);
    let db = db.as_str();
    let (code, out, err) = run(&[
        "enroll",
        "--db",
        db,
        "--org",
        "acme",
        "--label",
        "ana",
        "--group",
        "Treasury",
        "--group",
        "Security Admin",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("code"), "{out}");
    let (code, _, err) = run(&[
        "enroll", "--db", db, "--org", "acme", "--label", "x", "--group", " padded",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("is not a group name"), "{err}");
    let (code, _, err) = run(&[
        "group", "add", "--db", db, "--org", "acme", "--group", "Treasury", "--key-id", "nobody",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no roster entry with key id `nobody`"),
        "{err}"
    );
    let (code, out, err) = run(&["group", "list", "--db", db, "--org", "acme"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("has no approver groups"), "{out}");
    let (code, _, err) = run(&[
        "group", "remove", "--db", db, "--org", "acme", "--group", "Treasury", "--key-id", "nobody",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("is not in the group"), "{err}");

    // A rule's threshold must be a whole number of approvers.
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        STARTER_POLICY.replace("sla_minutes = 30", "sla_minutes = 30\nthreshold = \"two\""),
    )
    .unwrap();
    let (code, _, err) = policy_set(db, &policy);
    assert_eq!(code, 1);
    assert!(
        err.contains("threshold must be a whole number from 1 to 64"),
        "{err}"
    );
}
