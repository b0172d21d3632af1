//! k-of-n approvals on the control plane: the roster fixed at opening, one
//! vote per key, each approval carrying its quorum co-signature, a rejection
//! resolving the approval, the assembly parts, and the quorum L1 accepted
//! only as recorded. Played as the agent (API key), an outsider device and a
//! device trying to vote twice.

mod support;

use heso_receipt::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::*;

struct Quorum {
    plane: Plane,
    devices: Vec<Device>,
    suspended: Receipt,
    hash: String,
    roster: Vec<String>,
}

/// A plane with three enrolled devices and a 2-of-3 approval open.
async fn two_of_three(amount: u64) -> Quorum {
    let plane = Plane::start().await;
    let mut devices = Vec::new();
    for seed in [21, 22, 23] {
        devices.push(plane.enrolled_device(seed).await);
    }
    let suspended = plane.suspended(amount);
    let hash = plane.park_with_threshold(&suspended, 2).await;
    let mut roster: Vec<String> = devices.iter().map(Device::public_b64).collect();
    roster.sort();
    Quorum {
        plane,
        devices,
        suspended,
        hash,
        roster,
    }
}

impl Quorum {
    async fn vote(&self, device: &Device, decision: Decision) -> (StatusCode, Value) {
        let body = device.quorum_decision(&self.suspended, decision, 2, &self.roster);
        device.decide(&self.hash, body).await
    }

    async fn view(&self) -> Value {
        let (status, view) = self
            .plane
            .op(Method::GET, &format!("/v1/approvals/{}", self.hash), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        view
    }
}

#[tokio::test]
async fn two_approvals_of_three_approve_and_assemble_a_valid_quorum_l1() {
    let q = two_of_three(8_800).await;

    // Every device sees the approval with its roster and no votes yet.
    let (status, item) = q.devices[2]
        .call(
            Method::GET,
            &format!("/v1/approver/approvals/{}", q.hash),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{item}");
    assert_eq!(item["threshold"], 2);
    assert_eq!(item["roster"], serde_json::json!(q.roster));
    assert_eq!(item["votes"].as_array().unwrap().len(), 0);

    let (status, body) = q.vote(&q.devices[0], Decision::Approved).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["approval"]["status"], "pending");
    assert_eq!(body["approval"]["approved_count"], 1);
    let view = q.view().await;
    assert_eq!(
        (view["status"].as_str(), view["approved_count"].as_i64()),
        (Some("pending"), Some(1))
    );

    // Not yet met: the operator gets no parts.
    let (status, _) = q
        .plane
        .op(
            Method::GET,
            &format!("/v1/approvals/{}/assembly", q.hash),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The pending list shows who voted, so that device can show "waiting".
    let (_, list) = q.devices[1]
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    let listed = &list["items"][0];
    assert_eq!(listed["approved_count"], 1);
    assert_eq!(
        listed["votes"][0]["approver_public_key"],
        q.devices[0].public_b64()
    );

    let (status, body) = q.vote(&q.devices[1], Decision::Approved).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["approval"]["status"], "approved");
    assert_eq!(body["approval"]["approved_count"], 2);

    // The third is too late.
    let (status, body) = q.vote(&q.devices[2], Decision::Approved).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "already_decided");

    let (status, parts) = q
        .plane
        .op(
            Method::GET,
            &format!("/v1/approvals/{}/assembly", q.hash),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{parts}");
    assert_eq!(parts["legs"].as_array().unwrap().len(), 2);
    assert_eq!(parts["roster"], serde_json::json!(q.roster));
    let l1 = q.plane.assemble_quorum_from_parts(&parts);
    let verified = verify_receipt(l1.clone());
    assert_eq!(verified.verdict.kind, VerdictKind::Valid);
    assert_eq!(verified.verdict.trust_level, Some(TrustLevel::L1));

    // A quorum L1 with a smaller roster (still Valid offline: the operator
    // signs whatever roster it likes) is not this approval's.
    let narrower: Vec<String> = q.roster[..2].to_vec();
    let mut legs_for_narrow = Vec::new();
    for device in &q.devices {
        if narrower.contains(&device.public_b64()) {
            let body = device.quorum_decision(&q.suspended, Decision::Approved, 2, &narrower);
            legs_for_narrow.push(serde_json::json!({
                "record": body["record"], "approver_pubkey_b64": device.public_b64(),
                "co_sig_b64": body["co_sig_b64"],
            }));
        }
    }
    let forged = q.plane.assemble_quorum_from_parts(&serde_json::json!({
        "legs": legs_for_narrow, "threshold": 2, "roster": narrower,
        "suspended_content": q.suspended.content,
    }));
    assert!(verify_receipt(forged.clone()).verdict.is_valid());
    let (status, body) = q.plane.push(&forged, Some(&q.hash)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "supersede_refused");

    // Its records moved after sealing: the hash covers their order.
    let mut moved = l1.clone();
    moved
        .content
        .multi_approval
        .as_mut()
        .unwrap()
        .approvers
        .reverse();
    let (status, body) = q.plane.push(&moved, Some(&q.hash)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["verdict"]["kind"], "HashMismatch", "{body}");

    let (status, body) = q.plane.push(&l1, Some(&q.hash)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn one_rejection_rejects_the_quorum() {
    let q = two_of_three(9_100).await;
    let (status, body) = q.vote(&q.devices[0], Decision::Approved).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = q.vote(&q.devices[2], Decision::Rejected).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["approval"]["status"], "rejected");
    let (status, body) = q.vote(&q.devices[1], Decision::Approved).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "already_decided");
    assert_eq!(body["outcome"]["decision"], "rejected");
    assert_eq!(
        body["outcome"]["approver_public_key"],
        q.devices[2].public_b64()
    );
}

#[tokio::test]
async fn a_device_votes_once_and_an_outsider_not_at_all() {
    let q = two_of_three(7_000).await;
    let body = q.devices[0].quorum_decision(&q.suspended, Decision::Approved, 2, &q.roster);
    let (status, first) = q.devices[0].decide(&q.hash, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    // The same vote again (a retry) is recorded once.
    let (status, again) = q.devices[0].decide(&q.hash, body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["outcome"], "already_recorded");
    assert_eq!(q.view().await["approved_count"], 1);
    // A second, different vote by the same device does not count (and a
    // rejection after approving does not undo the approval either).
    let (status, twice) = q.vote(&q.devices[0], Decision::Rejected).await;
    assert_eq!(status, StatusCode::CONFLICT, "{twice}");
    assert_eq!(twice["code"], "already_voted");
    assert_eq!(q.view().await["approved_count"], 1);
    assert_eq!(q.view().await["status"], "pending");

    // Enrolled and confirmed after the approval opened: not on its roster.
    let late = q.plane.enrolled_device(24).await;
    // It does not see it either.
    assert!(late.listed().await.is_empty());
    let (status, _) = late.item(&q.hash).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The others still share theirs.
    assert_eq!(q.devices[1].listed().await, vec![q.hash.clone()]);
    let (status, body) = q.vote(&late, Decision::Approved).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "not_on_roster");
    assert_eq!(q.view().await["status"], "pending");
}

#[tokio::test]
async fn a_quorum_vote_must_carry_its_quorum_cosignature() {
    let q = two_of_three(6_500).await;
    // The single-approver co-signature signs another body.
    let single = q.devices[0].decision(&q.suspended, Decision::Approved, "");
    let (status, body) = q.devices[0].decide(&q.hash, single).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "cosignature_refused");
    // Signed over another roster (a control plane lying about who else votes).
    let mut other = q.roster.clone();
    other.pop();
    let lied = q.devices[0].quorum_decision(&q.suspended, Decision::Approved, 2, &other);
    let (status, body) = q.devices[0].decide(&q.hash, lied).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(q.view().await["approved_count"], 0);
}

#[tokio::test]
async fn the_agent_cannot_decide_a_quorum_with_tokens() {
    let q = two_of_three(12_000).await;
    // The agent holds the API key; a token from an enrolled device (as if
    // replayed from elsewhere) carries no co-signature and cannot count.
    let token = q.devices[0].token(
        &q.suspended,
        Decision::Approved,
        &q.suspended.content.policy.rule_id,
    );
    let (status, body) = q
        .plane
        .op(
            Method::POST,
            &format!("/v1/approvals/{}/submit-token", q.hash),
            Some(serde_json::json!({
                "token_b64": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, token),
                "action_content": q.suspended.content, "decision": "approved",
                "required_scope": q.suspended.content.policy.rule_id,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "quorum_needs_cosignatures");
    assert_eq!(q.view().await["approved_count"], 0);
}
