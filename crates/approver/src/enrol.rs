//! Enrolment: a new device key (in the system signer where one runs, else in
//! the keychain), registered with a control plane through a one-time code,
//! and the profile that pins the operator keys the control plane named. With
//! the signer, the person confirms the enrolment at the system's prompt and
//! the signer pins those keys itself. The command line and the desktop app
//! share it.

use crate::client::{Client, ClientError};
use crate::device_key::{Custody, DeviceKey, KeyError, Keychain};
use crate::profile::{Profile, ProfileError};
use rand::Rng;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error("this device is already enrolled (profile in {0}); remove it first to enrol again")]
    AlreadyEnrolled(String),
    #[error("the control plane address is not usable: {0}")]
    BadUrl(String),
    #[error("the enrolment code is empty")]
    NoCode,
    #[error("{0}; type it as your operator gave it (five groups of four)")]
    BadCode(heso_receipt::enrolment::CodeError),
    #[error("the control plane named operator keys that do not match this enrolment code: it may not be your organisation's control plane (nothing was kept)")]
    OperatorKeysMismatch,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("enrolment failed: {0}")]
    Refused(ClientError),
    #[error("enrolment failed: {0}")]
    Unreachable(ClientError),
    #[error("the control plane named no operator key to trust")]
    NoOperatorKeys,
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("this device's key is already held by the system signer")]
    AlreadyProtected,
    #[error("no system signer answers on this device: install heso-approver-signer (the package, or scripts/install-signer.sh), then try again")]
    NoSigner,
    #[error("the code is for org `{code_org}`, but this device is enrolled with `{enrolled_org}`; ask for a code of your org")]
    OtherOrg {
        code_org: String,
        enrolled_org: String,
    },
}

/// A device whose key moved into the signer.
pub struct Protected {
    pub profile: Profile,
    pub key: DeviceKey,
    pub old_fingerprint: String,
    /// Whether the control plane retired the old key (and why not).
    pub retired: Result<(), ClientError>,
}

/// Checks what a person typed as the control plane's address. Plain HTTP
/// is accepted only to this machine: elsewhere, anyone on the path could
/// answer in the control plane's name.
pub fn check_url(url: &str) -> Result<String, EnrolError> {
    let url = url.trim();
    let (rest, plain) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => {
            return Err(EnrolError::BadUrl(format!(
                "`{url}` must start with https:// or http://"
            )))
        }
    };
    if rest.trim_end_matches('/').is_empty() || rest.contains(char::is_whitespace) {
        return Err(EnrolError::BadUrl(format!("`{url}` has no host")));
    }
    if plain && !is_loopback(rest) {
        return Err(EnrolError::BadUrl(format!(
            "`{url}` is plain http to another machine; use https:// (plain http is only for this machine)"
        )));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Whether the host of `authority[/path]` is this machine.
fn is_loopback(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Creates the device key, registers it with `code`, and saves the profile.
/// On any failure after the key was made, the key is removed again.
pub async fn enrol(
    home: &Path,
    keychain: Keychain,
    url: &str,
    code: &str,
    label: &str,
) -> Result<(Profile, DeviceKey), EnrolError> {
    if Profile::load(home).is_ok() {
        return Err(EnrolError::AlreadyEnrolled(home.display().to_string()));
    }
    let url = check_url(url)?;
    if code.trim().is_empty() {
        return Err(EnrolError::NoCode);
    }
    let code = heso_receipt::enrolment::parse(code).map_err(EnrolError::BadCode)?;
    let client = Client::new(&url).map_err(|e| EnrolError::BadUrl(e.to_string()))?;
    let account = format!("device-{}", hex::encode(rand::rng().random::<[u8; 8]>()));
    let key = match custody_for_new_key(keychain)? {
        Custody::Keychain => DeviceKey::create(keychain, &account)?,
        Custody::Signer => DeviceKey::create_in_signer(&account)?,
    };
    let registered = register(&client, &key, &code, label)
        .await
        .and_then(|profile| Ok(profile.save(home).map(|()| profile)?));
    match registered {
        Ok(profile) => Ok((profile, key)),
        Err(e) => {
            // Leave no orphan key behind.
            let _ = key.delete();
            Err(e)
        }
    }
}

/// Redeems `code` for `key`, checks the operator keys against the code and,
/// with the signer, has the person confirm there. The profile is not saved.
async fn register(
    client: &Client,
    key: &DeviceKey,
    code: &heso_receipt::enrolment::EnrolmentCode,
    label: &str,
) -> Result<Profile, EnrolError> {
    // Only the secret goes to the control plane; the check stays here.
    let answer = client
        .enroll(key, &code.secret, label)
        .await
        .map_err(|e| match e {
            ClientError::Unreachable { .. } => EnrolError::Unreachable(e),
            e => EnrolError::Refused(e),
        })?;
    let operator_keys: Vec<String> = answer["operator_keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if operator_keys.is_empty() {
        return Err(EnrolError::NoOperatorKeys);
    }
    if heso_receipt::enrolment::operator_keys_check(&operator_keys) != code.check {
        return Err(EnrolError::OperatorKeysMismatch);
    }
    let profile = Profile {
        url: client.base_url().to_owned(),
        org: answer["org"].as_str().unwrap_or_default().to_owned(),
        label: answer["label"].as_str().unwrap_or(label).to_owned(),
        key_account: key.account().to_owned(),
        approver_public_key: key.public_b64(),
        operator_keys,
        sla_minutes: answer["sla_minutes"].as_u64().unwrap_or(30) as u32,
        custody: key.custody(),
    };
    pin_in_signer(key, &profile, &code.check)?;
    Ok(profile)
}

/// Moves an enrolled device's key out of the keychain, where any program of
/// the user can read it, into the system signer: a new key made there is
/// enrolled with `code` (a new one-time code of the same org; the person
/// confirms at the system's prompt), the old key retires for it on the
/// control plane and leaves the keychain, and the profile names the new key.
/// The journal stays.
pub async fn protect(
    home: &Path,
    keychain: Keychain,
    code: &str,
    label: &str,
) -> Result<Protected, EnrolError> {
    let old = Profile::load(home)?;
    if old.custody == Custody::Signer {
        return Err(EnrolError::AlreadyProtected);
    }
    if !signer_answers() {
        return Err(EnrolError::NoSigner);
    }
    let code = heso_receipt::enrolment::parse(code).map_err(EnrolError::BadCode)?;
    let old_key = DeviceKey::open(keychain, &old.key_account, &old.approver_public_key)?;
    let client = Client::new(&old.url).map_err(|e| EnrolError::BadUrl(e.to_string()))?;
    let account = format!("device-{}", hex::encode(rand::rng().random::<[u8; 8]>()));
    let key = DeviceKey::create_in_signer(&account)?;
    let registered = register(&client, &key, &code, label).await.and_then(|p| {
        if p.org == old.org {
            Ok(p)
        } else {
            Err(EnrolError::OtherOrg {
                code_org: p.org,
                enrolled_org: old.org.clone(),
            })
        }
    });
    let profile = match registered {
        Ok(profile) => profile,
        Err(e) => {
            let _ = key.delete();
            return Err(e);
        }
    };
    // The profile names the new key before the old one retires: a device
    // stopped in between still works, with the key the person just enrolled.
    profile.save(home)?;
    let body = serde_json::json!({"successor_public_key": key.public_b64()});
    let retired = client
        .call(
            &old_key,
            reqwest::Method::POST,
            "/v1/approver/retire",
            Some(&body),
        )
        .await
        .map(|_| ());
    let old_fingerprint = old_key.fingerprint();
    // Gone from the keychain whatever the control plane said: the profile
    // no longer names it, and a copy is all an agent ever needed.
    let _ = old_key.delete();
    Ok(Protected {
        profile,
        key,
        old_fingerprint,
        retired,
    })
}

/// Where a new key goes: the system signer when one answers (unless
/// `HESO_APPROVER_KEY_CUSTODY=keychain` asks for the keychain), else the
/// keychain. `HESO_APPROVER_KEY_CUSTODY=signer` insists on the signer.
fn custody_for_new_key(keychain: Keychain) -> Result<Custody, KeyError> {
    if keychain == Keychain::Installed {
        return Ok(Custody::Keychain);
    }
    match std::env::var("HESO_APPROVER_KEY_CUSTODY").as_deref() {
        Ok("keychain") => Ok(Custody::Keychain),
        Ok("signer") => Ok(Custody::Signer),
        Ok(other) => Err(KeyError::Signer(format!(
            "HESO_APPROVER_KEY_CUSTODY is `{other}`; use `signer` or `keychain`"
        ))),
        Err(_) if signer_answers() => Ok(Custody::Signer),
        Err(_) => Ok(Custody::Keychain),
    }
}

/// Whether a system signer answers on this device's system bus.
pub fn signer_answers() -> bool {
    crate::signer::client::available()
}

/// With the signer: the person confirms this enrolment at the system's
/// prompt, and the signer pins the operator keys itself (it never takes
/// them from the profile, which any program of the user may rewrite).
fn pin_in_signer(key: &DeviceKey, profile: &Profile, code_check: &str) -> Result<(), KeyError> {
    let Some(signer) = key.signer() else {
        return Ok(());
    };
    let enrolment = crate::signer::protocol::Enrolment {
        url: profile.url.clone(),
        org: profile.org.clone(),
        label: profile.label.clone(),
        operator_keys: profile.operator_keys.clone(),
        sla_minutes: profile.sla_minutes,
        code_check: code_check.to_owned(),
    };
    signer.enrol(key.account(), &enrolment)
}

/// Removes this device: the key from the keychain, then the profile. The
/// journal stays, so the audit of what was signed survives.
pub fn remove_device(home: &Path, keychain: Keychain) -> Result<(), EnrolError> {
    let profile = Profile::load(home)?;
    match DeviceKey::open_in(
        profile.custody,
        keychain,
        &profile.key_account,
        &profile.approver_public_key,
    ) {
        Ok(key) => key.delete()?,
        // Already gone from the keychain: removing the profile finishes the job.
        Err(KeyError::Missing(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Profile::remove(home).map_err(|e| {
        EnrolError::Profile(ProfileError::Write {
            path: home.join("profile.json"),
            error: e.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert_eq!(
            check_url(" http://127.0.0.1:8787/ ").unwrap(),
            "http://127.0.0.1:8787"
        );
        assert!(check_url("127.0.0.1:8787").is_err());
        assert!(check_url("https://").is_err());
        assert!(check_url("ftp://x").is_err());
        assert_eq!(
            check_url("https://cp.example.com/").unwrap(),
            "https://cp.example.com"
        );
        for local in [
            "http://localhost:8787",
            "http://[::1]:8787/",
            "http://127.0.0.2",
        ] {
            assert!(check_url(local).is_ok(), "{local}");
        }
        for remote in [
            "http://cp.example.com",
            "http://10.0.0.5:8787",
            "http://127.0.0.1.example.com",
            "http://127.0.0.1@evil.example",
            "http://[2001:db8::1]:80",
        ] {
            assert!(
                matches!(check_url(remote), Err(EnrolError::BadUrl(_))),
                "{remote}"
            );
        }
    }
}
