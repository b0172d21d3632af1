//! The system signer's client where no signer exists (macOS, Windows for
//! now): none can be made, so the key stays in the keychain and every path
//! that would ask a signer is told so. The same interface as `client.rs`,
//! so nothing above this module needs to know the platform.

use super::protocol::{Enrolment, KeyDescription, SignedVote};
use crate::device_key::KeyError;

/// No value of it exists here.
pub enum SignerClient {}

/// No signer answers on this platform.
pub fn available() -> bool {
    false
}

impl SignerClient {
    pub fn connect() -> Result<SignerClient, KeyError> {
        Err(KeyError::NoSigner(
            "the system signer exists on Linux only".into(),
        ))
    }

    pub fn create_key(&self, _account: &str) -> Result<String, KeyError> {
        match *self {}
    }

    pub fn describe(&self, _account: &str) -> Result<KeyDescription, KeyError> {
        match *self {}
    }

    pub fn enrol(&self, _account: &str, _enrolment: &Enrolment) -> Result<(), KeyError> {
        match *self {}
    }

    pub fn remove(&self, _account: &str) -> Result<(), KeyError> {
        match *self {}
    }

    pub fn sign_request(
        &self,
        _account: &str,
        _request: &heso_receipt::request_auth::SignedRequest<'_>,
    ) -> Result<String, KeyError> {
        match *self {}
    }

    pub fn decide(
        &self,
        _account: &str,
        _item: &serde_json::Value,
        _decision: &str,
        _reason: &str,
    ) -> Result<SignedVote, KeyError> {
        match *self {}
    }

    pub fn fresh_token(&self, _account: &str, _action_hash: &str) -> Result<String, KeyError> {
        match *self {}
    }
}
