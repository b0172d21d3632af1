//! Memory under the large-pages attack (a script, not a test): the agent
//! pushes 300 suspended receipts of about 1 MB each (each under the body
//! limit) and a device asks for the pending list ten ways at once, with ten
//! different `limit`s, for several rounds. Prints the serving process's
//! peak and final resident memory (`VmHWM`, `VmRSS`).
//!
//! Run with `scripts/bench-large-pages.sh`.

#[path = "../tests/support/mod.rs"]
mod support;

use reqwest::Method;
use serde_json::json;
use support::{now, suspended_with, Device, Plane};

const RECEIPTS: u64 = 300;
const ROUNDS: usize = 5;

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let plane = Plane::spawn_process(&support::database(dir.path(), "cp.db"));
    let pid = plane.pid().expect("a served process");
    let device = plane.enrolled_device(1).await;
    let padding = "x".repeat(1000 * 1000);
    for i in 0..RECEIPTS {
        let receipt = suspended_with(
            &plane.operator,
            "payment",
            json!({"amount": 1000 + i, "memo": padding}),
            "payment.large.requires_approval",
            json!({}),
        );
        plane.park(&receipt).await;
    }
    let before = status_kb(pid, "VmRSS:");
    let started = std::time::Instant::now();
    let mut largest_page = 0;
    for round in 0..ROUNDS {
        let mut asks = Vec::new();
        for limit in 491..501 {
            let device = Device {
                key: device.key.clone(),
                url: device.url.clone(),
                http: device.http.clone(),
            };
            let path = format!(
                "/v1/approver/approvals?limit={limit}&before={}",
                i64::MAX - round as i64
            );
            asks.push(tokio::spawn(async move {
                let response = device
                    .request(Method::GET, &path, b"", now())
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.unwrap().len()
            }));
        }
        for ask in asks {
            largest_page = largest_page.max(ask.await.unwrap());
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{RECEIPTS} receipts of ~1 MB; {ROUNDS} rounds of 10 concurrent pending lists (limits 491-500): {:.2} s",
        elapsed.as_secs_f64()
    );
    println!("largest page: {:.1} MiB", largest_page as f64 / 1048576.0);
    println!(
        "control plane resident: {:.0} MB before the lists, peak {:.0} MB, after {:.0} MB",
        before as f64 / 1024.0,
        status_kb(pid, "VmHWM:") as f64 / 1024.0,
        status_kb(pid, "VmRSS:") as f64 / 1024.0
    );
}
