//! The signer's D-Bus interface (`org.heso.Approver.Signer1`). Request
//! signatures for polling need no one's answer: they are under their own
//! domain and can never count as a vote. A vote, an enrolment and the
//! removal of an enrolled key each need the person at the system prompt.

use crate::caller::{self, Caller};
use crate::presence::Prompts;
use crate::prompt_text;
use crate::store::{KeyFile, KeyStore, MadeVote, StoreError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_approver::device_key::Custody;
use heso_approver::profile::Profile;
use heso_approver::signer::protocol::{Enrolment, SignedVote, ENROL_ACTION, SIGN_ACTION};
use heso_approver::view::item_view;
use heso_approver::workflow::{sign_vote, verify_item, TOKEN_LIFETIME_SECS};
use heso_receipt::request_auth::{sign_request, SignedRequest};
use heso_receipt::{
    canonical_bytes, record_text, ApprovalToken, ApproverRecord, Decision, TokenDecision,
};
use rand::rngs::OsRng;
use rand::TryRngCore;
use serde_json::Value;
use zbus::message::Header;

#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.heso.Approver.Signer1.Error")]
pub enum SignerError {
    #[zbus(error)]
    ZBus(zbus::Error),
    /// The person did not confirm: nothing was signed.
    NotAuthorized(String),
    /// Too many prompts ended without a yes, or one is open: not asked.
    RateLimited(String),
    /// The item or enrolment does not verify here: nothing was asked.
    Refused(String),
    NoSuchKey(String),
    Invalid(String),
    Storage(String),
}

impl From<zbus::fdo::Error> for SignerError {
    fn from(e: zbus::fdo::Error) -> Self {
        SignerError::ZBus(zbus::Error::FDO(Box::new(e)))
    }
}

impl From<StoreError> for SignerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchKey(account) => SignerError::NoSuchKey(account),
            StoreError::Invalid(why) => SignerError::Invalid(why),
            StoreError::Io(why) => {
                tracing::error!(error = %why, "storage failure");
                SignerError::Storage(why)
            }
        }
    }
}

pub struct Service {
    keys: KeyStore,
    prompts: Prompts,
}

impl Service {
    pub fn new(keys: KeyStore) -> Service {
        Service {
            keys,
            prompts: Prompts::default(),
        }
    }
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("zero nanoseconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC times format")
}

fn random_nonce() -> Result<[u8; 32], SignerError> {
    let mut nonce = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|e| SignerError::Storage(format!("the OS random number generator failed: {e}")))?;
    Ok(nonce)
}

/// The profile this signer verifies against: its own pins, never the
/// user's (writable) profile.
fn pinned_profile<'a>(
    account: &str,
    file: &'a KeyFile,
) -> Result<(Profile, &'a Enrolment), SignerError> {
    let enrolment = file.enrolment.as_ref().ok_or_else(|| {
        SignerError::Refused(
            "this key's enrolment was never confirmed at the system prompt; enrol again".into(),
        )
    })?;
    let profile = Profile {
        url: enrolment.url.clone(),
        org: enrolment.org.clone(),
        label: enrolment.label.clone(),
        key_account: account.to_owned(),
        approver_public_key: file.public_key.clone(),
        operator_keys: enrolment.operator_keys.clone(),
        sla_minutes: enrolment.sla_minutes,
        custody: Custody::Signer,
    };
    Ok((profile, enrolment))
}

fn vote_of(decision: &str) -> Result<(Decision, TokenDecision), SignerError> {
    match decision {
        "approved" => Ok((Decision::Approved, TokenDecision::Approved)),
        "rejected" => Ok((Decision::Rejected, TokenDecision::Rejected)),
        other => Err(SignerError::Invalid(format!(
            "a vote is `approved` or `rejected`, not `{}`",
            heso_approver::display::visible(other)
        ))),
    }
}

fn answer<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("answers serialize")
}

fn token_b64(
    key: &heso_receipt::SigningKey,
    vote: &MadeVote,
    decision: TokenDecision,
    nonce: [u8; 32],
) -> Result<String, SignerError> {
    let canonical = STANDARD
        .decode(&vote.canonical_b64)
        .map_err(|e| SignerError::Storage(format!("a kept vote is damaged: {e}")))?;
    let expiry = now_unix().max(0) as u64 + TOKEN_LIFETIME_SECS;
    let token = ApprovalToken::sign(key, nonce, expiry, decision, &vote.rule_id, &canonical);
    Ok(STANDARD.encode(token.to_bytes()))
}

#[zbus::interface(name = "org.heso.Approver.Signer1")]
impl Service {
    /// The interface's revision within `Signer1`.
    fn version(&self) -> u32 {
        1
    }

    /// Makes a new key for the caller under `account`; returns its public
    /// key. It cannot vote until an enrolment is confirmed for it.
    async fn create_key(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        account: &str,
    ) -> Result<String, SignerError> {
        let caller = caller::of(connection, &header).await?;
        let file = self.keys.create(caller.uid, account, now_unix())?;
        tracing::info!(uid = caller.uid, account, "key made");
        Ok(file.public_key)
    }

    /// The caller's key under `account`: public key and confirmed enrolment.
    async fn describe(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        account: &str,
    ) -> Result<String, SignerError> {
        let caller = caller::of(connection, &header).await?;
        Ok(answer(&self.keys.load(caller.uid, account)?.description()))
    }

    /// Pins an enrolment for a key once the person confirms it at the
    /// prompt: the operator keys the control plane named, which must match
    /// the check of the code the person was given.
    async fn enrol(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        account: &str,
        enrolment_json: &str,
    ) -> Result<(), SignerError> {
        let caller = caller::of(connection, &header).await?;
        let enrolment: Enrolment = serde_json::from_str(enrolment_json)
            .map_err(|e| SignerError::Invalid(format!("not an enrolment: {e}")))?;
        let mut file = self.keys.load(caller.uid, account)?;
        if file.enrolment.is_some() {
            return Err(SignerError::Refused(
                "this key is enrolled already; remove it to enrol again".into(),
            ));
        }
        if enrolment.operator_keys.is_empty()
            || heso_receipt::enrolment::operator_keys_check(&enrolment.operator_keys)
                != enrolment.code_check
        {
            return Err(SignerError::Refused(
                "the operator keys do not match the enrolment code's check".into(),
            ));
        }
        let message = prompt_text::enrolment(&enrolment, &file.public_key, &caller);
        self.prompts
            .confirm(connection, &header, &caller, ENROL_ACTION, &message)
            .await?;
        file.enrolment = Some(enrolment);
        self.keys.save(caller.uid, account, &file)?;
        tracing::info!(
            uid = caller.uid,
            account,
            pid = caller.pid,
            "enrolment confirmed"
        );
        Ok(())
    }

    /// Deletes the caller's key under `account`; an enrolled one only once
    /// the person confirms.
    async fn remove(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        account: &str,
    ) -> Result<(), SignerError> {
        let caller = caller::of(connection, &header).await?;
        let file = self.keys.load(caller.uid, account)?;
        if let Some(enrolment) = &file.enrolment {
            let message = prompt_text::removal(enrolment, &caller);
            self.prompts
                .confirm(connection, &header, &caller, ENROL_ACTION, &message)
                .await?;
        }
        self.keys.remove(caller.uid, account)?;
        tracing::info!(uid = caller.uid, account, pid = caller.pid, "key removed");
        Ok(())
    }

    /// A device signature on one request to the control plane (domain
    /// `heso-approver-request/v1`): no prompt.
    #[allow(clippy::too_many_arguments)]
    async fn sign_request(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        account: &str,
        method: &str,
        path_and_query: &str,
        timestamp: u64,
        nonce: &str,
        body: Vec<u8>,
    ) -> Result<String, SignerError> {
        let caller = caller::of(connection, &header).await?;
        let request = SignedRequest {
            method,
            path_and_query,
            timestamp,
            nonce,
            body: &body,
        };
        let signature = self
            .keys
            .with_key(caller.uid, account, |k| sign_request(k, &request))?;
        Ok(STANDARD.encode(signature.to_bytes()))
    }

    /// A vote on an approval: the item (as the control plane listed it) is
    /// verified here against this signer's pins, its summary rendered from
    /// the verified bytes goes into the prompt, and only the person's yes
    /// produces the record, co-signature and token. The same vote asked
    /// again is answered without a prompt; another one is refused.
    async fn decide(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        account: &str,
        item_json: &str,
        decision: &str,
        reason: &str,
    ) -> Result<String, SignerError> {
        let caller = caller::of(connection, &header).await?;
        let (decision, token_decision) = vote_of(decision)?;
        let mut file = self.keys.load(caller.uid, account)?;
        let (profile, enrolment) = pinned_profile(account, &file)?;
        let item: Value = serde_json::from_str(item_json)
            .map_err(|e| SignerError::Invalid(format!("the item is not JSON: {e}")))?;
        let verified = verify_item(&profile, &item)
            .map_err(|refusal| SignerError::Refused(refusal.to_string()))?;
        let content = &verified.receipt.content;
        if let Some(made) = file.vote_on(&content.action_hash) {
            return self.vote_again(&caller, account, made, decision, token_decision);
        }
        let view = item_view(&verified);
        let message = prompt_text::vote(
            &view,
            decision == Decision::Approved,
            reason,
            &enrolment.org,
            &caller,
        );
        let sla_minutes = enrolment.sla_minutes;
        self.prompts
            .confirm(connection, &header, &caller, SIGN_ACTION, &message)
            .await?;

        let record = ApproverRecord {
            decision,
            approver_identity: file.public_key.clone(),
            reason: reason.to_owned(),
            decided_at: now_rfc3339(),
            sla_minutes: Some(sla_minutes),
            unsigned: Default::default(),
        };
        let canonical =
            canonical_bytes(content).map_err(|e| SignerError::Refused(e.to_string()))?;
        let nonce = random_nonce()?;
        let expiry = now_unix().max(0) as u64 + TOKEN_LIFETIME_SECS;
        let (co_sig, token) = self.keys.with_key(caller.uid, account, |k| {
            sign_vote(
                k,
                &verified,
                &record,
                token_decision,
                nonce,
                expiry,
                &canonical,
            )
        })?;
        let co_sig = co_sig.map_err(|e| SignerError::Refused(e.to_string()))?;
        let made = MadeVote {
            action_hash: content.action_hash.clone(),
            decision: decision.as_str().to_owned(),
            record: record_text(&record),
            co_sig_b64: STANDARD.encode(co_sig.to_bytes()),
            rule_id: content.policy.rule_id.clone(),
            canonical_b64: STANDARD.encode(&canonical),
        };
        // Kept before it is answered: a signer killed now still knows the
        // person's vote, and answers it again without asking twice.
        file.votes.push(made.clone());
        self.keys.save(caller.uid, account, &file)?;
        tracing::info!(uid = caller.uid, account, pid = caller.pid, action_hash = %made.action_hash, decision = %made.decision, "vote signed");
        Ok(answer(&SignedVote {
            record: made.record,
            co_sig_b64: made.co_sig_b64,
            token_b64: STANDARD.encode(token.to_bytes()),
        }))
    }

    /// A new token for a vote the person already confirmed here (a token
    /// expires; its record and co-signature never change).
    async fn fresh_token(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        account: &str,
        action_hash: &str,
    ) -> Result<String, SignerError> {
        let caller = caller::of(connection, &header).await?;
        let file = self.keys.load(caller.uid, account)?;
        let made = file.vote_on(action_hash).ok_or_else(|| {
            SignerError::Refused("no vote was confirmed here for this approval".into())
        })?;
        let (_, token_decision) = vote_of(&made.decision)?;
        let nonce = random_nonce()?;
        self.keys.with_key(caller.uid, account, |k| {
            token_b64(k, made, token_decision, nonce)
        })?
    }
}

impl Service {
    /// The vote kept for this approval, answered again with a new token; a
    /// different decision is refused (a decision cannot be changed).
    fn vote_again(
        &self,
        caller: &Caller,
        account: &str,
        made: &MadeVote,
        decision: Decision,
        token_decision: TokenDecision,
    ) -> Result<String, SignerError> {
        if made.decision != decision.as_str() {
            return Err(SignerError::Refused(format!(
                "this device already {} this approval; a decision cannot be changed",
                made.decision
            )));
        }
        let nonce = random_nonce()?;
        let token = self.keys.with_key(caller.uid, account, |k| {
            token_b64(k, made, token_decision, nonce)
        })??;
        Ok(answer(&SignedVote {
            record: made.record.clone(),
            co_sig_b64: made.co_sig_b64.clone(),
            token_b64: token,
        }))
    }
}
