//! How text from an action reaches a person: the one place the window, the
//! notifications and the command line get their strings from.
//!
//! Everything in an action is chosen by the agent, so nothing it sends may
//! hide, reorder or impersonate. Hidden characters (controls, format and
//! bidirectional marks, default-ignorable code points, line separators) are
//! made visible as `[U+XXXX]`, never silently removed; values that mix
//! scripts within a word, or that only look like plain Latin text (UTS #39
//! skeletons), carry a warning a person sees next to the value.

use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, UnicodeScript};
use unicode_security::confusable_detection::skeleton;

/// Characters that draw nothing, break lines, or change the direction of
/// the text around them: controls (Cc), line and paragraph separators,
/// format characters (Cf) and the default-ignorable code points of Unicode's
/// DerivedCoreProperties.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{0600}'..='\u{0605}' | '\u{061C}' | '\u{06DD}'
            | '\u{070F}' | '\u{0890}'..='\u{0891}' | '\u{08E2}' | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Bidirectional controls: they reorder what a person reads.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The text with every hidden character written out as `[U+XXXX]`.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_hidden(c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A signed value (its canonical JSON text) as a person reads it: a string
/// without its quotes, anything else as its JSON, hidden characters visible.
pub fn shown_value(canonical: &str, redacted: bool) -> String {
    if redacted {
        return "redacted".into();
    }
    match serde_json::from_str::<serde_json::Value>(canonical) {
        Ok(serde_json::Value::String(s)) => visible(&s),
        _ => visible(canonical),
    }
}

/// The scripts a word's letters belong to, besides the shared ones (digits,
/// punctuation, combining marks).
fn scripts_of(word: &str) -> Vec<Script> {
    let mut scripts: Vec<Script> = Vec::new();
    for c in word.chars() {
        let script = c.script();
        if !matches!(script, Script::Common | Script::Inherited | Script::Unknown)
            && !scripts.contains(&script)
        {
            scripts.push(script);
        }
    }
    scripts
}

/// Whether a word's letters come from more than one script in a way no
/// writing system does (UTS #39 single-script: Japanese mixes Han and Kana,
/// legitimately).
fn is_mixed_script(word: &str) -> bool {
    use unicode_security::MixedScript;
    !word.is_single_script()
}

/// A word with letters or digits outside ASCII that reads as plain ASCII
/// (its UTS #39 skeleton is ASCII): `раураl` in Cyrillic, full-width `４２００`.
fn ascii_lookalike(word: &str) -> Option<String> {
    let foreign = word.chars().any(|c| !c.is_ascii() && c.is_alphanumeric());
    if !foreign {
        return None;
    }
    // Compatibility forms first (full-width, stylised letters), then the
    // UTS #39 confusable skeleton.
    let compatible: String = word.nfkc().collect();
    if compatible.is_ascii() {
        return Some(compatible);
    }
    let plain: String = skeleton(&compatible).collect();
    plain.is_ascii().then_some(plain)
}

/// Why a value deserves a second look, in words for the person, or `None`.
pub fn warning(text: &str) -> Option<String> {
    let mut reasons = Vec::new();
    let hidden: Vec<char> = text.chars().filter(|c| is_hidden(*c)).collect();
    if hidden.iter().any(|c| is_bidi_control(*c)) {
        reasons.push("contains characters that reverse the direction of text".to_owned());
    } else if hidden.iter().any(|c| !matches!(c, '\n' | '\t')) {
        reasons.push("contains invisible characters".to_owned());
    }
    for word in text.split(|c: char| c.is_whitespace() || is_hidden(c)) {
        if word.is_empty() {
            continue;
        }
        if is_mixed_script(word) {
            let names: Vec<&str> = scripts_of(word).iter().map(|s| s.full_name()).collect();
            reasons.push(format!(
                "“{}” mixes letters of different scripts ({})",
                visible(word),
                names.join(", ")
            ));
            break;
        }
        if let Some(plain) = ascii_lookalike(word) {
            let names: Vec<&str> = scripts_of(word).iter().map(|s| s.full_name()).collect();
            let from = match names.is_empty() {
                true => "other characters".to_owned(),
                false => format!("{} letters", names.join(", ")),
            };
            reasons.push(format!(
                "“{}” looks like “{plain}” but is written with {from}",
                visible(word)
            ));
            break;
        }
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// Every string inside a JSON value, keys included.
pub fn strings_in(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings_in(v, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                strings_in(v, out);
            }
        }
        _ => {}
    }
}

/// The warning for a whole signed value (every string in it).
pub fn value_warning(value: &serde_json::Value) -> Option<String> {
    let mut strings = Vec::new();
    strings_in(value, &mut strings);
    strings.iter().find_map(|s| warning(s))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_written_out_not_removed() {
        assert_eq!(visible("\u{202E}CLL xebolG"), "[U+202E]CLL xebolG");
        assert_eq!(
            visible("a\u{200B}b\nc\u{1B}[31m"),
            "a[U+200B]b[U+000A]c[U+001B][31m"
        );
        assert_eq!(
            visible("Globex LLC — Zürich 東京"),
            "Globex LLC — Zürich 東京"
        );
        assert_eq!(
            shown_value("\"\\u001b]0;x\\u0007\"", false),
            "[U+001B]]0;x[U+0007]"
        );
        assert_eq!(shown_value("{\"_sd\":\"ab\"}", true), "redacted");
        assert_eq!(shown_value("4200.5", false), "4200.5");
        // Markup stays text: the window and the notifications never interpret it.
        assert_eq!(
            shown_value("\"<img src=x onerror=alert(1)>\"", false),
            "<img src=x onerror=alert(1)>"
        );
    }

    #[test]
    fn direction_changes_and_invisible_characters_are_flagged() {
        assert!(warning("\u{202E}CLL xebolG")
            .unwrap()
            .contains("reverse the direction"));
        assert!(warning("Glo\u{200B}bex").unwrap().contains("invisible"));
        assert_eq!(warning("Globex LLC"), None);
        assert_eq!(warning("line one\nline two"), None);
    }

    #[test]
    fn mixed_scripts_and_lookalikes_are_flagged() {
        // Cyrillic о (U+043E) inside a Latin word.
        let mixed = warning("Gl\u{043E}bex LLC").unwrap();
        assert!(mixed.contains("mixes letters"), "{mixed}");
        assert!(
            mixed.contains("Latin") && mixed.contains("Cyrillic"),
            "{mixed}"
        );
        // All Cyrillic, reads as "paypal".
        let whole = warning("\u{0440}\u{0430}\u{0443}\u{0440}\u{0430}l").unwrap();
        assert!(
            whole.contains("mixes") || whole.contains("looks like"),
            "{whole}"
        );
        let cyrillic_only = warning("\u{0440}\u{0430}\u{0443}\u{0440}\u{0430}\u{04CF}").unwrap();
        assert!(
            cyrillic_only.contains("looks like “paypal”") || cyrillic_only.contains("looks like"),
            "{cyrillic_only}"
        );
        let wide = warning("\u{FF14}\u{FF12}\u{FF10}\u{FF10}");
        assert!(
            wide.as_deref()
                .unwrap_or_default()
                .contains("looks like “4200”"),
            "{wide:?}"
        );
    }

    #[test]
    fn ordinary_text_in_any_language_is_not_flagged() {
        for text in [
            "Müller GmbH",
            "Société Générale",
            "東京都 ひらがな カタカナ",
            "Москва",
            "don’t “quote” me — 10 €",
            "שלום עולם",
            "acct_42/payouts-EU",
        ] {
            assert_eq!(warning(text), None, "{text}");
        }
    }

    #[test]
    fn a_value_is_checked_in_every_string_and_key() {
        let value = serde_json::json!({"payee": {"name": "Globex", "p\u{0430}yee": 1}});
        assert!(value_warning(&value).is_some());
        assert_eq!(value_warning(&serde_json::json!({"amount": 4200})), None);
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
}
