//! Operator administration: orgs, enrolment codes, policy. Used by the
//! command line and by the demo.

use crate::store::{OrgId, RosterEntry, Standing, Store, StoreError};
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

/// A one-time enrolment code for a device, valid for `ttl_hours`; the
/// device that redeems it joins `groups`.
pub fn issue_enrolment_code(
    store: &Store,
    org: &str,
    label: &str,
    ttl_hours: i64,
    groups: &[String],
) -> Result<String, AdminError> {
    let org = store
        .org_by_name(org)?
        .ok_or_else(|| AdminError::Invalid(format!("no org named `{org}`")))?;
    for group in groups {
        check_group_name(group)?;
    }
    if !(1..=24 * 30).contains(&ttl_hours) {
        return Err(AdminError::Invalid(
            "the code lifetime must be between 1 hour and 30 days".into(),
        ));
    }
    let secret = secrets::new_enrolment_secret();
    store.add_enrolment_code(
        org.id,
        &secrets::secret_hash("enrolment-code", &secret),
        label.trim(),
        clock::now() + ttl_hours * 3600,
        groups,
    )?;
    // The device checks the operator keys it is given against this code.
    let operator_keys = store.operator_keys(org.id)?;
    Ok(heso_receipt::enrolment::format_code(
        &secret,
        &operator_keys,
    ))
}

/// Sets the org's policy, refused (with the line) when the evaluator refuses
/// it or a rule's `threshold` is not a number of approvers.
pub fn set_policy(store: &Store, org: &str, toml: &str) -> Result<String, AdminError> {
    let found = store
        .org_by_name(org)?
        .ok_or_else(|| AdminError::Invalid(format!("no org named `{org}`")))?;
    let policy = crate::policy::Policy::parse(toml)
        .map_err(|e| AdminError::Invalid(format!("the policy is refused: {}", e.located())))?;
    for rule in policy.rules() {
        rule.min_threshold(crate::routing::MAX_THRESHOLD)
            .map_err(|e| AdminError::Invalid(format!("the policy is refused: {e}")))?;
    }
    store.set_policy(found.id, toml)?;
    Ok(blake3::hash(toml.as_bytes()).to_hex().to_string())
}

/// A group name as policies name them: not empty, no surrounding spaces, short.
fn check_group_name(name: &str) -> Result<(), AdminError> {
    if name.is_empty()
        || name.trim() != name
        || name.chars().count() > 64
        || name.chars().any(char::is_control)
    {
        return Err(AdminError::Invalid(format!(
            "`{}` is not a group name: 1 to 64 characters, no control characters or surrounding spaces",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Adds (or with `remove`, takes out) a roster entry of a group.
pub fn change_group(
    store: &Store,
    org: &str,
    group: &str,
    key_id: &str,
    remove: bool,
) -> Result<(), AdminError> {
    check_group_name(group)?;
    let org = org_id(store, org)?;
    let done = if remove {
        store.remove_from_group(org, group, key_id)?
    } else {
        store.add_to_group(org, group, key_id)?
    };
    if !done {
        return Err(AdminError::Invalid(if remove {
            format!("`{key_id}` is not in the group `{group}`")
        } else {
            format!("no roster entry with key id `{key_id}`")
        }));
    }
    Ok(())
}

/// Every group with its members' key ids.
pub fn groups(store: &Store, org: &str) -> Result<Vec<(String, Vec<String>)>, AdminError> {
    let org = org_id(store, org)?;
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (name, key_id) in store.groups(org)? {
        match out.last_mut() {
            Some((last, members)) if *last == name => members.push(key_id),
            _ => out.push((name, vec![key_id])),
        }
    }
    Ok(out)
}

fn org_id(store: &Store, org: &str) -> Result<OrgId, AdminError> {
    Ok(store
        .org_by_name(org)?
        .ok_or_else(|| AdminError::Invalid(format!("no org named `{org}`")))?
        .id)
}

/// Lets keys registered through the org's API key vote without confirmation
/// (the vendor's own behaviour). The agent holds that key: whoever runs it
/// can then approve its own actions.
pub fn trust_api_approvers(store: &Store, org: &str, trust: bool) -> Result<(), AdminError> {
    store.set_trust_api_approvers(org_id(store, org)?, trust)?;
    Ok(())
}

/// Whether the org enrols only devices that report a system signer.
pub fn refuse_unprotected(store: &Store, org: &str, refuse: bool) -> Result<(), AdminError> {
    store.set_refuse_unprotected(org_id(store, org)?, refuse)?;
    Ok(())
}

/// What a device said of its key at enrolment, in words.
pub fn protection_words(protection: Option<&str>) -> &'static str {
    match protection {
        Some("signer") => "in a system signer, as the device reports",
        Some("keychain") => "NOT PROTECTED from the device's other programs, as the device reports",
        _ => "custody not reported",
    }
}

/// The org's roster.
pub fn roster(store: &Store, org: &str) -> Result<Vec<RosterEntry>, AdminError> {
    Ok(store.roster(org_id(store, org)?)?)
}

/// What an administrator can do to a roster entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterChange {
    Confirm,
    Revoke,
}

pub fn change_approver(
    store: &Store,
    org: &str,
    key_id: &str,
    change: RosterChange,
) -> Result<(), AdminError> {
    let org = org_id(store, org)?;
    let found = match change {
        RosterChange::Confirm => store.confirm_approver(org, key_id)?,
        RosterChange::Revoke => store.revoke_approver(org, key_id, clock::now())?,
    };
    if !found {
        return Err(AdminError::Invalid(format!(
            "no approver with key id `{key_id}` in this org (see `heso-control-plane approver list`)"
        )));
    }
    Ok(())
}

/// How an entry stands, in a word.
pub fn standing_word(standing: Standing) -> &'static str {
    match standing {
        Standing::Confirmed => "confirmed",
        Standing::Unconfirmed => "unconfirmed",
        Standing::Revoked => "revoked",
    }
}

/// The org's operator key fingerprints, for a person enrolling to compare.
pub fn operator_fingerprints(store: &Store, org: &str) -> Result<Vec<String>, AdminError> {
    let keys = store.operator_keys(org_id(store, org)?)?;
    Ok(keys
        .iter()
        .filter_map(|k| keys::decode_public_key(k).ok())
        .map(|k| keys::fingerprint(&k))
        .collect())
}
