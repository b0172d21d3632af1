//! The approver's profile: which control plane, which org, which device key,
//! and the operator keys pinned at enrolment. Kept as JSON in the approver's
//! home (`HESO_APPROVER_HOME`, else the platform config dir), beside the
//! journal and the logs. It holds no secret.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The control plane's base URL.
    pub url: String,
    pub org: String,
    pub label: String,
    /// The keychain account the device key is filed under.
    pub key_account: String,
    pub approver_public_key: String,
    /// The operator keys the control plane named at enrolment. A receipt
    /// signed by any other key is refused.
    pub operator_keys: Vec<String>,
    pub sla_minutes: u32,
    /// Who holds the device key (profiles from before the signer: the keychain).
    #[serde(default)]
    pub custody: crate::device_key::Custody,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("this device is not enrolled yet: run `heso-approver enroll --url URL --code CODE`")]
    NotEnrolled,
    #[error("cannot read the profile {path}: {error}")]
    Read { path: PathBuf, error: String },
    #[error("cannot write the profile {path}: {error}")]
    Write { path: PathBuf, error: String },
    #[error("no home directory to keep the profile in; set HESO_APPROVER_HOME")]
    NoHome,
}

/// Where profile, journal and logs live.
pub fn home() -> Result<PathBuf, ProfileError> {
    if let Some(dir) = std::env::var_os("HESO_APPROVER_HOME") {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("io", "heso", "heso-approver")
        .map(|dirs| dirs.config_dir().to_path_buf())
        .ok_or(ProfileError::NoHome)
}

fn profile_path(home: &Path) -> PathBuf {
    home.join("profile.json")
}

impl Profile {
    /// The pinned operator keys as fingerprints a person can compare.
    pub fn operator_fingerprints(&self) -> Vec<String> {
        self.operator_keys
            .iter()
            .map(|k| match heso_receipt::keys::decode_public_key(k) {
                Ok(key) => heso_receipt::keys::fingerprint(&key),
                Err(_) => format!("unreadable key {}", crate::display::visible(k)),
            })
            .collect()
    }

    pub fn load(home: &Path) -> Result<Profile, ProfileError> {
        let path = profile_path(home);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ProfileError::NotEnrolled)
            }
            Err(e) => {
                return Err(ProfileError::Read {
                    path,
                    error: e.to_string(),
                })
            }
        };
        serde_json::from_str(&text).map_err(|e| ProfileError::Read {
            path,
            error: e.to_string(),
        })
    }

    /// Writes the profile atomically (temp file, then rename).
    pub fn save(&self, home: &Path) -> Result<(), ProfileError> {
        let path = profile_path(home);
        let write = || -> std::io::Result<()> {
            crate::private_files::private_dir(home)?;
            let tmp = home.join(".profile.json.tmp");
            crate::private_files::write_private(
                &tmp,
                &serde_json::to_vec_pretty(self).expect("profiles serialize"),
            )?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| ProfileError::Write {
            path,
            error: e.to_string(),
        })
    }

    pub fn remove(home: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(profile_path(home)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
