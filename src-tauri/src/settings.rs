//! The app's preferences, kept as `settings.json` in the approver's home.
//! They hold no secret; a missing or unreadable file means the defaults.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    pub enabled: bool,
    /// Per verb: may it be approved straight from a notification (off by
    /// default for deletes, data exports and kinds the app does not know).
    pub approve_from_notification: BTreeMap<String, bool>,
    /// Payments above this amount always need the app opened.
    pub payment_threshold: f64,
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
            payment_threshold: 10_000.0,
        }
    }
}

const FILE: &str = "settings.json";
pub const MIN_POLL_SECS: u64 = 2;
pub const MAX_POLL_SECS: u64 = 3600;

impl Settings {
    pub fn load(home: &Path) -> Settings {
        std::fs::read(home.join(FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Checks what the settings screen sent.
    pub fn validate(&self) -> Result<(), String> {
        if !(MIN_POLL_SECS..=MAX_POLL_SECS).contains(&self.poll_interval_secs) {
            return Err(format!(
                "the polling interval must be between {MIN_POLL_SECS} and {MAX_POLL_SECS} seconds"
            ));
        }
        let threshold = self.notifications.payment_threshold;
        if !threshold.is_finite() || threshold < 0.0 {
            return Err("the payment amount must be a number of 0 or more".into());
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
        s.notifications.payment_threshold = f64::NAN;
        assert!(s.validate().is_err());
    }
}
