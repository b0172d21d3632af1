//! The signer's speed and size (a script, not a test): request signatures
//! (no prompt) and votes through polkit with the person's answer typed by
//! the harness at once (so without the person's own time), p50/p99 each,
//! and the signer's memory when idle.
//!
//! Run as root with `scripts/bench-signer.sh`: it starts
//! `scripts/with-signer.sh person <this binary>`; inside, the control plane
//! runs in this process and the device enrols through the signer.

#[path = "../../control-plane/tests/support/mod.rs"]
mod support;

use heso_approver::device_key::{DeviceKey, Keychain};
use heso_approver::workflow::Approver;
use heso_receipt::request_auth::SignedRequest;
use std::io::BufRead;
use std::time::{Duration, Instant};
use support::Plane;

const REQUESTS: usize = 1000;
const VOTES: usize = 30;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn line(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{what}: n={} p50 {:.2} ms, p99 {:.2} ms",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3
    );
}

async fn inside() {
    let plane = Plane::start().await;
    let home = tempfile::tempdir().unwrap();
    let code = plane.enrolment_code("bench");
    heso_approver::enrol::enrol(home.path(), Keychain::Os, &plane.url, &code, "bench")
        .await
        .unwrap();
    let approver = Approver::open(home.path(), Keychain::Os).unwrap();
    let key: &DeviceKey = &approver.key;
    let signer = key.signer().expect("enrolled into the signer");

    let mut times = Vec::new();
    for i in 0..REQUESTS {
        let nonce = format!("{i:032x}");
        let request = SignedRequest {
            method: "GET",
            path_and_query: "/v1/approver/approvals?wait=30&since=7",
            timestamp: 1_764_000_000,
            nonce: &nonce,
            body: b"",
        };
        let started = Instant::now();
        key.sign_request(&request).unwrap();
        times.push(started.elapsed());
    }
    line("request signature (no prompt)", times);

    let mut times = Vec::new();
    for i in 0..VOTES {
        let hash = plane.park(&plane.suspended(2000 + i as u64)).await;
        let item = approver.client.approval(key, &hash).await.unwrap();
        let started = Instant::now();
        let account = key.account().to_owned();
        tokio::task::block_in_place(|| signer.decide(&account, &item, "approved", "")).unwrap();
        times.push(started.elapsed());
    }
    line("vote: verify, prompt answered at once, sign, keep", times);
    println!("idle");
    std::thread::sleep(Duration::from_secs(3));
}

/// The signer's memory, read by root while the bench idles.
fn signer_memory() -> String {
    let pids = std::process::Command::new("pgrep")
        .args(["-u", "heso-signer", "-f", "heso-approver-signer"])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&pids.stdout)
        .trim()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    format!("signer idle: Pss {}, Rss {}", field("Pss:"), field("Rss:"))
}

fn main() {
    if std::env::var_os("HESO_SIGNER_CTL").is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(inside());
        return;
    }
    let root = heso_interop_tests::workspace_root();
    let exe = std::env::current_exe().unwrap();
    let signer = root.join("target/release/heso-approver-signer");
    let mut child = std::process::Command::new(root.join("scripts/with-signer.sh"))
        .args(["person", "--quiet", "--"])
        .arg(&exe)
        .env("HESO_SIGNER_BIN", &signer)
        .current_dir(&root)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    for text in out.lines().map_while(Result::ok) {
        if text == "idle" {
            println!("{}", signer_memory());
        } else {
            println!("{text}");
        }
    }
    assert!(child.wait().unwrap().success());
}
