//! What the queue screen receives: one compact row per pending approval,
//! built from the verified view only (refused items carry just the reason).

use heso_approver::display::visible;
use heso_approver::view::ItemView;
use heso_approver::watch::{QueueEntry, QueueState};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct QueueRow {
    pub action_hash: String,
    pub opened_at: String,
    pub sla_deadline: String,
    /// Why the item was refused; the other fields are then empty.
    pub refusal: Option<String>,
    pub verb: &'static str,
    pub tool: String,
    pub summary: String,
    /// The facts a person decides on, e.g. amount, currency, payee.
    pub facts: Vec<(String, String)>,
    pub workflow: String,
    pub account: String,
    pub rule_id: String,
    /// The first thing about the item that looks deceptive, if anything does.
    pub warning: Option<String>,
    /// For a k-of-n approval: "1 of 2 approvals".
    pub quorum: Option<String>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct QueuePayload {
    pub online: bool,
    pub last_error: Option<String>,
    pub pending_total: u64,
    pub loaded: bool,
    pub rows: Vec<QueueRow>,
    /// When the app sent it (ms since the Unix epoch): the window measures delivery.
    pub sent_at_ms: u64,
}

/// Fields worth a glance in the list, per verb, in this order.
fn key_fields(verb: &str) -> &'static [&'static str] {
    match verb {
        "payment" => &["amount", "currency", "payee", "invoice"],
        "delete" => &["bucket", "table", "prefix", "object_count", "path"],
        "data_export" => &["table", "rows", "destination"],
        "llm_call" => &["model", "max_tokens"],
        _ => &[],
    }
}

fn facts(view: &ItemView) -> Vec<(String, String)> {
    let mut facts: Vec<(String, String)> = key_fields(view.verb)
        .iter()
        .filter_map(|name| view.fields.iter().find(|f| f.name == *name))
        .map(|f| (f.name.clone(), f.shown.clone()))
        .collect();
    if facts.is_empty() {
        facts = view
            .fields
            .iter()
            .take(3)
            .map(|f| (f.name.clone(), f.shown.clone()))
            .collect();
    }
    facts
}

fn row(entry: &QueueEntry) -> QueueRow {
    let mut row = QueueRow {
        action_hash: entry.action_hash.clone(),
        opened_at: entry.opened_at.clone(),
        sla_deadline: entry.sla_deadline.clone(),
        // A refusal can quote what the control plane sent: shown inert.
        refusal: entry.refusal.as_deref().map(visible),
        verb: "",
        tool: String::new(),
        summary: String::new(),
        facts: Vec::new(),
        workflow: String::new(),
        account: String::new(),
        rule_id: String::new(),
        warning: None,
        quorum: None,
    };
    if let Some(view) = &entry.view {
        row.verb = view.verb;
        row.tool = view.tool_name.clone();
        row.summary = view.summary.clone();
        row.facts = facts(view);
        row.workflow = view.workflow.clone();
        row.account = view.account.clone();
        row.rule_id = view.rule_id.clone();
        row.warning = view.warnings.first().cloned();
        row.quorum = view
            .quorum
            .as_ref()
            .map(|q| format!("{} of {} approvals", q.approvals, q.threshold));
    }
    row
}

pub fn payload(state: &QueueState) -> QueuePayload {
    QueuePayload {
        online: state.online,
        last_error: state.last_error.clone(),
        pending_total: state.pending_total,
        loaded: state.refreshes > 0,
        rows: state.entries.iter().map(row).collect(),
        sent_at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default(),
    }
}
