//! The approver's side of the system signer: a typed client over the system
//! bus. Requests to the control plane are signed without asking anyone;
//! a vote and an enrolment wait for the person's answer to the prompt the
//! system draws (which may take a while).

use super::protocol::{self, Enrolment, KeyDescription, SignedVote, ERROR_PREFIX};
use crate::device_key::KeyError;

#[zbus::proxy(
    interface = "org.heso.Approver.Signer1",
    default_service = "org.heso.Approver.Signer1",
    default_path = "/org/heso/Approver/Signer1",
    gen_blocking = true,
    gen_async = false,
    blocking_name = "SignerProxyBlocking"
)]
trait Signer {
    fn version(&self) -> zbus::Result<u32>;
    fn create_key(&self, account: &str) -> zbus::Result<String>;
    fn describe(&self, account: &str) -> zbus::Result<String>;
    fn enrol(&self, account: &str, enrolment_json: &str) -> zbus::Result<()>;
    fn remove(&self, account: &str) -> zbus::Result<()>;
    fn sign_request(
        &self,
        account: &str,
        method: &str,
        path_and_query: &str,
        timestamp: u64,
        nonce: &str,
        body: &[u8],
    ) -> zbus::Result<String>;
    fn decide(
        &self,
        account: &str,
        item_json: &str,
        decision: &str,
        reason: &str,
    ) -> zbus::Result<String>;
    fn fresh_token(&self, account: &str, action_hash: &str) -> zbus::Result<String>;
}

/// A connection to the signer for one account.
pub struct SignerClient {
    proxy: SignerProxyBlocking<'static>,
}

impl std::fmt::Debug for SignerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignerClient")
    }
}

/// Whether a signer answers on the system bus here.
pub fn available() -> bool {
    SignerClient::connect().is_ok_and(|c| c.proxy.version().is_ok())
}

impl SignerClient {
    pub fn connect() -> Result<SignerClient, KeyError> {
        let connection =
            zbus::blocking::Connection::system().map_err(|e| KeyError::NoSigner(e.to_string()))?;
        let proxy =
            SignerProxyBlocking::new(&connection).map_err(|e| KeyError::NoSigner(e.to_string()))?;
        Ok(SignerClient { proxy })
    }

    pub fn create_key(&self, account: &str) -> Result<String, KeyError> {
        self.proxy.create_key(account).map_err(signer_error)
    }

    pub fn describe(&self, account: &str) -> Result<KeyDescription, KeyError> {
        let text = self.proxy.describe(account).map_err(signer_error)?;
        serde_json::from_str(&text).map_err(|e| KeyError::Signer(format!("unreadable answer: {e}")))
    }

    pub fn enrol(&self, account: &str, enrolment: &Enrolment) -> Result<(), KeyError> {
        let json = serde_json::to_string(enrolment).expect("enrolments serialize");
        self.proxy.enrol(account, &json).map_err(signer_error)
    }

    pub fn remove(&self, account: &str) -> Result<(), KeyError> {
        self.proxy.remove(account).map_err(signer_error)
    }

    pub fn sign_request(
        &self,
        account: &str,
        request: &heso_receipt::request_auth::SignedRequest<'_>,
    ) -> Result<String, KeyError> {
        self.proxy
            .sign_request(
                account,
                request.method,
                request.path_and_query,
                request.timestamp,
                request.nonce,
                request.body,
            )
            .map_err(signer_error)
    }

    pub fn decide(
        &self,
        account: &str,
        item: &serde_json::Value,
        decision: &str,
        reason: &str,
    ) -> Result<SignedVote, KeyError> {
        let text = self
            .proxy
            .decide(account, &item.to_string(), decision, reason)
            .map_err(signer_error)?;
        serde_json::from_str(&text).map_err(|e| KeyError::Signer(format!("unreadable answer: {e}")))
    }

    pub fn fresh_token(&self, account: &str, action_hash: &str) -> Result<String, KeyError> {
        self.proxy
            .fresh_token(account, action_hash)
            .map_err(signer_error)
    }
}

/// The signer's answers as the approver's errors, its words kept.
fn signer_error(e: zbus::Error) -> KeyError {
    let zbus::Error::MethodError(name, message, _) = &e else {
        return KeyError::NoSigner(e.to_string());
    };
    let message = message.clone().unwrap_or_default();
    let kind = name
        .as_str()
        .strip_prefix(ERROR_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'));
    match kind {
        Some("NotAuthorized") => KeyError::NotConfirmed(message),
        Some("RateLimited") => KeyError::NotConfirmed(message),
        Some("Refused") => KeyError::SignerRefused(message),
        Some("NoSuchKey") => KeyError::Missing(message),
        Some(_) => KeyError::Signer(message),
        // The bus's own errors: no signer owns the name, or it went away.
        None if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown"
            || name.as_str() == "org.freedesktop.DBus.Error.NoReply" =>
        {
            KeyError::NoSigner(format!("{name}: {message}"))
        }
        None => KeyError::Signer(format!("{name}: {message}")),
    }
}

/// Protocol names re-exported for the signer side.
pub use protocol::{BUS_NAME, INTERFACE, OBJECT_PATH};
