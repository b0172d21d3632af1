//! The vendor SDK as operator, `heso-approver` as approver: suspended action,
//! `heso-approver approve`, `heso.finalize_l1`, a valid L1; a rejection; the audit.

#[path = "../../control-plane/tests/support/mod.rs"]
mod support;

use heso_interop_tests::oracle::Oracle;
use serde_json::{json, Value};
use std::process::Command;
use support::Plane;

fn approver(home: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = tokio::task::block_in_place(|| {
        Command::new(env!("CARGO_BIN_EXE_heso-approver"))
            .args(args)
            .env("HESO_APPROVER_HOME", home)
            .output()
            .unwrap()
    });
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendor_sdk_operator_and_the_command_line_approver() {
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "needs a Secret Service: run under scripts/with-secret-service.sh (scripts/test.sh does)"
    );
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut sdk = Oracle::sdk_operator();
    let mut ask = |request: Value| tokio::task::block_in_place(|| sdk.must(request));
    let operator_key = ask(json!({"op": "init", "dir": project.path()}))["operator_public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let plane = Plane::start_for_operator_key(&operator_key).await;
    ask(json!({"op": "configure", "endpoint": plane.url, "api_key": plane.api_key}));

    let code = plane.enrolment_code("e2e");
    let (status, out) = approver(
        home.path(),
        &["enroll", "--url", &plane.url, "--code", &code],
    );
    assert_eq!(status, 0, "{out}");

    let suspend = |amount: u64| {
        json!({"op": "suspend", "verb": "payment", "tool_name": "stripe.transfers.create",
               "target_host": "api.stripe.com",
               "fields": {"amount": amount, "currency": "USD", "payee": "Globex LLC"}})
    };
    let approved = ask(suspend(4200))["receipt"]["content"]["action_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let rejected = ask(suspend(9900))["receipt"]["content"]["action_hash"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, out) = approver(home.path(), &["queue"]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("Pay 4,200 USD to Globex LLC"), "{out}");
    let (status, out) = approver(
        home.path(),
        &["approve", &approved, "--reason", "invoice checked"],
    );
    assert_eq!(status, 0, "{out}");
    let (status, out) = approver(
        home.path(),
        &["reject", &rejected, "--reason", "over budget"],
    );
    assert_eq!(status, 0, "{out}");

    assert_eq!(
        ask(json!({"op": "poll", "action_hash": approved}))["status"],
        "approved"
    );
    assert_eq!(
        ask(json!({"op": "poll", "action_hash": rejected}))["status"],
        "rejected"
    );
    assert_eq!(
        ask(json!({"op": "finalize", "action_hash": approved}))["duplicate"],
        false
    );

    let (status, out) = approver(home.path(), &["audit", "--json"]);
    assert_eq!(status, 0, "{out}");
    let audit: Value = serde_json::from_str(&out).unwrap();
    let entry = |hash: &str| {
        audit
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action_hash"] == hash)
            .cloned()
            .unwrap()
    };
    assert_eq!(entry(&approved)["verification"], "Valid L1");
    assert_eq!(entry(&approved)["submission"], "confirmed");
    assert_eq!(entry(&rejected)["decision"], "rejected");

    // The exported final receipt verifies in the vendor's verifier too.
    let export = home.path().join("final.jsonl");
    let (status, out) = approver(home.path(), &["export", export.to_str().unwrap()]);
    assert_eq!(status, 0, "{out}");
    let receipt: Value =
        serde_json::from_str(std::fs::read_to_string(&export).unwrap().trim()).unwrap();
    let verdict = ask(json!({"op": "verify", "receipt": receipt}));
    assert_eq!(verdict["verdict"]["kind"], "Valid");
    assert_eq!(verdict["verdict"]["trust_level"], "L1");
}
