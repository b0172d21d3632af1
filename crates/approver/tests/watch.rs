//! The background queue watcher against the real control-plane process:
//! it sees a new approval within a long-poll, verifies it, and reports the
//! control plane going away and coming back.

#[path = "../../control-plane/tests/support/mod.rs"]
mod support;

use heso_approver::client::Client;
use heso_approver::device_key::{DeviceKey, Keychain};
use heso_approver::profile::Profile;
use heso_approver::watch::{watch_queue, QueueState, WatchConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::Plane;
use tokio::sync::watch;

async fn until(
    states: &mut watch::Receiver<QueueState>,
    what: &str,
    done: impl Fn(&QueueState) -> bool,
) -> QueueState {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if done(&states.borrow_and_update()) {
            return states.borrow().clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            tokio::time::timeout(left, states.changed()).await.is_ok(),
            "timed out waiting for {what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_follows_the_queue_and_the_connection() {
    keyring_core::set_default_store(keyring_core::mock::Store::new().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut plane = Plane::spawn_process(dir.path().join("cp.db").to_str().unwrap());

    let key = Arc::new(DeviceKey::create(Keychain::Installed, "watcher").unwrap());
    let client = Client::new(&plane.url).unwrap();
    let enrolled = client
        .enroll(&key, &plane.enrolment_code("watcher"), "watcher")
        .await
        .unwrap();
    let profile = Profile {
        url: plane.url.clone(),
        org: enrolled["org"].as_str().unwrap().into(),
        label: "watcher".into(),
        key_account: "watcher".into(),
        approver_public_key: key.public_b64(),
        operator_keys: serde_json::from_value(enrolled["operator_keys"].clone()).unwrap(),
        sla_minutes: 30,
        custody: Default::default(),
    };

    let (tx, mut states) = watch::channel(QueueState::default());
    let config = WatchConfig {
        long_poll: true,
        long_poll_secs: 20,
        poll_interval: Duration::from_millis(500),
        max_backoff: Duration::from_secs(1),
    };
    tokio::spawn(watch_queue(client, key, profile, config, tx));
    let first = until(&mut states, "the first answer", |s| s.refreshes > 0).await;
    assert!(first.online);
    assert!(first.entries.is_empty());

    // A new approval arrives while a long-poll is held.
    let parked_at = Instant::now();
    let hash = plane.park(&plane.suspended(4200)).await;
    let state = until(&mut states, "the new approval", |s| s.entries.len() == 1).await;
    assert!(
        parked_at.elapsed() < Duration::from_secs(3),
        "seen after {:?}",
        parked_at.elapsed()
    );
    let entry = &state.entries[0];
    assert_eq!(entry.action_hash, hash);
    let view = entry.view.as_ref().expect("verified");
    assert_eq!(view.summary, "Pay 4,200 USD to Globex LLC");
    assert!(entry.refusal.is_none());

    plane.kill();
    let offline = until(&mut states, "offline", |s| !s.online).await;
    assert!(
        offline
            .last_error
            .as_deref()
            .unwrap()
            .contains("unreachable"),
        "{offline:?}"
    );
    assert_eq!(offline.entries.len(), 1, "the last known queue stays shown");

    plane.restart();
    let back = until(&mut states, "back online", |s| s.online).await;
    assert_eq!(back.entries.len(), 1);
}
