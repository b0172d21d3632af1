//! The server against its own /openapi.json: schemathesis generates requests
//! for every operation (valid ones and invalid ones), with the org's API key
//! and with requests signed by an enrolled device, and fails on any 5xx, a
//! status the description does not list, or a body, content type or header
//! that breaks it.

mod support;

use heso_control_plane::Config;
use heso_receipt::Decision;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};
use support::*;

/// The device the hook signs approver requests with.
const DEVICE_SEED: u8 = 7;

/// The run takes about half a minute; past this it is stopped and fails.
const RUN_LIMIT: Duration = Duration::from_secs(150);

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// schemathesis from the venv `scripts/setup-schemathesis-venv.sh` makes.
/// Missing is a failure, not a skip.
fn schemathesis() -> PathBuf {
    let bin = workspace_root().join("tests/.venv-schemathesis/bin/schemathesis");
    assert!(
        bin.exists(),
        "no schemathesis at {}: run scripts/setup-schemathesis-venv.sh (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Runs `command` to its end, or kills it and fails past `limit`.
fn finish_within(mut command: Command, limit: Duration) -> ExitStatus {
    let mut child = command.spawn().expect("schemathesis starts");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("schemathesis still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An org with a device, one approval pending and one decided and
/// finalized, so lists, items and co-signatures have something to show.
async fn populated_plane() -> Plane {
    let plane = Plane::start_with_config(Config {
        // Generated long-polls would each hold the run for the default 30 s.
        max_wait_secs: 1,
        ..test_config()
    })
    .await;
    let device = plane.enrolled_device(DEVICE_SEED).await;
    plane.park(&plane.suspended(1500)).await;
    let decided = plane.suspended(2500);
    let hash = plane.park(&decided).await;
    let (status, body) = device
        .decide(&hash, device.decision(&decided, Decision::Approved, "ok"))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    plane.finalize(&hash).await;
    plane
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_to_its_openapi_description() {
    let schemathesis = schemathesis();
    let plane = populated_plane().await;
    let hooks = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api_schema");
    let scratch = tempfile::tempdir().unwrap();
    let calls = scratch.path().join("calls.txt");
    let mut run = Command::new(schemathesis);
    run.current_dir(scratch.path())
        .env("PYTHONPATH", &hooks)
        .env("SCHEMATHESIS_HOOKS", "device_signature")
        .env("HESO_DEVICE_SEED_HEX", hex::encode([DEVICE_SEED; 32]))
        .env("HESO_SCHEMATHESIS_CALLS", &calls)
        .args(["run", &format!("{}/openapi.json", plane.url)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,\
             negative_data_rejection,unsupported_method,allow_header_conformance",
        ])
        .args(["--header", &format!("x-api-key: {}", plane.api_key)])
        // Bounded: at most 100 generated requests per operation (some
        // thousand in all, under a minute).
        .args(["--max-examples", "100"])
        .args(["--workers", "2", "--request-timeout", "10"])
        .args(["--generation-database", "none", "--no-color"]);
    let output = scratch.path().join("output.txt");
    let log = std::fs::File::create(&output).unwrap();
    run.stdout(log.try_clone().unwrap()).stderr(log);
    let status = tokio::task::spawn_blocking(move || finish_within(run, RUN_LIMIT))
        .await
        .unwrap();
    let report = std::fs::read_to_string(&output).unwrap();
    assert!(status.success(), "schemathesis found failures:\n{report}");
    assert!(report.contains("passed"), "{report}");

    // The hook's signatures and the API key were accepted: each kind of
    // caller got answers past authentication.
    let calls = std::fs::read_to_string(&calls).expect("the hook recorded the calls");
    for answered in [
        "GET /v1/approver/roster 200",
        "GET /v1/approver/cosignatures 200",
        "GET /v1/approver/approvals 200",
        "GET /v1/policy/pull 200",
    ] {
        assert!(
            calls.lines().any(|line| line == answered),
            "no `{answered}` among {} calls:\n{report}",
            calls.lines().count()
        );
    }
}
