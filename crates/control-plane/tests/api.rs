//! Every endpoint of the control plane and its error paths, over HTTP.

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_receipt::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::*;

#[tokio::test]
async fn receipts_are_verified_appended_and_deduplicated() {
    let plane = Plane::start().await;
    let receipt = plane.suspended(4200);
    let (status, first) = plane.push(&receipt, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["status"], "appended");
    assert_eq!(first["entry_hash"].as_str().unwrap().len(), 64);
    let (status, again) = plane.push(&receipt, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["seq"], first["seq"]);

    let second = plane.suspended(5000);
    let (_, next) = plane.push(&second, None).await;
    assert_eq!(
        next["seq"].as_i64(),
        Some(first["seq"].as_i64().unwrap() + 1)
    );

    // The same action hash with different bytes is a conflict.
    let mut other = receipt.clone();
    other.transparency = Some(json!({"log": "x"}));
    let (status, body) = plane.push(&other, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn receipts_that_do_not_verify_are_refused_with_their_verdict() {
    let plane = Plane::start().await;
    let mut tampered = serde_json::to_value(plane.suspended(4200)).unwrap();
    tampered["content"]["action"]["fields"]["payee"] = "Mallory".into();
    let (status, body) = plane.push(&tampered, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["verdict"]["kind"], "HashMismatch");

    let stranger = suspended_by(&SigningKey::from_bytes(&[99; 32]), 4200, "r");
    let (status, body) = plane.push(&stranger, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "unknown_operator_key");

    let mut unsigned = serde_json::to_value(plane.suspended(4200)).unwrap();
    unsigned["content"]["action"]["display_payee"] = "Globex".into();
    let (status, body) = plane.push(&unsigned, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "receipt_unsigned_values");

    let (status, body) = plane.push(json!([1, 2]), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["verdict"]["kind"], "Malformed");
}

/// A gated action's session links verify by kind, with no operator role:
/// the agent's host cannot slip one in as an action to approve or log,
/// whether signed as the suspend/resume layer signs it or as an action
/// (an approval opens only on a receipt that was pushed).
#[tokio::test]
async fn session_links_are_not_taken_as_actions() {
    let plane = Plane::start().await;
    let mut content = plane.suspended(4200).content;
    content.kind = Some(ReceiptKind::Suspended);
    content.session_id = Some("s1".into());
    content.seq = Some(0);
    let link = sign_link(&plane.operator, "operator", content.clone())
        .unwrap()
        .unwrap();
    let (status, body) = plane.push(&link, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "session_link");

    let as_action = sign_as_operator(&plane.operator, content).unwrap();
    let (status, body) = plane.push(&as_action, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["verdict"]["kind"], "Malformed");
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let plane = Plane::start().await;
    let send = |body: Vec<u8>| {
        plane
            .http
            .post(format!("{}/v1/approvals", plane.url))
            .header("x-api-key", &plane.api_key)
            .body(body)
            .send()
    };
    let resp = send(b"{\"action_hash\": ".to_vec()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("not valid JSON"),
        "{body}"
    );

    let resp = send(br#"{"action_hash": 7}"#.to_vec()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = send(br#"{"action_hash": "aa", "colour": "red"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{body}"
    );

    let resp = send(vec![b' '; 2 * 1024 * 1024]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let resp = plane
        .http
        .get(format!("{}/v1/approvals/abc", plane.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = plane
        .http
        .get(format!("{}/v1/approvals/abc", plane.url))
        .header("x-api-key", "heso_cp_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = plane
        .op(Method::GET, "/v1/approvals/".to_owned().as_str(), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn opening_is_idempotent_and_checked_against_the_receipt() {
    let plane = Plane::start().await;
    let receipt = plane.suspended(4200);
    let hash = plane.park(&receipt).await;
    let open =
        json!({"action_hash": hash, "rule_id": "payment.large.requires_approval", "threshold": 1});
    let (status, first) = plane
        .op(Method::POST, "/v1/approvals", Some(open.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, again) = plane.op(Method::POST, "/v1/approvals", Some(open)).await;
    assert_eq!(first["approval_id"], again["approval_id"]);
    assert_eq!(first["status"], "pending");

    let (status, body) = plane
        .op(
            Method::POST,
            "/v1/approvals",
            Some(json!({"action_hash": hash, "rule_id": "other"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Two approvers needed, and the org has none confirmed.
    let (status, body) = plane
        .op(
            Method::POST,
            "/v1/approvals",
            Some(json!({"action_hash": "a".repeat(64), "rule_id": "r", "threshold": 2})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "threshold_unreachable", "{body}");
    for threshold in [0, 65] {
        let (status, body) = plane
            .op(
                Method::POST,
                "/v1/approvals",
                Some(
                    json!({"action_hash": "a".repeat(64), "rule_id": "r", "threshold": threshold}),
                ),
            )
            .await;
        assert_eq!(body["code"], "invalid_threshold", "{status} {body}");
    }
    let (status, _) = plane
        .op(
            Method::POST,
            "/v1/approvals",
            Some(json!({"action_hash": "a".repeat(64), "rule_id": "r", "scope": "s"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, view) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "pending");
    assert_eq!(view["approved_count"], 0);
    assert_eq!(view["threshold"], 1);
    let (status, _) = plane
        .op(
            Method::GET,
            &format!("/v1/approvals/{}", "b".repeat(64)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn enrolment_takes_a_one_time_code_and_returns_the_operator_keys() {
    let plane = Plane::start().await;
    let device = Device::new(&plane, 1);
    let (status, body) = device.enroll("NOPE-NOPE-NOPE").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "unknown enrolment code");

    let code = plane.enrolment_code("laptop");
    let (status, body) = device.enroll(&code.to_lowercase().replace('-', " ")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["org"], ORG);
    assert_eq!(
        body["operator_keys"],
        json!([keys::public_key_b64(&plane.operator.verifying_key())])
    );
    let (status, body) = Device::new(&plane, 2).enroll(&code).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("already been used"));

    // The operator's own key cannot enrol.
    let mut operator_device = Device::new(&plane, 3);
    operator_device.key = plane.operator.clone();
    let (status, body) = operator_device.enroll(&plane.enrolment_code("op")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "an operator key cannot enrol as an approver");

    // An expired code.
    let org = plane.state().store().org_by_name(ORG).unwrap().unwrap();
    let hash = heso_control_plane::secrets::secret_hash("enrolment-code", "OLDCODEOLD12");
    plane
        .state()
        .store()
        .add_enrolment_code(org.id, &hash, "old", 1, &[])
        .unwrap();
    let (status, body) = Device::new(&plane, 4).enroll("OLDC-ODEO-LD12").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["error"].as_str().unwrap().contains("expired"));

    // An enrolled device, again with a fresh code: here, or in another org.
    let (status, body) = device.enroll(&plane.enrolment_code("again")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"],
        "this device key is already enrolled with this org"
    );
    let other_operator = SigningKey::from_bytes(&[12; 32]);
    heso_control_plane::admin::create_org(
        plane.state().store(),
        "globex",
        &keys::public_key_b64(&other_operator.verifying_key()),
        30,
    )
    .unwrap();
    let elsewhere = heso_control_plane::admin::issue_enrolment_code(
        plane.state().store(),
        "globex",
        "x",
        24,
        &[],
    )
    .unwrap();
    let (status, body) = device.enroll(&elsewhere).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("enrolled with another org"),
        "{body}"
    );

    // The body's key must be the signing key.
    let other = Device::new(&plane, 5);
    let (status, _) = other
        .call(
            Method::POST,
            "/v1/approver/enroll",
            Some(json!({"code": plane.enrolment_code("x"), "public_key": device.public_b64()})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn device_requests_must_be_signed_fresh_and_enrolled() {
    let plane = Plane::start().await;
    let device = plane.enrolled_device(1).await;
    let target = "/v1/approver/approvals";

    let resp = plane
        .http
        .get(format!("{}{target}", plane.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let signed = device
        .request(Method::GET, target, b"", now())
        .build()
        .unwrap();
    let replay = signed.try_clone().unwrap();
    assert_eq!(
        plane.http.execute(signed).await.unwrap().status(),
        StatusCode::OK
    );
    let resp = plane.http.execute(replay).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "replayed request signature");

    let stale = device.request(Method::GET, target, b"", now() - 3600);
    let body: Value = stale.send().await.unwrap().json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("away from the server clock"),
        "{body}"
    );

    // Signed for another path.
    let signature = device.request(Method::GET, "/v1/approver/cosignatures", b"", now());
    let built = signature.build().unwrap();
    let mut forged = plane.http.get(format!("{}{target}?limit=5", plane.url));
    for (name, value) in built.headers() {
        forged = forged.header(name, value);
    }
    assert_eq!(
        forged.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let stranger = Device::new(&plane, 9);
    let (status, body) = stranger.call(Method::GET, target, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "not_enrolled");
}

#[tokio::test]
async fn strangers_store_nothing_and_hostile_timestamps_are_refused() {
    let plane = Plane::start().await;
    let store = plane.state().store();
    // A key on no roster: refused before its signature is remembered, so a
    // flood of such requests writes nothing.
    let stranger = Device::new(&plane, 91);
    for _ in 0..20 {
        let (status, body) = stranger
            .call(Method::GET, "/v1/approver/approvals", None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "not_enrolled");
    }
    assert_eq!(store.remembered_request_signatures().unwrap(), 0);
    let device = plane.enrolled_device(92).await;
    let before = store.remembered_request_signatures().unwrap();
    let (status, _) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(store.remembered_request_signatures().unwrap(), before + 1);

    // Timestamps chosen to overflow arithmetic on them: 401, no crash.
    for timestamp in [i64::MIN.to_string(), i64::MAX.to_string(), "-1".into()] {
        let mut request = device
            .request(Method::GET, "/v1/approver/approvals", b"", now())
            .build()
            .unwrap();
        request.headers_mut().insert(
            "x-heso-timestamp",
            reqwest::header::HeaderValue::from_str(&timestamp).unwrap(),
        );
        let resp = reqwest::Client::new().execute(request).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{timestamp}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"].is_string(), "{body}");
    }
    let (status, _) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(status, StatusCode::OK, "the server is still up");
}

/// A guesser at one address gets a few tries, then 429 with Retry-After,
/// from the real process (which sees peer addresses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_code_guessing_is_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let plane = Plane::spawn_process(&support::database(dir.path(), "cp.db"));
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for seed in 0..8u8 {
        let guesser = Device::new(&plane, 100 + seed);
        let body = json!({"code": "ABCDEFGHJKMN", "public_key": guesser.public_b64(), "label": ""});
        let bytes = body.to_string().into_bytes();
        let resp = guesser
            .request(Method::POST, "/v1/approver/enroll", &bytes, now())
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        statuses.push(resp.status());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = resp.headers().get("retry-after").cloned();
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["code"], "rate_limited", "{body}");
        }
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::FORBIDDEN)
            .count(),
        5,
        "five wrong guesses are answered: {statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        3,
        "{statuses:?}"
    );
    assert!(retry_after.is_some());
}

#[tokio::test]
async fn pending_list_shows_approvals_once_their_receipt_is_there() {
    let plane = Plane::start().await;
    let device = plane.enrolled_device(1).await;

    // Opened before the receipt arrives: waits for it.
    let receipt = plane.suspended(4200);
    let hash = receipt.content.action_hash.clone();
    let (status, _) = plane
        .op(
            Method::POST,
            "/v1/approvals",
            Some(json!({"action_hash": hash, "rule_id": "payment.large.requires_approval"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(list["items"], json!([]));
    let (status, _) = plane.push(&receipt, None).await;
    assert_eq!(status, StatusCode::CREATED);

    let older = plane.park(&plane.suspended(9000)).await;
    let (status, list) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let hashes: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action_hash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes, [older.as_str(), hash.as_str()], "newest first");
    assert_eq!(list["pending_total"], 2);
    let item = &list["items"][1];
    assert_eq!(item["rule_id"], "payment.large.requires_approval");
    assert_eq!(item["sla_minutes"], 30);
    assert_eq!(item["receipt"], serde_json::to_value(&receipt).unwrap());
    assert!(item["sla_deadline"].as_str().unwrap().ends_with('Z'));

    // Paging.
    let (_, page) = device
        .call(Method::GET, "/v1/approver/approvals?limit=1", None)
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let before = page["next_before"].as_i64().unwrap();
    let (_, rest) = device
        .call(
            Method::GET,
            &format!("/v1/approver/approvals?limit=1&before={before}"),
            None,
        )
        .await;
    assert_eq!(rest["items"][0]["action_hash"], hash);

    let (status, one) = device
        .call(Method::GET, &format!("/v1/approver/approvals/{hash}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["status"], "pending");
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_an_approval_opens() {
    let plane = Plane::start().await;
    let device = plane.enrolled_device(1).await;
    let (_, first) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    let version = first["version"].as_u64().unwrap();

    let target = format!("/v1/approver/approvals?wait=20&since={version}");
    let started = std::time::Instant::now();
    let poll = device.request(Method::GET, &target, b"", now()).send();
    let open = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        plane.park(&plane.suspended(4200)).await
    };
    let (resp, hash) = tokio::join!(poll, open);
    let body: Value = resp.unwrap().json().await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(3),
        "held {waited:?}"
    );
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "did not wait: {waited:?}"
    );
    assert_eq!(body["items"][0]["action_hash"], hash);
    assert!(body["version"].as_u64().unwrap() > version);

    // Nothing changes: held for `wait` seconds.
    let version = body["version"].as_u64().unwrap();
    let started = std::time::Instant::now();
    let (_, body) = device
        .call(
            Method::GET,
            &format!("/v1/approver/approvals?wait=1&since={version}"),
            None,
        )
        .await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(body["version"].as_u64().unwrap(), version);
}

/// Shutting down answers held long-polls at once (the devices ask another
/// replica) instead of holding the shutdown for their whole wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_answers_held_long_polls() {
    let mut plane = Plane::start().await;
    let device = plane.enrolled_device(1).await;
    let (_, first) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    let version = first["version"].as_u64().unwrap();
    let target = format!("/v1/approver/approvals?wait=20&since={version}");
    let poll = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let (status, _) = device.call(Method::GET, &target, None).await;
        (status, started.elapsed())
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    plane.shut_down();
    let (status, held) = poll.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        held < std::time::Duration::from_secs(3),
        "held {held:?} through the shutdown"
    );
}

#[tokio::test]
async fn an_approval_goes_from_decision_to_final_l1_receipt() {
    let plane = Plane::start().await;
    let device = plane.enrolled_device(1).await;
    let receipt = plane.suspended(4200);
    let hash = plane.park(&receipt).await;

    let (status, _) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}/assembly"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "no parts before a decision");

    let decision = device.decision(&receipt, Decision::Approved, "invoice checked");
    let (status, body) = device.decide(&hash, decision.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "recorded");
    assert_eq!(body["approval"]["status"], "approved");

    // Retrying the same decision is idempotent.
    let (status, body) = device.decide(&hash, decision.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "already_recorded");
    // Another decision is refused with the outcome.
    let (status, body) = device
        .decide(&hash, device.decision(&receipt, Decision::Rejected, ""))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["outcome"]["decision"], "approved");

    let (_, view) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}"), None)
        .await;
    assert_eq!(view["status"], "approved");
    assert_eq!(view["approved_count"], 1);
    assert!(view["resolved_at"].is_string());

    let (status, parts) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}/assembly"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parts["legs"][0]["record"], decision["record"]);
    assert_eq!(
        parts["suspended_content"],
        serde_json::to_value(&receipt.content).unwrap()
    );
    let l1 = plane.assemble_from_parts(&parts);
    assert!(verify_receipt(l1.clone()).verdict.is_valid());

    // A different L1 cannot supersede: the recorded decision is what counts.
    let mut forged_record: ApproverRecord =
        serde_json::from_str(decision["record"].as_str().unwrap()).unwrap();
    forged_record.reason = "something else".into();
    let co_sig = cosign(&device.key, &receipt.content, &forged_record).unwrap();
    let forged = assemble_l1(
        &plane.operator,
        &receipt.content,
        &forged_record,
        &device.key.verifying_key(),
        &co_sig,
    )
    .unwrap();
    let (status, body) = plane.push(&forged, Some(&hash)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = plane.push(&receipt, Some(&hash)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = plane.push(&l1, Some(&hash)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "appended");

    let (status, mine) = device
        .call(Method::GET, "/v1/approver/cosignatures", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let item = &mine["items"][0];
    assert_eq!(item["action_hash"], hash);
    assert_eq!(item["decision"], "approved");
    assert_eq!(item["final_receipt"], serde_json::to_value(&l1).unwrap());

    // No longer pending.
    let (_, list) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn a_rejection_resolves_the_approval_as_rejected() {
    let plane = Plane::start().await;
    let device = plane.enrolled_device(1).await;
    let receipt = plane.suspended(4200);
    let hash = plane.park(&receipt).await;
    let (status, body) = device
        .decide(
            &hash,
            device.decision(&receipt, Decision::Rejected, "unknown payee"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, view) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}"), None)
        .await;
    assert_eq!(view["status"], "rejected");
    assert_eq!(view["approved_count"], 0);
    let (status, _) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}/assembly"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn decisions_that_do_not_check_out_are_refused() {
    let plane = Plane::start().await;
    let device = plane.enrolled_device(1).await;
    let receipt = plane.suspended(4200);
    let hash = plane.park(&receipt).await;
    let good = device.decision(&receipt, Decision::Approved, "");

    // A record naming someone else.
    let mut record: ApproverRecord =
        serde_json::from_str(good["record"].as_str().unwrap()).unwrap();
    record.approver_identity =
        keys::public_key_b64(&SigningKey::from_bytes(&[50; 32]).verifying_key());
    let mut bad = good.clone();
    bad["record"] = record_text(&record).into();
    let (status, body) = device.decide(&hash, bad).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("identity_mismatch"))
    );

    // A co-signature over something else.
    let mut bad = good.clone();
    let other = plane.suspended(1);
    bad["co_sig_b64"] = device.decision(&other, Decision::Approved, "")["co_sig_b64"].clone();
    let (status, body) = device.decide(&hash, bad).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("cosignature_refused"))
    );

    // A token for another scope, or another decision.
    let mut bad = good.clone();
    bad["token_b64"] = STANDARD
        .encode(device.token(&receipt, Decision::Approved, "other.rule"))
        .into();
    let (status, body) = device.decide(&hash, bad).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("token_refused"))
    );
    let mut bad = good.clone();
    bad["token_b64"] = STANDARD
        .encode(device.token(
            &receipt,
            Decision::Rejected,
            &receipt.content.policy.rule_id,
        ))
        .into();
    let (status, _) = device.decide(&hash, bad).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A record with a field outside the ApproverRecord.
    let mut bad = good.clone();
    let text = good["record"]
        .as_str()
        .unwrap()
        .replacen('{', "{\"extra\":1,", 1);
    bad["record"] = text.into();
    let (status, _) = device.decide(&hash, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Unknown approval.
    let (status, _) = device.decide(&"c".repeat(64), good.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nothing was recorded by the refusals; the good one still goes through.
    let (status, body) = device.decide(&hash, good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Its token cannot be replayed on another approval.
    let second = plane.suspended(7777);
    let second_hash = plane.park(&second).await;
    let mut replay = device.decision(&second, Decision::Approved, "");
    replay["token_b64"] = good["token_b64"].clone();
    let (status, body) = device.decide(&second_hash, replay).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_decisions_on_one_approval_have_exactly_one_winner() {
    let plane = Plane::start().await;
    let receipt = plane.suspended(4200);
    let hash = plane.park(&receipt).await;
    let mut attempts = tokio::task::JoinSet::new();
    for seed in 1..=8u8 {
        let device = plane.enrolled_device(seed).await;
        let decision = if seed % 2 == 0 {
            Decision::Approved
        } else {
            Decision::Rejected
        };
        let body = device.decision(&receipt, decision, "race");
        let hash = hash.clone();
        attempts.spawn(async move { device.decide(&hash, body).await.0 });
    }
    let statuses = attempts.join_all().await;
    let winners = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let losers = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((winners, losers), (1, 7), "{statuses:?}");
}

#[tokio::test]
async fn the_sdk_token_path_records_a_vote() {
    let plane = Plane::start().await;
    let device = plane.enrolled_device(1).await;
    let receipt = plane.suspended(4200);
    let hash = plane.park(&receipt).await;
    let token = STANDARD.encode(device.token(
        &receipt,
        Decision::Approved,
        &receipt.content.policy.rule_id,
    ));
    let submit = |token: &str, content: &Content, scope: &str, decision: &str| {
        json!({"token_b64": token, "action_content": content, "required_scope": scope,
               "decision": decision, "reason": "ok"})
    };
    let rule = receipt.content.policy.rule_id.clone();
    let path = format!("/v1/approvals/{hash}/submit-token");

    let other = plane.suspended(1);
    let (status, _) = plane
        .op(
            Method::POST,
            &path,
            Some(submit(&token, &other.content, &rule, "approved")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "content hash mismatch");
    let (status, _) = plane
        .op(
            Method::POST,
            &path,
            Some(submit(&token, &receipt.content, "nope", "approved")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = plane
        .op(
            Method::POST,
            &path,
            Some(submit(&token, &receipt.content, &rule, "rejected")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let stranger = Device::new(&plane, 77);
    let foreign = STANDARD.encode(stranger.token(&receipt, Decision::Approved, &rule));
    let (status, body) = plane
        .op(
            Method::POST,
            &path,
            Some(submit(&foreign, &receipt.content, &rule, "approved")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"].as_str().unwrap().contains("not registered"),
        "{body}"
    );

    let (status, view) = plane
        .op(
            Method::POST,
            &path,
            Some(submit(&token, &receipt.content, &rule, "approved")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "approved");
    let (status, body) = plane
        .op(Method::GET, &format!("/v1/approvals/{hash}/assembly"), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_cosignature"))
    );

    // The nonce is burned: the same token on another approval is a replay.
    let second = plane.suspended(8888);
    let second_hash = plane.park(&second).await;
    let (status, _) = plane
        .op(
            Method::POST,
            &format!("/v1/approvals/{second_hash}/submit-token"),
            Some(submit(&token, &second.content, &rule, "approved")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn operators_register_approver_keys_and_pull_policy() {
    let plane = Plane::start().await;
    let key = keys::public_key_b64(&SigningKey::from_bytes(&[33; 32]).verifying_key());
    let (status, body) = plane
        .op(
            Method::POST,
            "/v1/orgs/register-approver-pubkey",
            Some(json!({"key_id": "alice", "public_key": key, "label": "Alice"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status": "registered", "key_id": "alice", "public_key": key})
    );
    let operator = keys::public_key_b64(&plane.operator.verifying_key());
    let (status, _) = plane
        .op(
            Method::POST,
            "/v1/orgs/register-approver-pubkey",
            Some(json!({"key_id": "op", "public_key": operator})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = plane
        .op(
            Method::POST,
            "/v1/orgs/register-approver-pubkey",
            Some(json!({"key_id": "x", "public_key": "AAAA"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Words every approver is shown, stored as text: a NUL byte (which
    // PostgreSQL refuses) or a terminal escape is the caller's error.
    let other = keys::public_key_b64(&SigningKey::from_bytes(&[34; 32]).verifying_key());
    for (entry, code) in [
        (
            json!({"key_id": "b\u{0}b", "public_key": other}),
            "invalid_key_id",
        ),
        (
            json!({"key_id": " bob", "public_key": other}),
            "invalid_key_id",
        ),
        (
            json!({"key_id": "bob", "public_key": other, "label": "Bob\u{1b}[2J"}),
            "invalid_label",
        ),
    ] {
        let (status, body) = plane
            .op(
                Method::POST,
                "/v1/orgs/register-approver-pubkey",
                Some(entry),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], code, "{body}");
    }

    let (status, policy) = plane.op(Method::GET, "/v1/policy/pull", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(policy["toml"], "");
    // A policy the evaluator refuses is not set.
    let refused =
        heso_control_plane::admin::set_policy(plane.state().store(), ORG, "[[rule]]\nid = \"x\"\n");
    assert!(refused
        .unwrap_err()
        .to_string()
        .contains("missing field `order`"));
    let toml = "[[rule]]\nid = \"x\"\norder = 1\nenabled = true\nsubject = { kind = \"any\" }\nverb = \"llm_call\"\nscope = \"*\"\ndecision = \"allow\"\n";
    heso_control_plane::admin::set_policy(plane.state().store(), ORG, toml).unwrap();
    let (_, policy) = plane.op(Method::GET, "/v1/policy/pull", None).await;
    assert_eq!(policy["status"], "policy");
    assert_eq!(policy["toml"], toml);
    let hash = policy["policy_hash"].as_str().unwrap();
    let (_, again) = plane
        .op(
            Method::GET,
            &format!("/v1/policy/pull?policy_hash={hash}"),
            None,
        )
        .await;
    assert_eq!(again["status"], "up_to_date");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let plane = Plane::start().await;
    let doc: Value = plane
        .http
        .get(format!("{}/openapi.json", plane.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/receipts",
        "/v1/approvals",
        "/v1/approvals/{action_hash}",
        "/v1/approvals/{action_hash}/submit-token",
        "/v1/approvals/{action_hash}/assembly",
        "/v1/orgs/register-approver-pubkey",
        "/v1/policy/pull",
        "/v1/approver/enroll",
        "/v1/approver/approvals",
        "/v1/approver/approvals/{action_hash}",
        "/v1/approver/approvals/{action_hash}/decision",
        "/v1/approver/cosignatures",
        "/v1/approver/roster",
        "/v1/approver/retire",
    ] {
        assert!(paths.contains_key(path), "{path} missing from openapi.json");
    }
}

#[tokio::test]
async fn the_demo_operator_opens_verifiable_approvals_and_finalizes_decisions() {
    let plane = Plane::start().await;
    let seed = heso_control_plane::demo::seed(plane.state(), 6).unwrap();
    let device = Device::new(&plane, 42);
    let (status, enrolled) = device.enroll(&seed.enrolment_code).await;
    assert_eq!(status, StatusCode::OK, "{enrolled}");
    assert_eq!(enrolled["org"], "demo");
    let pinned = enrolled["operator_keys"][0].as_str().unwrap();

    let (_, list) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    let mut verbs = std::collections::BTreeSet::new();
    for item in items {
        let verified = verify_receipt(serde_json::from_value(item["receipt"].clone()).unwrap());
        assert!(verified.verdict.is_valid(), "{item}");
        assert!(verified.verdict.unsigned_paths.is_empty());
        assert_eq!(
            keys::public_key_b64(&verified.operator_key.unwrap()),
            pinned
        );
        verbs.insert(verified.receipt.unwrap().content.action.verb.as_str());
    }
    assert!(verbs.len() >= 4, "{verbs:?}");

    let first: Receipt = serde_json::from_value(items[0]["receipt"].clone()).unwrap();
    let hash = first.content.action_hash.clone();
    let (status, _) = device
        .decide(&hash, device.decision(&first, Decision::Approved, "demo"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let finalized = heso_control_plane::demo::finalize_approved(
        plane.state().store(),
        seed.org_id,
        &seed.operator,
    )
    .unwrap();
    assert_eq!(finalized, 1);
    let (_, mine) = device
        .call(Method::GET, "/v1/approver/cosignatures", None)
        .await;
    let l1: Receipt = serde_json::from_value(mine["items"][0]["final_receipt"].clone()).unwrap();
    let verdict = verify_receipt(l1).verdict;
    assert_eq!(
        (verdict.kind, verdict.trust_level),
        (VerdictKind::Valid, Some(TrustLevel::L1))
    );
}

/// A device says where its key is held when it enrols; the roster shows it
/// as self-reported; an org set to refuse unprotected devices enrols only
/// those reporting a system signer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_report_their_key_custody_and_an_org_can_refuse_unprotected_ones() {
    let plane = Plane::start().await;
    let enrol = |seed: u8, protection: Option<&'static str>| {
        let device = Device::new(&plane, seed);
        let code = plane.enrolment_code("laptop");
        async move {
            let mut body =
                json!({"code": code, "public_key": device.public_b64(), "label": "laptop"});
            if let Some(p) = protection {
                body["protection"] = p.into();
            }
            let (status, answer) = device
                .call(Method::POST, "/v1/approver/enroll", Some(body))
                .await;
            (device, status, answer)
        }
    };
    let (signer, status, body) = enrol(61, Some("signer")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, status, body) = enrol(62, Some("keychain")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, status, body) = enrol(63, Some("a usb stick")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, roster) = signer.call(Method::GET, "/v1/approver/roster", None).await;
    assert_eq!(status, StatusCode::OK, "{roster}");
    let mut reported: Vec<String> = roster["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["protection"].to_string())
        .collect();
    reported.sort();
    assert_eq!(reported, ["\"keychain\"", "\"signer\""], "{roster}");

    heso_control_plane::admin::refuse_unprotected(plane.state().store(), ORG, true).unwrap();
    for protection in [Some("keychain"), None] {
        let (_, status, body) = enrol(64, protection).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("system signer"),
            "{body}"
        );
    }
    let (_, status, body) = enrol(65, Some("signer")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A device key stands down for a successor on the roster (moved into the
/// system signer): refused for a successor that is not a confirmed member;
/// then the old key is refused everywhere and the successor works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_key_retires_for_a_successor_on_the_roster() {
    let plane = Plane::start().await;
    let old = plane.enrolled_device(71).await;
    let stranger = Device::new(&plane, 72);
    let retire = |successor: String| json!({"successor_public_key": successor});
    // Not a member, itself, and keys that are no keys (PostgreSQL refuses a
    // NUL byte in text: it must never get that far).
    for successor in [
        stranger.public_b64(),
        old.public_b64(),
        "\u{0}".to_owned(),
        format!("{}\u{0}", stranger.public_b64()),
        "not a key".to_owned(),
    ] {
        let (status, body) = old
            .call(Method::POST, "/v1/approver/retire", Some(retire(successor)))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "invalid_successor", "{body}");
    }
    let successor = plane.enrolled_device(73).await;
    let (status, body) = old
        .call(
            Method::POST,
            "/v1/approver/retire",
            Some(retire(successor.public_b64())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "retired");
    let (status, body) = old.call(Method::GET, "/v1/approver/approvals", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "device_revoked", "{body}");
    let (status, _) = successor
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A device's label is shown to every approver of the org: one with a
/// control character (a NUL byte, a terminal escape) is refused before the
/// code is spent, and the same code then enrols the device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_with_a_hostile_label_is_refused_and_spends_no_code() {
    let plane = Plane::start().await;
    let device = Device::new(&plane, 64);
    let code = plane.enrolment_code("laptop");
    let enrol =
        |label: &str| json!({"code": code, "public_key": device.public_b64(), "label": label});
    for label in ["lap\u{0}top", "lap\u{1b}]0;owned\u{7}top"] {
        let (status, body) = device
            .call(Method::POST, "/v1/approver/enroll", Some(enrol(label)))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "invalid_label", "{body}");
    }
    let (status, body) = device
        .call(Method::POST, "/v1/approver/enroll", Some(enrol("laptop")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
