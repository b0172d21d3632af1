//! Enrolment codes as people type them, and the operator-key check.
//!
//! Input: the typed code on the first line, operator keys on the lines after.
//!
//! Invariants: nothing panics; a code that parses is a 12-character secret
//! and an 8-character check from the alphabet; the check ignores key order
//! and duplicates; a formatted code parses back to its secret and check.

use heso_receipt::enrolment::{
    format_code, normalize, operator_keys_check, parse, ALPHABET, CHECK_LEN, SECRET_LEN,
};

fn from_alphabet(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| ALPHABET.contains(&b))
}

fn main() {
    afl::fuzz(true, |data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let (code, keys) = text.split_once('\n').unwrap_or((text, ""));
        let keys: Vec<&str> = keys.lines().collect();

        let check = operator_keys_check(&keys);
        assert!(from_alphabet(&check, CHECK_LEN), "check {check:?}");
        let mut shuffled: Vec<&str> = keys.iter().rev().copied().collect();
        shuffled.extend(keys.first());
        assert_eq!(operator_keys_check(&shuffled), check);

        let Ok(parsed) = parse(code) else {
            return;
        };
        assert!(from_alphabet(&parsed.secret, SECRET_LEN), "{parsed:?}");
        assert!(from_alphabet(&parsed.check, CHECK_LEN), "{parsed:?}");
        let joined = format!("{}{}", parsed.secret, parsed.check);
        assert_eq!(normalize(code), joined);
        assert_eq!(parse(&code.to_lowercase()).as_ref(), Ok(&parsed));

        let formatted = format_code(&parsed.secret, &keys);
        let back = parse(&formatted).expect("a formatted code parses");
        assert_eq!(back.secret, parsed.secret);
        assert_eq!(back.check, check);
    });
}
