//! Audit: every co-signature made in this approver's name, from the journal
//! and from the control plane, each final receipt verified offline.

use crate::journal::{JournalEntry, SubmitState};
use crate::workflow::Approver;
use heso_receipt::canonical::seal;
use heso_receipt::{
    keys, promote_to_l1, quorum_base, verify_receipt, ApproverRecord, MultiApproval, Receipt,
    TrustLevel, VerdictKind, Verified,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEntry {
    pub action_hash: String,
    pub decision: String,
    pub decided_at: String,
    /// `confirmed`, `unsent`, `refused`, or `not in this device's journal`.
    pub submission: String,
    /// The offline check of the final receipt.
    pub verification: String,
    /// The final receipt verified `Valid` at `L1` with this device as approver.
    pub verified: bool,
    /// Set when something was signed in this approver's name that this device did not make.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub alert: Option<String>,
    /// Rejected with "Report suspicious": the agent's request looked like an attack.
    pub reported: bool,
    #[serde(skip)]
    pub final_receipt: Option<Receipt>,
}

pub const NOT_BY_THIS_DEVICE: &str = "signed in your name, not by this device";

/// The signed reason of a rejection made with "Report suspicious". Being in
/// the record, it reaches the operator and the final receipt too.
pub const REPORTED_SUSPICIOUS: &str = "Reported as suspicious by the approver";

fn is_report(reason: &str) -> bool {
    reason.starts_with(REPORTED_SUSPICIOUS)
}

/// Checks a final L1 receipt against what this device decided.
fn check_final(receipt: Receipt, own_key: &str, journal: Option<&JournalEntry>) -> (bool, String) {
    let verified = verify_receipt(receipt);
    let verdict = &verified.verdict;
    if verdict.kind != VerdictKind::Valid || verdict.trust_level != Some(TrustLevel::L1) {
        return (
            false,
            format!(
                "INVALID: {} {}",
                verdict.kind.as_str(),
                verdict.detail.clone().unwrap_or_default()
            ),
        );
    }
    if let Some(quorum) = verified
        .receipt
        .as_ref()
        .and_then(|r| r.content.multi_approval.clone())
    {
        return check_final_quorum(&verified, &quorum, own_key, journal);
    }
    let approver = verified.approver_key.map(|k| keys::public_key_b64(&k));
    if approver.as_deref() != Some(own_key) || verdict.approver_identity_mismatch {
        return (
            false,
            "INVALID: the final receipt's approver is not this device's key".into(),
        );
    }
    if let Some(entry) = journal {
        let suspended: Option<Receipt> = serde_json::from_str(&entry.receipt).ok();
        let record: Option<ApproverRecord> = serde_json::from_str(&entry.record).ok();
        let expected = suspended
            .zip(record)
            .and_then(|(s, r)| promote_to_l1(&s.content, &r).ok());
        if expected.as_ref() != verified.receipt.as_ref().map(|r| &r.content) {
            return (
                false,
                "INVALID: the final receipt is not the decision this device signed".into(),
            );
        }
    }
    (true, "Valid L1".into())
}

/// A quorum receipt counts as this device's when one of its legs is this
/// key, that leg's record and co-signature are the ones journalled, and the
/// rest is the suspended action this device saw.
fn check_final_quorum(
    verified: &Verified,
    quorum: &MultiApproval,
    own_key: &str,
    journal: Option<&JournalEntry>,
) -> (bool, String) {
    let receipt = verified
        .receipt
        .as_ref()
        .expect("a verified receipt parsed");
    let signed_here = verified
        .quorum_keys
        .iter()
        .any(|k| keys::public_key_b64(k) == own_key);
    if !signed_here {
        return (
            false,
            "INVALID: this device's key is not among the quorum's approvers".into(),
        );
    }
    if let Some(entry) = journal {
        let suspended: Option<Receipt> = serde_json::from_str(&entry.receipt).ok();
        let record: Option<ApproverRecord> = serde_json::from_str(&entry.record).ok();
        let leg = receipt
            .signatures
            .iter()
            .find(|s| s.key_id == "approver" && s.public_key == own_key);
        let own_record = quorum
            .approvers
            .iter()
            .find(|r| r.approver_identity == own_key);
        let expected = suspended.and_then(|s| {
            let mut base = quorum_base(&s.content, quorum.threshold, &quorum.roster).ok()?;
            base.multi_approval.as_mut()?.approvers = quorum.approvers.clone();
            seal(base).ok()
        });
        let same = expected.as_ref() == Some(&receipt.content)
            && own_record.is_some()
            && own_record == record.as_ref()
            && leg.map(|l| l.signature.as_str()) == Some(entry.co_sig_b64.as_str());
        if !same {
            return (
                false,
                "INVALID: the final receipt is not the decision this device signed".into(),
            );
        }
    }
    (
        true,
        format!(
            "Valid L1 (quorum {} of {})",
            quorum.threshold,
            quorum.roster.len()
        ),
    )
}

/// Journal and control plane side by side. When the control plane cannot be
/// reached, the journal alone is listed and that is said.
pub async fn audit(approver: &Approver) -> Result<Vec<AuditEntry>, crate::journal::JournalError> {
    let own_key = approver.key.public_b64();
    let journal: BTreeMap<String, JournalEntry> = approver
        .journal
        .all()?
        .into_iter()
        .map(|e| (e.action_hash.clone(), e))
        .collect();
    let remote = approver.client.cosignatures(&approver.key).await;
    let remote_items: Vec<Value> = match &remote {
        Ok(body) => body["items"].as_array().cloned().unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let unreachable = remote.as_ref().err().map(|e| e.to_string());

    let mut entries = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for item in &remote_items {
        let hash = item["action_hash"].as_str().unwrap_or_default().to_owned();
        seen.insert(hash.clone());
        let local = journal.get(&hash);
        let final_receipt: Option<Receipt> =
            serde_json::from_value(item["final_receipt"].clone()).ok();
        let remote_reason = item["record"]
            .as_str()
            .and_then(|r| serde_json::from_str::<ApproverRecord>(r).ok())
            .map(|r| r.reason);
        let reason = local.map(|e| e.reason.clone()).or(remote_reason);
        let (verified, verification) = match (&final_receipt, item["decision"].as_str()) {
            (Some(r), _) => check_final(r.clone(), &own_key, local),
            (None, Some("approved")) => (false, "awaiting the operator's final receipt".into()),
            (None, _) => (false, "rejected: no L1 receipt is made".into()),
        };
        entries.push(AuditEntry {
            decision: item["decision"].as_str().unwrap_or_default().to_owned(),
            decided_at: item["decided_at"].as_str().unwrap_or_default().to_owned(),
            submission: local.map_or("not in this device's journal".into(), |e| {
                e.state.as_str().to_owned()
            }),
            verification,
            verified,
            alert: local.is_none().then(|| NOT_BY_THIS_DEVICE.to_owned()),
            reported: reason.as_deref().is_some_and(is_report),
            final_receipt,
            action_hash: hash,
        });
    }
    for (hash, entry) in &journal {
        if seen.contains(hash) {
            continue;
        }
        let verification = match (&unreachable, &entry.state) {
            (Some(e), _) => format!("unknown: {e}"),
            (None, SubmitState::Confirmed) => "the control plane no longer lists it".into(),
            (None, _) => "not recorded by the control plane".into(),
        };
        entries.push(AuditEntry {
            action_hash: hash.clone(),
            decision: entry.decision.clone(),
            decided_at: crate::clock::rfc3339(entry.created_at),
            submission: entry.state.as_str().to_owned(),
            verification,
            verified: false,
            alert: None,
            reported: is_report(&entry.reason),
            final_receipt: None,
        });
    }
    entries.sort_by(|a, b| {
        b.alert
            .is_some()
            .cmp(&a.alert.is_some())
            .then(b.decided_at.cmp(&a.decided_at))
    });
    Ok(entries)
}

/// The verified final receipts among `entries`, one JSON object per line,
/// and how many there are.
pub fn export_lines(entries: &[AuditEntry]) -> (String, usize) {
    let mut out = String::new();
    let mut count = 0;
    for receipt in entries
        .iter()
        .filter(|e| e.verified)
        .filter_map(|e| e.final_receipt.as_ref())
    {
        out.push_str(&serde_json::to_string(receipt).expect("receipts serialize"));
        out.push('\n');
        count += 1;
    }
    (out, count)
}
