//! Clients that hold connections without finishing a request: they are
//! closed after the configured time limits, a cap below the file limit keeps
//! new clients served, and held long-polls are not cut.

mod support;

use heso_control_plane::Config;
use reqwest::{Method, StatusCode};
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short limits, so the test waits seconds, not minutes.
fn tight() -> Config {
    Config {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        ..test_config()
    }
}

fn address(plane: &Plane) -> String {
    plane.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection: what it sent, and when.
/// Panics when it is still open at `deadline`.
async fn closed_by_server(stream: &mut TcpStream, deadline: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {deadline:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_half_sent_and_idle_connections_are_closed_after_the_header_timeout() {
    let plane = Plane::start_with_config(tight()).await;
    let addr = address(&plane);
    let mut held = Vec::new();
    for _ in 0..10 {
        // Never sends a byte.
        held.push(TcpStream::connect(&addr).await.unwrap());
        // Never finishes its headers.
        let mut half = TcpStream::connect(&addr).await.unwrap();
        half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        held.push(half);
    }
    // Asks once, then keeps the connection open without asking again.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 512];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
    held.push(idle);

    for stream in &mut held {
        let (_, after) = closed_by_server(stream, Duration::from_secs(5)).await;
        assert!(
            after < Duration::from_secs(3),
            "closed only after {after:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_answered_408_and_the_connection_closed() {
    let plane = Plane::start_with_config(tight()).await;
    let mut slow = TcpStream::connect(address(&plane)).await.unwrap();
    // Enrolment takes a body from anyone (its signature covers the body,
    // so the body is read before the signature is checked).
    slow.write_all(
        b"POST /v1/approver/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"code\": ",
    )
    .await
    .unwrap();
    let (answer, after) = closed_by_server(&mut slow, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"body_timeout\""), "{answer}");
    assert!(after < Duration::from_secs(3), "answered after {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_long_polls_outlast_the_connection_time_limits() {
    let plane = Plane::start_with_config(Config {
        max_wait_secs: 3,
        ..tight()
    })
    .await;
    let device = plane.enrolled_device(1).await;
    let (_, first) = device
        .call(Method::GET, "/v1/approver/approvals", None)
        .await;
    let version = first["version"].as_u64().unwrap();
    let started = Instant::now();
    let (status, body) = device
        .call(
            Method::GET,
            &format!("/v1/approver/approvals?wait=3&since={version}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "answered early: {:?}",
        started.elapsed()
    );
    // And the device's next request goes through as usual.
    assert_eq!(device.listed().await, Vec::<String>::new());
}

/// The adversary's case: the process may open 256 files, the attacker
/// holds 300 silent connections. Without a cap and a header timeout the
/// process could accept no one else (every descriptor held for ever); with
/// them the silent ones are dropped within a second and a new client is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_past_the_file_limit_do_not_starve_new_clients() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plane.db");
    let mut child = std::process::Command::new("sh")
        .args(["-c", "ulimit -n 256 && exec \"$@\"", "sh"])
        .arg(control_plane_binary())
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--max-connections", "200", "--header-timeout", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://"), "did not start: {line:?}");
    let addr = url.trim_start_matches("http://").to_owned();

    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    let started = Instant::now();
    let health = reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let waited = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let health = health.expect("a new client is answered");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
}

/// The packaged unit lets the process open more files than the default
/// connection cap, with room for the database and the rest.
#[test]
fn the_packaged_unit_allows_more_files_than_the_connection_cap() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/control-plane/heso-control-plane.service"
    ))
    .unwrap();
    let limit: usize = unit
        .lines()
        .find_map(|l| l.strip_prefix("LimitNOFILE="))
        .expect("the unit sets LimitNOFILE")
        .parse()
        .unwrap();
    let cap = Config::default().max_connections;
    assert!(
        limit >= cap + 1024,
        "LimitNOFILE={limit} for {cap} connections"
    );
}
