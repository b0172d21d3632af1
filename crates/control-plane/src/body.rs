//! Request bodies: raw bytes under the size limit, then strict JSON with
//! errors that say what is wrong.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// The raw request body. Over the limit is 413; the bytes are kept because
/// device signatures cover them.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        format!(
                            "request body is larger than {} bytes",
                            crate::MAX_BODY_BYTES
                        ),
                    )
                } else {
                    ApiError::bad_request(format!("cannot read the request body: {e}"))
                }
            })
    }
}

/// Parses a JSON body: malformed JSON is 400, valid JSON of the wrong shape
/// (types, missing or unknown keys) is 422, each with serde's description.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                ApiError::unprocessable("invalid_body", format!("invalid request body: {e}"))
            }
            _ => ApiError::bad_request(format!("request body is not valid JSON: {e}")),
        }
    })
}
