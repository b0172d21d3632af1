//! The org's policy, read and evaluated as the vendor's engine does
//! (`heso==0.5.1`): rules in `order` (ties in file order), disabled ones
//! skipped, the first whose verb, subject, scope and every condition match
//! decides; none: `require_approval` by `policy.default.deny_unknown`. The
//! dangerous-lane floor holds at load (no `allow` of a dangerous verb, no
//! blanket `allow` of any verb) and at evaluation (a dangerous action that a
//! rule would allow or redact goes to a person).
//!
//! Differential-tested against the package: `tests/policy_differential.rs`.

mod conditions;
mod model;

pub use model::{Op, PolicyRule, RuleDecision, RuleSubject, VerbMatch};

use heso_receipt::{Action, DecisionPath, Verb};
use serde::Serialize;

/// The rule id of the default for an action no rule matches.
pub const DEFAULT_RULE: &str = "policy.default.deny_unknown";
/// The rule id of the evaluation-time floor.
pub const FLOOR_RULE: &str = "policy.floor.dangerous_unresolved";

/// Why a policy is refused, in the vendor's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The TOML does not parse into the policy's shape (the message names the line).
    #[error("{0}")]
    Parse(String),
    /// A rule would widen the dangerous lane.
    #[error("{message}")]
    FloorBypass { message: String, line: usize },
}

impl PolicyError {
    /// The reason with where it is, for a person editing the file.
    pub fn located(&self) -> String {
        match self {
            PolicyError::Parse(message) => message.trim_end().to_owned(),
            PolicyError::FloorBypass { message, line } => format!("line {line}: {message}"),
        }
    }
}

/// What a policy says about one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub decision_path: DecisionPath,
    pub rule_id: String,
    /// The index of the deciding rule in the file; `None` for the default and the floor.
    #[serde(skip)]
    pub rule: Option<usize>,
}

/// A parsed policy that passed the load-time floor.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<PolicyRule>,
    /// Indices into `rules` of the enabled ones, in evaluation order.
    order: Vec<usize>,
}

/// Payments, deletes, exports and account changes never run without a person.
pub fn is_dangerous(verb: Verb) -> bool {
    matches!(
        verb,
        Verb::Payment | Verb::Delete | Verb::DataExport | Verb::AccountChange
    )
}

/// The vendor's name for a verb in its floor messages.
fn verb_name(verb: Verb) -> &'static str {
    match verb {
        Verb::LlmCall => "LlmCall",
        Verb::ToolCall => "ToolCall",
        Verb::HttpRequest => "HttpRequest",
        Verb::Payment => "Payment",
        Verb::DataExport => "DataExport",
        Verb::AccountChange => "AccountChange",
        Verb::Delete => "Delete",
    }
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let file: model::PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        let rules = file.rule;
        for rule in rules.iter().filter(|r| r.enabled) {
            if rule.decision != RuleDecision::Allow {
                continue;
            }
            let id = rule.id.get_ref();
            let message = match rule.verb {
                VerbMatch::One(verb) if is_dangerous(verb) && !narrows(rule, verb) => format!(
                    "rule `{id}` allows-without-approval the dangerous verb `{}` with no narrowing condition; the dangerous-lane floor forbids widening (customers may only tighten)",
                    verb_name(verb)
                ),
                // Blanket: any verb, any subject, no condition (a scope does not narrow it).
                VerbMatch::Any(_)
                    if rule.conditions.is_empty() && rule.subject == RuleSubject::Any =>
                {
                    format!(
                    "rule `{id}` is a blanket `allow` (verb=any) with no narrowing condition; it would allow-without-approval an undeclared dangerous action — the dangerous-lane floor forbids this widening (customers may only tighten)"
                )
                }
                _ => continue,
            };
            let line = text[..rule.id.span().start.min(text.len())].lines().count();
            return Err(PolicyError::FloorBypass { message, line });
        }
        let mut order: Vec<usize> = (0..rules.len()).filter(|&i| rules[i].enabled).collect();
        // Stable: rules with the same order keep their file order.
        order.sort_by_key(|&i| rules[i].order);
        Ok(Policy { rules, order })
    }

    pub fn rules(&self) -> &[PolicyRule] {
        &self.rules
    }

    pub fn evaluate(&self, action: &Action) -> Evaluation {
        for &index in &self.order {
            let rule = &self.rules[index];
            if !matches_rule(rule, action) {
                continue;
            }
            let decision = match rule.decision {
                RuleDecision::Allow => DecisionPath::Allow,
                RuleDecision::Block => DecisionPath::Block,
                RuleDecision::Redact => DecisionPath::Redact,
                RuleDecision::RequireApproval => DecisionPath::RequireApproval,
            };
            if is_dangerous(action.verb)
                && matches!(decision, DecisionPath::Allow | DecisionPath::Redact)
            {
                return Evaluation {
                    decision_path: DecisionPath::RequireApproval,
                    rule_id: FLOOR_RULE.to_owned(),
                    rule: None,
                };
            }
            return Evaluation {
                decision_path: decision,
                rule_id: rule.id.get_ref().clone(),
                rule: Some(index),
            };
        }
        Evaluation {
            decision_path: DecisionPath::RequireApproval,
            rule_id: DEFAULT_RULE.to_owned(),
            rule: None,
        }
    }
}

/// Whether an `allow` of a dangerous verb is narrowed enough to load: a
/// payment only by a condition on the user's mandate, the other dangerous
/// verbs by any condition or a subject other than `any`.
fn narrows(rule: &PolicyRule, verb: Verb) -> bool {
    match verb {
        Verb::Payment => rule
            .conditions
            .iter()
            .any(|c| conditions::on_mandate(&c.field)),
        _ => !rule.conditions.is_empty() || rule.subject != RuleSubject::Any,
    }
}

fn matches_rule(rule: &PolicyRule, action: &Action) -> bool {
    let verb = match rule.verb {
        VerbMatch::Any(_) => true,
        VerbMatch::One(verb) => verb == action.verb,
    };
    verb && subject_matches(&rule.subject, action)
        && scope_matches(&rule.scope, action.target_host.as_deref())
        && rule
            .conditions
            .iter()
            .all(|c| conditions::holds(c, &action.fields))
}

fn subject_matches(subject: &RuleSubject, action: &Action) -> bool {
    match subject {
        RuleSubject::Any => true,
        RuleSubject::Workflow { value } => *value == action.workflow,
        RuleSubject::Account { value } => *value == action.account,
    }
}

/// `"*"` and `""` match any action; otherwise the target host must be the
/// scope's domain or under it (`*.` in front changes nothing). Case matters.
fn scope_matches(scope: &str, host: Option<&str>) -> bool {
    if scope.is_empty() || scope == "*" {
        return true;
    }
    let domain = scope.strip_prefix("*.").unwrap_or(scope);
    host.is_some_and(|host| {
        host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(verb: &str, decision: &str, extra: &str) -> String {
        format!(
            "[[rule]]\nid = \"r\"\norder = 1\nenabled = true\nsubject = {{ kind = \"any\" }}\nverb = \"{verb}\"\nscope = \"*\"\ndecision = \"{decision}\"\n{extra}\n"
        )
    }

    fn action(verb: &str, host: Option<&str>) -> Action {
        serde_json::from_value(json!({"verb": verb, "tool_name": "t", "workflow": "w",
            "account": "a", "fields": {"x": 1}, "target_host": host}))
        .unwrap()
    }

    #[test]
    fn the_load_floor_refuses_widening_with_the_line() {
        let err = Policy::parse(&format!("\n\n{}", rule("payment", "allow", ""))).unwrap_err();
        assert!(
            matches!(err, PolicyError::FloorBypass { line: 4, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("dangerous verb `Payment`"));
        // A payment is narrowed only by a condition on the mandate.
        let by_amount = rule(
            "payment",
            "allow",
            "conditions = [{ field = \"amount\", op = \"lt\", value = 10 }]",
        );
        assert!(Policy::parse(&by_amount).is_err());
        let by_mandate = rule(
            "payment",
            "allow",
            "conditions = [{ field = \"mandate\", op = \"exists\", value = true }]",
        );
        assert!(Policy::parse(&by_mandate).is_ok());
        // Another dangerous verb: any condition narrows it.
        assert!(Policy::parse(&rule("delete", "allow", "")).is_err());
        assert!(Policy::parse(&rule(
            "delete",
            "allow",
            "conditions = [{ field = \"x\", op = \"eq\", value = 1 }]"
        ))
        .is_ok());
        // A blanket allow of every verb; a scope does not narrow it.
        assert!(Policy::parse(&rule("any", "allow", ""))
            .unwrap_err()
            .to_string()
            .contains("blanket"));
        // Disabled rules and other decisions are not checked.
        assert!(Policy::parse(
            &rule("payment", "allow", "").replace("enabled = true", "enabled = false")
        )
        .is_ok());
        assert!(Policy::parse(&rule("payment", "redact", "")).is_ok());
    }

    #[test]
    fn the_evaluation_floor_sends_dangerous_actions_to_a_person() {
        let policy = Policy::parse(&rule(
            "any",
            "redact",
            "conditions = [{ field = \"x\", op = \"eq\", value = 1 }]",
        ))
        .unwrap();
        let payment = policy.evaluate(&action("payment", None));
        assert_eq!(
            (payment.decision_path, payment.rule_id.as_str()),
            (DecisionPath::RequireApproval, FLOOR_RULE)
        );
        let tool = policy.evaluate(&action("tool_call", None));
        assert_eq!(
            (tool.decision_path, tool.rule_id.as_str()),
            (DecisionPath::Redact, "r")
        );
    }

    #[test]
    fn scope_is_a_host_suffix_at_a_dot() {
        for (scope, host, expected) in [
            ("*", None, true),
            ("", Some("x"), true),
            ("example.com", Some("example.com"), true),
            ("example.com", Some("api.example.com"), true),
            ("*.example.com", Some("example.com"), true),
            ("example.com", Some("badexample.com"), false),
            ("example.com", Some("example.com."), false),
            ("EXAMPLE.COM", Some("example.com"), false),
            ("*example.com", Some("api.example.com"), false),
            ("example.com", None, false),
        ] {
            assert_eq!(scope_matches(scope, host), expected, "{scope} {host:?}");
        }
    }

    #[test]
    fn no_rule_is_the_default_and_ties_keep_file_order() {
        let empty = Policy::parse("").unwrap();
        assert_eq!(
            empty.evaluate(&action("llm_call", None)).rule_id,
            DEFAULT_RULE
        );
        let two = format!(
            "{}{}",
            rule("tool_call", "block", "").replace("id = \"r\"", "id = \"first\""),
            rule("tool_call", "allow", "").replace("id = \"r\"", "id = \"second\"")
        );
        assert_eq!(
            Policy::parse(&two)
                .unwrap()
                .evaluate(&action("tool_call", None))
                .rule_id,
            "first"
        );
    }
}
