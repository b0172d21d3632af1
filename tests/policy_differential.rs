//! The control plane's policy evaluator against the vendor's
//! (`heso._core.evaluate_policy_batch`, `heso==0.5.1`) on generated policies
//! and actions: the same `{decision_path, rule_id}` for every pair, and the
//! same refusal, word for word, for a policy either side refuses.
//!
//! `HESO_DIFF_SEED` and `HESO_DIFF_CASES` replay or widen a run.

use heso_control_plane::policy::{Policy, PolicyError, PolicyRule, RuleSubject, VerbMatch};
use heso_interop_tests::diff::{cases, seed};
use heso_interop_tests::oracle::Oracle;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const VERBS: &[&str] = &[
    "llm_call",
    "tool_call",
    "http_request",
    "payment",
    "data_export",
    "account_change",
    "delete",
];
const NAMES: &[&str] = &["payouts", "ops", "wf", "Payouts", ""];
const HOSTS: &[&str] = &[
    "api.stripe.com",
    "stripe.com",
    "evilstripe.com",
    "example.com",
    "a.b.example.com",
    "com",
    "EXAMPLE.COM",
    "",
];
const SCOPES: &[&str] = &[
    "*",
    "",
    "stripe.com",
    "*.stripe.com",
    "api.stripe.com",
    "example.com",
    "com",
    "*example.com",
    "EXAMPLE.COM",
    "api.*",
];
const FIELDS: &[&str] = &[
    "amount",
    "payee",
    "currency",
    "a.b",
    "note",
    "missing",
    "mandate",
    "mandate.verdict",
    "mandate_id",
];
const OPS: &[&str] = &[
    "gt", "lt", "eq", "in", "exists", "matches", "gte", "lte", "neq", "not_in",
];

/// A TOML value for a condition, of any type a policy might hold.
fn toml_value(rng: &mut StdRng) -> String {
    let scalars = [
        "0",
        "10",
        "1000",
        "-5",
        "10.0",
        "2.5",
        "9007199254740993",
        "\"10\"",
        "\"$1,000\"",
        "\"1e3\"",
        "\"2.5\"",
        "\"0.5\"",
        "\"abc\"",
        "\"ABC\"",
        "\"Globex\"",
        "\"\"",
        "\"b\"",
        "true",
        "false",
        "1979-05-27T07:32:00Z",
        "{ a = 1 }",
    ];
    if rng.random_bool(0.2) {
        let n = rng.random_range(0..4);
        let items: Vec<&str> = (0..n).map(|_| *scalars.choose(rng).unwrap()).collect();
        return format!("[{}]", items.join(", "));
    }
    scalars.choose(rng).unwrap().to_string()
}

fn json_value(rng: &mut StdRng) -> Value {
    let pool = [
        json!(0),
        json!(10),
        json!(1000),
        json!(999.5),
        json!(-5),
        json!(10.0),
        json!(9_007_199_254_740_992u64),
        json!("10"),
        json!("$1,000"),
        json!("1e3"),
        json!("-10"),
        json!("1.2.3"),
        json!("2.5"),
        json!("10.5"),
        json!("abc"),
        json!("ABC"),
        json!("Globex LLC"),
        json!("globex"),
        json!("İstanbul"),
        json!(""),
        json!(true),
        json!(null),
        json!(["abc"]),
        json!({"a": 1}),
    ];
    pool.choose(rng).unwrap().clone()
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// One rule; now and then broken the ways people break them.
fn rule(rng: &mut StdRng, n: usize) -> String {
    let verb = if rng.random_bool(0.25) {
        "any"
    } else {
        VERBS.choose(rng).unwrap()
    };
    let decision = ["allow", "block", "redact", "require_approval"]
        .choose(rng)
        .unwrap();
    let subject = match rng.random_range(0..4) {
        0 | 1 => "{ kind = \"any\" }".to_owned(),
        2 => format!(
            "{{ kind = \"workflow\", value = {} }}",
            quoted(NAMES.choose(rng).unwrap())
        ),
        _ => format!(
            "{{ kind = \"account\", value = {} }}",
            quoted(NAMES.choose(rng).unwrap())
        ),
    };
    let mut lines = vec![
        "[[rule]]".to_owned(),
        format!("id = \"r{n}\""),
        format!("order = {}", rng.random_range(-2..6)),
        format!("enabled = {}", rng.random_bool(0.85)),
        format!("subject = {subject}"),
        format!("verb = {}", quoted(verb)),
        format!("scope = {}", quoted(SCOPES.choose(rng).unwrap())),
        format!("decision = \"{decision}\""),
    ];
    if rng.random_bool(0.7) {
        let conditions: Vec<String> = (0..rng.random_range(0..4))
            .map(|_| {
                format!(
                    "{{ field = {}, op = \"{}\", value = {}{} }}",
                    quoted(FIELDS.choose(rng).unwrap()),
                    OPS.choose(rng).unwrap(),
                    toml_value(rng),
                    if rng.random_bool(0.3) {
                        ", display = \"shown\""
                    } else {
                        ""
                    }
                )
            })
            .collect();
        lines.push(format!("conditions = [{}]", conditions.join(", ")));
    }
    if rng.random_bool(0.3) {
        lines.push("approvers = [\"Security Admin\"]".into());
    }
    if rng.random_bool(0.3) {
        lines.push(format!("sla_minutes = {}", rng.random_range(1..120)));
    }
    if rng.random_bool(0.2) {
        lines.push(format!("threshold = {}", rng.random_range(1..4)));
    }
    if rng.random_bool(0.04) {
        // A required line dropped, or a value of the wrong type.
        let at = rng.random_range(1..8);
        match rng.random_range(0..3) {
            0 => {
                lines.remove(at);
            }
            1 => lines[at] = format!("{} = 1.5", lines[at].split(' ').next().unwrap()),
            _ => lines[at] = format!("{} = \"nope\"", lines[at].split(' ').next().unwrap()),
        }
    }
    lines.join("\n")
}

fn action(rng: &mut StdRng) -> Value {
    let mut fields = serde_json::Map::new();
    for name in FIELDS {
        if rng.random_bool(0.5) {
            fields.insert((*name).to_owned(), json_value(rng));
        }
    }
    let mut action = json!({
        "verb": VERBS.choose(rng).unwrap(),
        "tool_name": "stripe.transfers.create",
        "workflow": NAMES.choose(rng).unwrap(),
        "account": NAMES.choose(rng).unwrap(),
        "fields": fields,
    });
    if rng.random_bool(0.7) {
        action["target_host"] = json!(HOSTS.choose(rng).unwrap());
    }
    action
}

/// An action aimed at one rule of the policy: its verb, subject, a host in
/// its scope and its conditions' values (or near them), so that rules,
/// their order and the floor are exercised, not only the default.
fn aimed_action(rng: &mut StdRng, rule: &PolicyRule) -> Value {
    let mut action = action(rng);
    if let VerbMatch::One(verb) = rule.verb {
        action["verb"] = json!(verb.as_str());
    }
    match &rule.subject {
        RuleSubject::Workflow { value } => action["workflow"] = json!(value),
        RuleSubject::Account { value } => action["account"] = json!(value),
        RuleSubject::Any => {}
    }
    let domain = rule.scope.strip_prefix("*.").unwrap_or(&rule.scope);
    if !domain.is_empty() && domain != "*" {
        action["target_host"] = match rng.random_range(0..3) {
            0 => json!(domain),
            1 => json!(format!("api.{domain}")),
            _ => json!(format!("x{domain}")),
        };
    }
    for condition in &rule.conditions {
        let near = match &condition.value {
            Value::Array(items) if !items.is_empty() => items.choose(rng).unwrap().clone(),
            // Near the bound, as a number or as a string (the vendor reads
            // digits and dots out of strings).
            Value::Number(n) if rng.random_bool(0.5) => {
                let near = n.as_f64().unwrap_or(0.0) + [-1.0, -0.5, 0.5, 1.0].choose(rng).unwrap();
                match rng.random_bool(0.5) {
                    true => json!(near),
                    false => json!(near.to_string()),
                }
            }
            Value::String(text) if rng.random_bool(0.3) => json!(format!("x{text}X")),
            other => other.clone(),
        };
        action["fields"][&condition.field] = near;
    }
    action
}

#[test]
fn the_evaluator_decides_as_the_vendor_on_generated_policies() {
    let mut oracle = Oracle::start();
    let mut rng = StdRng::seed_from_u64(seed() ^ 0x90);
    let (mut pairs, mut refused, mut floors, mut by_rule) = (0, 0, 0, 0);
    // 10,000 pairs take about two seconds; fewer let rare readings of
    // numbers in strings slip through.
    let target = cases(10_000);
    while pairs < target {
        let text: Vec<String> = (0..rng.random_range(0..6))
            .map(|n| rule(&mut rng, n))
            .collect();
        let text = text.join("\n\n") + "\n";
        let parsed = Policy::parse(&text).ok();
        let rules: Vec<&PolicyRule> = parsed
            .as_ref()
            .map(|p| p.rules().iter().filter(|r| r.enabled).collect())
            .unwrap_or_default();
        let actions: Vec<Value> = (0..8)
            .map(|_| match rules.choose(&mut rng) {
                Some(rule) if rng.random_bool(0.7) => aimed_action(&mut rng, rule),
                _ => action(&mut rng),
            })
            .collect();
        let theirs = oracle.must(json!({"op": "policy_eval", "toml": text, "actions": actions}));
        match (Policy::parse(&text), theirs["refused"].as_str()) {
            (Ok(policy), None) => {
                let results = theirs["results"].as_array().unwrap();
                assert_eq!(results.len(), actions.len(), "{text}");
                for (action, expected) in actions.iter().zip(results) {
                    let parsed: heso_receipt::Action =
                        serde_json::from_value(action.clone()).unwrap();
                    let ours = serde_json::to_value(policy.evaluate(&parsed)).unwrap();
                    assert_eq!(&ours, expected, "\n{text}\naction {action}");
                    match ours["rule_id"].as_str() {
                        Some(heso_control_plane::policy::FLOOR_RULE) => floors += 1,
                        Some(heso_control_plane::policy::DEFAULT_RULE) => {}
                        _ => by_rule += 1,
                    }
                    pairs += 1;
                }
            }
            (Err(ours), Some(kind)) => {
                let expected_kind = match ours {
                    PolicyError::Parse(_) => "HesoPolicyParseError",
                    PolicyError::FloorBypass { .. } => "HesoPolicyFloorBypass",
                };
                assert_eq!(kind, expected_kind, "{text}");
                assert_eq!(
                    ours.to_string(),
                    theirs["message"].as_str().unwrap(),
                    "{text}"
                );
                refused += 1;
            }
            (ours, _) => panic!("ours {ours:?}, the vendor's {theirs}\n{text}"),
        }
    }
    eprintln!("{pairs} (policy, action) pairs decided alike ({by_rule} by a rule, {floors} by the floor); {refused} policies refused alike");
    assert!(
        refused > 10 && floors > 10 && by_rule > pairs / 8,
        "the generator reaches refusals, the floor and the rules"
    );
}
