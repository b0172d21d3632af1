//! Audit: every co-signature made in this approver's name, from the journal
//! and from the control plane, each final receipt verified offline.

use crate::display::visible;
use crate::journal::{JournalEntry, SubmitState};
use crate::view;
use crate::workflow::Approver;
use heso_receipt::canonical::seal;
use heso_receipt::{
    keys, promote_to_l1, quorum_base, verify_receipt, ApproverRecord, Content, MultiApproval,
    Receipt, TrustLevel, VerdictKind, Verified,
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
    /// What was decided, e.g. `Pay 4,200 USD to Globex LLC`: from the copy this
    /// device verified when deciding or, for a decision it did not journal, the
    /// verified final receipt. `None` when neither is at hand.
    #[cfg_attr(feature = "ts", ts(optional))]
    pub summary: Option<String>,
    /// `payment`, `delete`, … (empty with no summary).
    pub verb: String,
    pub tool: String,
    pub rule_id: String,
    /// The rule's sentence, e.g. "Payments over 1,000 need approval".
    pub rule_display: String,
    /// The reason signed with the decision.
    pub reason: String,
    /// Fingerprints of the other approvers on a verified quorum receipt.
    pub cosigners: Vec<String>,
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
        let seen_here = local.and_then(|e| serde_json::from_str::<Receipt>(&e.receipt).ok());
        let final_content = final_receipt
            .as_ref()
            .filter(|_| verified)
            .map(|r| &r.content);
        let about = About::of(seen_here.as_ref().map(|r| &r.content).or(final_content));
        let cosigners = final_content.map_or_else(Vec::new, |c| cosigners(c, &own_key));
        entries.push(AuditEntry {
            summary: about.summary,
            verb: about.verb,
            tool: about.tool,
            rule_id: about.rule_id,
            rule_display: about.rule_display,
            reason: visible(reason.as_deref().unwrap_or_default()),
            cosigners,
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
        let seen_here = serde_json::from_str::<Receipt>(&entry.receipt).ok();
        let about = About::of(seen_here.as_ref().map(|r| &r.content));
        entries.push(AuditEntry {
            summary: about.summary,
            verb: about.verb,
            tool: about.tool,
            rule_id: about.rule_id,
            rule_display: about.rule_display,
            reason: visible(&entry.reason),
            cosigners: Vec::new(),
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

/// What a decision was about, in the words the window and the command line
/// show (hidden characters made visible).
#[derive(Default)]
struct About {
    summary: Option<String>,
    verb: String,
    tool: String,
    rule_id: String,
    rule_display: String,
}

impl About {
    fn of(content: Option<&Content>) -> About {
        let Some(content) = content else {
            return About::default();
        };
        About {
            summary: Some(view::summary(content)),
            verb: content.action.verb.as_str().to_owned(),
            tool: visible(&content.action.tool_name),
            rule_id: visible(&content.policy.rule_id),
            rule_display: visible(&content.policy.rule_display),
        }
    }
}

/// The other approvers whose records a quorum receipt carries.
fn cosigners(content: &Content, own_key: &str) -> Vec<String> {
    let Some(quorum) = &content.multi_approval else {
        return Vec::new();
    };
    quorum
        .approvers
        .iter()
        .filter(|r| r.approver_identity != own_key)
        .map(|r| match keys::decode_public_key(&r.approver_identity) {
            Ok(key) => keys::fingerprint(&key),
            Err(_) => visible(&r.approver_identity),
        })
        .collect()
}

/// The history as JSON lines: one entry per line, as `audit --json` shows it.
pub fn history_jsonl(entries: &[AuditEntry]) -> String {
    entries
        .iter()
        .map(|e| serde_json::to_string(e).expect("entries serialize") + "\n")
        .collect()
}

/// The history as CSV for a spreadsheet. Every text an agent or a control
/// plane chose is a cell that could start with `=`, `+`, `-`, `@` (a formula
/// when opened): such cells get a leading `'` so they stay text.
pub fn history_csv(entries: &[AuditEntry]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(HISTORY_COLUMNS)
        .expect("writing to memory cannot fail");
    for e in entries {
        let row = [
            e.decided_at.as_str(),
            &e.decision,
            e.summary.as_deref().unwrap_or_default(),
            &e.verb,
            &e.tool,
            &e.rule_id,
            &e.rule_display,
            &e.reason,
            &e.cosigners.join(" "),
            if e.reported { "yes" } else { "" },
            &e.submission,
            &e.verification,
            e.alert.as_deref().unwrap_or_default(),
            &e.action_hash,
        ];
        out.write_record(row.iter().map(|cell| inert_cell(cell).into_owned()))
            .expect("writing to memory cannot fail");
    }
    String::from_utf8(out.into_inner().expect("in memory")).expect("the cells are text")
}

const HISTORY_COLUMNS: [&str; 14] = [
    "decided_at",
    "decision",
    "summary",
    "verb",
    "tool",
    "rule_id",
    "rule",
    "reason",
    "cosigners",
    "reported",
    "submission",
    "final_receipt",
    "alert",
    "action_hash",
];

fn inert_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tool: &str, reason: &str) -> AuditEntry {
        AuditEntry {
            action_hash: "ab".repeat(32),
            decision: "approved".into(),
            decided_at: "2026-11-28T06:00:00Z".into(),
            submission: "confirmed".into(),
            verification: "Valid L1".into(),
            verified: true,
            alert: None,
            reported: false,
            summary: Some("Pay 4,200 USD to Globex LLC".into()),
            verb: "payment".into(),
            tool: tool.into(),
            rule_id: "pay".into(),
            rule_display: "Payments over 1,000".into(),
            reason: reason.into(),
            cosigners: vec!["heso:aa".into(), "heso:bb".into()],
            final_receipt: None,
        }
    }

    /// An agent names its tool `=HYPERLINK(...)`: opened in a spreadsheet,
    /// the history must show that text, not run it.
    #[test]
    fn csv_cells_never_start_a_formula() {
        for hostile in [
            "=HYPERLINK(\"http://x\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\t=1",
        ] {
            let csv = history_csv(&[entry(hostile, hostile)]);
            let mut reader = csv::Reader::from_reader(csv.as_bytes());
            let row = reader.records().next().unwrap().unwrap();
            assert_eq!(&row[4], format!("'{hostile}"), "{csv}");
            assert_eq!(&row[7], format!("'{hostile}"), "{csv}");
        }
        let csv = history_csv(&[entry("stripe.transfers.create", "checked, twice")]);
        let row = csv::Reader::from_reader(csv.as_bytes())
            .records()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(&row[2], "Pay 4,200 USD to Globex LLC");
        assert_eq!(&row[4], "stripe.transfers.create");
        assert_eq!(&row[7], "checked, twice");
        assert_eq!(&row[8], "heso:aa heso:bb");
    }

    #[test]
    fn json_lines_hold_one_entry_each() {
        let text = history_jsonl(&[entry("a", "b"), entry("c", "d\ne")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let second: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["reason"], "d\ne");
    }
}
