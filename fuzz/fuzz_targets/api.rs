//! The control plane's HTTP API, driven in-process through its router.
//!
//! Input: one byte choosing the route, then the request body (POST) or the
//! query string (GET). Operator requests carry the org's API key; approver
//! requests are signed by an enrolled device, so the input reaches the
//! handlers behind authentication. The org has one parked payment (the
//! vendor vectors' case) and its approval open.
//!
//! Invariants: nothing panics; every answer is JSON; bad input is never a 500.

use axum::body::{to_bytes, Body};
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use heso_control_plane::store::Store;
use heso_control_plane::{admin, router, AppState, Config};
use heso_fuzz::Case;
use heso_receipt::keys::{b64, public_key_b64};
use heso_receipt::request_auth::{
    sign_request, SignedRequest, KEY_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// Who sends a route's requests.
#[derive(Clone, Copy)]
enum Caller {
    Operator,
    Device,
}

/// The routes, by the input's first byte. `{H}` is the open approval.
const ROUTES: &[(Method, &str, Caller)] = &[
    (Method::POST, "/v1/receipts", Caller::Operator),
    (Method::POST, "/v1/approvals", Caller::Operator),
    (
        Method::POST,
        "/v1/approvals/{H}/submit-token",
        Caller::Operator,
    ),
    (
        Method::POST,
        "/v1/orgs/register-approver-pubkey",
        Caller::Operator,
    ),
    (Method::GET, "/v1/policy/pull", Caller::Operator),
    (Method::POST, "/v1/approver/enroll", Caller::Device),
    (
        Method::POST,
        "/v1/approver/approvals/{H}/decision",
        Caller::Device,
    ),
    (Method::GET, "/v1/approver/approvals", Caller::Device),
];

/// A fresh control plane after this many requests, so that what fuzzed
/// requests add to the store stays small.
const REQUESTS_PER_PLANE: u64 = 20_000;

struct Plane {
    router: Router,
    api_key: String,
    action_hash: String,
    requests: u64,
}

impl Plane {
    fn new(rt: &Runtime, case: &Case) -> Plane {
        // No long-poll waits; replay records expire after a few seconds.
        let config = Config {
            clock_skew_secs: 5,
            max_wait_secs: 0,
            ..Config::default()
        };
        let state = AppState::new(Store::open_in_memory().expect("store"), config);
        let org = admin::create_org(state.store(), "fuzz", &case.operator_b64(), 30).expect("org");
        let code =
            admin::issue_enrolment_code(state.store(), "fuzz", "fuzz", 24, &[]).expect("code");
        let mut plane = Plane {
            router: router(state),
            api_key: org.api_key,
            action_hash: case.suspended.content.action_hash.clone(),
            requests: 0,
        };
        // Park the payment and enrol the device, as an operator and a device would.
        let setup = [
            (0, json!({"receipt": case.suspended})),
            (
                1,
                json!({"action_hash": plane.action_hash, "rule_id": case.rule_id}),
            ),
            (
                5,
                json!({"code": code, "public_key": public_key_b64(&case.approver_key())}),
            ),
        ];
        for (route, body) in setup {
            let request = plane.request(route, body.to_string().as_bytes(), case);
            let (status, body) = plane.send(rt, request.expect("a valid request"));
            assert!(status.is_success(), "setup failed: {status} {body}");
        }
        plane
    }

    /// The request for `route` with `input` as body or query; `None` when the
    /// input cannot be a request target.
    fn request(&mut self, route: usize, input: &[u8], case: &Case) -> Option<Request<Body>> {
        let (method, path, caller) = &ROUTES[route];
        let mut target = path.replace("{H}", &self.action_hash);
        let body = if method == Method::GET {
            target.push('?');
            target.push_str(std::str::from_utf8(input).ok()?);
            Vec::new()
        } else {
            input.to_vec()
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(target.parse::<axum::http::Uri>().ok()?)
            .header("content-type", "application/json");
        match caller {
            Caller::Operator => builder = builder.header("x-api-key", &self.api_key),
            Caller::Device => {
                self.requests += 1;
                // Unique per request, so no two signatures are the same.
                let nonce = format!("{:032x}", self.requests);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock after 1970")
                    .as_secs();
                let signed = SignedRequest {
                    method: method.as_str(),
                    path_and_query: &target,
                    timestamp: now,
                    nonce: &nonce,
                    body: &body,
                };
                let signature = sign_request(&case.approver, &signed);
                builder = builder
                    .header(KEY_HEADER, public_key_b64(&case.approver_key()))
                    .header(TIMESTAMP_HEADER, now.to_string())
                    .header(NONCE_HEADER, &nonce)
                    .header(SIGNATURE_HEADER, b64(&signature.to_bytes()));
            }
        }
        builder.body(Body::from(body)).ok()
    }

    fn send(&mut self, rt: &Runtime, request: Request<Body>) -> (StatusCode, Value) {
        self.requests += 1;
        rt.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("infallible");
            let status = response.status();
            let bytes = to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a readable answer");
            let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{status}: answer is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            (status, body)
        })
    }
}

fn main() {
    let case = Case::load();
    // Made on the first input, after AFL's fork server has forked: threads
    // (the runtime's blocking pool) do not survive a fork.
    // The runtime is not unwind-safe; a panic aborts the process anyway.
    let mut live = std::panic::AssertUnwindSafe(None::<(Runtime, Plane)>);
    afl::fuzz(true, move |data: &[u8]| {
        let live = &mut *live;
        let Some((&selector, input)) = data.split_first() else {
            return;
        };
        if live
            .as_ref()
            .is_none_or(|(_, plane)| plane.requests >= REQUESTS_PER_PLANE)
        {
            let rt = live.take().map(|(rt, _)| rt).unwrap_or_else(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
            });
            let plane = Plane::new(&rt, &case);
            *live = Some((rt, plane));
        }
        let (rt, plane) = live.as_mut().expect("made above");
        let route = usize::from(selector) % ROUTES.len();
        let Some(request) = plane.request(route, input, &case) else {
            return;
        };
        let (status, body) = plane.send(rt, request);
        if std::env::var_os("FUZZ_VERBOSE").is_some() {
            eprintln!("{} {status} {body}", ROUTES[route].1);
        }
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        if !status.is_success() {
            assert!(
                body["error"].is_string() && body["code"].is_string(),
                "{status}: {body}"
            );
        }
    });
}
