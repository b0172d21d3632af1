//! The device key: an Ed25519 seed generated on this device and kept only in
//! the OS keychain (Secret Service, Keychain, Credential Manager) through
//! `keyring`. The seed is read into zeroizing memory for one signing call and
//! dropped; it is never written anywhere else.

use heso_receipt::{keys, SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use rand::TryRngCore;
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

/// A handle on the device key. Holds the public key only.
pub struct DeviceKey {
    entry: keyring_core::Entry,
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
            entry,
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
            entry,
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

    /// Runs `sign` with the private key, which exists in plaintext only for
    /// this call: the seed and the key are zeroized when it returns.
    pub fn with_signing_key<R>(&self, sign: impl FnOnce(&SigningKey) -> R) -> Result<R, KeyError> {
        let secret = Zeroizing::new(
            self.entry
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

    /// Removes the key from the keychain.
    pub fn delete(self) -> Result<(), KeyError> {
        self.entry
            .delete_credential()
            .map_err(|e| keychain_error(e, &self.account))
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
