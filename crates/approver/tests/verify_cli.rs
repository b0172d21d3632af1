//! `heso-approver verify`: output, summary and exit codes.

use heso_receipt::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heso-approver"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn signed_l0() -> Receipt {
    let operator = SigningKey::from_bytes(&[1; 32]);
    let content: Content = serde_json::from_value(json!({
        "action_version": ACTION_VERSION, "captured_at": "2026-11-21T10:00:00Z",
        "agent_identity": keys::public_key_b64(&operator.verifying_key()),
        "action": {"verb": "delete", "tool_name": "s3.delete_object", "workflow": "cleanup",
                   "account": "acct_9", "fields": {"bucket": "invoices", "key": "2026/11/*"}},
        "policy": {"rule_id": "delete.requires_approval", "rule_display": "Deletes need approval",
                   "matched_conditions": [], "decision_path": "require_approval"},
        "trust_level": "L0", "action_hash": ""
    }))
    .unwrap();
    sign_as_operator(&operator, content).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn tampered() -> String {
    let mut r = signed_l0();
    r.content
        .action
        .fields
        .insert("bucket".into(), "payroll".into());
    serde_json::to_string(&r).unwrap()
}

#[test]
fn a_valid_receipt_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "r.json",
        &serde_json::to_string_pretty(&signed_l0()).unwrap(),
    );
    let out = run(&["verify", &file]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), format!("{file}: Valid L0\n"));
}

#[test]
fn jsonl_prints_one_verdict_per_line_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_string(&signed_l0()).unwrap();
    let file = write(
        dir.path(),
        "r.jsonl",
        &format!("{good}\n\n{}\n{good}\n", tampered()),
    );
    let out = run(&["verify", &file]);
    assert_eq!(out.status.code(), Some(1), "an invalid receipt exits 1");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("{file}:1: Valid L0"));
    assert_eq!(
        lines[1],
        format!("{file}:3: HashMismatch: the content does not hash to its action_hash")
    );
    assert_eq!(lines[2], format!("{file}:4: Valid L0"));
    assert_eq!(lines[3], "2 valid, 1 invalid");
}

#[test]
fn json_output_is_one_object_per_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_string(&signed_l0()).unwrap();
    let file = write(dir.path(), "r.jsonl", &format!("{good}\n{{\"alg\": 1}}\n"));
    let out = run(&["verify", "--json", &file]);
    assert_eq!(out.status.code(), Some(2), "a malformed receipt exits 2");
    let objects: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["kind"], "Valid");
    assert_eq!(objects[0]["trust_level"], "L0");
    assert_eq!(objects[0]["detail"], Value::Null);
    assert_eq!(objects[0]["source"], format!("{file}:1"));
    assert_eq!(objects[1]["kind"], "Malformed");
    assert!(objects[1].get("trust_level").is_none());
    assert!(objects[1]["detail"]
        .as_str()
        .unwrap()
        .contains("not a well-formed"));
}

#[test]
fn unrecognized_takes_precedence_over_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let mut wrong_alg = signed_l0();
    wrong_alg.alg = "heso-action/v9+ed25519".into();
    let file = write(
        dir.path(),
        "r.jsonl",
        &format!(
            "{}\n{}\n",
            tampered(),
            serde_json::to_string(&wrong_alg).unwrap()
        ),
    );
    let out = run(&["verify", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).ends_with("0 valid, 2 invalid\n"));
}

#[test]
fn usage_errors_exit_64_and_missing_files_66() {
    assert_eq!(run(&["verify"]).status.code(), Some(64));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(64));
    let out = run(&["verify", "/nonexistent/receipts.jsonl"]);
    assert_eq!(out.status.code(), Some(66));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read /nonexistent/receipts.jsonl"),
        "{err}"
    );
    assert_eq!(run(&["--help"]).status.code(), Some(0));
}

/// A session chain written by the vendor's suspend/resume layer (from the
/// lifecycle vectors), and one of its links as an agent would forge it.
fn vendor_links(prefix: &str) -> Vec<Value> {
    let all: Value =
        serde_json::from_str(include_str!("../../receipt/tests/vectors/lifecycle.json")).unwrap();
    all["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with(prefix))
        .map(|c| c["receipt"].clone())
        .collect()
}

#[test]
fn a_gated_sessions_links_verify_by_kind_and_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let chain = vendor_links("real full chain");
    assert_eq!(chain.len(), 4);
    let lines: Vec<String> = chain.iter().map(Value::to_string).collect();
    let file = write(dir.path(), "chain.jsonl", &(lines.join("\n") + "\n"));
    let out = run(&["verify", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    for (line, verdict) in ["Valid L0", "Valid L1", "Valid L1", "Valid L0"]
        .iter()
        .enumerate()
    {
        assert!(
            text.contains(&format!("{file}:{}: {verdict}\n", line + 1)),
            "{text}"
        );
    }
    for kind in ["suspended", "escalated", "approved", "completed"] {
        assert!(text.contains(&format!("session link `{kind}`")), "{text}");
    }
    assert!(text.ends_with("4 valid, 0 invalid\n"), "{text}");

    // The agent's host signs its own "approved" link as the operator.
    let forged = vendor_links("approved, action domain, role operator");
    let file = write(dir.path(), "forged.json", &forged[0].to_string());
    let out = run(&["verify", "--json", &file]);
    assert_ne!(out.status.code(), Some(0));
    let verdict: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(verdict["kind"], "Malformed");
    assert_eq!(verdict["session_link"], "approved");
    assert!(verdict["detail"]
        .as_str()
        .unwrap()
        .contains("a customer cannot approve their own pause"));
}

/// A chain from the chain vectors: written by the vendor's suspend/resume
/// layer (`real: …`) or broken from one, with the vendor's verdict.
fn vendor_chain(name: &str) -> (Vec<Value>, Value) {
    let all: Value =
        serde_json::from_str(include_str!("../../receipt/tests/vectors/chains.json")).unwrap();
    let case = all["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no chain `{name}`"));
    (
        case["chain"].as_array().unwrap().clone(),
        case["verdict"].clone(),
    )
}

fn write_chain(dir: &Path, file: &str, links: &[Value]) -> String {
    let lines: String = links.iter().map(|link| format!("{link}\n")).collect();
    write(dir, file, &lines)
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_vendor_chain_verifies_link_by_link_and_as_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (links, _) = vendor_chain("real: full");
    let file = write_chain(dir.path(), "full.jsonl", &links);
    let out = run(&["verify", "--chain", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    for (line, kind) in ["suspended", "escalated", "approved", "completed"]
        .iter()
        .enumerate()
    {
        assert!(
            text.contains(&format!("{file}:{}: Valid", line + 1)),
            "{text}"
        );
        assert!(text.contains(&format!("session link `{kind}`")), "{text}");
    }
    // The link's place is checked now, so the warning no longer says otherwise.
    assert!(!text.contains("not checked"), "{text}");
    assert!(text.ends_with("\nchain: Valid, 4 links\n"), "{text}");

    let out = run(&["verify", "--chain", "--json", &file]);
    assert_eq!(out.status.code(), Some(0));
    let objects = json_lines(&out);
    assert_eq!(objects.len(), 5);
    assert!(objects[..4].iter().all(|o| o["kind"] == "Valid"));
    assert_eq!(objects[3]["source"], format!("{file}:4"));
    assert_eq!(objects[4], json!({"chain": "Valid", "length": 4}));
}

#[test]
fn a_broken_chain_says_which_link_broke_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let (links, verdict) = vendor_chain("full: a middle link dropped");
    let file = write_chain(dir.path(), "dropped.jsonl", &links);
    let detail = "seq 2 out of order (expected 1); a drop, reorder, or insert breaks the chain";
    assert_eq!(
        verdict,
        json!({"kind": "LinkBroken", "seq": 2, "detail": detail})
    );
    let out = run(&["verify", "--chain", &file]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().filter(|l| l.contains(": Valid")).count(), 3);
    assert_eq!(
        text.lines().last().unwrap(),
        format!("chain: LinkBroken at seq 2 ({file}:2): {detail}")
    );

    let out = run(&["verify", "--chain", "--json", &file]);
    assert_eq!(out.status.code(), Some(1));
    let last = json_lines(&out).pop().unwrap();
    assert_eq!(
        last,
        json!({"chain": "LinkBroken", "seq": 2, "detail": detail, "source": format!("{file}:2")})
    );
}

#[test]
fn every_broken_chain_exits_one_with_the_vendors_verdict() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "full: the amount edited",
        "re-linked: escalated relabelled denied",
        "re-linked: the decision under the operator's domain",
        "re-linked: a second terminal",
        "full: another session's decision spliced in",
    ] {
        let (links, verdict) = vendor_chain(name);
        let file = write_chain(dir.path(), "broken.jsonl", &links);
        let out = run(&["verify", "--chain", "--json", &file]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let mut last = json_lines(&out).pop().unwrap();
        let object = last.as_object_mut().unwrap();
        assert!(object.remove("source").is_some(), "{name}: {object:?}");
        let kind = object.remove("chain").unwrap();
        object.insert("kind".into(), kind);
        assert_eq!(last, verdict, "{name}");

        let text = stdout(&run(&["verify", "--chain", &file]));
        let line = text.lines().last().unwrap();
        let kind = verdict["kind"].as_str().unwrap();
        let seq = verdict["seq"].as_u64().unwrap();
        assert!(
            line.starts_with(&format!("chain: {kind} at seq {seq} (")),
            "{line}"
        );
    }
}

#[test]
fn a_chain_with_a_line_that_is_not_a_receipt_is_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let (links, _) = vendor_chain("real: denied");
    let file = write(
        dir.path(),
        "holed.jsonl",
        &format!("{}\n{{\"alg\": 1}}\n{}\n", links[0], links[1]),
    );
    let out = run(&["verify", "--chain", &file]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("{file}:2: Malformed")), "{text}");
    assert!(text.ends_with(&format!("chain: not judged: {file}:2 is not a receipt\n")));
    let out = run(&["verify", "--chain", "--json", &file]);
    assert_eq!(out.status.code(), Some(2));
    let last = json_lines(&out).pop().unwrap();
    assert_eq!(last["chain"], Value::Null);
    assert_eq!(last["source"], format!("{file}:2"));
}

#[test]
fn chain_usage_errors_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "empty.jsonl", "\n");
    let out = run(&["verify", "--chain", &file]);
    assert_eq!(out.status.code(), Some(1), "no links is no chain");
    assert_eq!(stdout(&out), "chain: Empty: the file holds no receipts\n");
    let out = run(&["verify", "--chain", "--threads", "2", &file]);
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(run(&["verify", "--chain"]).status.code(), Some(64));
    let out = run(&["verify", "--chain", "/nonexistent/chain.jsonl"]);
    assert_eq!(out.status.code(), Some(66));
}
