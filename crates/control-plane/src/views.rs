//! JSON shapes the API returns.

use crate::clock::rfc3339;
use crate::store::{deciding_vote_in, ApprovalRow, VoteRow};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// The SDK's ApprovalView.
#[derive(Debug, Serialize)]
pub struct ApprovalView {
    pub approval_id: String,
    pub action_hash: String,
    pub status: String,
    pub threshold: i64,
    pub approved_count: i64,
    pub resolved_at: Option<String>,
}

impl ApprovalView {
    pub fn of(row: &ApprovalRow) -> Self {
        ApprovalView {
            approval_id: row.id.clone(),
            action_hash: row.action_hash.clone(),
            status: row.status.clone(),
            threshold: row.threshold,
            approved_count: row.approved_count,
            resolved_at: row.resolved_at.map(rfc3339),
        }
    }
}

/// The decision recorded on an approval, as approvers see it.
#[derive(Debug, Serialize)]
pub struct DecisionView {
    pub decision: String,
    pub approver_public_key: String,
    pub decided_at: String,
    pub via: String,
    /// The voter's label on the roster, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl DecisionView {
    pub fn of(vote: &VoteRow) -> Self {
        DecisionView {
            decision: vote.decision.clone(),
            approver_public_key: vote.approver_key.clone(),
            decided_at: rfc3339(vote.created_at),
            via: vote.via.clone(),
            label: None,
        }
    }

    /// With the voter's roster label.
    pub fn labelled(vote: &VoteRow, labels: &Labels) -> Self {
        DecisionView {
            label: labels.get(&vote.approver_key).cloned(),
            ..Self::of(vote)
        }
    }
}

/// Roster labels by public key.
pub type Labels = std::collections::HashMap<String, String>;

/// The org's roster labels by key, for the votes items show.
pub fn roster_labels(
    store: &crate::store::Store,
    org: crate::store::OrgId,
) -> crate::store::Result<Labels> {
    Ok(store
        .roster(org)?
        .into_iter()
        .map(|e| (e.public_key, e.label))
        .collect())
}

/// One approval with everything the approver app shows.
#[derive(Debug, Serialize)]
pub struct ApprovalItem {
    pub approval_id: String,
    pub action_hash: String,
    pub status: String,
    pub threshold: i64,
    pub workflow: String,
    pub account: String,
    pub rule_id: String,
    /// As the operator sent them when opening the approval; the signed ones
    /// are in the receipt's `policy.matched_conditions`.
    pub matched_conditions: Value,
    pub opened_at: String,
    pub sla_deadline: String,
    pub sla_minutes: i64,
    /// The operator-signed suspended receipt, as stored. Clients verify it themselves.
    pub receipt: Box<RawValue>,
    /// The vote that resolved the approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionView>,
    /// A quorum's roster, fixed when it opened (sorted base64 keys); empty
    /// for a single-approver approval. Approvers co-sign it.
    pub roster: Vec<String>,
    pub approved_count: i64,
    /// Every vote cast so far, in order.
    pub votes: Vec<DecisionView>,
    /// The approver groups the org's policy asked (empty: every confirmed approver).
    pub groups: Vec<String>,
    /// From the control plane, when the org's policy and the receipt disagree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_note: Option<String>,
    /// Whose deadline `sla_deadline` is: `signed` by the operator, or set by the `control_plane`.
    pub deadline_source: String,
    /// Why a resolved approval resolved so, when not by a vote: `expired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

impl ApprovalItem {
    pub fn of(row: &ApprovalRow, receipt_text: &str, votes: &[VoteRow], labels: &Labels) -> Self {
        let deciding = deciding_vote_in(&row.status, votes);
        ApprovalItem {
            approval_id: row.id.clone(),
            action_hash: row.action_hash.clone(),
            status: row.status.clone(),
            threshold: row.threshold,
            workflow: row.workflow.clone(),
            account: row.account.clone(),
            rule_id: row.rule_id.clone(),
            matched_conditions: serde_json::from_str(&row.matched_conditions)
                .unwrap_or(Value::Null),
            opened_at: rfc3339(row.opened_at),
            sla_deadline: rfc3339(row.deadline_at),
            sla_minutes: (row.deadline_at - row.opened_at) / 60,
            receipt: RawValue::from_string(receipt_text.to_owned())
                .expect("stored receipts are JSON"),
            decision: deciding.map(|v| DecisionView::labelled(v, labels)),
            roster: row.roster.clone(),
            approved_count: row.approved_count,
            votes: votes
                .iter()
                .map(|v| DecisionView::labelled(v, labels))
                .collect(),
            groups: row.groups.clone(),
            routing_note: row.routing_note.clone(),
            deadline_source: row.deadline_source.clone(),
            resolution: row.resolution.clone(),
        }
    }
}
