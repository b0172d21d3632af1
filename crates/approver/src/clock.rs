//! Time as the approver writes and reads it: RFC 3339 UTC, whole seconds.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A testing aid: `HESO_CLOCK_OFFSET_SECS` seconds added to the clock, so a
/// test can stand for an outage of hours without waiting for it.
fn offset_secs() -> i64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| {
        std::env::var("HESO_CLOCK_OFFSET_SECS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

/// Now, with the testing offset.
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs())
}

pub fn now_unix() -> i64 {
    now().unix_timestamp()
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
    Some((at - now()).whole_minutes())
}

/// Whether an RFC 3339 time has passed (false when it does not parse).
pub fn has_passed(text: &str) -> bool {
    OffsetDateTime::parse(text, &Rfc3339).is_ok_and(|at| at <= now())
}
