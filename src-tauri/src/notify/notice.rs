//! What a notification says about one verified approval, and which buttons it
//! may carry under the user's settings. Pure: built from the verified view
//! only, so a notification never shows anything the app has not verified.

use crate::rows::display_value;
use crate::settings::NotificationSettings;
use heso_approver::view::{FieldView, ItemView};

/// What a button does. An approval's buttons are sent as `<verb>:<action
/// hash>`, so a press always names the approval it was shown for.
pub const APPROVE: &str = "approve";
pub const REJECT: &str = "reject";
pub const OPEN: &str = "open";
/// The server's key for a click on the notification itself.
pub const CLICK: &str = "default";

/// The longest a value from an action may run in a notification.
const MAX_VALUE_CHARS: usize = 80;

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub summary: String,
    pub body: String,
    /// (key, label), in the order shown.
    pub actions: Vec<(String, &'static str)>,
}

impl Notice {
    pub fn offers(&self, verb: &str) -> bool {
        self.actions
            .iter()
            .any(|(key, _)| key.split(':').next() == Some(verb))
    }
}

/// The key of a button for one approval.
pub fn action_key(verb: &str, action_hash: &str) -> String {
    format!("{verb}:{action_hash}")
}

/// A pressed key as (verb, action hash); the click has no hash.
pub fn parse_key(key: &str) -> (&str, Option<&str>) {
    match key.split_once(':') {
        Some((verb, hash)) => (verb, Some(hash)),
        None => (key, None),
    }
}

fn field<'a>(view: &'a ItemView, names: &[&str]) -> Option<&'a FieldView> {
    names
        .iter()
        .find_map(|n| view.fields.iter().find(|f| f.name == *n))
}

fn shown(f: &FieldView) -> String {
    one_line(&display_value(&f.value, f.redacted))
}

fn plain(view: &ItemView, names: &[&str]) -> Option<String> {
    field(view, names).map(shown)
}

/// Characters that break a line, are invisible, or reorder text (e.g. U+202E
/// turns "CLL xebolG" into "Globex LLC"): control characters, line and
/// paragraph separators, and the invisible format characters.
fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// Text from an action as one honest, bounded line: deceptive characters
/// become U+FFFD, so a value can neither add lines of its own to a
/// notification nor hide or reorder what it shows; a long value is cut with
/// a visible "…".
pub fn one_line(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_VALUE_CHARS)
        .map(|c| if is_deceptive(c) { '\u{FFFD}' } else { c })
        .collect();
    if text.chars().nth(MAX_VALUE_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// `4200` → `4,200`; `1234567.5` → `1,234,567.5`; anything not a plain
/// decimal number is returned as it is.
pub fn grouped(amount: &str) -> String {
    let (sign, rest) = match amount.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", amount),
    };
    let (whole, fraction) = match rest.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (rest, None),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    {
        return amount.to_owned();
    }
    let mut out = String::with_capacity(amount.len() + whole.len() / 3);
    out.push_str(sign);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// The payment amount as a number; `None` when redacted, missing, not
/// numeric or negative.
pub fn payment_amount(view: &ItemView) -> Option<f64> {
    let f = field(view, &["amount", "amount_usd"])?;
    if f.redacted {
        return None;
    }
    let amount = display_value(&f.value, false).parse::<f64>().ok()?;
    (amount.is_finite() && amount >= 0.0).then_some(amount)
}

fn verb_phrase(verb: &str) -> &str {
    match verb {
        "delete" => "deletion",
        "data_export" => "data export",
        "llm_call" => "model call",
        "message" => "message",
        "other" => "action",
        other => other,
    }
}

/// What the approval is about, e.g. `payment of 4,200 USD to Globex LLC`.
pub fn subject(view: &ItemView) -> String {
    if view.verb == "payment" {
        let amount = plain(view, &["amount", "amount_usd"])
            .map(|a| grouped(&a))
            .unwrap_or_else(|| "an amount".into());
        let payee = plain(view, &["payee", "recipient", "destination"])
            .unwrap_or_else(|| "an unnamed payee".into());
        return match plain(view, &["currency"]) {
            Some(currency) => format!("payment of {amount} {currency} to {payee}"),
            None => format!("payment of {amount} to {payee}"),
        };
    }
    let key = view
        .fields
        .first()
        .map(|f| format!(": {} {}", one_line(&f.name), shown(f)))
        .unwrap_or_default();
    format!(
        "{} via {}{key}",
        verb_phrase(view.verb),
        one_line(&view.tool_name)
    )
}

/// The question a person decides on.
pub fn summary(view: &ItemView) -> String {
    format!("Approve {}?", subject(view))
}

/// Why approving from the notification is not offered, if it is not.
pub fn approve_withheld(view: &ItemView, settings: &NotificationSettings) -> Option<String> {
    let allowed = settings
        .approve_from_notification
        .get(view.verb)
        .copied()
        .unwrap_or(false);
    if !settings.enabled || !allowed {
        return Some("Approving this kind of action needs the app.".into());
    }
    if view.verb == "payment" {
        let limit = settings.payment_threshold;
        match payment_amount(view) {
            Some(amount) if amount <= limit => {}
            Some(_) => {
                return Some(format!(
                    "Payments above {} need the app.",
                    grouped(&limit.to_string())
                ))
            }
            None => return Some("The amount is not readable here: open the app.".into()),
        }
    }
    None
}

/// The notification for one verified approval.
pub fn notice(view: &ItemView, settings: &NotificationSettings) -> Notice {
    let withheld = approve_withheld(view, settings);
    let mut body = one_line(&view.rule_display);
    let key = |verb| action_key(verb, &view.action_hash);
    let mut actions = Vec::with_capacity(4);
    match &withheld {
        None => actions.push((key(APPROVE), "Approve")),
        Some(why) => {
            body.push('\n');
            body.push_str(why);
        }
    }
    actions.push((key(REJECT), "Reject"));
    actions.push((key(OPEN), "Open"));
    actions.push((CLICK.to_owned(), "Open"));
    Notice {
        summary: summary(view),
        body,
        actions,
    }
}

/// The one notification that stands for many.
pub fn waiting(count: usize) -> Notice {
    Notice {
        summary: format!("{count} approvals waiting"),
        body: "Open HESO Approver to review them.".into(),
        actions: vec![(OPEN.to_owned(), "Open"), (CLICK.to_owned(), "Open")],
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use heso_approver::view::FieldView;

    fn field(name: &str, value: &str) -> FieldView {
        FieldView {
            name: name.into(),
            value: value.into(),
            redacted: false,
            commitment: None,
            matched: false,
        }
    }

    pub fn payment(amount: &str) -> ItemView {
        ItemView {
            action_hash: "ab".repeat(32),
            verb: "payment",
            tool_name: "stripe.transfers.create".into(),
            target_host: None,
            workflow: "payouts".into(),
            account: "acct_42".into(),
            captured_at: String::new(),
            rule_id: "payment.large".into(),
            rule_display: "When any agent pays more than $1,000, require approval.".into(),
            matched_conditions: vec![],
            operator_fingerprint: String::new(),
            summary: String::new(),
            fields: vec![
                field("amount", amount),
                field("currency", "\"USD\""),
                field("payee", "\"Globex LLC\""),
            ],
        }
    }

    #[test]
    fn amounts_are_grouped_by_thousands() {
        assert_eq!(grouped("4200"), "4,200");
        assert_eq!(grouped("999"), "999");
        assert_eq!(grouped("1234567.50"), "1,234,567.50");
        assert_eq!(grouped("-1000"), "-1,000");
        assert_eq!(grouped("1e5"), "1e5");
        assert_eq!(grouped("12."), "12.");
        assert_eq!(grouped(""), "");
    }

    #[test]
    fn a_payment_reads_as_a_question_with_the_rule_in_the_body() {
        let n = notice(&payment("4200"), &NotificationSettings::default());
        assert_eq!(n.summary, "Approve payment of 4,200 USD to Globex LLC?");
        assert_eq!(
            n.body,
            "When any agent pays more than $1,000, require approval."
        );
        let hash = "ab".repeat(32);
        let keys: Vec<_> = n.actions.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(
            keys,
            [
                format!("approve:{hash}"),
                format!("reject:{hash}"),
                format!("open:{hash}"),
                "default".into()
            ]
        );
        assert_eq!(parse_key(&keys[0]), ("approve", Some(hash.as_str())));
        assert_eq!(parse_key("default"), ("default", None));
    }

    #[test]
    fn large_or_unreadable_payments_and_disallowed_verbs_offer_no_approve() {
        let settings = NotificationSettings::default();
        assert!(notice(&payment("10000"), &settings).offers(APPROVE));
        let large = notice(&payment("10000.01"), &settings);
        assert!(!large.offers(APPROVE) && large.offers(REJECT) && large.offers(OPEN));
        assert!(large.body.ends_with("Payments above 10,000 need the app."));
        let mut redacted = payment("0");
        redacted.fields[0].redacted = true;
        assert!(!notice(&redacted, &settings).offers(APPROVE));
        let mut delete = payment("1");
        delete.verb = "delete";
        assert!(!notice(&delete, &settings).offers(APPROVE));
        let mut allowed = settings.clone();
        allowed
            .approve_from_notification
            .insert("delete".into(), true);
        assert!(notice(&delete, &allowed).offers(APPROVE));
        let mut payments_off = settings;
        payments_off
            .approve_from_notification
            .insert("payment".into(), false);
        assert!(!notice(&payment("5"), &payments_off).offers(APPROVE));
    }

    #[test]
    fn values_cannot_add_lines_or_reorder_text() {
        let mut tricky = payment("4200");
        tricky.fields[2] = field("payee", "\"\u{202E}CLL xebolG\\nApproved by security\"");
        let n = notice(&tricky, &NotificationSettings::default());
        assert_eq!(
            n.summary,
            "Approve payment of 4,200 USD to \u{FFFD}CLL xebolG\u{FFFD}Approved by security?"
        );
        tricky.rule_display = "Line one\nforged line".into();
        assert!(!notice(&tricky, &NotificationSettings::default())
            .body
            .contains('\n'));
        assert_eq!(
            one_line("a\u{2028}b\u{200B}c\u{FEFF}"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}"
        );
        let long = "x".repeat(200);
        assert_eq!(one_line(&long), format!("{}…", "x".repeat(80)));
    }

    #[test]
    fn negative_amounts_and_disabled_notifications_offer_no_approve() {
        let settings = NotificationSettings::default();
        assert!(!notice(&payment("-5"), &settings).offers(APPROVE));
        let off = NotificationSettings {
            enabled: false,
            ..settings
        };
        assert!(!notice(&payment("5"), &off).offers(APPROVE));
    }

    #[test]
    fn other_verbs_name_the_tool_and_the_first_field() {
        let mut delete = payment("1");
        delete.verb = "delete";
        delete.tool_name = "s3.delete_objects".into();
        delete.fields = vec![field("bucket", "\"prod-logs\"")];
        assert_eq!(
            summary(&delete),
            "Approve deletion via s3.delete_objects: bucket prod-logs?"
        );
    }
}
