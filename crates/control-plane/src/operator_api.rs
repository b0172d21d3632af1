//! The operator API, as the vendor SDK (`heso.cloud`) calls it.

use crate::auth::OperatorOrg;
use crate::body::{parse_json, RawBody};
use crate::error::{ApiError, ApiResult};
use crate::roster_text::{self, RosterField};
use crate::routing::{route, MAX_THRESHOLD};
use crate::store::{
    AppendOutcome, ApprovalRow, NewApproval, NewReceipt, OrgId, Standing, VoteOutcome, VoteRow,
};
use crate::views::ApprovalView;
use crate::{clock, secrets, AppState};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use heso_receipt::token::{self, TokenRequirements};
use heso_receipt::verify::Verifier;
use heso_receipt::{
    canonical::seal, canonical_bytes, keys, promote_to_l1, quorum_base, ApproverRecord, Content,
    DecisionPath, Receipt, TokenDecision, TrustLevel, VerdictKind,
};
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) fn check_action_hash(hash: &str) -> ApiResult<()> {
    if heso_receipt::canonical::is_lower_hex_64(hash) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_action_hash",
            "action_hash must be 64 lowercase hex characters",
        ))
    }
}

/// A receipt as the store holds it, parsed again.
pub(crate) fn stored_receipt(text: &str) -> ApiResult<Receipt> {
    serde_json::from_str(text)
        .map_err(|e| ApiError::internal(format!("stored receipt unreadable: {e}")))
}

/// Verify a receipt an operator of `org` sent: valid, nothing unsigned,
/// signed by one of the org's operator keys, which is also its `agent_identity`.
async fn verify_operator_receipt(
    state: &AppState,
    org: OrgId,
    receipt: Receipt,
) -> ApiResult<Receipt> {
    let verified = Verifier::default().verify(receipt);
    let verdict = &verified.verdict;
    if verdict.kind != VerdictKind::Valid {
        let detail = verdict.detail.clone().unwrap_or_default();
        return Err(ApiError::unprocessable(
            "receipt_invalid",
            format!(
                "the receipt does not verify: {} {detail}",
                verdict.kind.as_str()
            )
            .trim_end()
            .to_owned(),
        )
        .with(
            "verdict",
            json!({"kind": verdict.kind.as_str(), "detail": verdict.detail}),
        ));
    }
    if !verdict.unsigned_paths.is_empty() {
        return Err(ApiError::unprocessable(
            "receipt_unsigned_values",
            format!(
                "the receipt carries values no signature covers: {}",
                verdict.unsigned_paths.join(", ")
            ),
        ));
    }
    let receipt = verified.receipt.expect("a verified receipt parsed");
    // Session links (`suspended`, decisions, `completed`) are verified by
    // kind and carry no operator role; approvals and the log take actions.
    let Some(operator_key) = verified.operator_key else {
        return Err(ApiError::unprocessable(
            "session_link",
            format!(
                "a `{}` link of a gated action's session is not an action receipt",
                receipt.content.kind.map_or("?", |k| k.as_str())
            ),
        ));
    };
    let operator = keys::public_key_b64(&operator_key);
    let operator_keys = state.db(move |s| s.operator_keys(org)).await?;
    if !operator_keys.contains(&operator) {
        return Err(ApiError::forbidden(
            "unknown_operator_key",
            "the receipt is signed by a key that is not one of this org's operator keys",
        ));
    }
    if receipt.content.agent_identity != operator {
        return Err(ApiError::unprocessable(
            "agent_identity_mismatch",
            "the receipt's agent_identity is not the key that signed it",
        ));
    }
    Ok(receipt)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushReceipt {
    receipt: Value,
    #[serde(default)]
    supersedes_action_hash: Option<String>,
}

/// `POST /v1/receipts`
pub async fn push_receipt(
    State(state): State<AppState>,
    OperatorOrg(org): OperatorOrg,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let request: PushReceipt = parse_json(&body)?;
    let receipt: Receipt = serde_json::from_value(request.receipt).map_err(|e| {
        ApiError::unprocessable(
            "receipt_invalid",
            format!("the receipt is not a well-formed action receipt: {e}"),
        )
        .with(
            "verdict",
            json!({"kind": "Malformed", "detail": e.to_string()}),
        )
    })?;
    let receipt = verify_operator_receipt(&state, org.id, receipt).await?;
    let action_hash = receipt.content.action_hash.clone();
    let trust_level = receipt.content.trust_level;
    let awaiting = trust_level == TrustLevel::L0
        && receipt.content.policy.decision_path == DecisionPath::RequireApproval
        && request.supersedes_action_hash.is_none();

    // The log is what auditors rely on: an approver-signed receipt enters it
    // only as the promotion of a suspended receipt, with the decision and
    // co-signatures recorded here, whoever holds the API and operator keys.
    match (&request.supersedes_action_hash, trust_level) {
        (Some(old), _) => check_superseding(&state, org.id, old, &receipt).await?,
        (None, TrustLevel::L1) => {
            return Err(ApiError::unprocessable(
                "supersede_required",
                "an L1 receipt is accepted only as the promotion of the suspended receipt it supersedes (supersedes_action_hash), with the decision this control plane recorded",
            ))
        }
        (None, TrustLevel::L0) => {}
    }
    let text = serde_json::to_string(&receipt).expect("receipts serialize");
    let supersedes = request.supersedes_action_hash.clone();
    let outcome = state
        .db(move |s| {
            let new = NewReceipt {
                org: org.id,
                action_hash: &action_hash,
                trust_level: trust_level.as_str(),
                awaiting,
                text: &text,
                supersedes: supersedes.as_deref(),
            };
            s.append_receipt(&new, clock::now())
        })
        .await?;
    let (status, seq, entry_hash) = match outcome {
        AppendOutcome::Appended { seq, entry_hash } => {
            if awaiting && approval_exists(&state, org.id, &receipt.content.action_hash).await? {
                // An approval opened before its receipt becomes visible now.
                state.changed(org.id).await;
            }
            ("appended", seq, entry_hash)
        }
        AppendOutcome::Duplicate { seq, entry_hash } => ("duplicate", seq, entry_hash),
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({"status": status, "entry_hash": entry_hash, "seq": seq})),
    ))
}

async fn approval_exists(state: &AppState, org: OrgId, action_hash: &str) -> ApiResult<bool> {
    let hash = action_hash.to_owned();
    Ok(state.db(move |s| s.approval(org, &hash)).await?.is_some())
}

/// An L1 may replace a suspended L0 only when it is exactly the promotion of
/// that L0 with the decision and co-signature this control plane recorded.
async fn check_superseding(state: &AppState, org: OrgId, old: &str, l1: &Receipt) -> ApiResult<()> {
    let refuse = |message: String| ApiError::conflict("supersede_refused", message);
    if l1.content.trust_level != TrustLevel::L1 {
        return Err(ApiError::unprocessable(
            "supersede_refused",
            "only an L1 receipt can supersede a suspended receipt",
        ));
    }
    let old_hash = old.to_owned();
    let stored = state.db(move |s| s.receipt(org, &old_hash)).await?;
    let stored =
        stored.ok_or_else(|| ApiError::not_found(format!("no receipt with action_hash {old}")))?;
    if !stored.awaiting {
        return Err(refuse(format!(
            "receipt {old} is not a suspended receipt awaiting approval"
        )));
    }
    if let Some(by) = &stored.superseded_by {
        if by != &l1.content.action_hash {
            return Err(refuse(format!(
                "receipt {old} was already superseded by {by}"
            )));
        }
    }
    let old_hash = old.to_owned();
    let approval = state
        .db(move |s| s.approval(org, &old_hash))
        .await?
        .ok_or_else(|| refuse(format!("no approval was opened for {old}")))?;
    if approval.status != "approved" {
        return Err(refuse(format!("the approval for {old} is not approved")));
    }
    let approval_id = approval.id.clone();
    let votes = state.db(move |s| s.votes(&approval_id)).await?;
    let suspended = stored_receipt(&stored.text)?;
    if approval.threshold > 1 {
        return check_superseding_quorum(&approval, &votes, &suspended.content, l1).map_err(refuse);
    }
    let vote = votes
        .into_iter()
        .find(|v| v.decision == "approved")
        .ok_or_else(|| refuse(format!("the approval for {old} is not approved")))?;
    let (Some(record_text), Some(co_sig)) = (&vote.record, &vote.co_sig) else {
        return Err(refuse(
            "the approval was decided by token; there is no co-signature to assemble".into(),
        ));
    };
    let record: ApproverRecord = serde_json::from_str(record_text)
        .map_err(|e| ApiError::internal(format!("stored record unreadable: {e}")))?;
    let expected = promote_to_l1(&suspended.content, &record)
        .map_err(|e| refuse(format!("the suspended receipt cannot be promoted: {e}")))?;
    if expected != l1.content {
        return Err(refuse(
            "the L1 content is not the suspended content with the recorded decision".into(),
        ));
    }
    let approver = l1.signatures.iter().find(|s| s.key_id == "approver");
    if approver.is_none_or(|s| s.public_key != vote.approver_key || &s.signature != co_sig) {
        return Err(refuse(
            "the L1 approver signature is not the recorded co-signature".into(),
        ));
    }
    Ok(())
}

/// A quorum L1 may replace its suspended L0 only when it is the quorum base
/// with this approval's threshold and roster, and every leg is a vote this
/// control plane recorded, with its record and co-signature as recorded.
fn check_superseding_quorum(
    approval: &ApprovalRow,
    votes: &[VoteRow],
    suspended: &Content,
    l1: &Receipt,
) -> Result<(), String> {
    let threshold = u32::try_from(approval.threshold).map_err(|_| "threshold out of range")?;
    let quorum = l1
        .content
        .multi_approval
        .as_ref()
        .ok_or("this approval is a quorum; the L1 carries no multi_approval")?;
    let mut expected = quorum_base(suspended, threshold, &approval.roster)
        .map_err(|e| format!("the suspended receipt cannot be promoted: {e}"))?;
    if let Some(block) = &mut expected.multi_approval {
        block.approvers = quorum.approvers.clone();
    }
    let expected = seal(expected).map_err(|e| e.to_string())?;
    if expected != l1.content {
        return Err(
            "the L1 content is not the suspended content with this approval's threshold, roster and votes"
                .into(),
        );
    }
    for leg in l1.signatures.iter().filter(|s| s.key_id == "approver") {
        let recorded = votes
            .iter()
            .find(|v| v.approver_key == leg.public_key && v.decision == "approved");
        let record_matches = |v: &VoteRow| {
            let recorded: Option<ApproverRecord> = v
                .record
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok());
            recorded.is_some_and(|r| {
                quorum
                    .approvers
                    .iter()
                    .any(|c| c.approver_identity == leg.public_key && *c == r)
            })
        };
        match recorded {
            Some(v) if v.co_sig.as_deref() == Some(leg.signature.as_str()) && record_matches(v) => {
            }
            _ => {
                return Err(format!(
                    "the leg of {} is not a co-signature this control plane recorded",
                    leg.public_key
                ))
            }
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenApproval {
    action_hash: String,
    #[serde(default)]
    workflow: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    rule_id: String,
    #[serde(default = "one")]
    threshold: i64,
    #[serde(default)]
    matched_conditions: Vec<Value>,
    #[serde(default)]
    scope: String,
}

fn one() -> i64 {
    1
}

/// `POST /v1/approvals`: idempotent per action hash.
pub async fn open_approval(
    State(state): State<AppState>,
    OperatorOrg(org): OperatorOrg,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<ApprovalView>)> {
    let request: OpenApproval = parse_json(&body)?;
    check_action_hash(&request.action_hash)?;
    if !(1..=i64::from(MAX_THRESHOLD)).contains(&request.threshold) {
        return Err(ApiError::unprocessable(
            "invalid_threshold",
            format!("threshold must be between 1 and {MAX_THRESHOLD}"),
        ));
    }
    let hash = request.action_hash.clone();
    let stored = state.db(move |s| s.receipt(org.id, &hash)).await?;
    let suspended =
        match &stored {
            Some(stored) if !stored.awaiting => return Err(ApiError::conflict(
                "not_awaiting_approval",
                "the receipt under this action_hash is not a suspended receipt awaiting approval",
            )),
            Some(stored) => Some(stored_receipt(&stored.text)?.content),
            None => None,
        };
    let signed_rule = suspended.as_ref().map(|c| c.policy.rule_id.clone());
    let rule_id = match (request.rule_id.is_empty(), signed_rule) {
        (_, Some(signed)) if !request.rule_id.is_empty() && request.rule_id != signed => {
            return Err(ApiError::conflict(
                "rule_mismatch",
                format!(
                    "rule_id `{}` is not the receipt's rule `{signed}`",
                    request.rule_id
                ),
            ))
        }
        (true, Some(signed)) => signed,
        _ => request.rule_id.clone(),
    };
    if rule_id.is_empty() {
        return Err(ApiError::unprocessable(
            "missing_rule_id",
            "rule_id is required",
        ));
    }
    if !request.scope.is_empty() && request.scope != rule_id {
        return Err(ApiError::unprocessable(
            "scope_mismatch",
            format!(
                "scope `{}` must equal the rule id `{rule_id}`",
                request.scope
            ),
        ));
    }
    let hash = request.action_hash.clone();
    if let Some(existing) = state.db(move |s| s.approval(org.id, &hash)).await? {
        return Ok((StatusCode::CREATED, Json(ApprovalView::of(&existing))));
    }
    let now = clock::now();
    let routing = {
        let (org, requested, content) = (org.clone(), request.threshold, suspended);
        state
            .db(move |s| Ok(route(s, &org, content.as_ref(), requested, now)))
            .await??
    };
    let new = NewApproval {
        id: secrets::new_id("apr"),
        org_id: org.id,
        action_hash: request.action_hash,
        workflow: request.workflow,
        account: request.account,
        scope: rule_id.clone(),
        rule_id,
        threshold: routing.threshold,
        roster: routing.roster,
        matched_conditions: Value::from(request.matched_conditions).to_string(),
        opened_at: now,
        deadline_at: routing.deadline_at,
        groups: routing.groups,
        routing_note: routing.note,
        deadline_source: routing.deadline_source.to_owned(),
    };
    let (row, created) = state.db(move |s| s.open_approval(&new)).await?;
    // Whether its receipt is here yet is decided inside the store (a push
    // through another replica may land at this moment): wake lists anyway.
    if created {
        state.changed(org.id).await;
    }
    Ok((StatusCode::CREATED, Json(ApprovalView::of(&row))))
}

/// `GET /v1/approvals/{action_hash}`
pub async fn poll_approval(
    State(state): State<AppState>,
    OperatorOrg(org): OperatorOrg,
    Path(action_hash): Path<String>,
) -> ApiResult<Json<ApprovalView>> {
    let row = state
        .db(move |s| s.approval(org.id, &action_hash))
        .await?
        .ok_or_else(|| ApiError::not_found("no approval for this action_hash"))?;
    Ok(Json(ApprovalView::of(&row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitToken {
    token_b64: String,
    action_content: Value,
    #[serde(default)]
    required_scope: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

pub(crate) fn token_decision(text: &str) -> ApiResult<TokenDecision> {
    match text {
        "approved" => Ok(TokenDecision::Approved),
        "rejected" => Ok(TokenDecision::Rejected),
        other => Err(ApiError::unprocessable(
            "invalid_decision",
            format!("decision must be `approved` or `rejected`, not `{other}`"),
        )),
    }
}

/// What both vote paths check of a token: it verifies against the org's
/// roster for this approval's rule and the suspended content, its nonce is
/// fresh, and the voter is not an operator.
pub(crate) async fn check_token(
    state: &AppState,
    org: OrgId,
    token_bytes: &[u8],
    canonical_suspended: &[u8],
    rule_id: &str,
    decision: TokenDecision,
) -> ApiResult<heso_receipt::ApprovalToken> {
    let roster = state.db(move |s| s.roster_keys(org)).await?;
    let registered: Vec<_> = roster
        .iter()
        .filter_map(|k| keys::decode_public_key(k).ok())
        .collect();
    let parsed = heso_receipt::ApprovalToken::parse(token_bytes)
        .map_err(|e| ApiError::forbidden("token_refused", e.to_string()))?;
    let voter = keys::public_key_b64(&parsed.approver_key);
    match state.db(move |s| s.standing(org, &voter)).await? {
        Some(Standing::Unconfirmed) => {
            return Err(ApiError::forbidden(
                "approver_unconfirmed",
                "this approver key was registered with the org's API key and an administrator has not confirmed it (heso-control-plane approver confirm)",
            ))
        }
        Some(Standing::Revoked) => {
            return Err(ApiError::forbidden(
                "approver_revoked",
                "this approver key has been revoked",
            ))
        }
        _ => {}
    }
    let nonce_hex = hex::encode(parsed.nonce);
    let seen = state.db(move |s| s.nonce_seen(org, &nonce_hex)).await?;
    let requirements = TokenRequirements {
        canonical_suspended,
        now_unix_secs: clock::now().max(0) as u64,
        required_scope: rule_id,
        required_decision: decision,
        registered_keys: &registered,
    };
    let token = token::verify(token_bytes, &requirements, |_| seen)
        .map_err(|e| ApiError::forbidden("token_refused", e.to_string()))?;
    let voter = keys::public_key_b64(&token.approver_key);
    let operators = state.db(move |s| s.operator_keys(org)).await?;
    if operators.contains(&voter) {
        return Err(ApiError::forbidden(
            "self_approval",
            "an operator key cannot approve",
        ));
    }
    Ok(token)
}

/// The response to a vote on an approval that another vote already decided.
/// 409 for a vote after the approval's deadline.
pub(crate) fn expired() -> ApiError {
    ApiError::conflict(
        "expired",
        "the approval's deadline passed: it is rejected as expired and no vote counts",
    )
}

/// 409 for a second, different vote of the same key on a pending quorum.
pub(crate) fn already_voted(existing: &VoteRow) -> ApiError {
    vote_conflict(
        "already_voted",
        format!(
            "this device already voted on this approval ({})",
            existing.decision
        ),
        existing,
    )
}

pub(crate) fn already_decided(existing: &VoteRow) -> ApiError {
    vote_conflict(
        "already_decided",
        format!("this approval was already {}", existing.decision),
        existing,
    )
}

/// 409 with the vote that stands in the way, as `outcome`.
fn vote_conflict(code: &'static str, message: String, existing: &VoteRow) -> ApiError {
    ApiError::conflict(code, message).with(
        "outcome",
        serde_json::to_value(crate::views::DecisionView::of(existing)).unwrap(),
    )
}

/// `POST /v1/approvals/{action_hash}/submit-token`: the SDK's vote path.
pub async fn submit_token(
    State(state): State<AppState>,
    OperatorOrg(org): OperatorOrg,
    Path(action_hash): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<ApprovalView>> {
    let request: SubmitToken = parse_json(&body)?;
    let hash = action_hash.clone();
    let approval = state
        .db(move |s| s.approval(org.id, &hash))
        .await?
        .ok_or_else(|| ApiError::not_found("no approval for this action_hash"))?;
    let content: Content = serde_json::from_value(request.action_content).map_err(|e| {
        ApiError::unprocessable(
            "invalid_content",
            format!("action_content is not a receipt content: {e}"),
        )
    })?;
    let canonical = canonical_bytes(&content)
        .map_err(|e| ApiError::unprocessable("invalid_content", e.to_string()))?;
    if heso_receipt::canonical::hash_hex(&canonical) != action_hash {
        return Err(ApiError::conflict(
            "content_hash_mismatch",
            "action_content does not hash to this action_hash",
        ));
    }
    let decision = token_decision(&request.decision)?;
    if !request.required_scope.is_empty() && request.required_scope != approval.rule_id {
        return Err(ApiError::forbidden(
            "token_refused",
            format!(
                "required_scope `{}` is not this approval's rule `{}`",
                request.required_scope, approval.rule_id
            ),
        ));
    }
    let deciding = approval.clone();
    if let Some(existing) = state.db(move |s| s.deciding_vote(&deciding)).await? {
        return Err(already_decided(&existing));
    }
    // A token carries no co-signature, and a quorum receipt needs each leg's.
    if approval.threshold > 1 {
        return Err(ApiError::unprocessable(
            "quorum_needs_cosignatures",
            "a k-of-n approval is decided by its approvers' co-signatures through the approver API",
        ));
    }
    let token_bytes = STANDARD
        .decode(request.token_b64.trim())
        .map_err(|_| ApiError::unprocessable("invalid_token", "token_b64 is not base64"))?;
    let token = check_token(
        &state,
        org.id,
        &token_bytes,
        &canonical,
        &approval.rule_id,
        decision,
    )
    .await?;
    let vote = VoteRow {
        approval_id: approval.id.clone(),
        approver_key: keys::public_key_b64(&token.approver_key),
        decision: token.decision.as_str().to_owned(),
        record: None,
        co_sig: None,
        token: STANDARD.encode(&token_bytes),
        reason: request.reason,
        via: "token".into(),
        created_at: clock::now(),
    };
    let nonce_hex = hex::encode(token.nonce);
    match state
        .db(move |s| s.record_vote(org.id, &vote, &nonce_hex))
        .await?
    {
        VoteOutcome::Recorded => state.changed(org.id).await,
        VoteOutcome::AlreadyDecided(existing) | VoteOutcome::AlreadyVoted(existing) => {
            return Err(already_decided(&existing))
        }
        VoteOutcome::Expired => {
            // Resolved just now, if the sweep had not got to it: lists move on.
            state.changed(org.id).await;
            return Err(expired());
        }
        VoteOutcome::ReplayedNonce => {
            return Err(ApiError::forbidden(
                "token_refused",
                "token nonce has been seen before (replay)",
            ))
        }
    }
    let row = state
        .db(move |s| s.approval(org.id, &action_hash))
        .await?
        .expect("the approval exists");
    Ok(Json(ApprovalView::of(&row)))
}

/// `GET /v1/approvals/{action_hash}/assembly`: the parts the operator needs
/// for `heso.finalize_l1`, once approved with a co-signature.
pub async fn assembly(
    State(state): State<AppState>,
    OperatorOrg(org): OperatorOrg,
    Path(action_hash): Path<String>,
) -> ApiResult<Json<Value>> {
    let hash = action_hash.clone();
    let approval = state
        .db(move |s| s.approval(org.id, &hash))
        .await?
        .ok_or_else(|| ApiError::not_found("no approval for this action_hash"))?;
    if approval.status != "approved" {
        return Err(ApiError::conflict(
            "not_approved",
            format!("the approval is {}, not approved", approval.status),
        ));
    }
    let approval_id = approval.id.clone();
    let votes = state.db(move |s| s.votes(&approval_id)).await?;
    let legs: Vec<&VoteRow> = votes.iter().filter(|v| v.decision == "approved").collect();
    let mut parts = Vec::with_capacity(legs.len());
    for vote in &legs {
        let (Some(record), Some(co_sig)) = (&vote.record, &vote.co_sig) else {
            return Err(ApiError::conflict(
                "no_cosignature",
                "approved by token: there is no co-signature to assemble an L1 receipt from",
            ));
        };
        parts.push(json!({"record": record, "approver_pubkey_b64": vote.approver_key, "co_sig_b64": co_sig}));
    }
    let roster = match approval.threshold {
        1 => legs.iter().map(|v| v.approver_key.clone()).collect(),
        _ => approval.roster.clone(),
    };
    let stored = state
        .db(move |s| s.receipt(org.id, &action_hash))
        .await?
        .ok_or_else(|| {
            ApiError::conflict("no_receipt", "the suspended receipt was never pushed")
        })?;
    let suspended = stored_receipt(&stored.text)?;
    Ok(Json(json!({
        "legs": parts,
        "threshold": approval.threshold,
        "roster": roster,
        "suspended_content": suspended.content,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterApprover {
    key_id: String,
    public_key: String,
    #[serde(default)]
    label: String,
}

/// `POST /v1/orgs/register-approver-pubkey`: upsert by `key_id`.
pub async fn register_approver(
    State(state): State<AppState>,
    OperatorOrg(org): OperatorOrg,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let request: RegisterApprover = parse_json(&body)?;
    let key_id = roster_text::checked(RosterField::KeyId, &request.key_id)?;
    let label = roster_text::checked(RosterField::Label, &request.label)?;
    let key = keys::decode_public_key(&request.public_key)
        .map_err(|e| ApiError::unprocessable("invalid_public_key", format!("public_key: {e}")))?;
    let public_key = keys::public_key_b64(&key);
    let operators = state.db(move |s| s.operator_keys(org.id)).await?;
    if operators.contains(&public_key) {
        return Err(ApiError::unprocessable(
            "self_approval",
            "an operator key cannot be registered as an approver",
        ));
    }
    let approver = crate::store::Approver {
        org_id: org.id,
        key_id: key_id.clone(),
        public_key: public_key.clone(),
        label,
    };
    // The agent holds this API key: what it registers cannot vote until an
    // administrator confirms it, unless the org chose the vendor's looser way.
    state
        .db(move |s| {
            let confirmed = s.trusts_api_approvers(org.id)?;
            s.upsert_approver(&approver, confirmed, clock::now())
        })
        .await?;
    Ok(Json(
        json!({"status": "registered", "key_id": key_id, "public_key": public_key}),
    ))
}

#[derive(Deserialize)]
pub struct PolicyQuery {
    policy_hash: Option<String>,
}

/// `GET /v1/policy/pull`: the org's policy TOML, pinned by its BLAKE3 hash.
/// An org without a policy gets the empty policy, which denies everything.
pub async fn pull_policy(
    State(state): State<AppState>,
    OperatorOrg(org): OperatorOrg,
    query: Result<Query<PolicyQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(query) = query?;
    let toml = state
        .db(move |s| s.policy(org.id))
        .await?
        .unwrap_or_default();
    let hash = blake3::hash(toml.as_bytes()).to_hex().to_string();
    let status = if query.policy_hash.as_deref() == Some(hash.as_str()) {
        "up_to_date"
    } else {
        "policy"
    };
    Ok(Json(json!({
        "status": status,
        "policy_id": format!("{}-{}", org.name, &hash[..12]),
        "policy_hash": hash,
        "toml": toml,
    })))
}
