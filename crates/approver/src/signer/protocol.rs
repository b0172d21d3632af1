//! The contract between the approver (window, agent, command line) and the
//! system signer, `heso-approver-signer`: where it is on the system bus, the
//! names of its calls and errors, and the JSON they carry. Both sides use
//! these names, so they cannot drift apart.
//!
//! Every call names the keychain-style `account` the key is filed under; the
//! desktop user is the caller's uid as the bus reports it, never an argument.

use serde::{Deserialize, Serialize};

/// The signer's well-known name on the system bus.
pub const BUS_NAME: &str = "org.heso.Approver.Signer1";
/// Its object.
pub const OBJECT_PATH: &str = "/org/heso/Approver/Signer1";
/// Its interface; a change that breaks callers gets a new number.
pub const INTERFACE: &str = "org.heso.Approver.Signer1";
/// Prefix of the errors it answers with.
pub const ERROR_PREFIX: &str = "org.heso.Approver.Signer1.Error";

/// polkit action for a vote (approve or reject).
pub const SIGN_ACTION: &str = "org.heso.approver.sign";
/// polkit action for enrolling this device with an org, or removing its key.
pub const ENROL_ACTION: &str = "org.heso.approver.enrol";

/// What the signer pins when the person confirms an enrolment: the answer
/// of the control plane, checked against the code the person typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    pub url: String,
    pub org: String,
    pub label: String,
    pub operator_keys: Vec<String>,
    pub sla_minutes: u32,
    /// The check part of the enrolment code: the operator keys must match it.
    pub code_check: String,
}

/// A key as the signer holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyDescription {
    pub public_key: String,
    /// `None` until the person confirmed an enrolment for it.
    pub enrolment: Option<Enrolment>,
}

/// A vote the signer made once the person confirmed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedVote {
    /// The ApproverRecord as the exact JSON text that was co-signed.
    pub record: String,
    pub co_sig_b64: String,
    pub token_b64: String,
}
