//! What the system prompt says: rendered here from the bytes this signer
//! verified, never from text a caller sent. Hidden and direction-changing
//! characters are written out (`[U+202E]`) by the same rules as the app.

use crate::caller::Caller;
use heso_approver::display::visible;
use heso_approver::signer::protocol::Enrolment;
use heso_approver::view::ItemView;
use heso_receipt::keys;

/// Fields listed in the prompt before "and N more".
const FIELDS_SHOWN: usize = 12;
/// Longest value shown in full.
const VALUE_CHARS: usize = 160;

/// polkit expands `$(name)` in a message with the call's details: written
/// out so agent text cannot pull anything in.
fn inert(text: &str) -> String {
    text.replace("$(", "$ (")
}

fn shortened(text: &str) -> String {
    match text.char_indices().nth(VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn asked_by(caller: &Caller) -> String {
    format!("Asked by {} (pid {})", caller.program, caller.pid)
}

/// The prompt before a vote.
pub fn vote(view: &ItemView, approve: bool, reason: &str, org: &str, caller: &Caller) -> String {
    let verb = if approve { "Approve" } else { "Reject" };
    let mut lines = vec![format!("HESO Approver — {verb}: {}", view.summary)];
    for warning in &view.warnings {
        lines.push(format!("⚠ {warning}"));
    }
    for field in view.fields.iter().take(FIELDS_SHOWN) {
        lines.push(format!("  {}: {}", field.name, shortened(&field.shown)));
    }
    if view.fields.len() > FIELDS_SHOWN {
        lines.push(format!(
            "  … and {} more fields (see the app)",
            view.fields.len() - FIELDS_SHOWN
        ));
    }
    lines.push(format!("Rule: {}", view.rule_display));
    if let Some(quorum) = &view.quorum {
        lines.push(format!("Quorum: {}", quorum.line));
    }
    lines.push(format!(
        "Org {} · operator key {}",
        visible(org),
        view.operator_fingerprint
    ));
    if !reason.is_empty() {
        lines.push(format!("Your reason: {}", shortened(&visible(reason))));
    }
    lines.push(asked_by(caller));
    inert(&lines.join("\n"))
}

/// The prompt before an enrolment is pinned.
pub fn enrolment(enrolment: &Enrolment, public_key: &str, caller: &Caller) -> String {
    let fingerprints: Vec<String> = enrolment
        .operator_keys
        .iter()
        .map(|k| match keys::decode_public_key(k) {
            Ok(key) => keys::fingerprint(&key),
            Err(_) => visible(k),
        })
        .collect();
    let device = keys::decode_public_key(public_key)
        .map(|k| keys::fingerprint(&k))
        .unwrap_or_else(|_| visible(public_key));
    let lines = [
        format!(
            "HESO Approver — enrol this device with org {} at {}",
            visible(&enrolment.org),
            visible(&enrolment.url)
        ),
        format!("Trust operator keys: {}", fingerprints.join(", ")),
        format!("This device's key: {device}"),
        asked_by(caller),
    ];
    inert(&lines.join("\n"))
}

/// The prompt before a key is removed.
pub fn removal(enrolment: &Enrolment, caller: &Caller) -> String {
    inert(&format!(
        "HESO Approver — remove this device's key for org {} at {}. It can then no longer approve.\n{}",
        visible(&enrolment.org),
        visible(&enrolment.url),
        asked_by(caller)
    ))
}
