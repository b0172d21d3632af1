//! The approver API the HESO Approver app uses. Every request is signed by
//! the device key (see `auth::verify_device`).

use crate::auth::{Enrolled, Signed};
use crate::body::parse_json;
use crate::error::{ApiError, ApiResult};
use crate::operator_api::{
    already_decided, already_voted, check_action_hash, check_token, expired, stored_receipt,
    token_decision,
};
use crate::pending_pages::{page_for, PageRequest};
use crate::rate_limit::{self, ClientAddress};
use crate::roster_text::{self, RosterField};
use crate::store::{deciding_vote_in, Standing, VoteOutcome, VoteRow};
use crate::views::{roster_labels, ApprovalItem, ApprovalView};
use crate::{clock, secrets, AppState};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_receipt::{
    canonical_bytes, cosign_payload, enrolment, keys, quorum_cosign_payload, ApproverRecord,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enroll {
    code: String,
    public_key: String,
    #[serde(default)]
    label: String,
    /// Where the device says its key is held: `signer` or `keychain`
    /// (self-reported, shown as such on the roster).
    #[serde(default)]
    protection: Option<Protection>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    Signer,
    Keychain,
}

impl Protection {
    fn word(self) -> &'static str {
        match self {
            Protection::Signer => "signer",
            Protection::Keychain => "keychain",
        }
    }
}

/// `POST /v1/approver/enroll`: a one-time code from the operator adds this
/// device to the org's roster. Returns the operator keys to pin.
///
/// Only a failed redemption counts against the enrolment limits (see
/// `rate_limit`): junk costs no one else their attempts.
pub async fn enroll(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Signed { device, body }: Signed,
) -> ApiResult<Json<Value>> {
    let request: Enroll = parse_json(&body)?;
    if request.public_key != device.b64 {
        return Err(ApiError::unprocessable(
            "key_mismatch",
            "public_key must be the key that signed the request",
        ));
    }
    // The secret alone, or the whole code read out (secret, then the check of
    // the operator keys, which is the device's to compare).
    let mut secret = enrolment::normalize(&request.code);
    if secret.len() == enrolment::SECRET_LEN + enrolment::CHECK_LEN && secret.is_ascii() {
        secret.truncate(enrolment::SECRET_LEN);
    }
    let code_hash = secrets::secret_hash("enrolment-code", &secret);
    let public_key = device.b64.clone();
    let label = roster_text::checked(RosterField::Label, &request.label)?;
    let protection = request.protection;
    rate_limit::may_try_enrolment(&state, client).await?;
    let redeemed = state
        .db(move |s| {
            s.redeem_enrolment_code(
                &code_hash,
                &public_key,
                &label,
                protection.map(Protection::word),
                clock::now(),
            )
        })
        .await?;
    let (org_id, label) = match redeemed {
        Ok(redeemed) => redeemed,
        Err(why) => {
            rate_limit::count_failed_enrolment(&state, client).await;
            return Err(ApiError::forbidden("enrolment_refused", why));
        }
    };
    let org = state
        .db(move |s| s.org_by_id(org_id))
        .await?
        .expect("the org of a code exists");
    let operator_keys = state.db(move |s| s.operator_keys(org_id)).await?;
    tracing::info!(org = %org.name, device = %device.b64, "device enrolled");
    Ok(Json(json!({
        "org": org.name,
        "label": label,
        "approver_public_key": device.b64,
        "operator_keys": operator_keys,
        "sla_minutes": org.sla_minutes,
    })))
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// Hold the request up to this many seconds while `since` is current.
    wait: Option<u64>,
    /// The `version` of the caller's last answer.
    since: Option<u64>,
    /// Page cursor: `next_before` of the previous page.
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /v1/approver/approvals`: pending approvals, newest first, with a
/// change `version`. With `wait` and `since`, answers as soon as the version
/// moves past `since` (an approval opened or was decided), or after `wait`
/// seconds. Either way the page is the one this device may see
/// (`pending_pages`).
pub async fn list_pending(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
    Enrolled {
        approver, device, ..
    }: Enrolled,
) -> ApiResult<impl IntoResponse> {
    let Query(query) = query?;
    let org = approver.org_id;
    let mut changes = state.changes().subscribe(org);
    if let (Some(wait), Some(since)) = (query.wait, query.since) {
        let wait = Duration::from_secs(wait.min(state.config().max_wait_secs));
        let moved = async {
            loop {
                if *changes.borrow_and_update() != since {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::select! {
            _ = tokio::time::timeout(wait, moved) => {}
            _ = state.draining() => {}
        }
    }
    let request = PageRequest {
        org,
        version: *changes.borrow(),
        before: query.before,
        limit: query.limit.unwrap_or(100).clamp(1, 500),
        viewer: device.key.to_bytes(),
    };
    let body = page_for(&state, request).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}

/// `GET /v1/approver/approvals/{action_hash}`: one approval in any state.
pub async fn show(
    State(state): State<AppState>,
    Path(action_hash): Path<String>,
    Enrolled {
        approver, device, ..
    }: Enrolled,
) -> ApiResult<Json<ApprovalItem>> {
    let org = approver.org_id;
    check_action_hash(&action_hash)?;
    let (approval, receipt, votes, labels) = state
        .db(move |s| {
            let approval = s.approval(org, &action_hash)?;
            let receipt = s.receipt(org, &action_hash)?;
            let votes = match &approval {
                Some(a) => s.votes(&a.id)?,
                None => Vec::new(),
            };
            Ok((approval, receipt, votes, roster_labels(s, org)?))
        })
        .await?;
    match (approval, receipt) {
        // Routed to other approvers: not this device's to see.
        (Some(approval), Some(receipt)) if receipt.awaiting && approval.admits(&device.b64) => Ok(
            Json(ApprovalItem::of(&approval, &receipt.text, &votes, &labels)),
        ),
        _ => Err(ApiError::not_found(
            "no approval with a suspended receipt for this action_hash",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    /// The ApproverRecord as the exact JSON text that was signed into the body.
    record: String,
    co_sig_b64: String,
    token_b64: String,
}

/// `POST /v1/approver/approvals/{action_hash}/decision`: the device's
/// decision with its co-signature and token. Re-sending the same decision is
/// answered as recorded; a different one on a decided approval is 409.
pub async fn decide(
    State(state): State<AppState>,
    Path(action_hash): Path<String>,
    Enrolled {
        device,
        approver,
        body,
    }: Enrolled,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let org = approver.org_id;
    check_action_hash(&action_hash)?;
    let request: Decide = parse_json(&body)?;

    let hash = action_hash.clone();
    let (approval, stored) = state
        .db(move |s| Ok((s.approval(org, &hash)?, s.receipt(org, &hash)?)))
        .await?;
    let (Some(approval), Some(stored)) = (approval, stored.filter(|r| r.awaiting)) else {
        return Err(ApiError::not_found(
            "no approval with a suspended receipt for this action_hash",
        ));
    };
    let co_sig_text = request.co_sig_b64.trim().to_owned();

    // Idempotent retry: the same device sending the same decision again.
    // Another vote of this device, or any vote once resolved, is a conflict.
    let approval_id = approval.id.clone();
    let votes = state.db(move |s| s.votes(&approval_id)).await?;
    let mine = votes.iter().find(|v| v.approver_key == device.b64);
    if let Some(mine) = mine {
        if mine.record.as_deref() == Some(request.record.as_str())
            && mine.co_sig.as_deref() == Some(co_sig_text.as_str())
        {
            return Ok((
                StatusCode::OK,
                Json(
                    json!({"outcome": "already_recorded", "approval": ApprovalView::of(&approval)}),
                ),
            ));
        }
    }
    if let Some(deciding) = deciding_vote_in(&approval.status, &votes) {
        return Err(already_decided(deciding));
    }
    if let Some(mine) = mine {
        return Err(already_voted(mine));
    }
    if !approval.admits(&device.b64) {
        return Err(ApiError::forbidden(
            "not_on_roster",
            "this device is not on the roster of this approval",
        ));
    }

    let record: ApproverRecord = serde_json::from_str(&request.record).map_err(|e| {
        ApiError::unprocessable(
            "invalid_record",
            format!("record is not an ApproverRecord: {e}"),
        )
    })?;
    if !record.unsigned.is_empty() {
        let names: Vec<&str> = record.unsigned.keys().map(String::as_str).collect();
        return Err(ApiError::unprocessable(
            "invalid_record",
            format!(
                "record has fields that are not part of an ApproverRecord: {}",
                names.join(", ")
            ),
        ));
    }
    if record.approver_identity != device.b64 {
        return Err(ApiError::unprocessable(
            "identity_mismatch",
            "record.approver_identity must be the device key that signs this request",
        ));
    }
    let decision = token_decision(record.decision.as_str())?;
    let suspended = stored_receipt(&stored.text)?;
    if suspended.content.agent_identity == device.b64 {
        return Err(ApiError::forbidden(
            "self_approval",
            "the operator cannot approve its own action",
        ));
    }
    // A quorum's legs sign the quorum base with their own record; a single
    // approver signs the promoted L1 body.
    let payload = if approval.threshold > 1 {
        let threshold = u32::try_from(approval.threshold)
            .map_err(|_| ApiError::internal("threshold out of range"))?;
        quorum_cosign_payload(&suspended.content, threshold, &approval.roster, &record)
    } else {
        cosign_payload(&suspended.content, &record)
    }
    .map_err(|e| ApiError::conflict("not_promotable", e.to_string()))?;
    let co_sig = keys::decode_signature(&co_sig_text)
        .map_err(|e| ApiError::unprocessable("invalid_cosignature", e.to_string()))?;
    if device.key.verify_strict(&payload, &co_sig).is_err() {
        return Err(ApiError::forbidden(
            "cosignature_refused",
            "the co-signature does not verify over the L1 body for this record",
        ));
    }
    let token_bytes = STANDARD
        .decode(request.token_b64.trim())
        .map_err(|_| ApiError::unprocessable("invalid_token", "token_b64 is not base64"))?;
    let canonical =
        canonical_bytes(&suspended.content).map_err(|e| ApiError::internal(e.to_string()))?;
    let token = check_token(
        &state,
        org,
        &token_bytes,
        &canonical,
        &approval.rule_id,
        decision,
    )
    .await?;
    if token.approver_key != device.key {
        return Err(ApiError::forbidden(
            "token_refused",
            "the token is signed by another key",
        ));
    }

    let vote = VoteRow {
        approval_id: approval.id.clone(),
        approver_key: device.b64.clone(),
        decision: record.decision.as_str().to_owned(),
        record: Some(request.record.clone()),
        co_sig: Some(co_sig_text),
        token: STANDARD.encode(&token_bytes),
        reason: record.reason.clone(),
        via: "approver".into(),
        created_at: clock::now(),
    };
    let nonce_hex = hex::encode(token.nonce);
    match state
        .db(move |s| s.record_vote(org, &vote, &nonce_hex))
        .await?
    {
        VoteOutcome::Recorded => state.changed(org).await,
        VoteOutcome::AlreadyDecided(existing) => return Err(already_decided(&existing)),
        VoteOutcome::AlreadyVoted(existing) => return Err(already_voted(&existing)),
        VoteOutcome::Expired => {
            // Resolved just now, if the sweep had not got to it: lists move on.
            state.changed(org).await;
            return Err(expired());
        }
        VoteOutcome::ReplayedNonce => {
            return Err(ApiError::forbidden(
                "token_refused",
                "token nonce has been seen before (replay)",
            ))
        }
    }
    tracing::info!(action_hash = %action_hash, decision = record.decision.as_str(), device = %device.b64, "decision recorded");
    let row = state
        .db(move |s| s.approval(org, &action_hash))
        .await?
        .expect("the approval exists");
    Ok((
        StatusCode::OK,
        Json(json!({"outcome": "recorded", "approval": ApprovalView::of(&row)})),
    ))
}

/// `GET /v1/approver/cosignatures`: every decision recorded under this
/// device's key, with the final L1 receipt once the operator pushed it.
pub async fn cosignatures(
    State(state): State<AppState>,
    Enrolled {
        device, approver, ..
    }: Enrolled,
) -> ApiResult<Json<Value>> {
    let org = approver.org_id;
    let key = device.b64.clone();
    let rows = state.db(move |s| s.cosignatures_by(org, &key)).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "action_hash": row.approval.action_hash,
                "approval_id": row.approval.id,
                "rule_id": row.approval.rule_id,
                "status": row.approval.status,
                "decision": row.vote.decision,
                "via": row.vote.via,
                "record": row.vote.record,
                "co_sig_b64": row.vote.co_sig,
                "decided_at": clock::rfc3339(row.vote.created_at),
                "final_receipt": row.final_receipt.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()),
            })
        })
        .collect();
    Ok(Json(
        json!({"approver_public_key": device.b64, "items": items}),
    ))
}

/// `GET /v1/approver/roster`: who can approve in this device's org, so a
/// person sees every key whose votes count (and which do not yet).
pub async fn roster(
    State(state): State<AppState>,
    Enrolled {
        device, approver, ..
    }: Enrolled,
) -> ApiResult<Json<Value>> {
    let org_id = approver.org_id;
    let (org, entries) = state
        .db(move |s| Ok((s.org_by_id(org_id)?, s.roster(org_id)?)))
        .await?;
    let items: Vec<Value> = entries
        .iter()
        .map(|e| {
            let fingerprint = keys::decode_public_key(&e.public_key)
                .map(|k| keys::fingerprint(&k))
                .unwrap_or_default();
            json!({
                "label": e.label,
                "fingerprint": fingerprint,
                "source": e.source,
                "confirmed": e.standing == Standing::Confirmed,
                "revoked": e.standing == Standing::Revoked,
                "protection": e.protection,
                "you": e.public_key == device.b64,
            })
        })
        .collect();
    Ok(Json(
        json!({"org": org.map(|o| o.name).unwrap_or_default(), "items": items}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retire {
    /// The key that takes over: already enrolled, confirmed, in this org.
    successor_public_key: String,
}

/// `POST /v1/approver/retire`: this device key stands down for a successor
/// already on the roster (a key moved into the system signer): it is
/// revoked at once and every request or vote it signs is refused from now
/// on. Anyone holding the key can do this, which is the point: a key that
/// was exposed is worth nothing once retired.
pub async fn retire(
    State(state): State<AppState>,
    Enrolled {
        device,
        approver,
        body,
    }: Enrolled,
) -> ApiResult<Json<Value>> {
    let request: Retire = parse_json(&body)?;
    let org = approver.org_id;
    let successor = request.successor_public_key.trim().to_owned();
    // Checked before it reaches the database: a malformed key (a NUL byte,
    // which PostgreSQL refuses in text) is the caller's error, not ours.
    let successor_key = keys::decode_public_key(&successor).map_err(|e| {
        ApiError::unprocessable(
            "invalid_successor",
            format!("successor_public_key is not an Ed25519 public key: {e}"),
        )
    })?;
    if successor == device.b64 {
        return Err(ApiError::unprocessable(
            "invalid_successor",
            "a key cannot succeed itself",
        ));
    }
    let wanted = successor.clone();
    let standing = state.db(move |s| s.standing(org, &wanted)).await?;
    if standing != Some(Standing::Confirmed) {
        return Err(ApiError::unprocessable(
            "invalid_successor",
            "the successor must be a confirmed approver of this org (enrol it first)",
        ));
    }
    let key_id = approver.key_id.clone();
    let revoked = state
        .db(move |s| s.revoke_approver(org, &key_id, clock::now()))
        .await?;
    if !revoked {
        return Err(ApiError::internal("the retiring entry was not found"));
    }
    state.changed(org).await;
    tracing::info!(device = %device.b64, successor = %successor, "device key retired");
    Ok(Json(
        json!({"status": "retired", "successor_fingerprint": keys::fingerprint(&successor_key)}),
    ))
}
