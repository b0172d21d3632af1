//! What a notification says about one verified approval, and which buttons it
//! may carry under the user's settings. Pure: built from the verified view
//! only, so a notification never shows anything the app has not verified.

use crate::settings::NotificationSettings;
use heso_approver::display::{grouped, visible};
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
/// Fields beyond the summary's that a notification lists in its body; an
/// action with more needs the app to be seen whole.
const MAX_DETAIL_LINES: usize = 3;

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
    one_line(&f.shown)
}

fn plain(view: &ItemView, names: &[&str]) -> Option<String> {
    field(view, names).map(shown)
}

/// Text from an action as one honest, bounded line: hidden characters are
/// written out (`display::visible`), so a value can neither add lines of its
/// own to a notification nor hide or reorder what it shows; a long value is
/// cut with a visible "…".
pub fn one_line(text: &str) -> String {
    let text = visible(text);
    let mut out: String = text.chars().take(MAX_VALUE_CHARS).collect();
    if text.chars().nth(MAX_VALUE_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Whether a value fits a notification whole (not cut). The rule's sentence
/// is the operator's explanation, not part of the action: it may be cut.
fn fits(text: &str) -> bool {
    visible(text).chars().nth(MAX_VALUE_CHARS).is_none()
}

/// The payment amount as a number; `None` when redacted, missing, not
/// numeric or negative.
pub fn payment_amount(view: &ItemView) -> Option<f64> {
    let f = field(view, &["amount", "amount_usd"])?;
    if f.redacted {
        return None;
    }
    let amount = f.shown.parse::<f64>().ok()?;
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

const AMOUNT: &[&str] = &["amount", "amount_usd"];
const CURRENCY: &[&str] = &["currency"];
const PAYEE: &[&str] = &["payee", "recipient", "destination"];

/// The fields the summary line itself shows.
fn in_summary(view: &ItemView) -> Vec<&FieldView> {
    let names: Vec<&[&str]> = match view.verb {
        "payment" => vec![AMOUNT, CURRENCY, PAYEE],
        _ => return view.fields.first().into_iter().collect(),
    };
    names.into_iter().filter_map(|n| field(view, n)).collect()
}

/// The fields a notification lists under the rule, one per line.
fn detail_fields(view: &ItemView) -> Vec<&FieldView> {
    let summarized = in_summary(view);
    view.fields
        .iter()
        .filter(|f| !summarized.iter().any(|s| s.name == f.name))
        .collect()
}

/// What the approval is about, e.g. `payment of 4,200 USD to Globex LLC`.
pub fn subject(view: &ItemView) -> String {
    if view.verb == "payment" {
        let amount = plain(view, AMOUNT)
            .map(|a| grouped(&a))
            .unwrap_or_else(|| "an amount".into());
        let payee = match field(view, PAYEE) {
            Some(f) if f.redacted => "a redacted payee".into(),
            Some(f) => shown(f),
            None => "an unnamed payee".into(),
        };
        return match plain(view, CURRENCY) {
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
///
/// Approve is offered only where the notification shows everything the
/// signature covers that a person decides on: every field whole, none
/// redacted, nothing that looks deceptive, and a payment under the limit
/// set for its currency. Anything else needs the app.
pub fn approve_withheld(view: &ItemView, settings: &NotificationSettings) -> Option<String> {
    let allowed = settings
        .approve_from_notification
        .get(view.verb)
        .copied()
        .unwrap_or(false);
    if !settings.enabled || !allowed {
        return Some("Approving this kind of action needs the app.".into());
    }
    if !view.warnings.is_empty() {
        return Some(format!(
            "Check this in the app: {}.",
            one_line(&view.warnings[0])
        ));
    }
    // The org's policy and the agent's receipt disagree about the rule.
    if view.routing_note.is_some() {
        return Some("The control plane routed this by another rule: open the app.".into());
    }
    if view.fields.iter().any(|f| f.redacted) {
        return Some("Part of this action is redacted: open the app to see what is signed.".into());
    }
    let whole = view.fields.iter().all(|f| fits(&f.name) && fits(&f.shown))
        && fits(&view.tool_name)
        && view.target_host.as_deref().is_none_or(fits);
    if !whole || detail_fields(view).len() > MAX_DETAIL_LINES {
        return Some("This action has more than a notification can show: open the app.".into());
    }
    if view.verb == "payment" {
        return payment_withheld(view, settings);
    }
    None
}

/// A payment is approvable from a notification up to the limit set for its
/// currency; without a currency, or one with no limit set, it needs the app.
fn payment_withheld(view: &ItemView, settings: &NotificationSettings) -> Option<String> {
    let Some(amount) = payment_amount(view) else {
        return Some("The amount is not readable here: open the app.".into());
    };
    let Some(currency) = plain(view, CURRENCY) else {
        return Some("The payment names no currency: open the app.".into());
    };
    match settings.payment_limits.get(&currency) {
        Some(limit) if amount <= *limit => None,
        Some(limit) => Some(format!(
            "Payments above {} {currency} need the app.",
            grouped(&limit.to_string())
        )),
        None => Some(format!(
            "Payments in {currency} need the app (no limit is set for {currency})."
        )),
    }
}

/// The notification for one verified approval.
pub fn notice(view: &ItemView, settings: &NotificationSettings) -> Notice {
    let withheld = approve_withheld(view, settings);
    let mut body = one_line(&view.rule_display);
    // A quorum: the person's approval is one of several.
    if let Some(q) = &view.quorum {
        body.push_str(&format!(
            "\n{} of {} approvals so far ({} approvers)",
            q.approvals, q.threshold, q.roster_size
        ));
    }
    if let Some(host) = &view.target_host {
        body.push_str(&format!("\nhost: {}", one_line(host)));
    }
    for f in detail_fields(view).iter().take(MAX_DETAIL_LINES) {
        body.push_str(&format!("\n{}: {}", one_line(&f.name), shown(f)));
    }
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
    use heso_approver::display;
    use heso_approver::view::FieldView;

    fn field(name: &str, value: &str) -> FieldView {
        let parsed: serde_json::Value = serde_json::from_str(value).unwrap();
        FieldView {
            name: name.into(),
            value: value.into(),
            shown: display::shown_value(value, false),
            warning: display::value_warning(&parsed),
            redacted: false,
            commitment: None,
            matched: false,
        }
    }

    /// The item's warnings, gathered as `view::item_view` does.
    fn with_warnings(mut view: ItemView) -> ItemView {
        view.warnings = view
            .fields
            .iter()
            .filter_map(|f| Some(format!("{}: {}", f.name, f.warning.as_ref()?)))
            .collect();
        view
    }

    pub fn payment(amount: &str) -> ItemView {
        with_warnings(ItemView {
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
            warnings: vec![],
            quorum: None,
            routing_note: None,
        })
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
        assert!(large
            .body
            .ends_with("Payments above 10,000 USD need the app."));
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
    fn a_routing_disagreement_needs_the_app() {
        let settings = NotificationSettings::default();
        let mut view = payment("120");
        assert!(notice(&view, &settings).offers(APPROVE));
        view.routing_note = Some("The org's policy routes this action by rule `a`".into());
        let n = notice(&view, &settings);
        assert!(!n.offers(APPROVE));
        assert!(n.body.contains("another rule"), "{}", n.body);
    }

    #[test]
    fn limits_are_per_currency_and_an_unknown_currency_needs_the_app() {
        let mut settings = NotificationSettings::default();
        settings.payment_limits.insert("JPY".into(), 1_500_000.0);
        let mut yen = payment("900000");
        yen.fields[1] = field("currency", "\"JPY\"");
        assert!(notice(&yen, &settings).offers(APPROVE));
        let mut dinar = payment("5");
        dinar.fields[1] = field("currency", "\"KWD\"");
        let n = notice(&dinar, &settings);
        assert!(!n.offers(APPROVE));
        assert!(n
            .body
            .ends_with("Payments in KWD need the app (no limit is set for KWD)."));
        let mut none = payment("5");
        none.fields.remove(1);
        assert!(!notice(&none, &settings).offers(APPROVE));
    }

    #[test]
    fn a_redacted_destination_is_not_approvable_from_a_notification() {
        let mut paid = payment("120");
        let mut account = field("destination_account", "{\"_sd\":\"ab\"}");
        account.redacted = true;
        account.shown = "redacted".into();
        paid.fields.push(account);
        let n = notice(&paid, &NotificationSettings::default());
        assert!(!n.offers(APPROVE) && n.offers(OPEN));
        assert!(
            n.body.contains("destination_account: redacted"),
            "{}",
            n.body
        );
        assert!(n
            .body
            .ends_with("Part of this action is redacted: open the app to see what is signed."));
    }

    #[test]
    fn a_look_alike_payee_is_not_approvable_from_a_notification() {
        let mut paid = payment("120");
        // "Globex" with a Cyrillic о (U+043E).
        paid.fields[2] = field("payee", "\"Gl\\u043ebex LLC\"");
        let n = notice(&with_warnings(paid), &NotificationSettings::default());
        assert!(!n.offers(APPROVE));
        assert!(
            n.body.contains("Check this in the app: payee:"),
            "{}",
            n.body
        );
        assert!(n.body.contains("Cyrillic"), "{}", n.body);
    }

    #[test]
    fn every_other_field_is_listed_and_too_many_need_the_app() {
        let mut paid = payment("120");
        paid.fields.push(field("invoice", "\"INV-1042\""));
        let n = notice(&paid, &NotificationSettings::default());
        assert!(n.offers(APPROVE));
        assert!(n.body.ends_with("\ninvoice: INV-1042"), "{}", n.body);
        for name in ["memo", "reference", "batch"] {
            paid.fields.push(field(name, "\"x\""));
        }
        let n = notice(&paid, &NotificationSettings::default());
        assert!(!n.offers(APPROVE));
        assert!(n
            .body
            .ends_with("This action has more than a notification can show: open the app."));
        let mut long = payment("120");
        long.fields[2] = field("payee", &format!("\"{}\"", "G".repeat(81)));
        assert!(!notice(&long, &NotificationSettings::default()).offers(APPROVE));
    }

    #[test]
    fn values_cannot_add_lines_or_reorder_text() {
        let mut tricky = payment("4200");
        tricky.fields[2] = field("payee", "\"\\u202eCLL xebolG\\nApproved by security\"");
        let tricky = with_warnings(tricky);
        let n = notice(&tricky, &NotificationSettings::default());
        assert_eq!(
            n.summary,
            "Approve payment of 4,200 USD to [U+202E]CLL xebolG[U+000A]Approved by security?"
        );
        assert!(!n.offers(APPROVE));
        let mut forged = payment("4200");
        forged.rule_display = "Line one\nforged line".into();
        assert!(!notice(&forged, &NotificationSettings::default())
            .body
            .contains("Line one\n"));
        assert_eq!(
            one_line("a\u{2028}b\u{200B}c\u{FEFF}"),
            "a[U+2028]b[U+200B]c[U+FEFF]"
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
