//! Who is calling: an operator (org API key) or an approver device (a
//! signature by the device key over the request).

use crate::body::RawBody;
use crate::error::{ApiError, ApiResult};
use crate::store::{Approver, Org, Standing};
use crate::{clock, secrets, AppState};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use heso_receipt::request_auth::{
    nonce_is_well_formed, verify_request, SignedRequest, KEY_HEADER, NONCE_HEADER,
    SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use heso_receipt::{keys, VerifyingKey};

/// The org whose API key came in `x-api-key`.
pub struct OperatorOrg(pub Org);

impl FromRequestParts<AppState> for OperatorOrg {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = parts
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::unauthorized("missing x-api-key header"))?;
        let hash = secrets::secret_hash("api-key", key);
        state
            .db(move |s| s.org_by_api_key_hash(&hash))
            .await?
            .map(OperatorOrg)
            .ok_or_else(|| ApiError::unauthorized("unknown API key"))
    }
}

/// A device key that signed this request.
pub struct DeviceKey {
    pub key: VerifyingKey,
    pub b64: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> ApiResult<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized(format!("missing {name} header")))
}

/// Checks the device signature, the clock skew and that the signature is
/// fresh (each signature is accepted once).
async fn verify_device(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    enrolled: Option<&mut Option<Approver>>,
) -> ApiResult<DeviceKey> {
    let key_b64 = header(headers, KEY_HEADER)?;
    let key = keys::decode_public_key(key_b64)
        .map_err(|e| ApiError::unauthorized(format!("{KEY_HEADER}: {e}")))?;
    let timestamp: i64 = header(headers, TIMESTAMP_HEADER)?
        .parse()
        .map_err(|_| ApiError::unauthorized(format!("{TIMESTAMP_HEADER} is not Unix seconds")))?;
    let nonce = header(headers, NONCE_HEADER)?;
    if !nonce_is_well_formed(nonce) {
        return Err(ApiError::unauthorized(format!(
            "{NONCE_HEADER} must be 16 to 64 lowercase hex characters"
        )));
    }
    let signature_b64 = header(headers, SIGNATURE_HEADER)?;
    let signature = keys::decode_signature(signature_b64)
        .map_err(|e| ApiError::unauthorized(format!("{SIGNATURE_HEADER}: {e}")))?;

    let now = clock::now();
    let skew = state.config().clock_skew_secs;
    // The header is the caller's number: no arithmetic on it may overflow.
    if now.abs_diff(timestamp) > skew.unsigned_abs() {
        return Err(ApiError::unauthorized(format!(
            "request timestamp is {}s away from the server clock (allowed: {skew}s); check the device clock",
            now.saturating_sub(timestamp)
        )));
    }
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let request = SignedRequest {
        method: method.as_str(),
        path_and_query: target,
        timestamp: u64::try_from(timestamp)
            .map_err(|_| ApiError::unauthorized(format!("{TIMESTAMP_HEADER} is negative")))?,
        nonce,
        body,
    };
    if !verify_request(&key, &request, &signature) {
        return Err(ApiError::unauthorized("request signature does not verify"));
    }
    let device = DeviceKey {
        b64: keys::public_key_b64(&key),
        key,
    };
    if let Some(slot) = enrolled {
        *slot = Some(enrolled_approver(state, &device).await?);
    }
    let signature_text = signature_b64.to_owned();
    let fresh = state
        .db(move |s| {
            s.remember_request_signature(&signature_text, timestamp.saturating_add(skew), now)
        })
        .await?;
    if !fresh {
        return Err(ApiError::unauthorized("replayed request signature"));
    }
    Ok(device)
}

/// The roster entry of an enrolled device. A revoked one is refused, and so
/// is one the org's API key registered until an administrator confirms it:
/// the agent holds that key, so what it registers reads nothing (no
/// workflow's receipts, no roster) before a person vouches for it.
async fn enrolled_approver(state: &AppState, device: &DeviceKey) -> ApiResult<Approver> {
    let b64 = device.b64.clone();
    let mut entries = state.db(move |s| s.approvers_with_key(&b64)).await?;
    if let [entry] = entries.as_slice() {
        let (org, key) = (entry.org_id, device.b64.clone());
        match state.db(move |s| s.standing(org, &key)).await? {
            Some(Standing::Revoked) => {
                return Err(ApiError::forbidden(
                    "device_revoked",
                    "this device has been revoked by an administrator",
                ))
            }
            Some(Standing::Unconfirmed) => {
                return Err(ApiError::forbidden(
                    "approver_unconfirmed",
                    "this key was registered with the org's API key; it can see and decide approvals once an administrator confirms it (heso-control-plane approver confirm)",
                ))
            }
            Some(Standing::Confirmed) | None => {}
        }
    }
    match entries.len() {
        0 => Err(ApiError::forbidden(
            "not_enrolled",
            "this device key is not enrolled with any org",
        )),
        1 => Ok(entries.remove(0)),
        _ => Err(ApiError::conflict(
            "ambiguous_device",
            "this device key is registered with more than one org",
        )),
    }
}

/// An approver request whose device signature checked out, with its body.
pub struct Signed {
    pub device: DeviceKey,
    pub body: Bytes,
}

impl FromRequest<AppState> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        signed(req, state, None).await
    }
}

/// Checks a device-signed request. With `enrolled`, the device's roster
/// entry is looked up before anything is stored: a key on no roster writes
/// no replay row.
async fn signed(
    req: Request,
    state: &AppState,
    enrolled: Option<&mut Option<Approver>>,
) -> ApiResult<Signed> {
    let (method, uri, headers) = (
        req.method().clone(),
        req.uri().clone(),
        req.headers().clone(),
    );
    let RawBody(body) = RawBody::from_request(req, state).await?;
    let device = verify_device(state, &method, &uri, &headers, &body, enrolled).await?;
    Ok(Signed { device, body })
}

/// A signed request from a device in an org's roster.
pub struct Enrolled {
    pub device: DeviceKey,
    pub approver: Approver,
    pub body: Bytes,
}

impl FromRequest<AppState> for Enrolled {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let mut approver = None;
        let Signed { device, body } = signed(req, state, Some(&mut approver)).await?;
        let approver = approver.expect("looked up before the signature was stored");
        Ok(Enrolled {
            device,
            approver,
            body,
        })
    }
}
