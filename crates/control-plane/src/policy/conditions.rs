//! What each condition operator means, as the vendor evaluates it. A
//! condition reads one top-level key of the action's `fields` (a dot is part
//! of the key, not a path); a missing key (or `null`, for `exists`) fails every
//! operator but `neq` on `null`.
//!
//! Numbers: a JSON number is itself; a string is a number when its ASCII
//! digits and dots, taken alone, parse as one (`"$1,000"` is 1000, `"-10"` is
//! 10, `"1.2.3"` is none). That is the vendor's leniency, reproduced so that
//! both sides route the same action the same way.

use super::model::{Op, RuleCondition};
use serde_json::{Map, Value};

/// Whether a condition reads the user's payment mandate (`mandate`,
/// `mandate.*`) rather than the action's fields.
pub fn on_mandate(field: &str) -> bool {
    field == "mandate" || field.starts_with("mandate.")
}

/// Whether `condition` holds for these action fields. A condition on the
/// mandate never holds: this evaluator does not read mandates (the vendor
/// reads them from a verified mandate, which these actions do not carry).
pub fn holds(condition: &RuleCondition, fields: &Map<String, Value>) -> bool {
    if on_mandate(&condition.field) {
        return false;
    }
    let Some(actual) = fields.get(&condition.field) else {
        return false;
    };
    let expected = &condition.value;
    match condition.op {
        Op::Exists => !actual.is_null(),
        Op::Eq => equal(actual, expected),
        Op::Neq => !equal(actual, expected),
        Op::Gt => ordered(actual, expected, |a, b| a > b),
        Op::Gte => ordered(actual, expected, |a, b| a >= b),
        Op::Lt => ordered(actual, expected, |a, b| a < b),
        Op::Lte => ordered(actual, expected, |a, b| a <= b),
        Op::In => listed(actual, expected).unwrap_or(false),
        Op::NotIn => listed(actual, expected)
            .map(|found| !found)
            .unwrap_or(false),
        Op::Matches => match (actual, expected) {
            (Value::String(text), Value::String(pattern)) => {
                text.to_lowercase().contains(&pattern.to_lowercase())
            }
            _ => false,
        },
    }
}

/// The number a value stands for, if any (see the module docs).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => {
            let kept: String = text
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if kept.is_empty() {
                return None;
            }
            kept.parse::<f64>().ok()
        }
        _ => None,
    }
}

fn equal(actual: &Value, expected: &Value) -> bool {
    if let (Some(a), Some(b)) = (number(actual), number(expected)) {
        return a == b;
    }
    match (actual, expected) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        _ => false,
    }
}

fn ordered(actual: &Value, expected: &Value, test: fn(f64, f64) -> bool) -> bool {
    match (number(actual), number(expected)) {
        (Some(a), Some(b)) => test(a, b),
        _ => false,
    }
}

/// For `in` / `not_in`: whether a string value is among the list's strings;
/// `None` when the value is not a string or the expected value not a list.
fn listed(actual: &Value, expected: &Value) -> Option<bool> {
    let (Value::String(text), Value::Array(items)) = (actual, expected) else {
        return None;
    };
    Some(
        items
            .iter()
            .any(|item| item.as_str() == Some(text.as_str())),
    )
}

#[cfg(test)]
mod tests {
    //! Each operator on the cases the vendor decides the surprising way
    //! (observed with `heso==0.5.1`).
    use super::*;
    use serde_json::json;

    fn check(op: Op, value: Value, actual: Option<Value>) -> bool {
        let condition = RuleCondition {
            field: "f".into(),
            op,
            value,
            display: None,
        };
        let mut fields = Map::new();
        if let Some(actual) = actual {
            fields.insert("f".into(), actual);
        }
        holds(&condition, &fields)
    }

    #[test]
    fn ordering_reads_digits_out_of_strings() {
        assert!(check(Op::Gt, json!(10), Some(json!(15))));
        assert!(check(Op::Gte, json!("10"), Some(json!("$10"))));
        assert!(check(Op::Gte, json!(1000), Some(json!("1,000"))));
        // The sign is not a digit: "-10" reads as 10.
        assert!(check(Op::Gte, json!(10), Some(json!("-10"))));
        assert!(!check(Op::Gte, json!(1), Some(json!("1.2.3"))));
        assert!(!check(Op::Lt, json!(5), Some(json!(""))));
        assert!(!check(Op::Gt, json!(0), Some(json!(true))));
        assert!(check(Op::Lt, json!(1), Some(json!(".5"))));
        assert!(check(Op::Lte, json!(10), Some(json!(10.0))));
        assert!(!check(Op::Lt, json!(10), None));
    }

    #[test]
    fn equality_is_numeric_when_both_sides_read_as_numbers() {
        assert!(check(Op::Eq, json!("xyz1"), Some(json!("abc1"))));
        assert!(check(Op::Eq, json!(11), Some(json!("1e1"))));
        assert!(check(Op::Eq, json!("abc"), Some(json!("abc"))));
        assert!(!check(Op::Eq, json!("abc"), Some(json!("ABC"))));
        assert!(!check(Op::Eq, json!("true"), Some(json!(true))));
        assert!(check(Op::Eq, json!(true), Some(json!(true))));
        assert!(check(Op::Eq, json!(""), Some(json!(""))));
        assert!(!check(Op::Eq, json!([1]), Some(json!([1]))));
    }

    #[test]
    fn neq_holds_on_null_but_not_on_a_missing_field() {
        assert!(check(Op::Neq, json!(1), Some(Value::Null)));
        assert!(!check(Op::Neq, json!(1), None));
        assert!(check(Op::Neq, json!("abc"), Some(json!("ABC"))));
        assert!(!check(Op::Neq, json!(10), Some(json!("10"))));
    }

    #[test]
    fn in_and_not_in_compare_strings_only() {
        assert!(check(Op::In, json!(["abc", 10]), Some(json!("abc"))));
        assert!(!check(Op::In, json!(["10"]), Some(json!(10))));
        assert!(!check(Op::In, json!(["010"]), Some(json!("10"))));
        assert!(check(Op::NotIn, json!([10, "abc"]), Some(json!("10"))));
        assert!(!check(Op::NotIn, json!(["a"]), Some(json!(5))));
        assert!(check(Op::NotIn, json!([]), Some(json!("a"))));
        assert!(!check(Op::In, json!("abc"), Some(json!("abc"))));
    }

    #[test]
    fn exists_ignores_its_value_and_null() {
        assert!(check(Op::Exists, json!(false), Some(json!(""))));
        assert!(check(Op::Exists, json!(1), Some(json!({}))));
        assert!(!check(Op::Exists, json!(true), Some(Value::Null)));
        assert!(!check(Op::Exists, json!(true), None));
    }

    #[test]
    fn matches_is_a_case_blind_substring() {
        assert!(check(Op::Matches, json!("o W"), Some(json!("Hello World"))));
        assert!(check(Op::Matches, json!("HELLO"), Some(json!("hello"))));
        assert!(check(Op::Matches, json!(""), Some(json!("x"))));
        assert!(!check(Op::Matches, json!("^H"), Some(json!("Hello"))));
        assert!(!check(Op::Matches, json!("H*"), Some(json!("Hello"))));
        assert!(!check(Op::Matches, json!("1"), Some(json!(10))));
        assert!(check(Op::Matches, json!("i"), Some(json!("İ"))));
    }

    #[test]
    fn a_condition_on_the_mandate_never_reads_the_fields() {
        let condition = RuleCondition {
            field: "mandate.verdict".into(),
            op: Op::Eq,
            value: json!("valid"),
            display: None,
        };
        let mut fields = Map::new();
        fields.insert("mandate.verdict".into(), json!("valid"));
        assert!(!holds(&condition, &fields));
    }
}
