//! The words a roster entry carries (its `key_id` and label) are shown to
//! every approver of the org and stored as text: bounded, and free of
//! control characters (a NUL byte, which PostgreSQL refuses in text, or the
//! escapes a terminal or a notification would act on).

use crate::error::ApiError;

/// The longest `key_id` or label, in characters.
pub const MAX_CHARS: usize = 128;

/// Which of the two a value is (a `key_id` is required, a label may be empty).
#[derive(Clone, Copy)]
pub enum RosterField {
    KeyId,
    Label,
}

impl RosterField {
    fn name(self) -> &'static str {
        match self {
            RosterField::KeyId => "key_id",
            RosterField::Label => "label",
        }
    }

    fn code(self) -> &'static str {
        match self {
            RosterField::KeyId => "invalid_key_id",
            RosterField::Label => "invalid_label",
        }
    }
}

/// `value` as the roster keeps it, or why it cannot be kept. A label is
/// trimmed; a `key_id` is the operator's name for the entry, kept as given,
/// so surrounding spaces are refused rather than silently dropped.
pub fn checked(field: RosterField, value: &str) -> Result<String, ApiError> {
    let is_key_id = matches!(field, RosterField::KeyId);
    let (code, field) = (field.code(), field.name());
    let trimmed = value.trim();
    if is_key_id && trimmed.is_empty() {
        return Err(ApiError::unprocessable(
            code,
            format!("{field} must not be empty"),
        ));
    }
    if is_key_id && trimmed != value {
        return Err(ApiError::unprocessable(
            code,
            format!("{field} must not begin or end with spaces"),
        ));
    }
    let value = trimmed;
    if value.chars().count() > MAX_CHARS {
        return Err(ApiError::unprocessable(
            code,
            format!("{field} is longer than {MAX_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            code,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_words_are_kept_trimmed() {
        assert_eq!(
            checked(RosterField::Label, "  Alice's laptop ").unwrap(),
            "Alice's laptop"
        );
        assert_eq!(checked(RosterField::Label, "").unwrap(), "");
    }

    #[test]
    fn control_characters_length_and_emptiness_are_refused() {
        for bad in [
            "a\u{0}b",
            "a\u{1b}[2Jb",
            "line\nbreak",
            &"x".repeat(MAX_CHARS + 1),
        ] {
            assert!(checked(RosterField::Label, bad).is_err(), "{bad:?}");
        }
        assert!(checked(RosterField::KeyId, "  ").is_err());
        assert!(checked(RosterField::KeyId, " alice").is_err());
        assert_eq!(checked(RosterField::KeyId, "alice").unwrap(), "alice");
    }
}
