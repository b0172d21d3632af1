//! Operator administration: orgs, enrolment codes, policy. Used by the
//! command line and by the demo.

use crate::store::{Store, StoreError};
use crate::{clock, secrets};
use heso_receipt::keys;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new org and its API key, which is shown once and stored only hashed.
pub struct NewOrg {
    pub name: String,
    pub api_key: String,
}

pub fn create_org(
    store: &Store,
    name: &str,
    operator_key: &str,
    sla_minutes: i64,
) -> Result<NewOrg, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::Invalid("the org name must not be empty".into()));
    }
    if !(1..=60 * 24 * 30).contains(&sla_minutes) {
        return Err(AdminError::Invalid(
            "the SLA must be between 1 minute and 30 days".into(),
        ));
    }
    let key = keys::decode_public_key(operator_key)
        .map_err(|e| AdminError::Invalid(format!("--operator-key: {e}")))?;
    let api_key = secrets::new_api_key();
    store.create_org(
        name,
        &secrets::secret_hash("api-key", &api_key),
        &keys::public_key_b64(&key),
        sla_minutes,
        clock::now(),
    )?;
    Ok(NewOrg {
        name: name.to_owned(),
        api_key,
    })
}

/// A one-time enrolment code for a device, valid for `ttl_hours`.
pub fn issue_enrolment_code(
    store: &Store,
    org: &str,
    label: &str,
    ttl_hours: i64,
) -> Result<String, AdminError> {
    let org = store
        .org_by_name(org)?
        .ok_or_else(|| AdminError::Invalid(format!("no org named `{org}`")))?;
    if !(1..=24 * 30).contains(&ttl_hours) {
        return Err(AdminError::Invalid(
            "the code lifetime must be between 1 hour and 30 days".into(),
        ));
    }
    let code = secrets::new_enrolment_code();
    store.add_enrolment_code(
        org.id,
        &secrets::secret_hash("enrolment-code", &secrets::normalize_code(&code)),
        label.trim(),
        clock::now() + ttl_hours * 3600,
    )?;
    Ok(code)
}

pub fn set_policy(store: &Store, org: &str, toml: &str) -> Result<String, AdminError> {
    let found = store
        .org_by_name(org)?
        .ok_or_else(|| AdminError::Invalid(format!("no org named `{org}`")))?;
    store.set_policy(found.id, toml)?;
    Ok(blake3::hash(toml.as_bytes()).to_hex().to_string())
}
