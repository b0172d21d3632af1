//! The decision workflow. Nothing is shown as approvable, and nothing is
//! signed, before the suspended receipt checks out: its hash recomputes, its
//! operator signature verifies strictly, the operator key is one pinned at
//! enrolment, it is an L0 awaiting approval, this device is not its operator,
//! and every value it carries is covered by the signature. Then the record,
//! co-signature and token are made, journalled, and only then sent.

use crate::client::{Client, ClientError};
use crate::device_key::{Custody, DeviceKey, KeyError, Keychain};
use crate::journal::{Journal, JournalEntry, JournalError, SubmitState};
use crate::profile::Profile;
use crate::signer::protocol::SignedVote;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_receipt::{
    canonical_bytes, cosign, keys, quorum_cosign, record_text, verify_receipt, ApprovalToken,
    ApproverRecord, Decision, DecisionPath, Receipt, ReceiptKind, TokenDecision, TrustLevel,
    VerdictKind,
};
use rand::rngs::OsRng;
use rand::TryRngCore;
use serde_json::{json, Value};
use std::sync::Arc;

/// How long an approval token stays valid after it is made.
pub const TOKEN_LIFETIME_SECS: u64 = 600;

/// Why an item is shown as refused and cannot be approved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the item carries no readable receipt: {0}")]
    NoReceipt(String),
    #[error("the receipt does not verify: {kind} {detail}")]
    Unverified { kind: &'static str, detail: String },
    #[error("the receipt is signed by an operator key this device did not pin at enrolment ({0})")]
    UnpinnedOperator(String),
    #[error("the receipt's agent_identity is not the key that signed it")]
    AgentIdentityMismatch,
    #[error("the receipt is {0}, not a suspended L0 receipt")]
    NotL0(&'static str),
    #[error("the receipt's rule does not ask for approval")]
    NotAwaitingApproval,
    #[error("the receipt already carries an approver decision")]
    AlreadyDecided,
    #[error("this device's key is the operator key: an operator cannot approve its own action")]
    SelfApproval,
    #[error("the receipt carries values no signature covers: {0}")]
    UnsignedValues(String),
    #[error("the control plane listed it under action_hash {listed}, but the receipt is {actual}")]
    HashMismatch { listed: String, actual: String },
    #[error("the receipt is a `{0}` link of a gated action's session, which this device does not decide yet")]
    SessionLink(&'static str),
    #[error("this device is not on the roster of this {0}-approver approval")]
    NotOnRoster(u32),
    #[error("the approval's quorum does not make sense: {0}")]
    BadQuorum(String),
}

/// One vote on a quorum, as the control plane reports it (its label and
/// time are its word; the key is checked against the final receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumVote {
    pub key: String,
    pub decision: String,
    pub label: Option<String>,
    pub decided_at: String,
}

/// A k-of-n approval's terms as the control plane states them. The operator
/// does not sign them, but each approver does: the threshold and roster are
/// in the bytes of every co-signature, so a control plane that states other
/// terms than the operator's gets legs no quorum receipt can use. The device
/// checks they make sense and shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumTerms {
    pub threshold: u32,
    /// Base64 keys that may approve.
    pub roster: Vec<String>,
    /// Who voted so far and how, as the control plane reports it.
    pub votes: Vec<QuorumVote>,
    /// This device's key.
    pub device_key: String,
}

impl QuorumTerms {
    /// The terms of an item; `None` for a single-approver approval.
    pub fn of(item: &Value, device_key: &str) -> Result<Option<QuorumTerms>, Refusal> {
        let threshold = match item.get("threshold").and_then(Value::as_u64) {
            None | Some(1) => return Ok(None),
            Some(0) => return Err(Refusal::BadQuorum("threshold 0".into())),
            Some(k) => {
                u32::try_from(k).map_err(|_| Refusal::BadQuorum(format!("threshold {k}")))?
            }
        };
        let roster: Vec<String> = serde_json::from_value(item["roster"].clone())
            .map_err(|_| Refusal::BadQuorum("no roster of keys".into()))?;
        if let Some(bad) = roster.iter().find(|k| keys::decode_public_key(k).is_err()) {
            return Err(Refusal::BadQuorum(format!(
                "`{}` on the roster is not a public key",
                crate::display::visible(bad)
            )));
        }
        if roster.len() < threshold as usize {
            return Err(Refusal::BadQuorum(format!(
                "{threshold} approvals needed from a roster of {}",
                roster.len()
            )));
        }
        if !roster.iter().any(|k| k == device_key) {
            return Err(Refusal::NotOnRoster(threshold));
        }
        let votes: Vec<QuorumVote> = item["votes"]
            .as_array()
            .map(|votes| {
                votes
                    .iter()
                    .filter_map(|v| {
                        Some(QuorumVote {
                            key: v["approver_public_key"].as_str()?.to_owned(),
                            decision: v["decision"].as_str()?.to_owned(),
                            label: v["label"].as_str().map(crate::display::visible),
                            decided_at: crate::display::visible(
                                v["decided_at"].as_str().unwrap_or_default(),
                            ),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(QuorumTerms {
            threshold,
            roster,
            votes,
            device_key: device_key.to_owned(),
        }))
    }

    /// Whether this device is among the voters, as the control plane reports it.
    pub fn you_voted(&self) -> bool {
        self.votes.iter().any(|v| v.key == self.device_key)
    }
}

/// An item that checked out: what the app and the command line may show,
/// all of it from the signed receipt.
#[derive(Debug, Clone)]
pub struct VerifiedItem {
    pub receipt: Receipt,
    pub operator_fingerprint: String,
    /// Set for a k-of-n approval.
    pub quorum: Option<QuorumTerms>,
    /// The control plane's note when the org's policy and the receipt
    /// disagree (its word, shown inert).
    pub routing_note: Option<String>,
}

/// Checks an approval item from the control plane (see the module docs).
pub fn verify_item(profile: &Profile, item: &Value) -> Result<VerifiedItem, Refusal> {
    let receipt: Receipt = serde_json::from_value(item["receipt"].clone())
        .map_err(|e| Refusal::NoReceipt(e.to_string()))?;
    let verified = verify_receipt(receipt);
    let verdict = &verified.verdict;
    if verdict.kind != VerdictKind::Valid {
        return Err(Refusal::Unverified {
            kind: verdict.kind.as_str(),
            detail: verdict.detail.clone().unwrap_or_default(),
        });
    }
    if !verdict.unsigned_paths.is_empty() {
        return Err(Refusal::UnsignedValues(verdict.unsigned_paths.join(", ")));
    }
    let receipt = verified.receipt.expect("a verified receipt parsed");
    // A gated action's session link is decided by a decision link, not by
    // an L1 co-signature over it (and carries no operator role to check).
    if let Some(kind) = receipt.content.kind.filter(|k| *k != ReceiptKind::Action) {
        return Err(Refusal::SessionLink(kind.as_str()));
    }
    let operator = keys::public_key_b64(
        &verified
            .operator_key
            .expect("valid receipts have an operator"),
    );
    if !profile.operator_keys.contains(&operator) {
        return Err(Refusal::UnpinnedOperator(keys::fingerprint(
            &verified.operator_key.unwrap(),
        )));
    }
    if receipt.content.agent_identity != operator {
        return Err(Refusal::AgentIdentityMismatch);
    }
    if receipt.content.trust_level != TrustLevel::L0 {
        return Err(Refusal::NotL0(receipt.content.trust_level.as_str()));
    }
    if receipt.content.policy.decision_path != DecisionPath::RequireApproval {
        return Err(Refusal::NotAwaitingApproval);
    }
    if receipt.content.approver_decision.is_some() {
        return Err(Refusal::AlreadyDecided);
    }
    if operator == profile.approver_public_key {
        return Err(Refusal::SelfApproval);
    }
    if let Some(listed) = item["action_hash"].as_str() {
        if listed != receipt.content.action_hash {
            return Err(Refusal::HashMismatch {
                listed: listed.to_owned(),
                actual: receipt.content.action_hash.clone(),
            });
        }
    }
    let quorum = QuorumTerms::of(item, &profile.approver_public_key)?;
    Ok(VerifiedItem {
        operator_fingerprint: keys::fingerprint(&verified.operator_key.unwrap()),
        receipt,
        quorum,
        routing_note: item["routing_note"].as_str().map(crate::display::visible),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Other(String),
}

/// What became of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The control plane recorded it.
    Confirmed,
    /// Journalled; the control plane could not be reached. It is sent again
    /// at the next start (or `heso-approver queue`).
    Queued(String),
    /// The control plane refused it for good.
    Refused(String),
}

/// Where a k-of-n approval stands, as the control plane reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumProgress {
    pub approved: u64,
    pub threshold: u64,
    /// `pending`, `approved`, `rejected` (the control plane's word).
    pub status: String,
}

impl QuorumProgress {
    /// Approvals still needed.
    pub fn more(&self) -> u64 {
        self.threshold.saturating_sub(self.approved)
    }
}

/// The approver: profile, device key, client and journal together.
pub struct Approver {
    pub profile: Profile,
    /// Shared, so a background watcher can sign its requests with the same handle.
    pub key: Arc<DeviceKey>,
    pub client: Client,
    pub journal: Journal,
}

/// The co-signature and the approval token of one vote on a verified
/// item; shared by the keychain path here and the system signer.
pub fn sign_vote(
    key: &heso_receipt::SigningKey,
    item: &VerifiedItem,
    record: &ApproverRecord,
    vote: TokenDecision,
    nonce: [u8; 32],
    expiry_unix_secs: u64,
    canonical_suspended: &[u8],
) -> (
    Result<heso_receipt::Signature, heso_receipt::cosign::PromoteError>,
    ApprovalToken,
) {
    let content = &item.receipt.content;
    // A quorum's leg signs the quorum base with this record alone.
    let co_sig = match &item.quorum {
        Some(q) => quorum_cosign(key, content, q.threshold, &q.roster, record),
        None => cosign(key, content, record),
    };
    let token = ApprovalToken::sign(
        key,
        nonce,
        expiry_unix_secs,
        vote,
        &content.policy.rule_id,
        canonical_suspended,
    );
    (co_sig, token)
}

fn random_nonce() -> Result<[u8; 32], WorkflowError> {
    let mut nonce = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|e| WorkflowError::Other(format!("the OS random number generator failed: {e}")))?;
    Ok(nonce)
}

/// Why the approver could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl Approver {
    /// Opens the enrolled approver kept in `home`: profile, the device key
    /// (checked against the profile), client and journal.
    pub fn open(home: &std::path::Path, keychain: Keychain) -> Result<Approver, OpenError> {
        let profile = Profile::load(home)?;
        let key = Arc::new(DeviceKey::open_in(
            profile.custody,
            keychain,
            &profile.key_account,
            &profile.approver_public_key,
        )?);
        let client = Client::new(&profile.url)?;
        let journal = Journal::open(&home.join("journal.db"))?;
        Ok(Approver {
            profile,
            key,
            client,
            journal,
        })
    }

    /// Fetches, verifies, signs, journals and sends one decision. A decision
    /// already journalled for this action is sent again instead of a new one.
    pub async fn decide(
        &self,
        action_hash: &str,
        decision: Decision,
        reason: &str,
    ) -> Result<Outcome, WorkflowError> {
        if let Some(existing) = self.journal.get(action_hash)? {
            if existing.decision != decision.as_str() {
                return Err(WorkflowError::Other(format!(
                    "this device already decided `{}` on {action_hash}; a decision cannot be changed",
                    existing.decision
                )));
            }
            return Ok(self.deliver(&existing).await?);
        }
        let (item, offline_copy) = self.fetch_item(action_hash).await?;
        if !offline_copy && item["status"] != "pending" {
            return Err(WorkflowError::Other(format!(
                "this approval is already {}",
                item["status"].as_str().unwrap_or("decided")
            )));
        }
        let verified = verify_item(&self.profile, &item)?;
        // Sign only the approval asked for: a control plane answering with
        // another (validly signed) receipt must not get that one co-signed.
        if verified.receipt.content.action_hash != action_hash {
            return Err(Refusal::HashMismatch {
                listed: action_hash.to_owned(),
                actual: verified.receipt.content.action_hash.clone(),
            }
            .into());
        }
        let signed = self
            .sign_decision(&item, &verified, decision, reason)
            .await?;
        let entry = self.journal.record(&signed)?;
        // Another window or command of this device journalled its decision
        // first: that one stands, and this caller is told so.
        if entry.decision != signed.decision {
            return Err(WorkflowError::Other(format!(
                "this device already decided `{}` on {action_hash} (from another window or command); a decision cannot be changed",
                entry.decision
            )));
        }
        // Fault injection for the crash test: die after the journal write,
        // before anything is sent.
        if std::env::var_os("HESO_APPROVER_FAULT").is_some_and(|v| v == "crash-after-journal") {
            std::process::abort();
        }
        Ok(self.deliver(&entry).await?)
    }

    /// The approval as the control plane has it now; while the control plane
    /// is away, the copy this device last verified and showed (`true`), so a
    /// decision can be made on it, journalled, and delivered when it is back.
    pub async fn fetch_item(&self, action_hash: &str) -> Result<(Value, bool), WorkflowError> {
        match self.client.approval(&self.key, action_hash).await {
            Ok(item) => Ok((item, false)),
            Err(e) if e.is_transient() => {
                let copy = self.journal.seen_item(action_hash)?.ok_or(e)?;
                Ok((copy, true))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// After a vote: how far a k-of-n approval is; `None` for a
    /// single-approver approval, or when the control plane cannot say.
    pub async fn quorum_progress(&self, action_hash: &str) -> Option<QuorumProgress> {
        let item = self.client.approval(&self.key, action_hash).await.ok()?;
        let threshold = item["threshold"].as_u64().filter(|k| *k > 1)?;
        Some(QuorumProgress {
            approved: item["approved_count"].as_u64().unwrap_or(0),
            threshold,
            status: crate::display::visible(item["status"].as_str()?),
        })
    }

    /// Builds the record, the co-signature and the token for a verified
    /// item: here from the keychain's key, or by the system signer, which
    /// verifies the item again itself and asks the person first.
    async fn sign_decision(
        &self,
        listed: &Value,
        item: &VerifiedItem,
        decision: Decision,
        reason: &str,
    ) -> Result<JournalEntry, WorkflowError> {
        let vote = match self.key.custody() {
            Custody::Signer => self.vote_in_signer(listed, decision, reason).await?,
            Custody::Keychain => self.vote_here(item, decision, reason)?,
        };
        Ok(JournalEntry {
            action_hash: item.receipt.content.action_hash.clone(),
            decision: decision.as_str().to_owned(),
            reason: reason.to_owned(),
            record: vote.record,
            co_sig_b64: vote.co_sig_b64,
            token_b64: vote.token_b64,
            receipt: serde_json::to_string(&item.receipt).expect("receipts serialize"),
            created_at: crate::clock::now_unix(),
            state: SubmitState::Unsent,
            attempts: 0,
            last_error: None,
        })
    }

    /// The system signer's vote, waited for off the async threads: the
    /// person may take a while at the prompt.
    async fn vote_in_signer(
        &self,
        listed: &Value,
        decision: Decision,
        reason: &str,
    ) -> Result<SignedVote, WorkflowError> {
        let key = Arc::clone(&self.key);
        let (listed, decision_word, reason_text) = (
            listed.clone(),
            decision.as_str().to_owned(),
            reason.to_owned(),
        );
        let vote = tokio::task::spawn_blocking(move || {
            let signer = key.signer().expect("custody is the signer");
            signer.decide(key.account(), &listed, &decision_word, &reason_text)
        })
        .await
        .map_err(|e| WorkflowError::Other(format!("the signing task failed: {e}")))??;
        Ok(vote)
    }

    /// The vote signed here, with the keychain's key.
    fn vote_here(
        &self,
        item: &VerifiedItem,
        decision: Decision,
        reason: &str,
    ) -> Result<SignedVote, WorkflowError> {
        let vote = match decision {
            Decision::Approved => TokenDecision::Approved,
            Decision::Rejected => TokenDecision::Rejected,
            Decision::Escalated => {
                return Err(WorkflowError::Other(
                    "escalation is not a vote the control plane records".into(),
                ))
            }
        };
        let content = &item.receipt.content;
        let record = ApproverRecord {
            decision,
            approver_identity: self.key.public_b64(),
            reason: reason.to_owned(),
            decided_at: crate::clock::now_rfc3339(),
            sla_minutes: Some(self.profile.sla_minutes),
            unsigned: Default::default(),
        };
        let canonical =
            canonical_bytes(content).map_err(|e| WorkflowError::Other(e.to_string()))?;
        let nonce = random_nonce()?;
        let expiry = crate::clock::now_unix().max(0) as u64 + TOKEN_LIFETIME_SECS;
        let (co_sig, token) = self
            .key
            .with_signing_key(|k| sign_vote(k, item, &record, vote, nonce, expiry, &canonical))?;
        let co_sig = co_sig.map_err(|e| WorkflowError::Other(e.to_string()))?;
        Ok(SignedVote {
            record: record_text(&record),
            co_sig_b64: STANDARD.encode(co_sig.to_bytes()),
            token_b64: STANDARD.encode(token.to_bytes()),
        })
    }

    /// Verifies an item and, when it checks out, keeps it as last seen.
    pub fn verify_and_remember(&self, item: &Value) -> Result<VerifiedItem, Refusal> {
        let verified = verify_item(&self.profile, item)?;
        let hash = &verified.receipt.content.action_hash;
        if let Err(e) = self
            .journal
            .remember_item(hash, item, crate::clock::now_unix())
        {
            // The copy only serves offline decisions: not worth failing the command.
            eprintln!("heso-approver: warning: could not keep a copy of the item: {e}");
        }
        Ok(verified)
    }

    /// A new approval token for a journalled decision: the record and the
    /// co-signature never change, but a token expires, so each delivery
    /// carries one made now (the control plane's idempotency is on record
    /// and co-signature, not on the token).
    fn fresh_token(&self, entry: &JournalEntry) -> Result<String, WorkflowError> {
        // The signer makes tokens only for a vote the person confirmed there.
        if let Some(signer) = self.key.signer() {
            return Ok(signer.fresh_token(self.key.account(), &entry.action_hash)?);
        }
        let receipt: Receipt = serde_json::from_str(&entry.receipt)
            .map_err(|e| WorkflowError::Other(format!("journalled receipt unreadable: {e}")))?;
        let vote = match entry.decision.as_str() {
            "approved" => TokenDecision::Approved,
            "rejected" => TokenDecision::Rejected,
            other => return Err(WorkflowError::Other(format!("`{other}` is not a vote"))),
        };
        let content = &receipt.content;
        let canonical =
            canonical_bytes(content).map_err(|e| WorkflowError::Other(e.to_string()))?;
        let nonce = random_nonce()?;
        let expiry = crate::clock::now_unix().max(0) as u64 + TOKEN_LIFETIME_SECS;
        let token = self.key.with_signing_key(|k| {
            ApprovalToken::sign(k, nonce, expiry, vote, &content.policy.rule_id, &canonical)
        })?;
        Ok(STANDARD.encode(token.to_bytes()))
    }

    /// What the control plane's answer to a delivery means for it.
    fn outcome_of(&self, entry: &JournalEntry, answer: Result<Value, ClientError>) -> Outcome {
        let error = match answer {
            Ok(_) => return Outcome::Confirmed,
            Err(e) => e,
        };
        match &error {
            // Not final: the network, the server's trouble, a clock too far
            // off (401), being asked to slow down (429), the keychain locked.
            e if e.is_transient() => Outcome::Queued(e.to_string()),
            ClientError::Refused {
                status: 401 | 429, ..
            }
            | ClientError::Key(_) => Outcome::Queued(error.to_string()),
            // Decided already, by this device, the same way: it counts.
            ClientError::Refused {
                status: 409, body, ..
            } if body["outcome"]["approver_public_key"] == self.key.public_b64()
                && body["outcome"]["decision"] == entry.decision.as_str() =>
            {
                Outcome::Confirmed
            }
            _ => Outcome::Refused(error.to_string()),
        }
    }

    /// Sends a journalled decision, with a fresh token, and records what the
    /// control plane said.
    pub async fn deliver(&self, entry: &JournalEntry) -> Result<Outcome, JournalError> {
        if entry.state == SubmitState::Confirmed {
            return Ok(Outcome::Confirmed);
        }
        let outcome = match self.fresh_token(entry) {
            Err(e) => Outcome::Queued(e.to_string()),
            Ok(token) => {
                let body = json!({"record": entry.record, "co_sig_b64": entry.co_sig_b64, "token_b64": token});
                let answer = self
                    .client
                    .submit(&self.key, &entry.action_hash, &body)
                    .await;
                self.outcome_of(entry, answer)
            }
        };
        match &outcome {
            Outcome::Confirmed => {
                self.journal
                    .mark(&entry.action_hash, SubmitState::Confirmed, None)?
            }
            Outcome::Queued(why) => {
                self.journal
                    .mark(&entry.action_hash, SubmitState::Unsent, Some(why))?
            }
            Outcome::Refused(why) => {
                self.journal
                    .mark(&entry.action_hash, SubmitState::Refused, Some(why))?
            }
        }
        Ok(outcome)
    }

    /// Sends every journalled decision the control plane has not confirmed.
    pub async fn resume(&self) -> Result<Vec<(String, Outcome)>, JournalError> {
        let mut results = Vec::new();
        for entry in self.journal.unsent()? {
            let outcome = self.deliver(&entry).await?;
            results.push((entry.action_hash, outcome));
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heso_receipt::{sign_as_operator, Content, SigningKey};

    fn operator() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    fn profile(approver_public_key: String) -> Profile {
        Profile {
            url: "http://127.0.0.1:1".into(),
            org: "acme".into(),
            label: "test".into(),
            key_account: "device-test".into(),
            approver_public_key,
            operator_keys: vec![keys::public_key_b64(&operator().verifying_key())],
            sla_minutes: 30,
            custody: Default::default(),
        }
    }

    fn device() -> String {
        keys::public_key_b64(&SigningKey::from_bytes(&[4; 32]).verifying_key())
    }

    fn content(signer: &SigningKey) -> Content {
        serde_json::from_value(json!({
            "action_version": heso_receipt::ACTION_VERSION, "captured_at": "2026-11-21T10:00:00Z",
            "agent_identity": keys::public_key_b64(&signer.verifying_key()),
            "action": {"verb": "payment", "tool_name": "stripe", "workflow": "w", "account": "a",
                       "fields": {"amount": 4200, "payee": "Globex LLC"}},
            "policy": {"rule_id": "pay", "rule_display": "Pay over 1,000", "matched_conditions": [],
                       "decision_path": "require_approval"},
            "trust_level": "L0", "action_hash": ""
        }))
        .unwrap()
    }

    fn item(receipt: &Value) -> Value {
        json!({"action_hash": receipt["content"]["action_hash"], "status": "pending", "receipt": receipt})
    }

    fn signed() -> Value {
        serde_json::to_value(sign_as_operator(&operator(), content(&operator())).unwrap()).unwrap()
    }

    #[test]
    fn a_good_item_verifies() {
        let verified = verify_item(&profile(device()), &item(&signed())).unwrap();
        assert!(verified.operator_fingerprint.starts_with("heso:"));
    }

    #[test]
    fn changed_content_is_refused() {
        let mut receipt = signed();
        receipt["content"]["action"]["fields"]["payee"] = "Mallory".into();
        assert!(matches!(
            verify_item(&profile(device()), &item(&receipt)),
            Err(Refusal::Unverified {
                kind: "HashMismatch",
                ..
            })
        ));
    }

    #[test]
    fn a_forged_operator_signature_is_refused() {
        let mut receipt = signed();
        let forged = keys::sign_in_domain(
            &SigningKey::from_bytes(&[9; 32]),
            keys::OPERATOR_DOMAIN,
            b"x",
        );
        receipt["signatures"][0]["signature"] = keys::b64(&forged.to_bytes()).into();
        assert!(matches!(
            verify_item(&profile(device()), &item(&receipt)),
            Err(Refusal::Unverified {
                kind: "InvalidSignature",
                ..
            })
        ));
    }

    #[test]
    fn an_unpinned_operator_is_refused() {
        let stranger = SigningKey::from_bytes(&[8; 32]);
        let receipt =
            serde_json::to_value(sign_as_operator(&stranger, content(&stranger)).unwrap()).unwrap();
        assert!(matches!(
            verify_item(&profile(device()), &item(&receipt)),
            Err(Refusal::UnpinnedOperator(_))
        ));
    }

    #[test]
    fn the_operator_cannot_approve_its_own_action() {
        let own = keys::public_key_b64(&operator().verifying_key());
        assert_eq!(
            verify_item(&profile(own), &item(&signed())).unwrap_err(),
            Refusal::SelfApproval
        );
    }

    #[test]
    fn unsigned_values_and_a_wrong_listing_are_refused() {
        let mut receipt = signed();
        receipt["content"]["action"]["display_payee"] = "Globex".into();
        assert!(matches!(
            verify_item(&profile(device()), &item(&receipt)),
            Err(Refusal::UnsignedValues(_))
        ));
        let mut listed = item(&signed());
        listed["action_hash"] = "0".repeat(64).into();
        assert!(matches!(
            verify_item(&profile(device()), &listed),
            Err(Refusal::HashMismatch { .. })
        ));
    }

    /// A control plane that states quorum terms that make no sense, or that
    /// leave this device out, gets nothing signed.
    #[test]
    fn hostile_quorum_terms_are_refused() {
        let me = device();
        let other = keys::public_key_b64(&SigningKey::from_bytes(&[5; 32]).verifying_key());
        let terms = |item: Value| QuorumTerms::of(&item, &me);
        assert!(matches!(terms(json!({"threshold": 1})), Ok(None)));
        assert!(matches!(terms(json!({})), Ok(None)));
        for (item, why) in [
            (json!({"threshold": 0, "roster": [me]}), "threshold 0"),
            (
                json!({"threshold": 5_000_000_000u64, "roster": [me]}),
                "threshold 5000000000",
            ),
            (json!({"threshold": 2}), "no roster"),
            (
                json!({"threshold": 2, "roster": [me, "\u{202e}evil"]}),
                "not a public key",
            ),
            (
                json!({"threshold": 3, "roster": [me, other]}),
                "from a roster of 2",
            ),
        ] {
            match terms(item) {
                Err(Refusal::BadQuorum(detail)) => assert!(detail.contains(why), "{detail}"),
                answer => panic!("{why}: {answer:?}"),
            }
        }
        assert_eq!(
            terms(json!({"threshold": 2, "roster": [other.clone(), other]})),
            Err(Refusal::NotOnRoster(2))
        );
        // A hostile label is shown inert; a vote names this device only when it is its key.
        let ok = terms(json!({"threshold": 2, "roster": [me, other],
            "votes": [{"approver_public_key": other, "decision": "approved",
                       "label": "Ana\u{202e}", "decided_at": "t"}]}))
        .unwrap()
        .unwrap();
        assert!(!ok.you_voted());
        assert!(!ok.votes[0].label.as_deref().unwrap().contains('\u{202e}'));
    }
}
