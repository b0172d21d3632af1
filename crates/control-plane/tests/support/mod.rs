//! A control plane on a loopback port, an operator and approver devices.

#![allow(dead_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_control_plane::store::Store;
use heso_control_plane::{admin, serve, AppState, Config};
use heso_receipt::request_auth::{
    sign_request, SignedRequest, KEY_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use heso_receipt::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Plane {
    pub url: String,
    pub api_key: String,
    pub operator: SigningKey,
    pub http: reqwest::Client,
    backend: Backend,
}

/// Where the control plane runs.
enum Backend {
    /// In this test process, on its own tokio task.
    InProcess {
        state: AppState,
        shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    },
    /// The `heso-control-plane` binary, as a deployment runs it.
    Process {
        child: Option<std::process::Child>,
        /// A SQLite file or a PostgreSQL URL.
        db: String,
        listen: String,
    },
}

/// The `heso-control-plane` binary `cargo test --workspace` builds beside the test binaries.
pub fn control_plane_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("heso-control-plane");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

fn spawn_serve(db: &str, listen: &str, clock_offset_secs: i64) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(control_plane_binary())
        .args(["serve", "--db", db, "--listen", listen])
        .env("HESO_CLOCK_OFFSET_SECS", clock_offset_secs.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://"), "unexpected first line: {line}");
    (child, url)
}

impl Drop for Plane {
    fn drop(&mut self) {
        if let Backend::Process {
            child: Some(child), ..
        } = &mut self.backend
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub const ORG: &str = "acme";

/// Tests enrol many devices from one (absent) address in a second; the
/// enrolment limits are tested on the real process instead.
pub fn test_config() -> Config {
    Config {
        enrolment_quota: heso_control_plane::rate_limit::EnrolmentQuota {
            burst_per_client: 10_000,
            every_secs_per_client: 1,
            per_minute_overall: 10_000,
        },
        ..Config::default()
    }
}

/// The PostgreSQL server the tests run against instead of SQLite
/// (`scripts/with-postgres.sh` sets it), if any.
pub fn test_postgres() -> Option<String> {
    std::env::var("HESO_TEST_POSTGRES").ok()
}

/// A new, empty database on the test PostgreSQL server: its URL.
pub fn fresh_postgres_database(server: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "heso_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let created = std::process::Command::new("psql")
        .args([&format!("{server}/postgres"), "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .status()
        .expect("psql (PostgreSQL's client) runs");
    assert!(created.success(), "CREATE DATABASE {name} failed");
    format!("{server}/{name}")
}

/// Where a test's control plane keeps its data: a new PostgreSQL database
/// when the tests run against one, else the SQLite file `dir/name`.
pub fn database(dir: &std::path::Path, name: &str) -> String {
    match test_postgres() {
        Some(server) => fresh_postgres_database(&server),
        None => dir.join(name).to_str().unwrap().to_owned(),
    }
}

/// The store of an in-process test control plane: in memory, or a new
/// PostgreSQL database when the tests run against one.
pub fn test_store() -> Store {
    match test_postgres() {
        Some(server) => Store::connect(&fresh_postgres_database(&server)).unwrap(),
        None => Store::open_in_memory().unwrap(),
    }
}

impl Plane {
    /// A control plane whose org's operator is `self.operator`.
    pub async fn start() -> Plane {
        let operator = SigningKey::from_bytes(&[11; 32]);
        Self::start_with(
            operator.clone(),
            &keys::public_key_b64(&operator.verifying_key()),
        )
        .await
    }

    /// A control plane whose org's operator key is `operator_key` (say, the
    /// vendor SDK's own key); `self.operator` then signs nothing the org accepts.
    pub async fn start_for_operator_key(operator_key: &str) -> Plane {
        Self::start_with(SigningKey::from_bytes(&[11; 32]), operator_key).await
    }

    async fn start_with(operator: SigningKey, operator_key: &str) -> Plane {
        Self::start_on(test_store(), operator, operator_key).await
    }

    /// `start`, with its own settings (say, short connection time limits).
    pub async fn start_with_config(config: Config) -> Plane {
        let operator = SigningKey::from_bytes(&[11; 32]);
        let operator_key = keys::public_key_b64(&operator.verifying_key());
        Self::start_on_with(test_store(), operator, &operator_key, config).await
    }

    /// A control plane on the given store (say, a database file).
    pub async fn start_on(store: Store, operator: SigningKey, operator_key: &str) -> Plane {
        Self::start_on_with(store, operator, operator_key, test_config()).await
    }

    async fn start_on_with(
        store: Store,
        operator: SigningKey,
        operator_key: &str,
        config: Config,
    ) -> Plane {
        let state = AppState::new(store, config);
        let org = admin::create_org(state.store(), ORG, operator_key, 30).unwrap();
        Self::serve_in_process(state, operator, org.api_key).await
    }

    /// Another replica of this in-process control plane: its own process
    /// state (long-polls, caches, limits) over the same PostgreSQL database,
    /// so the same org, keys and API key.
    pub async fn replica(&self) -> Plane {
        self.replica_with(test_config()).await
    }

    /// `replica`, with its own settings (say, tight enrolment limits).
    pub async fn replica_with(&self, config: Config) -> Plane {
        let url = self
            .state()
            .store()
            .change_feed()
            .expect("replicas share a PostgreSQL database");
        let state = AppState::new(Store::connect(url).unwrap(), config);
        Self::serve_in_process(state, self.operator.clone(), self.api_key.clone()).await
    }

    async fn serve_in_process(state: AppState, operator: SigningKey, api_key: String) -> Plane {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        Plane {
            url,
            api_key,
            operator,
            http: reqwest::Client::new(),
            backend: Backend::InProcess {
                state,
                shutdown: Some(tx),
            },
        }
    }

    /// The `heso-control-plane` binary serving `db`, its org made with the
    /// command line, as an operator would deploy it.
    pub fn spawn_process(db: &str) -> Plane {
        let operator = SigningKey::from_bytes(&[11; 32]);
        let created = std::process::Command::new(control_plane_binary())
            .args(["org", "create", "--db", db, "--name", ORG, "--json"])
            .args([
                "--operator-key",
                &keys::public_key_b64(&operator.verifying_key()),
            ])
            .output()
            .unwrap();
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
        let created: Value = serde_json::from_slice(&created.stdout).unwrap();
        let (child, url) = spawn_serve(db, "127.0.0.1:0", 0);
        Plane {
            api_key: created["api_key"].as_str().unwrap().to_owned(),
            operator,
            http: reqwest::Client::new(),
            backend: Backend::Process {
                child: Some(child),
                db: db.to_owned(),
                listen: url.trim_start_matches("http://").to_owned(),
            },
            url,
        }
    }

    /// The pid of the `heso-control-plane` process serving, if one does.
    pub fn pid(&self) -> Option<u32> {
        match &self.backend {
            Backend::Process { child, .. } => child.as_ref().map(|c| c.id()),
            Backend::InProcess { .. } => None,
        }
    }

    /// Asks the in-process server to shut down, as SIGTERM does a process.
    pub fn shut_down(&mut self) {
        if let Backend::InProcess { shutdown, .. } = &mut self.backend {
            if let Some(tx) = shutdown.take() {
                let _ = tx.send(());
            }
        }
    }

    /// The in-process server's state.
    pub fn state(&self) -> &AppState {
        match &self.backend {
            Backend::InProcess { state, .. } => state,
            Backend::Process { .. } => panic!("the control plane runs in another process"),
        }
    }

    /// Stops the control-plane process (SIGKILL: no chance to tidy up).
    pub fn kill(&mut self) {
        if let Backend::Process { child, .. } = &mut self.backend {
            if let Some(mut child) = child.take() {
                child.kill().unwrap();
                child.wait().unwrap();
            }
        }
    }

    /// Starts the control-plane process again, same database and address.
    pub fn restart(&mut self) {
        self.restart_later(0);
    }

    /// `restart`, with the process's clock `secs` ahead: the control plane
    /// comes back after an outage that long.
    pub fn restart_later(&mut self, secs: i64) {
        self.kill();
        if let Backend::Process { child, db, listen } = &mut self.backend {
            let (new, url) = spawn_serve(db, listen, secs);
            assert_eq!(url, self.url);
            *child = Some(new);
        }
    }

    /// An operator call with the org's API key.
    pub async fn op(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("x-api-key", &self.api_key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub fn enrolment_code(&self, label: &str) -> String {
        self.enrolment_code_in(label, &[])
    }

    /// A code whose device joins `groups`.
    pub fn enrolment_code_in(&self, label: &str, groups: &[&str]) -> String {
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        match &self.backend {
            Backend::InProcess { state, .. } => {
                admin::issue_enrolment_code(state.store(), ORG, label, 24, &groups).unwrap()
            }
            Backend::Process { db, .. } => {
                let mut args = vec![
                    "enroll".to_owned(),
                    "--db".into(),
                    db.clone(),
                    "--org".into(),
                    ORG.into(),
                    "--label".into(),
                    label.into(),
                    "--json".into(),
                ];
                for group in groups {
                    args.extend(["--group".to_owned(), group]);
                }
                let out = std::process::Command::new(control_plane_binary())
                    .args(args)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
                answer["code"].as_str().unwrap().to_owned()
            }
        }
    }

    /// A suspended L0 payment receipt signed by the org's operator.
    pub fn suspended(&self, amount: u64) -> Receipt {
        suspended_by(&self.operator, amount, "payment.large.requires_approval")
    }

    /// `POST /v1/receipts` with `{"receipt": receipt}` and, when given, `supersedes_action_hash`.
    pub async fn push(
        &self,
        receipt: impl serde::Serialize,
        supersedes: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut body = json!({"receipt": receipt});
        if let Some(hash) = supersedes {
            body["supersedes_action_hash"] = hash.into();
        }
        self.op(Method::POST, "/v1/receipts", Some(body)).await
    }

    /// Pushes the receipt and opens its approval.
    pub async fn park(&self, receipt: &Receipt) -> String {
        self.park_with_threshold(receipt, 1).await
    }

    /// Pushes the receipt and opens its approval for `threshold` approvers.
    pub async fn park_with_threshold(&self, receipt: &Receipt, threshold: u32) -> String {
        let (status, body) = self.push(receipt, None).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let hash = receipt.content.action_hash.clone();
        let (status, body) = self
            .op(
                Method::POST,
                "/v1/approvals",
                Some(
                    json!({"action_hash": hash, "workflow": "payouts", "account": "acct_1",
                    "rule_id": receipt.content.policy.rule_id, "threshold": threshold,
                    "matched_conditions": receipt.content.policy.matched_conditions,
                    "scope": receipt.content.policy.rule_id}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        hash
    }

    /// What the operator does with quorum parts (as `heso.finalize_quorum`).
    pub fn assemble_quorum_from_parts(&self, parts: &Value) -> Receipt {
        let suspended: Content =
            serde_json::from_value(parts["suspended_content"].clone()).unwrap();
        let roster: Vec<String> = serde_json::from_value(parts["roster"].clone()).unwrap();
        let legs: Vec<QuorumLeg> = parts["legs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|leg| QuorumLeg {
                record: serde_json::from_str(leg["record"].as_str().unwrap()).unwrap(),
                approver_key: keys::decode_public_key(leg["approver_pubkey_b64"].as_str().unwrap())
                    .unwrap(),
                co_signature: keys::decode_signature(leg["co_sig_b64"].as_str().unwrap()).unwrap(),
            })
            .collect();
        let threshold = parts["threshold"].as_u64().unwrap() as u32;
        assemble_quorum(&self.operator, &suspended, threshold, &roster, &legs).unwrap()
    }

    /// What the operator does with the assembly parts (as `heso.finalize_l1`).
    pub fn assemble_from_parts(&self, parts: &Value) -> Receipt {
        let leg = &parts["legs"][0];
        let suspended: Content =
            serde_json::from_value(parts["suspended_content"].clone()).unwrap();
        let record: ApproverRecord = serde_json::from_str(leg["record"].as_str().unwrap()).unwrap();
        let approver =
            keys::decode_public_key(leg["approver_pubkey_b64"].as_str().unwrap()).unwrap();
        let co_sig = keys::decode_signature(leg["co_sig_b64"].as_str().unwrap()).unwrap();
        assemble_l1(&self.operator, &suspended, &record, &approver, &co_sig).unwrap()
    }

    /// The operator's whole finalize step: fetch the parts, assemble the L1,
    /// push it superseding the suspended receipt.
    pub async fn finalize(&self, hash: &str) -> Receipt {
        let (status, parts) = self
            .op(Method::GET, &format!("/v1/approvals/{hash}/assembly"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{parts}");
        let l1 = self.assemble_from_parts(&parts);
        let (status, body) = self.push(&l1, Some(hash)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        l1
    }

    pub async fn enrolled_device(&self, seed: u8) -> Device {
        self.enrolled_device_in(seed, &[]).await
    }

    /// A device enrolled into `groups`.
    pub async fn enrolled_device_in(&self, seed: u8, groups: &[&str]) -> Device {
        let device = Device::new(self, seed);
        let code = self.enrolment_code_in("laptop", groups);
        let (status, body) = device.enroll(&code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        device
    }
}

/// A suspended receipt of `verb` with these fields, signed by `operator`;
/// `extra` adds top-level content members (say, a `suspension`).
pub fn suspended_with(
    operator: &SigningKey,
    verb: &str,
    fields: Value,
    rule_id: &str,
    extra: Value,
) -> Receipt {
    let mut content = json!({
        "action_version": ACTION_VERSION,
        "captured_at": "2026-11-27T10:00:00Z",
        "agent_identity": keys::public_key_b64(&operator.verifying_key()),
        "action": {"verb": verb, "tool_name": "tool", "workflow": "payouts",
                   "account": "acct_1", "fields": fields},
        "policy": {"rule_id": rule_id, "rule_display": "ask a person",
                   "matched_conditions": [], "decision_path": "require_approval"},
        "trust_level": "L0",
        "action_hash": ""
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        content[k] = v.clone();
    }
    sign_as_operator(operator, serde_json::from_value(content).unwrap()).unwrap()
}

/// A suspension block whose signed deadline is `secs` from now.
pub fn signed_deadline_in(secs: i64) -> Value {
    let at = heso_control_plane::clock::rfc3339(now() as i64 + secs);
    json!({"suspension": {"resume_token_hash": "00".repeat(32), "context_ref": "ctx",
        "policy": "payments", "approval": {"sla": format!("PT{secs}S"), "expires_at": at,
        "on_timeout": "deny", "approver_pubkeys": []}}})
}

pub fn suspended_by(operator: &SigningKey, amount: u64, rule_id: &str) -> Receipt {
    let content: Content = serde_json::from_value(json!({
        "action_version": ACTION_VERSION,
        "captured_at": "2026-11-21T10:00:00Z",
        "agent_identity": keys::public_key_b64(&operator.verifying_key()),
        "action": {"verb": "payment", "tool_name": "stripe.transfers.create", "workflow": "payouts",
                   "account": "acct_1", "target_host": "api.stripe.com",
                   "fields": {"amount": amount, "currency": "USD", "payee": "Globex LLC"}},
        "policy": {"rule_id": rule_id, "rule_display": "Payments over 1,000 need approval",
                   "matched_conditions": [{"field": "amount", "op": "gt", "value": 1000}],
                   "decision_path": "require_approval"},
        "trust_level": "L0",
        "action_hash": ""
    }))
    .unwrap();
    sign_as_operator(operator, content).unwrap()
}

static NONCE: AtomicU64 = AtomicU64::new(1);

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An approver device: its key signs every request.
pub struct Device {
    pub key: SigningKey,
    pub url: String,
    pub http: reqwest::Client,
}

impl Device {
    pub fn new(plane: &Plane, seed: u8) -> Device {
        Device {
            key: SigningKey::from_bytes(&[seed; 32]),
            url: plane.url.clone(),
            http: plane.http.clone(),
        }
    }

    pub fn public_b64(&self) -> String {
        keys::public_key_b64(&self.key.verifying_key())
    }

    /// A signed request; `timestamp` overrides the clock.
    pub fn request(
        &self,
        method: Method,
        target: &str,
        body: &[u8],
        timestamp: u64,
    ) -> reqwest::RequestBuilder {
        let nonce = format!("{:032x}", NONCE.fetch_add(1, Ordering::SeqCst));
        let signature = sign_request(
            &self.key,
            &SignedRequest {
                method: method.as_str(),
                path_and_query: target,
                timestamp,
                nonce: &nonce,
                body,
            },
        );
        self.http
            .request(method, format!("{}{target}", self.url))
            .header(KEY_HEADER, self.public_b64())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(NONCE_HEADER, nonce)
            .header(SIGNATURE_HEADER, STANDARD.encode(signature.to_bytes()))
            .body(body.to_vec())
    }

    pub async fn call(
        &self,
        method: Method,
        target: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let resp = self
            .request(method, target, &bytes, now())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn enroll(&self, code: &str) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/v1/approver/enroll",
            Some(json!({"code": code, "public_key": self.public_b64(), "label": "test device"})),
        )
        .await
    }

    /// Record, co-signature and token for a decision on `suspended`.
    pub fn decision(&self, suspended: &Receipt, decision: Decision, reason: &str) -> Value {
        let record = ApproverRecord {
            decision,
            approver_identity: self.public_b64(),
            reason: reason.into(),
            decided_at: "2026-11-21T10:05:00Z".into(),
            sla_minutes: Some(30),
            unsigned: Default::default(),
        };
        let co_sig = cosign(&self.key, &suspended.content, &record).unwrap();
        let token = self.token(suspended, decision, &suspended.content.policy.rule_id);
        json!({"record": record_text(&record), "co_sig_b64": STANDARD.encode(co_sig.to_bytes()),
               "token_b64": STANDARD.encode(token)})
    }

    /// Record, quorum co-signature and token for a vote on a k-of-n approval.
    pub fn quorum_decision(
        &self,
        suspended: &Receipt,
        decision: Decision,
        threshold: u32,
        roster: &[String],
    ) -> Value {
        let record = ApproverRecord {
            decision,
            approver_identity: self.public_b64(),
            reason: String::new(),
            decided_at: "2026-11-27T10:05:00Z".into(),
            sla_minutes: Some(30),
            unsigned: Default::default(),
        };
        let co_sig =
            quorum_cosign(&self.key, &suspended.content, threshold, roster, &record).unwrap();
        let token = self.token(suspended, decision, &suspended.content.policy.rule_id);
        json!({"record": record_text(&record), "co_sig_b64": STANDARD.encode(co_sig.to_bytes()),
               "token_b64": STANDARD.encode(token)})
    }

    pub fn token(&self, suspended: &Receipt, decision: Decision, scope: &str) -> Vec<u8> {
        let vote = match decision {
            Decision::Rejected => TokenDecision::Rejected,
            _ => TokenDecision::Approved,
        };
        let mut nonce = [0u8; 32];
        nonce[..8].copy_from_slice(&NONCE.fetch_add(1, Ordering::SeqCst).to_be_bytes());
        nonce[8] = self.key.to_bytes()[0];
        ApprovalToken::sign(
            &self.key,
            nonce,
            now() + 300,
            vote,
            scope,
            &canonical_bytes(&suspended.content).unwrap(),
        )
        .to_bytes()
    }

    /// `GET /v1/approver/approvals/{hash}`: one approval as this device may see it.
    pub async fn item(&self, hash: &str) -> (StatusCode, Value) {
        self.call(Method::GET, &format!("/v1/approver/approvals/{hash}"), None)
            .await
    }

    /// The action hashes in this device's pending list.
    pub async fn listed(&self) -> Vec<String> {
        let (status, list) = self.call(Method::GET, "/v1/approver/approvals", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["action_hash"].as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn decide(&self, hash: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            &format!("/v1/approver/approvals/{hash}/decision"),
            Some(body),
        )
        .await
    }
}
