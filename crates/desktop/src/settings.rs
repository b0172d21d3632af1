//! The app's preferences, kept as `settings.json` in the approver's home.
//! They hold no secret; a missing or unreadable file means the defaults.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Long-poll the control plane (changes show at once); off: poll every `poll_interval_secs`.
    pub long_poll: bool,
    pub poll_interval_secs: u64,
    pub notifications: NotificationSettings,
    /// Closing the window keeps the app running in the tray (notifications keep coming).
    pub run_in_background: bool,
    /// Start (in the background) when the user logs in.
    pub start_at_login: bool,
    /// The profile is enrolled with the embedded demo control plane.
    pub demo: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    pub enabled: bool,
    /// Per verb: may it be approved straight from a notification (off by
    /// default for deletes, data exports and kinds the app does not know).
    pub approve_from_notification: BTreeMap<String, bool>,
    /// Per currency code: payments above this amount always need the app.
    /// A payment in a currency not listed here always needs the app too.
    pub payment_limits: BTreeMap<String, f64>,
    /// Workflows whose notifications are muted, until a Unix time: set by
    /// "Report suspicious", so a flooding agent stops drawing clicks.
    pub muted_workflows: BTreeMap<String, i64>,
    /// The single limit of earlier versions; read once into
    /// `payment_limits`, never written.
    #[serde(skip_serializing)]
    #[ts(skip)]
    pub payment_threshold: Option<f64>,
}

/// The limit each default currency starts with.
pub const DEFAULT_PAYMENT_LIMITS: [(&str, f64); 5] = [
    ("USD", 10_000.0),
    ("EUR", 10_000.0),
    ("GBP", 10_000.0),
    ("CHF", 10_000.0),
    ("JPY", 1_500_000.0),
];

impl Settings {
    /// Whether the queue watcher would run the same way under `other`.
    pub fn watches_like(&self, other: &Settings) -> bool {
        self.long_poll == other.long_poll && self.poll_interval_secs == other.poll_interval_secs
    }
}

impl NotificationSettings {
    /// Whether notifications from this workflow are muted at `now` (Unix seconds).
    pub fn is_muted(&self, workflow: &str, now: i64) -> bool {
        self.muted_workflows
            .get(workflow)
            .is_some_and(|until| *until > now)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            long_poll: true,
            poll_interval_secs: 5,
            notifications: NotificationSettings::default(),
            run_in_background: true,
            start_at_login: false,
            demo: false,
        }
    }
}

impl Default for NotificationSettings {
    fn default() -> Self {
        let verbs = [
            "payment",
            "delete",
            "data_export",
            "llm_call",
            "message",
            "other",
        ];
        NotificationSettings {
            enabled: true,
            approve_from_notification: verbs
                .iter()
                .map(|v| {
                    (
                        v.to_string(),
                        !matches!(*v, "delete" | "data_export" | "other"),
                    )
                })
                .collect(),
            payment_limits: DEFAULT_PAYMENT_LIMITS
                .iter()
                .map(|(c, l)| (c.to_string(), *l))
                .collect(),
            muted_workflows: BTreeMap::new(),
            payment_threshold: None,
        }
    }
}

const FILE: &str = "settings.json";
pub const MIN_POLL_SECS: u64 = 2;
pub const MAX_POLL_SECS: u64 = 3600;

impl Settings {
    pub fn load(home: &Path) -> Settings {
        let mut settings: Settings = std::fs::read(home.join(FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        // An earlier version's one limit applies to every currency listed.
        if let Some(limit) = settings.notifications.payment_threshold.take() {
            settings
                .notifications
                .payment_limits
                .values_mut()
                .for_each(|l| *l = limit);
        }
        settings
    }

    /// Checks what the settings screen sent.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_POLL_SECS..=MAX_POLL_SECS).contains(&self.poll_interval_secs) {
            return Err(format!(
                "the polling interval must be between {MIN_POLL_SECS} and {MAX_POLL_SECS} seconds"
            ));
        }
        for (currency, limit) in &self.notifications.payment_limits {
            let code_ok = currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase());
            if !code_ok {
                return Err(format!(
                    "`{currency}` is not a currency code (three capital letters, such as USD)"
                ));
            }
            if !limit.is_finite() || *limit < 0.0 {
                return Err(format!(
                    "the limit for {currency} must be a number of 0 or more"
                ));
            }
        }
        Ok(())
    }

    /// Writes atomically (temp file, then rename).
    pub fn save(&self, home: &Path) -> Result<(), String> {
        self.validate()?;
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(home)?;
            let tmp = home.join(".settings.json.tmp");
            std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
            std::fs::rename(&tmp, home.join(FILE))
        };
        write().map_err(|e| format!("cannot save the settings in {}: {e}", home.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(dir.path()), Settings::default());
        let mut s = Settings {
            poll_interval_secs: 30,
            ..Settings::default()
        };
        s.save(dir.path()).unwrap();
        assert_eq!(Settings::load(dir.path()), s);
        s.poll_interval_secs = 0;
        assert!(s.save(dir.path()).is_err());
        s.poll_interval_secs = 5;
        s.notifications
            .payment_limits
            .insert("USD".into(), f64::NAN);
        assert!(s.validate().is_err());
        s.notifications.payment_limits = [("usd".to_owned(), 5.0)].into();
        assert!(s.validate().is_err());
    }

    #[test]
    fn an_earlier_single_limit_becomes_every_currency_limit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE),
            r#"{"notifications": {"payment_threshold": 500}}"#,
        )
        .unwrap();
        let s = Settings::load(dir.path());
        assert_eq!(s.notifications.payment_limits["USD"], 500.0);
        assert_eq!(s.notifications.payment_limits["JPY"], 500.0);
        assert_eq!(s.notifications.payment_threshold, None);
    }
}
