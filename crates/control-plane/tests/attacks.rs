//! The control plane played against: an agent holding the org's API key and
//! its operator key, a device outside the routed group, a flood of junk.
//! Each test is the attack, and what must hold against it. They run on
//! both backends (SQLite, and PostgreSQL under `scripts/with-postgres.sh`).

mod support;

use heso_control_plane::admin::{self, RosterChange};
use heso_control_plane::pending_pages::MAX_PAGE_BYTES;
use heso_control_plane::rate_limit::EnrolmentQuota;
use heso_control_plane::Config;
use heso_receipt::verify::Verifier;
use heso_receipt::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::*;

const TREASURY_POLICY: &str = r#"
[[rule]]
id = "payments.treasury"
order = 10
enabled = true
subject = { kind = "any" }
verb = "payment"
scope = "*"
decision = "require_approval"
approvers = ["Treasury"]
conditions = [{ field = "amount", op = "gt", value = 1000 }]
"#;

/// Opens an approval for `receipt` as the SDK does.
async fn open(plane: &Plane, receipt: &Receipt) {
    let (status, body) = plane.push(receipt, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = plane
        .op(
            Method::POST,
            "/v1/approvals",
            Some(json!({"action_hash": receipt.content.action_hash,
                        "rule_id": receipt.content.policy.rule_id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

fn hashes(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action_hash"].as_str().unwrap().to_owned())
        .collect()
}

/// A device outside Treasury long-polls while the operator opens a
/// Treasury payment: the answer that wakes it must not carry the item
/// (it used to: the page for a woken poll skipped the per-device view).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woken_long_poll_shows_a_device_only_what_is_routed_to_it() {
    let plane = Plane::start().await;
    let treasurer = plane.enrolled_device_in(41, &["Treasury"]).await;
    let outsider = plane.enrolled_device(44).await;
    admin::set_policy(plane.state().store(), ORG, TREASURY_POLICY).unwrap();

    let (status, first) = outsider
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let since = first["version"].as_u64().unwrap();
    let path = format!("/v1/approver/approvals?wait=20&since={since}");
    let (outsider_poll, treasurer_poll) = (
        tokio::spawn({
            let path = path.clone();
            async move { outsider.call(Method::GET, &path, None).await }
        }),
        tokio::spawn(async move { treasurer.call(Method::GET, &path, None).await }),
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let payment = plane.suspended(8800);
    let hash = payment.content.action_hash.clone();
    open(&plane, &payment).await;

    let (status, woken) = outsider_poll.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{woken}");
    assert!(woken["version"].as_u64().unwrap() > since, "woken: {woken}");
    assert!(
        !hashes(&woken).contains(&hash),
        "the outsider's woken poll carries the Treasury item: {woken}"
    );
    assert_eq!(woken["pending_total"], 0, "{woken}");
    let (status, woken) = treasurer_poll.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{woken}");
    assert!(hashes(&woken).contains(&hash), "{woken}");
}

/// With the API key and the operator key, the agent mints an approver key,
/// co-signs its own action and pushes the L1 without
/// `supersedes_action_hash`, before and after a person rejected the action:
/// the log refuses it every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_refuses_an_l1_whose_approval_was_never_recorded() {
    let plane = Plane::start().await;
    let person = plane.enrolled_device(1).await;
    let suspended = plane.suspended(8800);
    let hash = plane.park(&suspended).await;

    let minted = SigningKey::from_bytes(&[0x5a; 32]);
    let record = ApproverRecord {
        decision: Decision::Approved,
        approver_identity: keys::public_key_b64(&minted.verifying_key()),
        reason: "looks fine".into(),
        decided_at: "2026-11-21T10:05:00Z".into(),
        sla_minutes: Some(30),
        unsigned: Default::default(),
    };
    let co_sig = cosign(&minted, &suspended.content, &record).unwrap();
    let forged = assemble_l1(
        &plane.operator,
        &suspended.content,
        &record,
        &minted.verifying_key(),
        &co_sig,
    )
    .unwrap();
    assert_eq!(
        Verifier::default().verify(forged.clone()).verdict.kind,
        VerdictKind::Valid,
        "the forgery verifies offline: only the control plane's record can tell"
    );
    let (status, body) = plane.push(&forged, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "supersede_required", "{body}");

    // A person rejects; the agent tries again, both ways.
    let (status, body) = person
        .decide(&hash, person.decision(&suspended, Decision::Rejected, "no"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = plane.push(&forged, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = plane.push(&forged, Some(&hash)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // A quorum L1 of the agent's own keys, pushed bare, is refused too.
    let other = plane.suspended(9100);
    let roster: Vec<String> = [0x61u8, 0x62]
        .iter()
        .map(|s| keys::public_key_b64(&SigningKey::from_bytes(&[*s; 32]).verifying_key()))
        .collect();
    let legs: Vec<QuorumLeg> = [0x61u8, 0x62]
        .iter()
        .map(|s| {
            let key = SigningKey::from_bytes(&[*s; 32]);
            let record = ApproverRecord {
                approver_identity: keys::public_key_b64(&key.verifying_key()),
                ..record.clone()
            };
            QuorumLeg {
                co_signature: quorum_cosign(&key, &other.content, 2, &roster, &record).unwrap(),
                approver_key: key.verifying_key(),
                record,
            }
        })
        .collect();
    let quorum = assemble_quorum(&plane.operator, &other.content, 2, &roster, &legs).unwrap();
    assert_eq!(
        Verifier::default().verify(quorum.clone()).verdict.kind,
        VerdictKind::Valid
    );
    let (status, body) = plane.push(&quorum, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // The genuine path still lands.
    let genuine = plane.suspended(4200);
    let genuine_hash = plane.park(&genuine).await;
    let (status, body) = person
        .decide(
            &genuine_hash,
            person.decision(&genuine, Decision::Approved, "ok"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    plane.finalize(&genuine_hash).await;
}

/// The agent pushes 300 receipts of about 1 MB each and asks for the
/// pending list ten ways at once: every page stays within its byte bound,
/// and paging through still reaches every item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_receipts_cannot_blow_up_a_pending_page() {
    let plane = Plane::start().await;
    let device = plane.enrolled_device(1).await;
    let padding = "x".repeat(900 * 1024);
    let count = 40;
    for i in 0..count {
        let receipt = suspended_with(
            &plane.operator,
            "payment",
            json!({"amount": 1000 + i, "memo": padding}),
            "payment.large.requires_approval",
            json!({}),
        );
        plane.park(&receipt).await;
    }
    let mut polls = Vec::new();
    for limit in 491..501 {
        let device = Device::new(&plane, 1);
        polls.push(tokio::spawn(async move {
            device
                .request(
                    Method::GET,
                    &format!("/v1/approver/approvals?limit={limit}"),
                    b"",
                    now(),
                )
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
        }));
    }
    for poll in polls {
        let body = poll.await.unwrap();
        assert!(
            (body.len() as i64) < MAX_PAGE_BYTES + 1024 * 1024,
            "a page of {} bytes",
            body.len()
        );
        let page: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(page["pending_total"], count, "{}", page["pending_total"]);
        assert!(
            page["next_before"].is_i64(),
            "cut by size, so a cursor follows"
        );
    }
    // Following the cursors reaches every item once.
    let mut seen = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/v1/approver/approvals?limit=500&before={b}"),
            None => "/v1/approver/approvals?limit=500".to_owned(),
        };
        let (status, page) = device.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(hashes(&page));
        match page["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), count as usize, "{seen:?}");
    assert_eq!(unique.len(), count as usize);
}

/// A key the agent registers with the API key reads nothing until an
/// administrator confirms it: no pending list (every workflow's receipts),
/// no item, no roster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_registered_with_the_api_key_reads_nothing_before_confirmation() {
    let plane = Plane::start().await;
    let _person = plane.enrolled_device(1).await;
    let hash = plane.park(&plane.suspended(8800)).await;
    let minted = Device::new(&plane, 0x66);
    let (status, body) = plane
        .op(
            Method::POST,
            "/v1/orgs/register-approver-pubkey",
            Some(json!({"key_id": "agent-bot", "public_key": minted.public_b64(), "label": "bot"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let item = format!("/v1/approver/approvals/{hash}");
    for path in [
        "/v1/approver/approvals",
        item.as_str(),
        "/v1/approver/roster",
        "/v1/approver/cosignatures",
    ] {
        let (status, body) = minted.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["code"], "approver_unconfirmed", "{path}: {body}");
    }
    admin::change_approver(
        plane.state().store(),
        ORG,
        "agent-bot",
        RosterChange::Confirm,
    )
    .unwrap();
    assert!(minted.listed().await.contains(&hash));
}

/// The API key cannot rewrite an entry an administrator confirmed: not its
/// label ("CEO (trusted)"), not its key (which would lock the person out).
/// Registering the same key and label again, as an SDK does at each start,
/// still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_cannot_rewrite_a_confirmed_approver() {
    let plane = Plane::start().await;
    let person = Device::new(&plane, 0x71);
    let register =
        |key: String, label: &str| json!({"key_id": "alice", "public_key": key, "label": label});
    let path = "/v1/orgs/register-approver-pubkey";
    let (status, _) = plane
        .op(
            Method::POST,
            path,
            Some(register(person.public_b64(), "Alice")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    admin::change_approver(plane.state().store(), ORG, "alice", RosterChange::Confirm).unwrap();

    let (status, body) = plane
        .op(
            Method::POST,
            path,
            Some(register(person.public_b64(), "CEO (trusted)")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let agent = Device::new(&plane, 0x72);
    let (status, body) = plane
        .op(
            Method::POST,
            path,
            Some(register(agent.public_b64(), "Alice")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let roster = admin::roster(plane.state().store(), ORG).unwrap();
    let alice = roster.iter().find(|e| e.key_id == "alice").unwrap();
    assert_eq!(alice.label, "Alice");
    assert_eq!(alice.public_key, person.public_b64());
    let (status, body) = person
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the person is not locked out: {body}"
    );

    let (status, body) = plane
        .op(
            Method::POST,
            path,
            Some(register(person.public_b64(), "Alice")),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same registration again: {body}"
    );

    // Revoked: the API key cannot bring it back under a new key either.
    admin::change_approver(plane.state().store(), ORG, "alice", RosterChange::Revoke).unwrap();
    let (status, body) = plane
        .op(
            Method::POST,
            path,
            Some(register(agent.public_b64(), "Alice")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

fn tight_enrolment() -> Config {
    Config {
        enrolment_quota: EnrolmentQuota {
            burst_per_client: 3,
            every_secs_per_client: 60,
            per_minute_overall: 1000,
        },
        ..Config::default()
    }
}

/// Junk from the device's own address (unsigned, badly signed, malformed)
/// spends nothing: the real device with a valid code enrols at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_cannot_lock_a_device_out_of_enrolment() {
    let plane = Plane::start_with_config(tight_enrolment()).await;
    let url = format!("{}/v1/approver/enroll", plane.url);
    for i in 0..30 {
        let resp = plane
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(format!("{{\"junk\": {i}}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    // Signed, but not an enrolment: also nothing spent.
    let junk = Device::new(&plane, 0x30);
    for _ in 0..10 {
        let (status, _) = junk
            .call(
                Method::POST,
                "/v1/approver/enroll",
                Some(json!({"code": "x", "public_key": "not this key"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let device = Device::new(&plane, 0x31);
    let (status, body) = device.enroll(&plane.enrolment_code("laptop")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// An enrolment attempt by `device` with `code`, through a proxy that says
/// the client is `forwarded_for`.
async fn enrol_through_proxy(
    device: &Device,
    code: &str,
    forwarded_for: &str,
) -> reqwest::Response {
    let body = json!({"code": code, "public_key": device.public_b64(), "label": "laptop"});
    device
        .request(
            Method::POST,
            "/v1/approver/enroll",
            body.to_string().as_bytes(),
            now(),
        )
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
}

/// Failed guesses count per address: the guesser meets the limit, a device
/// elsewhere (here: behind the same trusted proxy) does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_guesses_limit_the_guesser_only() {
    let config = Config {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..tight_enrolment()
    };
    let plane = Plane::start_with_config(config).await;
    let guess = "ABCD-EFGH-JKMN";
    let mut statuses = Vec::new();
    for seed in 0..5u8 {
        let guesser = Device::new(&plane, 0x40 + seed);
        let resp = enrol_through_proxy(&guesser, guess, "198.51.100.7").await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers().contains_key("retry-after"));
        }
        statuses.push(resp.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
            StatusCode::FORBIDDEN,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // The guesser may not pretend to be someone else: its own claim comes
    // before the proxy's entry and is not the address that counts.
    let guesser = Device::new(&plane, 0x48);
    let resp = enrol_through_proxy(&guesser, guess, "203.0.113.1, 198.51.100.7").await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);

    let device = Device::new(&plane, 0x49);
    let resp = enrol_through_proxy(&device, &plane.enrolment_code("laptop"), "192.0.2.44").await;
    assert_eq!(resp.status(), StatusCode::OK);
}
