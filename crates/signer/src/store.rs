//! The keys the signer holds, and the votes it made, on disk in its own
//! state directory (0700, its own user):
//!
//! ```text
//! <state>/users/<uid>/<account>.seed   32 bytes, 0600
//! <state>/users/<uid>/<account>.json   public key, the confirmed enrolment, votes made
//! ```
//!
//! Each write goes to a temporary file, is synced, then renamed over the
//! old one: a signer killed at any moment leaves the old file or the new.

use crate::hardening::LockedBuffer;
use heso_approver::signer::protocol::{Enrolment, KeyDescription};
use heso_receipt::{keys, SigningKey};
use rand::rngs::OsRng;
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Keys one desktop user may have here at once.
pub const KEYS_PER_USER: usize = 16;
/// Votes remembered per key (for fresh tokens and retries).
pub const VOTES_KEPT: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no key `{0}` is held for this user")]
    NoSuchKey(String),
    #[error("{0}")]
    Invalid(String),
    #[error("storage: {0}")]
    Io(String),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// A vote made with a key, remembered so the same decision can be sent
/// again (with a new token) without asking the person twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MadeVote {
    pub action_hash: String,
    pub decision: String,
    pub record: String,
    pub co_sig_b64: String,
    pub rule_id: String,
    /// The canonical bytes of the suspended content a token is bound to.
    pub canonical_b64: String,
}

/// What is kept beside a seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyFile {
    pub public_key: String,
    pub created_at: i64,
    pub enrolment: Option<Enrolment>,
    #[serde(default)]
    pub votes: Vec<MadeVote>,
}

impl KeyFile {
    pub fn description(&self) -> KeyDescription {
        KeyDescription {
            public_key: self.public_key.clone(),
            enrolment: self.enrolment.clone(),
        }
    }

    pub fn vote_on(&self, action_hash: &str) -> Option<&MadeVote> {
        self.votes.iter().find(|v| v.action_hash == action_hash)
    }
}

pub struct KeyStore {
    root: PathBuf,
    /// Where a seed is read for one signing call.
    scratch: Mutex<LockedBuffer>,
    /// One writer at a time for every key file.
    writes: Mutex<()>,
}

/// An account name is a file name here: letters, digits, `-`, `_`, `.`.
pub fn check_account(account: &str) -> Result<(), StoreError> {
    let ok = (1..=64).contains(&account.len())
        && !account.starts_with('.')
        && account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "an account is 1 to 64 letters, digits, `-`, `_` or `.`".into(),
        ))
    }
}

fn private_dir(path: &Path) -> Result<(), StoreError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl KeyStore {
    pub fn open(root: &Path) -> Result<KeyStore, StoreError> {
        private_dir(root)
            .map_err(|e| StoreError::Io(format!("state directory {}: {e}", root.display())))?;
        private_dir(&root.join("users"))?;
        Ok(KeyStore {
            root: root.to_owned(),
            scratch: Mutex::new(LockedBuffer::new()?),
            writes: Mutex::default(),
        })
    }

    fn user_dir(&self, uid: u32) -> PathBuf {
        self.root.join("users").join(uid.to_string())
    }

    fn paths(&self, uid: u32, account: &str) -> Result<(PathBuf, PathBuf), StoreError> {
        check_account(account)?;
        let dir = self.user_dir(uid);
        Ok((
            dir.join(format!("{account}.seed")),
            dir.join(format!("{account}.json")),
        ))
    }

    /// Makes a new key for `uid` under `account` from the OS RNG.
    pub fn create(&self, uid: u32, account: &str, now: i64) -> Result<KeyFile, StoreError> {
        let (seed_path, file_path) = self.paths(uid, account)?;
        let _writing = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        if file_path.exists() || seed_path.exists() {
            return Err(StoreError::Invalid(format!(
                "a key is already held under account `{account}`"
            )));
        }
        let dir = self.user_dir(uid);
        private_dir(&dir)?;
        let held = fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count();
        if held >= KEYS_PER_USER {
            return Err(StoreError::Invalid(format!(
                "this user already has {held} keys here; remove one first"
            )));
        }
        let mut scratch = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        let seed = scratch.slice(32);
        let made = OsRng
            .try_fill_bytes(seed)
            .map_err(|e| StoreError::Io(format!("the OS random number generator failed: {e}")));
        let result = made.and_then(|()| {
            let key = SigningKey::from_bytes((&*seed).try_into().expect("32 bytes"));
            let public_key = keys::public_key_b64(&key.verifying_key());
            write_atomically(&seed_path, seed)?;
            let file = KeyFile {
                public_key,
                created_at: now,
                enrolment: None,
                votes: Vec::new(),
            };
            self.save_locked(&file_path, &file)?;
            Ok(file)
        });
        scratch.wipe();
        result
    }

    pub fn load(&self, uid: u32, account: &str) -> Result<KeyFile, StoreError> {
        let (_, file_path) = self.paths(uid, account)?;
        let text = match fs::read_to_string(&file_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NoSuchKey(account.to_owned()))
            }
            Err(e) => return Err(e.into()),
        };
        serde_json::from_str(&text).map_err(|e| StoreError::Io(format!("{account}: {e}")))
    }

    /// Replaces what is kept beside the seed.
    pub fn save(&self, uid: u32, account: &str, file: &KeyFile) -> Result<(), StoreError> {
        let (_, file_path) = self.paths(uid, account)?;
        let _writing = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        self.save_locked(&file_path, file)
    }

    fn save_locked(&self, path: &Path, file: &KeyFile) -> Result<(), StoreError> {
        let mut file = file.clone();
        let excess = file.votes.len().saturating_sub(VOTES_KEPT);
        file.votes.drain(..excess);
        write_atomically(
            path,
            &serde_json::to_vec_pretty(&file).expect("key files serialize"),
        )
    }

    /// Runs `sign` with the key of `uid`'s `account`: the seed is read into
    /// locked memory for this call only and wiped after it.
    pub fn with_key<R>(
        &self,
        uid: u32,
        account: &str,
        sign: impl FnOnce(&SigningKey) -> R,
    ) -> Result<R, StoreError> {
        let (seed_path, _) = self.paths(uid, account)?;
        let mut scratch = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        let read = (|| {
            let mut file = match fs::File::open(&seed_path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StoreError::NoSuchKey(account.to_owned()))
                }
                Err(e) => return Err(e.into()),
            };
            let seed = scratch.slice(32);
            file.read_exact(seed)?;
            // The signing key zeroizes itself when dropped.
            let key = SigningKey::from_bytes((&*seed).try_into().expect("32 bytes"));
            Ok(sign(&key))
        })();
        scratch.wipe();
        read
    }

    /// Deletes the key of `uid`'s `account` (seed first).
    pub fn remove(&self, uid: u32, account: &str) -> Result<(), StoreError> {
        let (seed_path, file_path) = self.paths(uid, account)?;
        let _writing = self.writes.lock().unwrap_or_else(|p| p.into_inner());
        if !file_path.exists() && !seed_path.exists() {
            return Err(StoreError::NoSuchKey(account.to_owned()));
        }
        for path in [&seed_path, &file_path] {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_user_and_account_and_the_seed_stays_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("state")).unwrap();
        let a = store.create(1000, "device-a", 1).unwrap();
        assert!(
            store.create(1000, "device-a", 2).is_err(),
            "never overwritten"
        );
        let other_user = store.create(1001, "device-a", 3).unwrap();
        assert_ne!(a.public_key, other_user.public_key);
        let signed = store
            .with_key(1000, "device-a", |k| {
                keys::public_key_b64(&k.verifying_key())
            })
            .unwrap();
        assert_eq!(signed, a.public_key);
        assert!(matches!(
            store.with_key(1002, "device-a", |_| ()),
            Err(StoreError::NoSuchKey(_))
        ));
        let seed = dir.path().join("state/users/1000/device-a.seed");
        let mode = fs::metadata(&seed).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let users = fs::metadata(dir.path().join("state/users/1000")).unwrap();
        assert_eq!(users.permissions().mode() & 0o777, 0o700);
        store.remove(1000, "device-a").unwrap();
        assert!(!seed.exists());
        assert!(matches!(
            store.load(1000, "device-a"),
            Err(StoreError::NoSuchKey(_))
        ));
    }

    #[test]
    fn account_names_cannot_leave_the_user_directory() {
        for bad in ["", "../x", "a/b", ".hidden", &"x".repeat(65)] {
            assert!(check_account(bad).is_err(), "{bad:?}");
        }
        check_account("device-0123abcd").unwrap();
    }

    #[test]
    fn a_user_holds_a_bounded_number_of_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(dir.path()).unwrap();
        for i in 0..KEYS_PER_USER {
            store.create(7, &format!("k{i}"), 0).unwrap();
        }
        assert!(store.create(7, "one-more", 0).is_err());
    }
}
