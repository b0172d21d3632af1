//! Routing by the org's policy, evaluated by the control plane on the signed
//! action: the rule's approver groups, threshold and deadline; `block` asks
//! nobody; a rule other than the receipt's, or a policy that would allow the
//! action, is routed with a note; devices outside the groups neither see nor
//! decide; a deadline passing rejects the approval as expired.

mod support;

use heso_control_plane::{admin, sweep_expired};
use heso_receipt::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::*;

const POLICY: &str = r#"
[[rule]]
id = "payments.treasury"
order = 10
enabled = true
subject = { kind = "any" }
verb = "payment"
scope = "*"
decision = "require_approval"
approvers = ["Treasury"]
sla_minutes = 45
threshold = 2
conditions = [{ field = "amount", op = "gt", value = 1000 }]

[[rule]]
id = "deletes.never"
order = 20
enabled = true
subject = { kind = "any" }
verb = "delete"
scope = "*"
decision = "block"

[[rule]]
id = "tools.fine"
order = 30
enabled = true
subject = { kind = "any" }
verb = "tool_call"
scope = "*"
decision = "allow"
"#;

fn suspended(plane: &Plane, verb: &str, fields: Value, rule_id: &str, extra: Value) -> Receipt {
    suspended_with(&plane.operator, verb, fields, rule_id, extra)
}

async fn open(plane: &Plane, receipt: &Receipt, threshold: u32) -> (StatusCode, Value) {
    let (status, body) = plane.push(receipt, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    plane
        .op(
            Method::POST,
            "/v1/approvals",
            Some(json!({"action_hash": receipt.content.action_hash,
                        "rule_id": receipt.content.policy.rule_id, "threshold": threshold})),
        )
        .await
}

struct Org {
    plane: Plane,
    treasury: Vec<Device>,
    outsider: Device,
}

async fn org_with_policy() -> Org {
    let plane = Plane::start().await;
    let mut treasury = Vec::new();
    for seed in [41, 42, 43] {
        treasury.push(plane.enrolled_device_in(seed, &["Treasury"]).await);
    }
    let outsider = plane.enrolled_device(44).await;
    admin::set_policy(plane.state().store(), ORG, POLICY).unwrap();
    Org {
        plane,
        treasury,
        outsider,
    }
}

#[tokio::test]
async fn the_rule_routes_to_its_group_with_its_threshold_and_deadline() {
    let org = org_with_policy().await;
    let receipt = suspended(
        &org.plane,
        "payment",
        json!({"amount": 8800}),
        "payments.treasury",
        json!({}),
    );
    let hash = receipt.content.action_hash.clone();
    // The agent asks for one approver; the org's rule says two.
    let (status, view) = open(&org.plane, &receipt, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["threshold"], 2);

    let (status, shown) = org.treasury[0].item(&hash).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["groups"], json!(["Treasury"]));
    assert_eq!(shown["roster"].as_array().unwrap().len(), 3);
    assert_eq!(shown["deadline_source"], "control_plane");
    assert_eq!(shown["sla_minutes"], 45);
    assert!(shown.get("routing_note").is_none(), "{shown}");
    assert!(org.treasury[2].listed().await.contains(&hash));

    // Outside the group: not listed, not shown, not counted.
    assert!(!org.outsider.listed().await.contains(&hash));
    let (status, _) = org.outsider.item(&hash).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = org
        .outsider
        .decide(
            &hash,
            org.outsider.decision(&receipt, Decision::Approved, ""),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "not_on_roster");

    let roster: Vec<String> = serde_json::from_value(shown["roster"].clone()).unwrap();
    for (device, expected) in [
        (&org.treasury[0], "pending"),
        (&org.treasury[1], "approved"),
    ] {
        let body = device.quorum_decision(&receipt, Decision::Approved, 2, &roster);
        let (status, body) = device.decide(&hash, body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["approval"]["status"], expected);
    }
}

#[tokio::test]
async fn block_asks_nobody_and_disagreements_are_routed_with_a_note() {
    let org = org_with_policy().await;
    let delete = suspended(
        &org.plane,
        "delete",
        json!({"bucket": "prod"}),
        "deletes.review",
        json!({}),
    );
    let (status, body) = open(&org.plane, &delete, 1).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "blocked_by_policy");
    assert!(!org.treasury[0]
        .listed()
        .await
        .contains(&delete.content.action_hash));

    // The agent's receipt names its own rule: the org's rule decides, and says so.
    let payment = suspended(
        &org.plane,
        "payment",
        json!({"amount": 5000}),
        "payment.small",
        json!({}),
    );
    let (status, view) = open(&org.plane, &payment, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["threshold"], 2);
    let (_, shown) = org.treasury[1].item(&payment.content.action_hash).await;
    let note = shown["routing_note"].as_str().unwrap();
    assert!(
        note.contains("`payments.treasury`") && note.contains("`payment.small`"),
        "{note}"
    );

    // The policy would allow it: the agent asked anyway; every approver may decide.
    let tool = suspended(
        &org.plane,
        "tool_call",
        json!({"cmd": "ls"}),
        "tools.review",
        json!({}),
    );
    let (status, _) = open(&org.plane, &tool, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, shown) = org.outsider.item(&tool.content.action_hash).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(shown["routing_note"]
        .as_str()
        .unwrap()
        .contains("would allow this action (rule `tools.fine`)"));
    assert_eq!(shown["groups"], json!([]));

    // Not matched by any rule: the policy's default sends it to everyone.
    let payment = suspended(
        &org.plane,
        "payment",
        json!({"amount": 50}),
        "payments.treasury",
        json!({}),
    );
    let (status, view) = open(&org.plane, &payment, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let (_, shown) = org.outsider.item(&payment.content.action_hash).await;
    assert!(shown["routing_note"]
        .as_str()
        .unwrap()
        .contains("policy.default.deny_unknown"));
}

#[tokio::test]
async fn with_a_policy_the_receipt_comes_first() {
    let org = org_with_policy().await;
    let (status, body) = org
        .plane
        .op(
            Method::POST,
            "/v1/approvals",
            Some(json!({"action_hash": "ab".repeat(32), "rule_id": "payments.treasury"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "receipt_first");
}

#[tokio::test]
async fn a_passed_deadline_rejects_the_approval_as_expired() {
    let plane = Plane::start().await;
    let device = plane.enrolled_device(45).await;
    // The operator signed a deadline two seconds away into the suspension.
    let suspension = signed_deadline_in(2);
    let receipt = suspended(
        &plane,
        "payment",
        json!({"amount": 8800}),
        "payments.treasury",
        suspension,
    );
    let hash = receipt.content.action_hash.clone();
    let (status, _) = open(&plane, &receipt, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, shown) = device.item(&hash).await;
    assert_eq!(shown["deadline_source"], "signed");
    assert!(device.listed().await.contains(&hash));

    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    // A vote after the deadline does not count, even before the sweep.
    let (status, body) = device
        .decide(&hash, device.decision(&receipt, Decision::Approved, ""))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "expired");
    sweep_expired(plane.state()).await.unwrap();
    let (_, view) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}"), None)
        .await;
    assert_eq!(view["status"], "rejected");
    assert!(!device.listed().await.contains(&hash));
    let (_, shown) = device.item(&hash).await;
    assert_eq!(shown["resolution"], "expired");

    // The sweep alone expires an approval nobody voted on.
    let quiet = suspended(
        &plane,
        "payment",
        json!({"amount": 9100}),
        "payments.treasury",
        json!({}),
    );
    let (status, _) = open(&plane, &quiet, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(sweep_expired(plane.state()).await.unwrap(), 0);
}
