//! The device key: an Ed25519 key made on this device, held either
//!
//! - by the system signer (`heso-approver-signer`, Linux): out of reach of
//!   the desktop user's other programs, and a vote is signed only once the
//!   person answered the system's prompt; or
//! - in the OS keychain (Secret Service, Keychain, Credential Manager)
//!   through `keyring`: the seed is read into zeroizing memory for one
//!   signing call and dropped, never written anywhere else, but any program
//!   of the same user can read it there.
//!
//! Where it lives is the profile's `custody`.

use heso_receipt::request_auth::{sign_request, SignedRequest};
use heso_receipt::{keys, Signature, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The keychain service name entries are filed under.
pub const SERVICE: &str = "heso-approver";

/// Which credential store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keychain {
    /// The platform's keychain.
    Os,
    /// Whatever store `keyring_core::set_default_store` installed (tests use the mock).
    Installed,
}

/// Who holds the device key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Custody {
    /// The OS keychain: not protected from the user's other programs.
    #[default]
    Keychain,
    /// The system signer: only the person, at the system's prompt, makes a vote.
    Signer,
}

impl Custody {
    /// In words, for `whoami`, the window and the roster.
    pub fn protection(self) -> &'static str {
        match self {
            Custody::Signer => "protected: held by the system signer; every vote needs you at the system prompt",
            Custody::Keychain => "key not protected from other programs on this device: any program running as you can read it from the keychain and approve in your name",
        }
    }

    /// The word the device states at enrolment (self-reported).
    pub fn word(self) -> &'static str {
        match self {
            Custody::Signer => "signer",
            Custody::Keychain => "keychain",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "no OS keychain is reachable ({0}). On Linux the key lives in the Secret Service: \
         start and unlock a keyring such as GNOME Keyring or KeePassXC, then try again"
    )]
    NoKeychain(String),
    #[error("the device key is not in the keychain (account `{0}`); enrol this device again")]
    Missing(String),
    #[error("the keychain holds a different key than this profile was enrolled with")]
    Mismatch,
    #[error("the keychain entry for this device is damaged")]
    Damaged,
    #[error("keychain error: {0}")]
    Keychain(String),
    #[error("the OS random number generator failed: {0}")]
    Random(String),
    #[error("the system signer (heso-approver-signer) is not reachable: {0}")]
    NoSigner(String),
    #[error("nothing was signed: {0}")]
    NotConfirmed(String),
    #[error("the system signer refused to sign: {0}")]
    SignerRefused(String),
    #[error("the system signer failed: {0}")]
    Signer(String),
}

impl KeyError {
    /// The person did not confirm at the system prompt (or too many prompts
    /// ended without a yes): nothing was signed.
    pub fn is_not_confirmed(&self) -> bool {
        matches!(self, KeyError::NotConfirmed(_))
    }
}

fn keychain_error(e: keyring_core::Error, account: &str) -> KeyError {
    match e {
        keyring_core::Error::NoEntry => KeyError::Missing(account.to_owned()),
        keyring_core::Error::NoStorageAccess(inner) => KeyError::NoKeychain(inner.to_string()),
        keyring_core::Error::PlatformFailure(inner) => KeyError::NoKeychain(inner.to_string()),
        keyring_core::Error::NoDefaultStore => KeyError::NoKeychain("no credential store".into()),
        other => KeyError::Keychain(other.to_string()),
    }
}

/// Where the private half is.
enum Holder {
    Keychain(keyring_core::Entry),
    Signer(crate::signer::client::SignerClient),
}

/// A handle on the device key. Holds the public key only.
pub struct DeviceKey {
    holder: Holder,
    account: String,
    public: VerifyingKey,
}

fn entry(keychain: Keychain, account: &str) -> Result<keyring_core::Entry, KeyError> {
    let made = match keychain {
        Keychain::Os => keyring::Entry::new(SERVICE, account).map(|e| e.inner),
        Keychain::Installed => keyring_core::Entry::new(SERVICE, account),
    };
    made.map_err(|e| keychain_error(e, account))
}

impl DeviceKey {
    /// Generates a new seed from the OS RNG and stores it in the keychain
    /// under `account`, refusing to overwrite an existing key.
    pub fn create(keychain: Keychain, account: &str) -> Result<Self, KeyError> {
        let entry = entry(keychain, account)?;
        match entry.get_secret() {
            Ok(_) => {
                return Err(KeyError::Keychain(format!(
                    "a device key already exists under account `{account}`"
                )))
            }
            Err(keyring_core::Error::NoEntry) => {}
            Err(e) => return Err(keychain_error(e, account)),
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|e| KeyError::Random(e.to_string()))?;
        entry
            .set_secret(seed.as_ref())
            .map_err(|e| keychain_error(e, account))?;
        let public = keys::signing_key_from_seed(&seed).verifying_key();
        let key = DeviceKey {
            holder: Holder::Keychain(entry),
            account: account.to_owned(),
            public,
        };
        // Read it back: a store that silently keeps nothing must fail here.
        key.with_signing_key(|k| k.verifying_key()).and_then(|p| {
            if p == public {
                Ok(())
            } else {
                Err(KeyError::Mismatch)
            }
        })?;
        Ok(key)
    }

    /// Opens the key under `account`, checking it is the enrolled one.
    pub fn open(
        keychain: Keychain,
        account: &str,
        expected_public_b64: &str,
    ) -> Result<Self, KeyError> {
        let entry = entry(keychain, account)?;
        let mut key = DeviceKey {
            holder: Holder::Keychain(entry),
            account: account.to_owned(),
            public: keys::decode_public_key(expected_public_b64).map_err(|_| KeyError::Mismatch)?,
        };
        let actual = key.with_signing_key(|k| k.verifying_key())?;
        if actual != key.public {
            return Err(KeyError::Mismatch);
        }
        key.public = actual;
        Ok(key)
    }

    /// Opens the key of `account` wherever `custody` says it is.
    pub fn open_in(
        custody: Custody,
        keychain: Keychain,
        account: &str,
        expected_public_b64: &str,
    ) -> Result<Self, KeyError> {
        match custody {
            Custody::Keychain => Self::open(keychain, account, expected_public_b64),
            Custody::Signer => Self::open_in_signer(account, expected_public_b64),
        }
    }

    /// Makes a new key inside the system signer.
    pub fn create_in_signer(account: &str) -> Result<Self, KeyError> {
        let signer = crate::signer::client::SignerClient::connect()?;
        let public = signer.create_key(account)?;
        let public = keys::decode_public_key(&public)
            .map_err(|e| KeyError::Signer(format!("the signer answered a bad key: {e}")))?;
        Ok(DeviceKey {
            holder: Holder::Signer(signer),
            account: account.to_owned(),
            public,
        })
    }

    fn open_in_signer(account: &str, expected_public_b64: &str) -> Result<Self, KeyError> {
        let signer = crate::signer::client::SignerClient::connect()?;
        let held = signer.describe(account)?;
        if held.public_key != expected_public_b64 {
            return Err(KeyError::Mismatch);
        }
        let public = keys::decode_public_key(&held.public_key).map_err(|_| KeyError::Mismatch)?;
        Ok(DeviceKey {
            holder: Holder::Signer(signer),
            account: account.to_owned(),
            public,
        })
    }

    pub fn custody(&self) -> Custody {
        match self.holder {
            Holder::Keychain(_) => Custody::Keychain,
            Holder::Signer(_) => Custody::Signer,
        }
    }

    /// The system signer holding this key, if it does.
    pub fn signer(&self) -> Option<&crate::signer::client::SignerClient> {
        match &self.holder {
            Holder::Signer(signer) => Some(signer),
            Holder::Keychain(_) => None,
        }
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.public
    }

    pub fn public_b64(&self) -> String {
        keys::public_key_b64(&self.public)
    }

    pub fn fingerprint(&self) -> String {
        keys::fingerprint(&self.public)
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// Signs a request to the control plane (its own domain: it can never
    /// count as a vote). Needs no one's answer, wherever the key is.
    pub fn sign_request(&self, request: &SignedRequest<'_>) -> Result<Signature, KeyError> {
        match &self.holder {
            Holder::Keychain(_) => self.with_signing_key(|k| sign_request(k, request)),
            Holder::Signer(signer) => {
                let b64 = signer.sign_request(&self.account, request)?;
                keys::decode_signature(&b64).map_err(|e| {
                    KeyError::Signer(format!("the signer answered a bad signature: {e}"))
                })
            }
        }
    }

    /// Runs `sign` with the private key, which exists in plaintext only for
    /// this call: the seed and the key are zeroized when it returns. Only a
    /// key in the keychain can be used this way; the signer's never leaves it.
    pub fn with_signing_key<R>(&self, sign: impl FnOnce(&SigningKey) -> R) -> Result<R, KeyError> {
        let Holder::Keychain(entry) = &self.holder else {
            return Err(KeyError::Signer(
                "the key is held by the system signer; ask it to sign".into(),
            ));
        };
        let secret = Zeroizing::new(
            entry
                .get_secret()
                .map_err(|e| keychain_error(e, &self.account))?,
        );
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            secret
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::Damaged)?,
        );
        let key = keys::signing_key_from_seed(&seed);
        Ok(sign(&key))
    }

    /// Removes the key: from the keychain, or from the signer (which asks
    /// the person first once the key is enrolled).
    pub fn delete(self) -> Result<(), KeyError> {
        match self.holder {
            Holder::Keychain(entry) => entry
                .delete_credential()
                .map_err(|e| keychain_error(e, &self.account)),
            Holder::Signer(signer) => signer.remove(&self.account),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Once;

    pub(crate) fn mock_keychain() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            keyring_core::set_default_store(keyring_core::mock::Store::new().unwrap())
        });
    }

    #[test]
    fn a_created_key_signs_and_opens_again() {
        mock_keychain();
        let key = DeviceKey::create(Keychain::Installed, "create-open").unwrap();
        let public = key.public_b64();
        assert!(key.fingerprint().starts_with("heso:"));
        let signature = key
            .with_signing_key(|k| keys::sign_in_domain(k, b"test", b"hello"))
            .unwrap();
        assert!(keys::verify_in_domain(
            key.public_key(),
            b"test",
            b"hello",
            &signature
        ));
        assert!(matches!(
            DeviceKey::create(Keychain::Installed, "create-open"),
            Err(KeyError::Keychain(_))
        ));
        let again = DeviceKey::open(Keychain::Installed, "create-open", &public).unwrap();
        assert_eq!(again.public_b64(), public);
        let other = keys::public_key_b64(&SigningKey::from_bytes(&[1; 32]).verifying_key());
        assert!(matches!(
            DeviceKey::open(Keychain::Installed, "create-open", &other),
            Err(KeyError::Mismatch)
        ));
        again.delete().unwrap();
        assert!(matches!(
            DeviceKey::open(Keychain::Installed, "create-open", &public),
            Err(KeyError::Missing(_))
        ));
    }

    #[test]
    fn two_devices_get_different_keys() {
        mock_keychain();
        let a = DeviceKey::create(Keychain::Installed, "device-a").unwrap();
        let b = DeviceKey::create(Keychain::Installed, "device-b").unwrap();
        assert_ne!(a.public_b64(), b.public_b64());
    }
}
