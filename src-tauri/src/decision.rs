//! One way to decide, whether the click came from the window or from a
//! notification: `Approver::decide` (verification, journal, then submit),
//! answered with a sentence for the person.

use heso_approver::workflow::{Approver, Outcome};
use heso_receipt::Decision;
use serde::Serialize;
use tokio::sync::Mutex;

#[derive(Debug, Serialize)]
pub struct DecisionResult {
    /// `confirmed`, `queued` (journalled, to be sent) or `refused`.
    pub outcome: &'static str,
    pub message: String,
}

pub async fn decide(
    approver: &Mutex<Approver>,
    action_hash: &str,
    decision: Decision,
    reason: &str,
) -> Result<DecisionResult, String> {
    let approver = approver.lock().await;
    let verb = match decision {
        Decision::Approved => "Approved",
        _ => "Rejected",
    };
    match approver
        .decide(action_hash, decision, reason)
        .await
        .map_err(|e| e.to_string())?
    {
        Outcome::Confirmed => Ok(DecisionResult {
            outcome: "confirmed",
            message: format!("{verb}: signed and recorded by the control plane."),
        }),
        Outcome::Queued(why) => Ok(DecisionResult {
            outcome: "queued",
            message: format!(
                "{verb}: signed and kept in the journal; it is sent when the control plane is back ({why})."
            ),
        }),
        Outcome::Refused(why) => Ok(DecisionResult {
            outcome: "refused",
            message: format!("The control plane refused the decision: {why}"),
        }),
    }
}
