//! The control-plane client: every request signed by the device key (no
//! bearer secret), with timeouts and retries with backoff where a retry is safe.

use crate::device_key::{DeviceKey, KeyError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_receipt::request_auth::{
    SignedRequest, KEY_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use rand::Rng;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the control plane at {url} is unreachable: {error}")]
    Unreachable { url: String, error: String },
    #[error("the control plane refused ({status}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
        body: Value,
    },
    #[error("the control plane answered something unreadable: {0}")]
    BadResponse(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl ClientError {
    /// Worth trying again later: the network, or the server's own trouble.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Refused { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Which page of the pending list to ask for.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// With `wait`: answer once the list's version moves past `since`.
    pub since: Option<u64>,
    pub wait: Option<u64>,
    /// The previous page's `next_before`.
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

/// The largest answer read from a control plane (the biggest real one, a
/// page of 500 pending items, is a few MiB).
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// How long a long-poll may be held by the server, plus slack.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(45);

fn unix_now() -> u64 {
    crate::clock::now_unix().max(0) as u64
}

impl Client {
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ClientError::BadResponse(e.to_string()))?;
        Ok(Client {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// One signed request. 2xx answers are JSON; others become `Refused`.
    pub async fn call(
        &self,
        key: &DeviceKey,
        method: Method,
        target: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let timestamp = unix_now();
        let nonce = hex::encode(rand::rng().random::<[u8; 16]>());
        let request = SignedRequest {
            method: method.as_str(),
            path_and_query: target,
            timestamp,
            nonce: &nonce,
            body: &bytes,
        };
        let signature = key.sign_request(&request)?;
        let mut builder = self
            .http
            .request(method, format!("{}{target}", self.base))
            .header(KEY_HEADER, key.public_b64())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(NONCE_HEADER, &nonce)
            .header(SIGNATURE_HEADER, STANDARD.encode(signature.to_bytes()));
        if body.is_some() {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let response = builder.send().await.map_err(|e| ClientError::Unreachable {
            url: self.base.clone(),
            error: e.to_string(),
        })?;
        let status = response.status();
        let text = self.read_capped(response).await?;
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|_| json!({"error": text}));
        if status.is_success() {
            return Ok(value);
        }
        Err(ClientError::Refused {
            status: status.as_u16(),
            code: value["code"].as_str().unwrap_or_default().to_owned(),
            // The control plane's words reach screens and terminals: inert.
            message: crate::display::visible(value["error"].as_str().unwrap_or("no message")),
            body: value,
        })
    }

    /// The answer's body, read a chunk at a time and refused past
    /// `MAX_ANSWER_BYTES`: a hostile server cannot make us buffer without end.
    async fn read_capped(&self, mut response: reqwest::Response) -> Result<String, ClientError> {
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            url: self.base.clone(),
            error: e.to_string(),
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(ClientError::BadResponse("answer too large".into()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ClientError::BadResponse("answer too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `call`, tried up to `attempts` times while the failure is transient,
    /// waiting 0.25 s, 0.5 s, 1 s, ... (at most 5 s) between tries. Only for
    /// requests the server treats idempotently.
    pub async fn call_with_retry(
        &self,
        key: &DeviceKey,
        method: Method,
        target: &str,
        body: Option<&Value>,
        attempts: u32,
    ) -> Result<Value, ClientError> {
        let mut delay = Duration::from_millis(250);
        let mut tries = 0;
        loop {
            tries += 1;
            match self.call(key, method.clone(), target, body).await {
                Err(e) if e.is_transient() && tries < attempts => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    pub async fn enroll(
        &self,
        key: &DeviceKey,
        code: &str,
        label: &str,
    ) -> Result<Value, ClientError> {
        // Where the key is held, as this device reports it (shown as
        // self-reported on the roster; an org may refuse unprotected devices).
        let body = json!({"code": code, "public_key": key.public_b64(), "label": label,
                          "protection": key.custody().word()});
        self.call(key, Method::POST, "/v1/approver/enroll", Some(&body))
            .await
    }

    /// The first page of the pending list; with `since` and `wait`, a long-poll.
    pub async fn pending(
        &self,
        key: &DeviceKey,
        since: Option<u64>,
        wait: Option<u64>,
    ) -> Result<Value, ClientError> {
        self.pending_page(
            key,
            &PageRequest {
                since,
                wait,
                ..PageRequest::default()
            },
        )
        .await
    }

    /// One page of the pending list.
    pub async fn pending_page(
        &self,
        key: &DeviceKey,
        page: &PageRequest,
    ) -> Result<Value, ClientError> {
        let mut query = Vec::new();
        if let (Some(since), Some(wait)) = (page.since, page.wait) {
            query.push(format!("since={since}&wait={wait}"));
        }
        if let Some(before) = page.before {
            query.push(format!("before={before}"));
        }
        if let Some(limit) = page.limit {
            query.push(format!("limit={limit}"));
        }
        let target = match query.is_empty() {
            true => "/v1/approver/approvals".to_owned(),
            false => format!("/v1/approver/approvals?{}", query.join("&")),
        };
        self.call_with_retry(key, Method::GET, &target, None, 3)
            .await
    }

    pub async fn approval(&self, key: &DeviceKey, action_hash: &str) -> Result<Value, ClientError> {
        let target = format!("/v1/approver/approvals/{action_hash}");
        self.call_with_retry(key, Method::GET, &target, None, 3)
            .await
    }

    pub async fn submit(
        &self,
        key: &DeviceKey,
        action_hash: &str,
        decision: &Value,
    ) -> Result<Value, ClientError> {
        let target = format!("/v1/approver/approvals/{action_hash}/decision");
        self.call_with_retry(key, Method::POST, &target, Some(decision), 4)
            .await
    }

    /// The org's roster: who can approve, and how each joined.
    pub async fn roster(&self, key: &DeviceKey) -> Result<Value, ClientError> {
        self.call_with_retry(key, Method::GET, "/v1/approver/roster", None, 3)
            .await
    }

    pub async fn cosignatures(&self, key: &DeviceKey) -> Result<Value, ClientError> {
        self.call_with_retry(key, Method::GET, "/v1/approver/cosignatures", None, 3)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_key::Keychain;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A hostile control plane: answers every request with a 100 MB body,
    /// announced (`Content-Length`) or streamed in chunks without a length.
    async fn flooding_server(announce: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let total = 100 * 1024 * 1024;
            let head = if announce {
                format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {total}\r\n\r\n")
            } else {
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".into()
            };
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let block = vec![b' '; 64 * 1024];
            for _ in 0..total / block.len() {
                let frame = if announce {
                    block.clone()
                } else {
                    [
                        format!("{:x}\r\n", block.len()).into_bytes(),
                        block.clone(),
                        b"\r\n".to_vec(),
                    ]
                    .concat()
                };
                // The client hangs up once it has had enough.
                if socket.write_all(&frame).await.is_err() {
                    return;
                }
            }
        });
        url
    }

    #[tokio::test]
    async fn a_flood_of_an_answer_is_refused_not_buffered() {
        crate::device_key::tests::mock_keychain();
        let key = DeviceKey::create(Keychain::Installed, "client-flood").unwrap();
        for announce in [true, false] {
            let client = Client::new(&flooding_server(announce).await).unwrap();
            let answer = client
                .call(&key, Method::GET, "/v1/approver/approvals", None)
                .await;
            assert!(
                matches!(&answer, Err(ClientError::BadResponse(why)) if why == "answer too large"),
                "announce={announce}: {answer:?}"
            );
        }
    }
}
