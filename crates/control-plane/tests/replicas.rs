//! Two `serve` replicas over one PostgreSQL database behave as one control
//! plane: a long-poll held on one wakes when an approval opens through the
//! other, a decision through one is the operator's through the other, two
//! devices deciding at once through different replicas record one decision,
//! concurrent pushes through both leave a gap-free receipt log, and a
//! guesser spreading enrolment attempts over both meets one limit.
//!
//! Run against PostgreSQL (`scripts/with-postgres.sh`, as `scripts/test.sh`
//! does); with SQLite there is one process, so these tests say so and stop.

mod support;

use heso_receipt::*;
use reqwest::{Method, StatusCode};
use std::time::{Duration, Instant};
use support::*;

/// Replicas A and B of one control plane, or `None` without PostgreSQL.
async fn replicas() -> Option<(Plane, Plane)> {
    if test_postgres().is_none() {
        eprintln!("replicas need PostgreSQL: run under scripts/with-postgres.sh");
        return None;
    }
    let a = Plane::start().await;
    let b = a.replica().await;
    Some((a, b))
}

/// `device`, speaking to `plane` instead of the replica it enrolled through.
fn through(mut device: Device, plane: &Plane) -> Device {
    device.url = plane.url.clone();
    device
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_on_one_replica_wakes_when_an_approval_opens_on_the_other() {
    let Some((a, b)) = replicas().await else {
        return;
    };
    let device = through(a.enrolled_device(41).await, &b);
    let (status, list) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let since = list["version"].as_u64().unwrap();

    let poll = tokio::spawn(async move {
        let target = format!("/v1/approver/approvals?wait=20&since={since}");
        let answer = device.call(Method::GET, &target, None).await;
        (answer, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hash = a.park(&a.suspended(5100)).await;
    let opened = Instant::now();
    let ((status, list), answered) = poll.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{list}");
    let waited = answered.saturating_duration_since(opened);
    assert!(waited < Duration::from_secs(1), "woke {waited:?} after");
    let listed: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action_hash"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [hash.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approved_through_one_replica_finalized_through_the_other() {
    let Some((a, b)) = replicas().await else {
        return;
    };
    let device = through(a.enrolled_device(42).await, &b);
    let suspended = a.suspended(5200);
    let hash = a.park(&suspended).await;
    let (status, body) = device
        .decide(
            &hash,
            device.decision(&suspended, Decision::Approved, "checked"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, polled) = a
        .op(Method::GET, &format!("/v1/approvals/{hash}"), None)
        .await;
    assert_eq!(polled["status"], "approved", "{polled}");
    let l1 = a.finalize(&hash).await;
    let verdict = verify_receipt(l1).verdict;
    assert_eq!(
        (verdict.kind, verdict.trust_level),
        (VerdictKind::Valid, Some(TrustLevel::L1)),
        "the L1 assembled through A from B's decision"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_deciding_at_once_through_different_replicas_record_one_decision() {
    let Some((a, b)) = replicas().await else {
        return;
    };
    let on_a = a.enrolled_device(43).await;
    let on_b = through(a.enrolled_device(44).await, &b);
    for round in 0..20u64 {
        let suspended = a.suspended(6000 + round);
        let hash = a.park(&suspended).await;
        let approve = on_a.decision(&suspended, Decision::Approved, "a");
        let reject = on_b.decision(&suspended, Decision::Rejected, "b");
        let ((approved, _), (rejected, _)) =
            tokio::join!(on_a.decide(&hash, approve), on_b.decide(&hash, reject));
        let outcomes = [approved, rejected];
        assert_eq!(
            outcomes.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "round {round}: {outcomes:?}"
        );
        assert!(
            outcomes.contains(&StatusCode::CONFLICT),
            "round {round}: {outcomes:?}"
        );
        let (_, polled) = b
            .op(Method::GET, &format!("/v1/approvals/{hash}"), None)
            .await;
        let winner = if approved == StatusCode::OK {
            "approved"
        } else {
            "rejected"
        };
        assert_eq!(polled["status"], winner, "round {round}: {polled}");
        let store = a.state().store();
        let org = store.org_by_name(ORG).unwrap().unwrap().id;
        let row = store.approval(org, &hash).unwrap().unwrap();
        assert_eq!(store.votes(&row.id).unwrap().len(), 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_through_both_replicas_leave_a_gap_free_log() {
    let Some((a, b)) = replicas().await else {
        return;
    };
    let receipts: Vec<Receipt> = (0..1000).map(|n| a.suspended(10_000 + n)).collect();
    let pushes = receipts.iter().enumerate().map(|(n, receipt)| {
        let plane = if n % 2 == 0 { &a } else { &b };
        plane.push(receipt, None)
    });
    let outcomes = futures_util::future::join_all(pushes).await;
    for (status, body) in &outcomes {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }

    // The log as stored: positions 1..=1000 and each entry chained to the
    // one before (BLAKE3 over the previous hash, the position, the action).
    let url = a.state().store().change_feed().unwrap();
    let out = std::process::Command::new("psql")
        .args([
            url,
            "-Atc",
            "SELECT seq, action_hash, entry_hash FROM receipts ORDER BY seq",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut previous = String::new();
    let mut count = 0;
    for (line, expected_seq) in String::from_utf8(out.stdout).unwrap().lines().zip(1i64..) {
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields[0], expected_seq.to_string(), "a gap before {line}");
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"heso-control-plane/entry/v1\0");
        hasher.update(previous.as_bytes());
        hasher.update(b"\0");
        hasher.update(fields[0].as_bytes());
        hasher.update(b"\0");
        hasher.update(fields[1].as_bytes());
        assert_eq!(fields[2], hasher.finalize().to_hex().as_str(), "{line}");
        previous = fields[2].to_owned();
        count += 1;
    }
    assert_eq!(count, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_guesses_spread_over_replicas_meet_one_limit() {
    let Some((a, _)) = replicas().await else {
        return;
    };
    let tight = heso_control_plane::Config {
        enrolment_quota: heso_control_plane::rate_limit::EnrolmentQuota {
            burst_per_client: 3,
            every_secs_per_client: 60,
            per_minute_overall: 1000,
        },
        ..Default::default()
    };
    let (r1, r2) = (
        a.replica_with(tight.clone()).await,
        a.replica_with(tight).await,
    );
    let mut statuses = Vec::new();
    for attempt in 0..6u8 {
        let plane = if attempt % 2 == 0 { &r1 } else { &r2 };
        let guesser = Device::new(plane, 90 + attempt);
        let (status, _) = guesser.enroll("AAAA-BBBB-CCCC-DDDD").await;
        statuses.push(status);
    }
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        limited, 3,
        "three guesses, then the shared limit: {statuses:?}"
    );
    assert!(
        statuses[..3]
            .iter()
            .all(|s| *s != StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

/// Replicas starting together on a new database migrate it once; one built
/// for an older schema than the database carries refuses to start, and a
/// running one stops saying it is ready (the load balancer takes it out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_migrate_once_and_readiness_follows_the_schema() {
    let Some(server) = test_postgres() else {
        eprintln!("replicas need PostgreSQL: run under scripts/with-postgres.sh");
        return;
    };
    let url = fresh_postgres_database(&server);
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                heso_control_plane::store::Store::connect(&url).map(|store| store.ready().is_ok())
            })
        })
        .collect();
    for start in starts {
        assert!(matches!(start.join().unwrap(), Ok(true)));
    }
    let migrations = std::process::Command::new("psql")
        .args([&url, "-Atc", "SELECT count(*) FROM heso_schema_migrations"])
        .output()
        .unwrap();
    let current = heso_control_plane::store::postgres::SCHEMA_VERSION;
    assert_eq!(
        String::from_utf8_lossy(&migrations.stdout).trim(),
        current.to_string()
    );

    let plane = Plane::start_on(
        heso_control_plane::store::Store::connect(&url).unwrap(),
        SigningKey::from_bytes(&[11; 32]),
        &keys::public_key_b64(&SigningKey::from_bytes(&[11; 32]).verifying_key()),
    )
    .await;
    let readyz = || async {
        let resp = reqwest::get(format!("{}/readyz", plane.url)).await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    };
    assert_eq!(readyz().await, (StatusCode::OK, "ready".to_owned()));

    // A newer build migrated the database since.
    let newer = std::process::Command::new("psql")
        .args([
            &url,
            "-qc",
            &format!(
                "INSERT INTO heso_schema_migrations (version) VALUES ({})",
                current + 1
            ),
        ])
        .status()
        .unwrap();
    assert!(newer.success());
    let (status, why) = readyz().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{why}");
    assert!(
        why.contains(&format!("schema version {}", current + 1)),
        "{why}"
    );
    let refused = std::thread::spawn(move || heso_control_plane::store::Store::connect(&url))
        .join()
        .unwrap();
    let error = refused
        .err()
        .expect("an older build refuses a newer schema")
        .to_string();
    assert!(error.contains("newer than this build"), "{error}");
}
