//! The vendor SDK as a real operator against our control plane, with an
//! approver built on the protocol crate deciding through the approver API.

#[path = "../crates/control-plane/tests/support/mod.rs"]
mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_interop_tests::oracle::Oracle;
use heso_receipt::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::{Device, Plane};

/// The SDK operator, called from async tests without stalling the server.
struct Sdk(Oracle);

impl Sdk {
    fn ask(&mut self, request: Value) -> Value {
        tokio::task::block_in_place(|| self.0.ask(request))
    }

    fn must(&mut self, request: Value) -> Value {
        tokio::task::block_in_place(|| self.0.must(request))
    }
}

async fn setup() -> (Sdk, Plane, Device, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut sdk = Sdk(Oracle::sdk_operator());
    let init = sdk.must(json!({"op": "init", "dir": dir.path()}));
    let operator_key = init["operator_public_key"].as_str().unwrap().to_owned();
    let plane = Plane::start_for_operator_key(&operator_key).await;
    sdk.must(json!({"op": "configure", "endpoint": plane.url, "api_key": plane.api_key}));
    let device = plane.enrolled_device(21).await;
    (sdk, plane, device, dir)
}

fn suspend_payment(sdk: &mut Sdk, amount: u64) -> Receipt {
    let answer = sdk.must(json!({
        "op": "suspend", "verb": "payment", "tool_name": "stripe.transfers.create",
        "target_host": "api.stripe.com",
        "fields": {"amount": amount, "currency": "USD", "payee": "Globex LLC"},
    }));
    assert_eq!(answer["status"], "pending");
    serde_json::from_value(answer["receipt"].clone()).unwrap()
}

/// What the approver sees: the pending item, verified with our crate.
async fn pending_item(device: &Device, hash: &str) -> Receipt {
    let (status, list) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["action_hash"] == hash)
        .unwrap_or_else(|| panic!("{hash} not pending: {list}"))
        .clone();
    let verified = verify_receipt(serde_json::from_value(item["receipt"].clone()).unwrap());
    assert_eq!(verified.verdict.kind, VerdictKind::Valid);
    assert_eq!(verified.verdict.trust_level, Some(TrustLevel::L0));
    verified.receipt.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_through_the_approver_api_finalizes_to_a_valid_l1() {
    let (mut sdk, _plane, device, _dir) = setup().await;
    let suspended = suspend_payment(&mut sdk, 4200);
    let hash = suspended.content.action_hash.clone();
    let shown = pending_item(&device, &hash).await;
    assert_eq!(shown, suspended);

    let (status, body) = device
        .decide(
            &hash,
            device.decision(&shown, Decision::Approved, "invoice checked"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sdk.must(json!({"op": "poll", "action_hash": hash}))["status"],
        "approved"
    );

    let finalized = sdk.must(json!({"op": "finalize", "action_hash": hash}));
    assert_eq!(finalized["duplicate"], false);

    let (_, mine) = device
        .call(Method::GET, "/v1/approver/cosignatures", None)
        .await;
    let item = &mine["items"][0];
    assert_eq!(item["action_hash"], hash);
    let final_receipt = item["final_receipt"].clone();
    let vendor = sdk.must(json!({"op": "verify", "receipt": final_receipt}));
    assert_eq!(vendor["verdict"]["kind"], "Valid");
    assert_eq!(vendor["verdict"]["trust_level"], "L1");
    let ours = verify_receipt(serde_json::from_value(final_receipt).unwrap());
    assert_eq!(ours.verdict.kind, VerdictKind::Valid);
    assert_eq!(ours.verdict.trust_level, Some(TrustLevel::L1));
    assert_eq!(ours.approver_key, Some(device.key.verifying_key()));
    assert!(!ours.verdict.approver_identity_mismatch);

    // Finalizing again is answered as a duplicate, not an error.
    assert_eq!(
        sdk.must(json!({"op": "finalize", "action_hash": hash}))["duplicate"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_of_three_quorum_finalizes_to_a_valid_quorum_l1_in_both_verifiers() {
    let (mut sdk, plane, first, _dir) = setup().await;
    let second = plane.enrolled_device(22).await;
    let third = plane.enrolled_device(23).await;
    let answer = sdk.must(json!({
        "op": "suspend", "verb": "payment", "tool_name": "stripe.transfers.create",
        "fields": {"amount": 88_000, "currency": "USD", "payee": "Globex LLC"}, "threshold": 2,
    }));
    let suspended: Receipt = serde_json::from_value(answer["receipt"].clone()).unwrap();
    let hash = suspended.content.action_hash.clone();
    let (_, item) = third
        .call(Method::GET, &format!("/v1/approver/approvals/{hash}"), None)
        .await;
    let roster: Vec<String> = serde_json::from_value(item["roster"].clone()).unwrap();
    assert_eq!(roster.len(), 3);
    assert_eq!(item["threshold"], 2);

    for (device, expected) in [(&first, "pending"), (&third, "approved")] {
        let shown = pending_item(device, &hash).await;
        let body = device.quorum_decision(&shown, Decision::Approved, 2, &roster);
        let (status, body) = device.decide(&hash, body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let polled = sdk.must(json!({"op": "poll", "action_hash": hash}));
        assert_eq!(polled["status"], expected, "{polled}");
    }
    let (status, late) = second
        .decide(
            &hash,
            second.quorum_decision(&suspended, Decision::Approved, 2, &roster),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{late}");

    let finalized = sdk.must(json!({"op": "finalize_quorum", "action_hash": hash}));
    assert_eq!(finalized["legs"], 2);
    let (_, mine) = third
        .call(Method::GET, "/v1/approver/cosignatures", None)
        .await;
    let final_receipt = mine["items"][0]["final_receipt"].clone();
    assert!(final_receipt.is_object(), "{mine}");
    let vendor = sdk.must(json!({"op": "verify", "receipt": final_receipt}));
    assert_eq!(vendor["verdict"]["kind"], "Valid");
    assert_eq!(vendor["verdict"]["trust_level"], "L1");
    let ours = verify_receipt(serde_json::from_value(final_receipt).unwrap());
    assert_eq!(ours.verdict.kind, VerdictKind::Valid);
    let mut signed_by = ours.quorum_keys.clone();
    signed_by.sort_by_key(|k| k.to_bytes());
    let mut expected = vec![first.key.verifying_key(), third.key.verifying_key()];
    expected.sort_by_key(|k| k.to_bytes());
    assert_eq!(signed_by, expected);
}

/// The org's policy: the SDK's large payments go to Security Admin, two of them.
const ORG_POLICY: &str = r#"
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
threshold = 2
conditions = [{ field = "amount", op = "gt", value = 1000 }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orgs_policy_routes_an_sdk_approval_to_its_group_and_threshold() {
    let (mut sdk, plane, outsider, _dir) = setup().await;
    let admins = [
        plane.enrolled_device_in(31, &["Security Admin"]).await,
        plane.enrolled_device_in(32, &["Security Admin"]).await,
        plane.enrolled_device_in(33, &["Security Admin"]).await,
    ];
    heso_control_plane::admin::set_policy(plane.state().store(), support::ORG, ORG_POLICY).unwrap();
    // The SDK opens it for one approver; the org's rule needs two.
    let suspended = suspend_payment(&mut sdk, 12_000);
    let hash = suspended.content.action_hash.clone();
    let (_, item) = admins[0]
        .call(Method::GET, &format!("/v1/approver/approvals/{hash}"), None)
        .await;
    assert_eq!(item["threshold"], 2, "{item}");
    assert_eq!(item["groups"], json!(["Security Admin"]));
    let roster: Vec<String> = serde_json::from_value(item["roster"].clone()).unwrap();
    assert_eq!(roster.len(), 3);

    // The outsider (enrolled, confirmed, not in the group) neither sees nor decides it.
    let (_, list) = outsider
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    let (status, body) = outsider
        .decide(
            &hash,
            outsider.quorum_decision(&suspended, Decision::Approved, 2, &roster),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    for (device, expected) in [(&admins[2], "pending"), (&admins[0], "approved")] {
        let shown = pending_item(device, &hash).await;
        let (status, body) = device
            .decide(
                &hash,
                device.quorum_decision(&shown, Decision::Approved, 2, &roster),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            sdk.must(json!({"op": "poll", "action_hash": hash}))["status"],
            expected
        );
    }
    let finalized = sdk.must(json!({"op": "finalize_quorum", "action_hash": hash}));
    assert_eq!(finalized["legs"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_polls_as_rejected_and_cannot_be_finalized() {
    let (mut sdk, _plane, device, _dir) = setup().await;
    let suspended = suspend_payment(&mut sdk, 9900);
    let hash = suspended.content.action_hash.clone();
    let shown = pending_item(&device, &hash).await;
    let (status, body) = device
        .decide(
            &hash,
            device.decision(&shown, Decision::Rejected, "unknown payee"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sdk.must(json!({"op": "poll", "action_hash": hash}))["status"],
        "rejected"
    );
    let refused = sdk.ask(json!({"op": "finalize", "action_hash": hash}));
    assert_eq!(refused["ok"], false);
    assert!(
        refused["error"].as_str().unwrap().contains("409"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_submit_token_path_records_the_vote() {
    let (mut sdk, _plane, device, _dir) = setup().await;
    let suspended = suspend_payment(&mut sdk, 5100);
    let hash = suspended.content.action_hash.clone();
    let rule = suspended.content.policy.rule_id.clone();
    let token = STANDARD.encode(device.token(&suspended, Decision::Approved, &rule));
    let submit = |token: &str, decision: &str| {
        json!({"op": "submit_token", "action_hash": hash, "token_b64": token,
               "content": suspended.content, "scope": rule, "decision": decision})
    };
    let refused = sdk.ask(submit(&token, "rejected"));
    assert!(
        refused["error"].as_str().unwrap().contains("403"),
        "{refused}"
    );
    let view = sdk.must(submit(&token, "approved"));
    assert_eq!(view["status"], "approved");
    assert_eq!(
        sdk.must(json!({"op": "poll", "action_hash": hash}))["status"],
        "approved"
    );
}

/// The agent holds the org's API key and its operator key. It mints a key,
/// registers it as an approver through the SDK, and votes with it: the vote
/// is refused and the approval stays pending until an administrator confirms
/// that key; a revoked key is refused again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cannot_approve_its_own_action_with_a_key_it_registered() {
    let (mut sdk, plane, _device, _dir) = setup().await;
    let suspended = suspend_payment(&mut sdk, 8800);
    let hash = suspended.content.action_hash.clone();
    let rule = suspended.content.policy.rule_id.clone();
    let minted = Device::new(&plane, 99);
    sdk.must(json!({"op": "register_approver", "key_id": "agent-bot",
                    "public_key": minted.public_b64(), "label": "ci-bot"}));
    // Each call signs a fresh token (a new nonce).
    let vote = || {
        let token = minted.token(&suspended, Decision::Approved, &rule);
        json!({"op": "submit_token", "action_hash": hash, "token_b64": STANDARD.encode(token),
               "content": suspended.content, "scope": rule, "decision": "approved"})
    };
    let refused = sdk.ask(vote());
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("403"),
        "{refused}"
    );
    // The same vote sent by hand says why.
    let (status, body) = plane
        .op(
            Method::POST,
            &format!("/v1/approvals/{hash}/submit-token"),
            Some(json!({"token_b64": STANDARD.encode(minted.token(&suspended, Decision::Approved, &rule)),
                        "action_content": suspended.content, "required_scope": rule, "decision": "approved"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "approver_unconfirmed", "{body}");
    assert_eq!(
        sdk.must(json!({"op": "poll", "action_hash": hash}))["status"],
        "pending"
    );
    // The agent cannot take over an enrolled device's entry either.
    let store = plane.state().store();
    let org = store.org_by_name(support::ORG).unwrap().unwrap().id;
    let enrolled = store
        .roster(org)
        .unwrap()
        .into_iter()
        .find(|e| e.source == "enrolment")
        .unwrap();
    let takeover = sdk.ask(json!({"op": "register_approver", "key_id": enrolled.key_id,
                                  "public_key": minted.public_b64()}));
    assert_eq!(takeover["ok"], false, "{takeover}");

    // An administrator confirms the key: now its vote counts.
    heso_control_plane::admin::change_approver(
        store,
        support::ORG,
        "agent-bot",
        heso_control_plane::admin::RosterChange::Confirm,
    )
    .unwrap();
    let view = sdk.must(vote());
    assert_eq!(view["status"], "approved");

    // Revoked: refused on the next approval.
    heso_control_plane::admin::change_approver(
        store,
        support::ORG,
        "agent-bot",
        heso_control_plane::admin::RosterChange::Revoke,
    )
    .unwrap();
    let next = suspend_payment(&mut sdk, 9100);
    let next_rule = next.content.policy.rule_id.clone();
    let token = minted.token(&next, Decision::Approved, &next_rule);
    let (status, body) = plane
        .op(
            Method::POST,
            &format!("/v1/approvals/{}/submit-token", next.content.action_hash),
            Some(
                json!({"token_b64": STANDARD.encode(token), "action_content": next.content,
                        "required_scope": next_rule, "decision": "approved"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "approver_revoked", "{body}");
    assert_eq!(
        sdk.must(json!({"op": "poll", "action_hash": next.content.action_hash}))["status"],
        "pending"
    );
}

/// Two replicas on one PostgreSQL database (`scripts/with-postgres.sh`): the
/// vendor SDK suspends and finalizes through replica A; the approver's
/// device long-polls and decides through replica B. Without PostgreSQL there
/// is one process, and this test says so and stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_on_one_replica_and_the_approver_on_another() {
    if support::test_postgres().is_none() {
        eprintln!("replicas need PostgreSQL: run under scripts/with-postgres.sh");
        return;
    }
    let (mut sdk, a, device, _dir) = setup().await;
    let b = a.replica().await;
    let device = Device {
        url: b.url.clone(),
        ..device
    };
    let (_, list) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    let since = list["version"].as_u64().unwrap();
    let target = format!("/v1/approver/approvals?wait=20&since={since}");
    let poller = Device {
        key: device.key.clone(),
        url: device.url.clone(),
        http: device.http.clone(),
    };
    let poll = tokio::spawn(async move {
        let answer = poller.call(Method::GET, &target, None).await;
        (answer, std::time::Instant::now())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let suspended = suspend_payment(&mut sdk, 7700);
    let opened = std::time::Instant::now();
    let hash = suspended.content.action_hash.clone();
    let ((status, _), answered) = poll.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let waited = answered.saturating_duration_since(opened);
    assert!(
        waited < std::time::Duration::from_secs(1),
        "B woke {waited:?} after the SDK opened the approval on A"
    );

    let shown = pending_item(&device, &hash).await;
    assert_eq!(shown, suspended);
    let (status, body) = device
        .decide(&hash, device.decision(&shown, Decision::Approved, "via B"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sdk.must(json!({"op": "poll", "action_hash": hash}))["status"],
        "approved"
    );
    sdk.must(json!({"op": "finalize", "action_hash": hash}));
    let (_, mine) = device
        .call(Method::GET, "/v1/approver/cosignatures", None)
        .await;
    let final_receipt = mine["items"][0]["final_receipt"].clone();
    let vendor = sdk.must(json!({"op": "verify", "receipt": final_receipt}));
    assert_eq!(vendor["verdict"]["kind"], "Valid");
    assert_eq!(vendor["verdict"]["trust_level"], "L1");
    let ours = verify_receipt(serde_json::from_value(final_receipt).unwrap());
    assert_eq!(
        (ours.verdict.kind, ours.verdict.trust_level),
        (VerdictKind::Valid, Some(TrustLevel::L1))
    );
}
