//! HESO action receipts, byte-compatible with the vendor package `heso==0.5.1`.
//!
//! Pure: no IO, no clock, no randomness. Callers pass the time, nonces and keys.
//!
//! - [`wire`]: the receipt, content, action, policy, approver and redaction records.
//! - [`canonical`]: RFC 8785 canonical bytes and the BLAKE3 action hash.
//! - [`keys`]: Ed25519 with domain separation, strict verification, base64 forms.
//! - [`cosign`]: L1 promotion, the approver's co-signature, operator signing and assembly.
//! - [`quorum`]: k-of-n approvals: the quorum base, each approver's co-signature, assembly.
//! - [`lifecycle`]: the session links of gated actions, verified by kind.
//! - [`chain`]: a session's links together: the link hash and the chain's verdict.
//! - [`token`]: the approval token (the approver's vote).
//! - [`verify`]: the offline verifier.

pub mod canonical;
pub mod chain;
pub mod cosign;
pub mod decision_link;
pub mod enrolment;
pub mod keys;
pub mod lifecycle;
pub mod quorum;
pub mod request_auth;
pub mod token;
pub mod verify;
pub mod wire;

pub use canonical::{action_hash, canonical_bytes, jcs, parse_content, CanonicalError};
pub use chain::{link_hash, verify_chain, verify_session_chain, ChainReport, ChainVerdict};
pub use cosign::{
    assemble_l1, cosign, cosign_payload, promote_to_l1, record_text, sign_as_operator,
};
pub use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
pub use lifecycle::sign_link;
pub use quorum::{assemble_quorum, quorum_base, quorum_cosign, quorum_cosign_payload, QuorumLeg};
pub use token::{ApprovalToken, TokenDecision, TokenError, TokenRequirements};
pub use verify::{verify_receipt, verify_receipt_bytes, Verdict, VerdictKind, Verified};
pub use wire::*;
