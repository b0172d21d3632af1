//! Enrolment codes that carry a check of the org's operator keys.
//!
//! A code is a one-time secret (12 characters) followed by a check (8
//! characters) over the operator keys the device will pin. The control plane
//! learns only the secret; the device compares the check with the keys the
//! control plane names, so a control plane (or a network attacker) answering
//! with other keys is refused before anything is pinned. Eight characters of
//! a 31-letter alphabet are about 40 bits: far more than can be ground out
//! between seeing a code in a request and answering it.
//!
//! Written for people to read out: groups of four from an alphabet without
//! look-alikes (no 0/O, 1/I/L); case, spaces and dashes are ignored.

/// The characters codes are made of.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Characters of the secret part.
pub const SECRET_LEN: usize = 12;
/// Characters of the operator-key check.
pub const CHECK_LEN: usize = 8;

const CHECK_DOMAIN: &[u8] = b"heso-enrolment-check/v1\0";

/// Why a typed code cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the enrolment code must have {expected} characters (not counting dashes and spaces); this one has {found}")]
    Length { expected: usize, found: usize },
    #[error("the enrolment code contains `{0}`, which is not one of its characters")]
    Character(char),
}

/// A code split into its parts, both normalized (upper case, no separators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentCode {
    pub secret: String,
    pub check: String,
}

/// Case, spaces and dashes do not count.
pub fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Parses what a person typed: the secret, then the check.
pub fn parse(code: &str) -> Result<EnrolmentCode, CodeError> {
    let text = normalize(code);
    if let Some(bad) = text
        .chars()
        .find(|c| !c.is_ascii() || !ALPHABET.contains(&(*c as u8)))
    {
        return Err(CodeError::Character(bad));
    }
    let expected = SECRET_LEN + CHECK_LEN;
    if text.len() != expected {
        return Err(CodeError::Length {
            expected,
            found: text.chars().count(),
        });
    }
    Ok(EnrolmentCode {
        secret: text[..SECRET_LEN].to_owned(),
        check: text[SECRET_LEN..].to_owned(),
    })
}

/// The check over a set of operator keys (base64, in any order).
pub fn operator_keys_check<S: AsRef<str>>(operator_keys: &[S]) -> String {
    let mut sorted: Vec<&str> = operator_keys.iter().map(AsRef::as_ref).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut hasher = blake3::Hasher::new();
    hasher.update(CHECK_DOMAIN);
    for key in sorted {
        hasher.update(key.as_bytes());
        hasher.update(b"\n");
    }
    let digest = hasher.finalize();
    // Base-31 digits of the first 8 bytes: no modulo bias worth the name
    // (2^64 is 31^12.9), and every character carries log2(31) bits.
    let mut n = u64::from_be_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"));
    (0..CHECK_LEN)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// The code an operator reads out: `secret` (normalized, 12 characters) and
/// the check over `operator_keys`, in groups of four.
pub fn format_code<S: AsRef<str>>(secret: &str, operator_keys: &[S]) -> String {
    let all = format!("{secret}{}", operator_keys_check(operator_keys));
    all.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).expect("ASCII"))
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 2] = [
        "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=",
        "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=",
    ];

    #[test]
    fn a_formatted_code_parses_back_with_its_check() {
        let code = format_code("ABCDEFGHJKMN", &KEYS);
        assert_eq!(code.len(), 20 + 4);
        let parsed = parse(&code.to_lowercase().replace('-', " ")).unwrap();
        assert_eq!(parsed.secret, "ABCDEFGHJKMN");
        assert_eq!(parsed.check, operator_keys_check(&KEYS));
    }

    #[test]
    fn the_check_ignores_order_and_repeats_but_not_keys() {
        let reversed = [KEYS[1], KEYS[0], KEYS[1]];
        assert_eq!(operator_keys_check(&KEYS), operator_keys_check(&reversed));
        assert_ne!(operator_keys_check(&KEYS), operator_keys_check(&KEYS[..1]));
        assert_eq!(operator_keys_check(&KEYS).len(), CHECK_LEN);
    }

    #[test]
    fn bad_codes_say_why() {
        assert_eq!(
            parse("ABCD-EFGH-JKMN"),
            Err(CodeError::Length {
                expected: 20,
                found: 12
            })
        );
        assert_eq!(
            parse("ABCD-EFGH-JKMN-PQRS-TUV0"),
            Err(CodeError::Character('0'))
        );
        assert_eq!(
            parse("ABCD-EFGH-JKMN-PQRS-TUVé"),
            Err(CodeError::Character('é'))
        );
    }
}
