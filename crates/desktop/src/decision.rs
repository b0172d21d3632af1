//! One way to decide, whether the click came from the window or from a
//! notification: `Approver::decide` (verification, journal, then submit),
//! answered with a sentence for the person.

use heso_approver::workflow::{Approver, Outcome as Delivery};
use heso_receipt::Decision;
use serde::Serialize;
use tokio::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Recorded by the control plane.
    Confirmed,
    /// Journalled, to be sent when the control plane is back.
    Queued,
    /// The control plane refused it for good.
    Refused,
}

#[derive(Debug, Serialize, ts_rs::TS)]
pub struct DecisionResult {
    pub outcome: Outcome,
    pub message: String,
}

/// "Approved" / "Rejected".
pub fn past_tense(decision: Decision) -> &'static str {
    match decision {
        Decision::Approved => "Approved",
        _ => "Rejected",
    }
}

/// After a vote on a k-of-n approval still open, how far it is (empty
/// otherwise, or when the control plane cannot say).
async fn quorum_progress(approver: &Approver, action_hash: &str) -> String {
    match approver.quorum_progress(action_hash).await {
        Some(p) if p.status == "pending" => format!(
            " {} of {} approvals: waiting for {} more.",
            p.approved,
            p.threshold,
            p.more()
        ),
        _ => String::new(),
    }
}

pub async fn decide(
    approver: &Mutex<Approver>,
    action_hash: &str,
    decision: Decision,
    reason: &str,
) -> Result<DecisionResult, String> {
    let approver = approver.lock().await;
    let verb = past_tense(decision);
    match approver
        .decide(action_hash, decision, reason)
        .await
        .map_err(|e| e.to_string())?
    {
        Delivery::Confirmed => Ok(DecisionResult {
            outcome: Outcome::Confirmed,
            message: format!(
                "{verb}: signed and recorded by the control plane.{}",
                quorum_progress(&approver, action_hash).await
            ),
        }),
        Delivery::Queued(why) => Ok(DecisionResult {
            outcome: Outcome::Queued,
            message: format!(
                "{verb}: signed and kept in the journal; it is sent when the control plane is back ({why})."
            ),
        }),
        Delivery::Refused(why) => Ok(DecisionResult {
            outcome: Outcome::Refused,
            message: format!("The control plane refused the decision: {why}"),
        }),
    }
}
