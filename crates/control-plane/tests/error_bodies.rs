//! Every error answer is JSON with a sentence and a code, even the ones the
//! HTTP framework writes itself, and /openapi.json lists the statuses the
//! server answers.

mod support;

use reqwest::header::{ALLOW, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::*;

/// Sends `method path` with the API key and returns the status, the
/// `Allow` header and the body, which must be a JSON error.
async fn json_error(
    plane: &Plane,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, Option<String>, Value) {
    let resp = plane
        .http
        .request(method.clone(), format!("{}{path}", plane.url))
        .header("x-api-key", &plane.api_key)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let allow = resp
        .headers()
        .get(ALLOW)
        .map(|v| v.to_str().unwrap().to_owned());
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{method} {path}: {status} {text:?}"
    );
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: {status} {text:?}: {e}"));
    assert!(body["error"].is_string(), "{method} {path}: {body}");
    assert!(body["code"].is_string(), "{method} {path}: {body}");
    (status, allow, body)
}

#[tokio::test]
async fn path_segments_that_are_not_utf8_get_a_json_400() {
    let plane = Plane::start().await;
    for path in [
        "/v1/approvals/%FF",
        "/v1/approvals/%C3%28/assembly",
        "/v1/approver/approvals/%80abc",
        "/v1/approver/approvals/%FF%FE/decision",
    ] {
        let method = if path.ends_with("decision") {
            Method::POST
        } else {
            Method::GET
        };
        let (status, _, body) = json_error(&plane, method, path, Vec::new()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["code"], "bad_request", "{path}");
        assert!(
            body["error"].as_str().unwrap().contains("UTF-8"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn a_method_a_route_does_not_take_gets_a_json_405_with_allow() {
    let plane = Plane::start().await;
    for (method, path, allowed) in [
        (Method::DELETE, "/v1/receipts", "POST"),
        (Method::PUT, "/v1/approvals/abc", "GET"),
        (Method::GET, "/v1/approver/enroll", "POST"),
        (Method::POST, "/healthz", "GET"),
    ] {
        let (status, allow, body) = json_error(&plane, method, path, Vec::new()).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}: {body}");
        assert_eq!(body["code"], "method_not_allowed", "{path}");
        let allow = allow.unwrap_or_else(|| panic!("{path}: no Allow header"));
        assert!(allow.contains(allowed), "{path}: Allow: {allow}");
    }
}

#[tokio::test]
async fn bodies_queries_and_routes_that_do_not_do_get_json_errors() {
    let plane = Plane::start().await;
    let (status, _, body) = json_error(
        &plane,
        Method::POST,
        "/v1/receipts",
        vec![b' '; 2 * 1024 * 1024],
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "body_too_large");
    let (status, _, _) =
        json_error(&plane, Method::POST, "/v1/approvals", b"{\"action".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = json_error(
        &plane,
        Method::GET,
        "/v1/policy/pull?policy_hash=a&policy_hash=b",
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = json_error(&plane, Method::GET, "/v1/nowhere", Vec::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Each operation lists the error statuses its requests can meet; an
/// operation that takes a body lists the body's (400, 408, 413, 422).
#[tokio::test]
async fn the_openapi_document_lists_the_error_statuses() {
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
    let listed = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} missing"))
            .keys()
            .cloned()
            .collect()
    };
    for (path, method) in [
        ("/v1/receipts", "post"),
        ("/v1/approvals", "post"),
        ("/v1/approvals/{action_hash}/submit-token", "post"),
        ("/v1/orgs/register-approver-pubkey", "post"),
        ("/v1/approver/enroll", "post"),
        ("/v1/approver/approvals/{action_hash}/decision", "post"),
    ] {
        let statuses = listed(path, method);
        for status in ["400", "401", "408", "413", "422"] {
            assert!(
                statuses.iter().any(|s| s == status),
                "{method} {path}: {status} not in {statuses:?}"
            );
        }
    }
    assert!(listed("/v1/approver/enroll", "post").contains(&"429".to_owned()));
    assert!(listed("/v1/approver/approvals/{action_hash}", "get").contains(&"422".to_owned()));
    for (path, method) in [
        ("/v1/policy/pull", "get"),
        ("/v1/approver/approvals", "get"),
    ] {
        assert!(
            listed(path, method).contains(&"400".to_owned()),
            "{method} {path}: a query that does not parse"
        );
    }
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], serde_json::json!(["error", "code"]));
}
