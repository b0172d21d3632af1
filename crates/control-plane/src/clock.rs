//! Time, as Unix seconds and RFC 3339.

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

pub fn now() -> i64 {
    OffsetDateTime::now_utc()
        .unix_timestamp()
        .saturating_add(offset_secs())
}

/// Unix milliseconds (rate limits).
pub fn now_ms() -> i64 {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    (nanos as i64).saturating_add(offset_secs().saturating_mul(1000))
}

pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}
