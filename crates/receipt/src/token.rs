//! The approval token: the approver's compact, replay-protected vote.
//!
//! ```text
//! nonce[32] ++ expiry[u64 BE] ++ decision[u8] ++ scope_len[u32 BE] ++ scope ++ signature[64] ++ key[32]
//! signature = Ed25519("heso-approval-token/v1" 0x00 ++ nonce ++ expiry ++ decision ++ scope_len ++ scope ++ C_suspended)
//! ```

use crate::keys::{sign_in_domain, verify_in_domain, TOKEN_DOMAIN};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

/// The two votes a token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenDecision {
    Approved = 1,
    Rejected = 2,
}

impl TokenDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenDecision::Approved => "approved",
            TokenDecision::Rejected => "rejected",
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(TokenDecision::Approved),
            2 => Some(TokenDecision::Rejected),
            _ => None,
        }
    }
}

/// A parsed token. Parsing checks structure only; use [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalToken {
    pub nonce: [u8; 32],
    pub expiry_unix_secs: u64,
    pub decision: TokenDecision,
    pub scope: String,
    pub signature: Signature,
    pub approver_key: VerifyingKey,
}

/// Why a token was refused, in the order the checks run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("invalid decision tag 0x{0:02x} (expected 0x01=approve, 0x02=reject)")]
    InvalidDecision(u8),
    #[error("token expired (expiry={expiry}, now={now})")]
    Expired { expiry: u64, now: u64 },
    #[error("token nonce has been seen before (replay)")]
    ReplayedNonce,
    #[error("token scope `{actual}` does not exactly match required `{required}`")]
    OutOfScope { actual: String, required: String },
    #[error("approver public key is not registered")]
    UnregisteredKey,
    #[error("token decision `{actual}` does not match required `{required}`")]
    OutOfDecision {
        actual: &'static str,
        required: &'static str,
    },
    #[error("token signature invalid")]
    InvalidSignature,
}

const HEAD_LEN: usize = 32 + 8 + 1 + 4;

fn head(nonce: &[u8; 32], expiry: u64, decision: TokenDecision, scope: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD_LEN + scope.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&expiry.to_be_bytes());
    out.push(decision as u8);
    let scope_len = u32::try_from(scope.len()).expect("scope shorter than 4 GiB");
    out.extend_from_slice(&scope_len.to_be_bytes());
    out.extend_from_slice(scope.as_bytes());
    out
}

fn signed_message(head: &[u8], canonical_suspended: &[u8]) -> Vec<u8> {
    [head, canonical_suspended].concat()
}

impl ApprovalToken {
    /// Sign a vote on the suspended content. The caller supplies the random
    /// nonce and the expiry (this crate has no clock and no RNG).
    pub fn sign(
        approver: &SigningKey,
        nonce: [u8; 32],
        expiry_unix_secs: u64,
        decision: TokenDecision,
        scope: &str,
        canonical_suspended: &[u8],
    ) -> Self {
        let head = head(&nonce, expiry_unix_secs, decision, scope);
        let signature = sign_in_domain(
            approver,
            TOKEN_DOMAIN,
            &signed_message(&head, canonical_suspended),
        );
        ApprovalToken {
            nonce,
            expiry_unix_secs,
            decision,
            scope: scope.to_owned(),
            signature,
            approver_key: approver.verifying_key(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = head(
            &self.nonce,
            self.expiry_unix_secs,
            self.decision,
            &self.scope,
        );
        out.extend_from_slice(&self.signature.to_bytes());
        out.extend_from_slice(self.approver_key.as_bytes());
        out
    }

    /// Structure and decision tag only.
    pub fn parse(bytes: &[u8]) -> Result<Self, TokenError> {
        let take = |at: usize, n: usize, what: &'static str| {
            bytes.get(at..at + n).ok_or(TokenError::Malformed(what))
        };
        let nonce: [u8; 32] = take(0, 32, "token truncated in nonce")?.try_into().unwrap();
        let expiry = u64::from_be_bytes(
            take(32, 8, "token truncated in expiry")?
                .try_into()
                .unwrap(),
        );
        let tag = take(40, 1, "token truncated at decision")?[0];
        let scope_len = u32::from_be_bytes(
            take(41, 4, "token truncated in scope_len")?
                .try_into()
                .unwrap(),
        ) as usize;
        let scope_bytes = take(HEAD_LEN, scope_len, "token truncated after scope_len")?;
        let rest = &bytes[HEAD_LEN + scope_len..];
        if rest.len() < 96 {
            return Err(TokenError::Malformed("token truncated after scope"));
        }
        if rest.len() > 96 {
            return Err(TokenError::Malformed("trailing bytes after public key"));
        }
        let decision = TokenDecision::from_tag(tag).ok_or(TokenError::InvalidDecision(tag))?;
        let scope = std::str::from_utf8(scope_bytes)
            .map_err(|_| TokenError::Malformed("scope is not UTF-8"))?
            .to_owned();
        let signature = Signature::from_bytes(rest[..64].try_into().unwrap());
        let approver_key = VerifyingKey::from_bytes(rest[64..].try_into().unwrap())
            .map_err(|_| TokenError::Malformed("public key is not a valid Ed25519 point"))?;
        Ok(ApprovalToken {
            nonce,
            expiry_unix_secs: expiry,
            decision,
            scope,
            signature,
            approver_key,
        })
    }
}

/// What a verifier requires of a token.
pub struct TokenRequirements<'a> {
    /// JCS bytes of the suspended (L0) content the vote is about.
    pub canonical_suspended: &'a [u8],
    /// The verifier's clock. The token is valid up to and including its expiry second.
    pub now_unix_secs: u64,
    /// The gating rule's id.
    pub required_scope: &'a str,
    /// The decision the caller is recording.
    pub required_decision: TokenDecision,
    /// The approver keys registered for this org.
    pub registered_keys: &'a [VerifyingKey],
}

/// Verify a serialized token. `nonce_seen` answers whether the nonce was
/// already used; recording it afterwards is the caller's job (atomically with
/// recording the vote). Checks run in the vendor's order.
pub fn verify(
    bytes: &[u8],
    required: &TokenRequirements<'_>,
    nonce_seen: impl FnOnce(&[u8; 32]) -> bool,
) -> Result<ApprovalToken, TokenError> {
    let token = ApprovalToken::parse(bytes)?;
    if required.now_unix_secs > token.expiry_unix_secs {
        return Err(TokenError::Expired {
            expiry: token.expiry_unix_secs,
            now: required.now_unix_secs,
        });
    }
    if nonce_seen(&token.nonce) {
        return Err(TokenError::ReplayedNonce);
    }
    if token.scope != required.required_scope {
        return Err(TokenError::OutOfScope {
            actual: token.scope.clone(),
            required: required.required_scope.to_owned(),
        });
    }
    if !required.registered_keys.contains(&token.approver_key) {
        return Err(TokenError::UnregisteredKey);
    }
    if token.decision != required.required_decision {
        return Err(TokenError::OutOfDecision {
            actual: token.decision.as_str(),
            required: required.required_decision.as_str(),
        });
    }
    let head = head(
        &token.nonce,
        token.expiry_unix_secs,
        token.decision,
        &token.scope,
    );
    if !verify_in_domain(
        &token.approver_key,
        TOKEN_DOMAIN,
        &signed_message(&head, required.canonical_suspended),
        &token.signature,
    ) {
        return Err(TokenError::InvalidSignature);
    }
    Ok(token)
}
