//! Who may decide an approval, how many must, and by when. Decided once,
//! when the approval opens, from the org's policy evaluated on the signed
//! action (not on what the agent says about it).
//!
//! - The rule the policy finds names the approver groups (none: every
//!   confirmed approver), the deadline (`sla_minutes`) and the least threshold
//!   (`threshold`). The agent may ask for more approvers, never fewer.
//! - `block`: nobody is asked (422 `blocked_by_policy`).
//! - `allow`/`redact`, or a rule other than the receipt's: routed anyway,
//!   with a note approvers see.
//! - No policy: every confirmed approver, the org's SLA, the threshold asked.
//! - A deadline the operator signed into the suspended receipt
//!   (`suspension.approval.expires_at`) wins over the control plane's.

use crate::error::ApiError;
use crate::policy::Policy;
use crate::store::{Org, Store};
use heso_receipt::{Content, DecisionPath};

/// The largest k of a k-of-n approval this control plane opens.
pub const MAX_THRESHOLD: u32 = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub threshold: i64,
    /// Sorted keys that may vote; empty: any confirmed approver (threshold 1, no groups).
    pub roster: Vec<String>,
    pub groups: Vec<String>,
    pub deadline_at: i64,
    pub deadline_source: &'static str,
    pub note: Option<String>,
}

/// What the policy asks of an approval, before the roster is looked up.
struct Ask {
    groups: Vec<String>,
    min_threshold: u32,
    sla_minutes: Option<u32>,
    note: Option<String>,
}

impl Default for Ask {
    /// As an org without a policy: every confirmed approver, one at least.
    fn default() -> Self {
        Ask {
            groups: Vec::new(),
            min_threshold: 1,
            sla_minutes: None,
            note: None,
        }
    }
}

fn policy_ask(policy: &Policy, content: &Content) -> Result<Ask, ApiError> {
    let evaluation = policy.evaluate(&content.action);
    let signed_rule = &content.policy.rule_id;
    let mut ask = Ask::default();
    match evaluation.decision_path {
        DecisionPath::Block => {
            return Err(ApiError::unprocessable(
                "blocked_by_policy",
                format!(
                    "the org's policy blocks this action (rule `{}`); nobody is asked",
                    evaluation.rule_id
                ),
            ))
        }
        DecisionPath::Allow | DecisionPath::Redact => {
            let verb = match evaluation.decision_path {
                DecisionPath::Allow => "allow",
                _ => "redact",
            };
            ask.note = Some(format!(
                "The org's policy would {verb} this action (rule `{}`); the agent asked for approval anyway.",
                evaluation.rule_id
            ));
        }
        DecisionPath::RequireApproval => {
            if let Some(rule) = evaluation.rule.map(|i| &policy.rules()[i]) {
                ask.groups = rule.approvers.clone();
                ask.sla_minutes = rule.sla_minutes;
                ask.min_threshold = rule
                    .min_threshold(MAX_THRESHOLD)
                    .map_err(|e| ApiError::unprocessable("policy_invalid", e))?
                    .unwrap_or(1);
            }
            if evaluation.rule_id != *signed_rule {
                ask.note = Some(format!(
                    "The org's policy routes this action by rule `{}`; the agent's receipt names rule `{signed_rule}`.",
                    evaluation.rule_id
                ));
            }
        }
    }
    Ok(ask)
}

/// The deadline the operator signed into the suspended receipt, if any.
fn signed_deadline(content: &Content) -> Option<i64> {
    let text = content
        .suspension
        .as_ref()?
        .get("approval")?
        .get("expires_at")?
        .as_str()?;
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(at.unix_timestamp())
}

/// Routes an approval `content` (the suspended receipt's) asks for, with
/// the threshold the agent requested. An org with a policy routes on the
/// signed action, so its receipt must have been pushed (409 `receipt_first`).
pub fn route(
    store: &Store,
    org: &Org,
    content: Option<&Content>,
    requested: i64,
    now: i64,
) -> Result<Routing, ApiError> {
    let ask = match (store.policy(org.id)?, content) {
        (Some(text), Some(content)) => match Policy::parse(&text) {
            Ok(policy) => policy_ask(&policy, content)?,
            // Set before policies were checked: route as without one, and say so.
            Err(e) => Ask {
                note: Some(format!(
                    "The org's policy does not load ({e}); routed without it."
                )),
                ..Ask::default()
            },
        },
        (Some(_), None) => {
            return Err(ApiError::conflict(
                "receipt_first",
                "this org routes approvals by its policy, on the signed action: push the suspended receipt first",
            ))
        }
        (None, _) => Ask::default(),
    };
    let threshold = requested.max(i64::from(ask.min_threshold));
    let roster = if !ask.groups.is_empty() {
        let keys = store.group_keys(org.id, &ask.groups)?;
        if keys.is_empty() {
            return Err(ApiError::unprocessable(
                "no_approvers",
                format!(
                    "the org's policy asks {} and no confirmed approver is in {}",
                    ask.groups.join(", "),
                    if ask.groups.len() == 1 { "it" } else { "them" }
                ),
            ));
        }
        keys
    } else if threshold > 1 {
        let mut keys = store.roster_keys(org.id)?;
        keys.sort();
        keys.dedup();
        keys
    } else {
        Vec::new()
    };
    if threshold > 1 && (roster.len() as i64) < threshold {
        return Err(ApiError::unprocessable(
            "threshold_unreachable",
            format!(
                "threshold {threshold} needs as many confirmed approvers; {} can vote",
                roster.len()
            ),
        ));
    }
    let (deadline_at, deadline_source) = match content.and_then(signed_deadline) {
        Some(at) => (at, "signed"),
        None => (
            now + ask.sla_minutes.map(i64::from).unwrap_or(org.sla_minutes) * 60,
            "control_plane",
        ),
    };
    Ok(Routing {
        threshold,
        roster,
        groups: ask.groups,
        deadline_at,
        deadline_source,
        note: ask.note,
    })
}
