//! Load benchmark (a script, not a test): 10,000 pending approvals in a
//! database file; the approver's pending list p50/p99; then 1,000 concurrent
//! long-polls held and released by one new approval.
//!
//! With `HESO_TEST_POSTGRES` (a PostgreSQL server), the same on a new
//! database behind two replicas: list calls and long-polls spread over both,
//! the approval opened through one.
//!
//! Run with `scripts/bench-control-plane.sh [--postgres]` (it raises the
//! open-file limit and, with `--postgres`, starts a throwaway server).

#[path = "../tests/support/mod.rs"]
mod support;

use heso_control_plane::store::{NewApproval, NewReceipt, Store};
use heso_receipt::{keys, SigningKey};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::{suspended_by, Device, Plane};

const PENDING: usize = 10_000;
const LIST_CALLS: usize = 1_000;
const LONG_POLLS: usize = 1_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn seed(store: &Store, operator: &SigningKey, count: usize) {
    let org = store.org_by_name(support::ORG).unwrap().unwrap();
    let now = heso_control_plane::clock::now();
    for i in 0..count {
        let receipt = suspended_by(
            operator,
            1_001 + i as u64,
            "payment.large.requires_approval",
        );
        let text = serde_json::to_string(&receipt).unwrap();
        let hash = &receipt.content.action_hash;
        store
            .append_receipt(
                &NewReceipt {
                    org: org.id,
                    action_hash: hash,
                    trust_level: "L0",
                    awaiting: true,
                    text: &text,
                    supersedes: None,
                },
                now,
            )
            .unwrap();
        store
            .open_approval(&NewApproval {
                id: format!("apr_load_{i}"),
                org_id: org.id,
                action_hash: hash.clone(),
                workflow: "payouts".into(),
                account: "acct_1".into(),
                rule_id: "payment.large.requires_approval".into(),
                scope: "payment.large.requires_approval".into(),
                threshold: 1,
                roster: Vec::new(),
                groups: Vec::new(),
                routing_note: None,
                deadline_source: "control_plane".into(),
                matched_conditions: "[]".into(),
                opened_at: now,
                deadline_at: now + 1800,
            })
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let operator = SigningKey::from_bytes(&[11; 32]);
    let postgres = support::test_postgres();
    let (store, backend) = match &postgres {
        Some(server) => (
            Store::connect(&support::fresh_postgres_database(server)).unwrap(),
            "PostgreSQL, two replicas",
        ),
        None => (
            Store::open(&dir.path().join("load.db")).unwrap(),
            "database file, WAL",
        ),
    };
    let plane = Plane::start_on(
        store,
        operator.clone(),
        &keys::public_key_b64(&operator.verifying_key()),
    )
    .await;
    // The replicas the calls are spread over (one without PostgreSQL).
    let mut replicas = vec![];
    if postgres.is_some() {
        replicas.push(plane.replica().await);
    }
    let replicas: Vec<&Plane> = std::iter::once(&plane).chain(&replicas).collect();

    let started = Instant::now();
    let (state, op) = (plane.state().clone(), operator.clone());
    tokio::task::spawn_blocking(move || seed(state.store(), &op, PENDING))
        .await
        .unwrap();
    println!(
        "seeded {PENDING} pending approvals in {:.1} s ({backend})",
        started.elapsed().as_secs_f64()
    );

    let enrolled = plane.enrolled_device(1).await;
    let through = |n: usize| Device {
        key: enrolled.key.clone(),
        url: replicas[n % replicas.len()].url.clone(),
        http: enrolled.http.clone(),
    };
    let org = plane
        .state()
        .store()
        .org_by_name(support::ORG)
        .unwrap()
        .unwrap()
        .id;
    for (label, fresh) in [
        ("each call after a change (read from the database)", true),
        ("unchanged (shared answer)", false),
    ] {
        let mut latencies = Vec::with_capacity(LIST_CALLS);
        for call in 0..LIST_CALLS {
            let device = through(call);
            if fresh {
                for replica in &replicas {
                    replica.state().changes().bump(org);
                }
            }
            let t = Instant::now();
            let (status, body) = device
                .call(Method::GET, "/v1/approver/approvals", None)
                .await;
            latencies.push(t.elapsed());
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body["pending_total"], PENDING as u64);
            assert_eq!(body["items"].as_array().unwrap().len(), 100);
        }
        latencies.sort();
        println!(
            "pending list, first page of 100 of {PENDING}, device-signed over HTTP, {LIST_CALLS} calls ({backend}), {label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().unwrap().as_secs_f64() * 1e3
        );
    }

    // Long-polls: each from its own connection, all waiting on the version
    // of the replica they ask (each replica counts its own).
    let mut targets = Vec::new();
    for n in 0..replicas.len() {
        let (_, first) = through(n)
            .call(Method::GET, "/v1/approver/approvals?limit=1", None)
            .await;
        let version = first["version"].as_u64().unwrap();
        targets.push((
            version,
            format!("/v1/approver/approvals?limit=1&wait=30&since={version}"),
        ));
    }
    let mut polls = tokio::task::JoinSet::new();
    for i in 0..LONG_POLLS {
        let device = through(i);
        let (version, target) = targets[i % replicas.len()].clone();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let poller = Device {
            key: device.key.clone(),
            url: device.url.clone(),
            http: client,
        };
        polls.spawn(async move {
            let resp = poller
                .request(Method::GET, &target, b"", support::now())
                .send()
                .await;
            let arrived = Instant::now();
            let body: Value = resp
                .unwrap_or_else(|e| panic!("long-poll {i}: {e}"))
                .json()
                .await
                .unwrap();
            (arrived, body["version"].as_u64().unwrap() > version)
        });
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        polls.try_join_next().is_none(),
        "a long-poll returned before any change"
    );
    println!("{LONG_POLLS} long-polls held ({backend})");

    let receipt = suspended_by(&operator, 999_999, "payment.large.requires_approval");
    plane.park(&receipt).await;
    let opened = Instant::now();
    let mut delays = Vec::with_capacity(LONG_POLLS);
    while let Some(done) = polls.join_next().await {
        let (arrived, moved) = done.unwrap();
        assert!(moved, "a long-poll answered without a change");
        delays.push(arrived.saturating_duration_since(opened));
    }
    delays.sort();
    let released = delays
        .iter()
        .filter(|d| **d <= Duration::from_secs(1))
        .count();
    println!(
        "after one new approval (opened through the first replica): {released}/{LONG_POLLS} long-polls released within 1 s; p50 {:.0} ms, p99 {:.0} ms, last {:.0} ms",
        percentile(&delays, 0.50).as_secs_f64() * 1e3,
        percentile(&delays, 0.99).as_secs_f64() * 1e3,
        delays.last().unwrap().as_secs_f64() * 1e3
    );
}
