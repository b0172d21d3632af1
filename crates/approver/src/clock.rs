//! Time as the approver writes and reads it: RFC 3339 UTC, whole seconds.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// RFC 3339 of a Unix time, empty when out of range.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub fn now_rfc3339() -> String {
    rfc3339(now_unix())
}

/// Whole minutes from now until an RFC 3339 time (negative once past).
pub fn minutes_until(text: &str) -> Option<i64> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some((at - OffsetDateTime::now_utc()).whole_minutes())
}

/// Whether an RFC 3339 time has passed (false when it does not parse).
pub fn has_passed(text: &str) -> bool {
    OffsetDateTime::parse(text, &Rfc3339).is_ok_and(|at| at <= OffsetDateTime::now_utc())
}
