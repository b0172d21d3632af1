//! What a person is shown of an approval, built from the verified receipt
//! only: every value is rendered from its canonical (signed) JSON form, and
//! redacted values are marked as such. Every string meant for reading has
//! passed through [`crate::display`]: hidden characters are visible, and
//! deceptive values carry a warning.

use crate::display::{self, visible};
use crate::workflow::{QuorumTerms, VerifiedItem};
use heso_receipt::{jcs, keys, Content, Verb};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldView {
    pub name: String,
    /// The value as canonical JSON text (what was signed).
    pub value: String,
    /// The value as a person reads it (see [`display::shown_value`]).
    pub shown: String,
    /// Why this value deserves a second look (mixed scripts, look-alike
    /// letters, hidden or direction-changing characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub warning: Option<String>,
    pub redacted: bool,
    /// The commitment of a commit-and-reveal redaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub commitment: Option<String>,
    /// A matched condition of the rule names this field.
    pub matched: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConditionView {
    pub field: String,
    pub op: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ItemView {
    pub action_hash: String,
    pub verb: &'static str,
    pub tool_name: String,
    pub target_host: Option<String>,
    pub workflow: String,
    pub account: String,
    pub captured_at: String,
    pub rule_id: String,
    pub rule_display: String,
    pub matched_conditions: Vec<ConditionView>,
    pub operator_fingerprint: String,
    pub summary: String,
    pub fields: Vec<FieldView>,
    /// Every warning on the item, each naming where it applies
    /// (`payee: …`, `workflow: …`); empty when nothing looks deceptive.
    pub warnings: Vec<String>,
    /// Set for a k-of-n approval.
    pub quorum: Option<QuorumView>,
    /// The control plane's note when the org's policy routes the action by
    /// another rule than the receipt names (not signed; shown inert).
    pub routing_note: Option<String>,
}

/// A k-of-n approval as a person reads it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct QuorumView {
    pub threshold: u32,
    pub roster_size: usize,
    pub approvals: usize,
    /// Who approved so far and when: label (the control plane's word) and fingerprint.
    pub approved_by: Vec<String>,
    /// Whether this device's vote is among them (as the control plane reports).
    pub you_voted: bool,
    /// "2 of 3 approvers must approve; 1 has", in words.
    pub line: String,
}

impl QuorumView {
    pub fn of(terms: &QuorumTerms) -> QuorumView {
        let approved_by: Vec<String> = terms
            .votes
            .iter()
            .filter(|v| v.decision == "approved")
            .map(|v| {
                let fingerprint = keys::decode_public_key(&v.key)
                    .map(|k| keys::fingerprint(&k))
                    .unwrap_or_else(|_| visible(&v.key));
                let who = match (&v.label, v.key == terms.device_key) {
                    (_, true) => format!("this device ({fingerprint})"),
                    (Some(label), false) => format!("{label} ({fingerprint})"),
                    (None, false) => fingerprint,
                };
                format!("{who} at {}", v.decided_at)
            })
            .collect();
        let approvals = approved_by.len();
        let remaining = (terms.threshold as usize).saturating_sub(approvals);
        let line = format!(
            "{} of {} approvers must approve; {approvals} {} so far{}",
            terms.threshold,
            terms.roster.len(),
            if approvals == 1 { "has" } else { "have" },
            match remaining {
                0 => String::new(),
                1 => " (1 more needed)".to_owned(),
                n => format!(" ({n} more needed)"),
            }
        );
        QuorumView {
            threshold: terms.threshold,
            roster_size: terms.roster.len(),
            approvals,
            approved_by,
            you_voted: terms.you_voted(),
            line,
        }
    }
}

/// Canonical JSON text of a signed value.
pub fn canonical_text(value: &Value) -> String {
    String::from_utf8(jcs(value).unwrap_or_default()).unwrap_or_default()
}

fn redaction_of(value: &Value) -> Option<Option<String>> {
    match value {
        Value::String(s) if s == "[redacted]" => Some(None),
        Value::Object(map) if map.len() == 1 => map
            .get("_sd")
            .and_then(Value::as_str)
            .map(|c| Some(c.to_owned())),
        _ => None,
    }
}

fn plain(value: Option<&Value>) -> Option<String> {
    let value = value?;
    if redaction_of(value).is_some() {
        return Some("‹redacted›".to_owned());
    }
    Some(match value {
        Value::String(s) => visible(s),
        other => visible(&canonical_text(other)),
    })
}

/// One line a person can decide on, e.g. `Pay 4,200.5 USD to Globex LLC`
/// (the amount grouped for reading; the fields show it as signed).
pub fn summary(content: &Content) -> String {
    let fields = &content.action.fields;
    let get = |names: &[&str]| names.iter().find_map(|n| plain(fields.get(*n)));
    let tool = visible(&content.action.tool_name);
    match content.action.verb {
        Verb::Payment => {
            let amount = get(&["amount", "amount_usd"])
                .map(|a| display::grouped(&a))
                .unwrap_or_else(|| "an amount".into());
            let currency = get(&["currency"]).unwrap_or_default();
            let payee = get(&["payee", "recipient", "destination"])
                .unwrap_or_else(|| "an unnamed payee".into());
            format!("Pay {amount} {currency} to {payee}").replace("  ", " ")
        }
        Verb::Delete => match get(&["bucket", "table", "resource", "path"]) {
            Some(what) => format!("Delete from {what} via {tool}"),
            None => format!("Delete via {tool}"),
        },
        Verb::DataExport => match get(&["table", "dataset"]) {
            Some(what) => format!("Export {what} via {tool}"),
            None => format!("Export data via {tool}"),
        },
        Verb::LlmCall => match get(&["model"]) {
            Some(model) => format!("Call {model} via {tool}"),
            None => format!("Model call via {tool}"),
        },
        verb => format!("{} via {tool}", verb.as_str().replace('_', " ")),
    }
}

/// The warnings on everything outside the fields that a person reads.
fn context_warnings(content: &Content) -> Vec<String> {
    let action = &content.action;
    let named = [
        ("tool", Some(&action.tool_name)),
        ("workflow", Some(&action.workflow)),
        ("account", Some(&action.account)),
        ("host", action.target_host.as_ref()),
        ("rule", Some(&content.policy.rule_display)),
    ];
    named
        .into_iter()
        .filter_map(|(name, text)| Some(format!("{name}: {}", display::warning(text?)?)))
        .collect()
}

pub fn item_view(item: &VerifiedItem) -> ItemView {
    let content = &item.receipt.content;
    let tool = visible(&content.action.tool_name);
    let matched: Vec<&str> = content
        .policy
        .matched_conditions
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    let fields: Vec<FieldView> = content
        .action
        .fields
        .iter()
        .map(|(name, value)| {
            let redaction = redaction_of(value);
            let value_text = canonical_text(value);
            FieldView {
                name: visible(name),
                shown: display::shown_value(&value_text, redaction.is_some()),
                warning: display::warning(name).or_else(|| display::value_warning(value)),
                value: value_text,
                redacted: redaction.is_some(),
                commitment: redaction.flatten().map(|c| visible(&c)),
                matched: matched.contains(&name.as_str()),
            }
        })
        .collect();
    let mut warnings: Vec<String> = fields
        .iter()
        .filter_map(|f| Some(format!("{}: {}", f.name, f.warning.as_ref()?)))
        .collect();
    warnings.extend(context_warnings(content));
    ItemView {
        action_hash: content.action_hash.clone(),
        verb: content.action.verb.as_str(),
        tool_name: tool,
        target_host: content.action.target_host.as_deref().map(visible),
        workflow: visible(&content.action.workflow),
        account: visible(&content.action.account),
        captured_at: visible(&content.captured_at),
        rule_id: visible(&content.policy.rule_id),
        rule_display: visible(&content.policy.rule_display),
        matched_conditions: content
            .policy
            .matched_conditions
            .iter()
            .map(|c| ConditionView {
                field: visible(&c.field),
                op: visible(&c.op),
                value: visible(&canonical_text(&c.value)),
            })
            .collect(),
        operator_fingerprint: item.operator_fingerprint.clone(),
        summary: summary(content),
        fields,
        warnings,
        quorum: item.quorum.as_ref().map(QuorumView::of),
        routing_note: item.routing_note.clone(),
    }
}
