//! The demo: an org with a demo operator that keeps agents' actions coming,
//! so a newcomer sees live approvals within seconds. The demo operator signs
//! with its own key (held in memory only) and finalizes approved decisions
//! into L1 receipts, as a real operator would.

use crate::store::{NewApproval, NewReceipt, OrgId, Store};
use crate::{admin, clock, secrets, AppState};
use heso_receipt::{assemble_l1, keys, sign_as_operator, ApproverRecord, Content, SigningKey};
use rand::Rng;
use serde_json::{json, Value};
use std::time::Duration;

pub const DEMO_ORG: &str = "demo";

/// What a person needs to connect to the demo.
pub struct DemoSeed {
    pub org_id: OrgId,
    pub api_key: String,
    pub enrolment_code: String,
    pub operator: SigningKey,
}

/// Creates the demo org, its operator and an enrolment code, and opens a
/// first batch of realistic approvals.
pub fn seed(state: &AppState, initial: usize) -> anyhow::Result<DemoSeed> {
    let store = state.store();
    let operator = SigningKey::from_bytes(&rand::rng().random());
    let org = admin::create_org(
        store,
        DEMO_ORG,
        &keys::public_key_b64(&operator.verifying_key()),
        30,
    )?;
    let org_id = store.org_by_name(DEMO_ORG)?.expect("just created").id;
    let enrolment_code = admin::issue_enrolment_code(store, DEMO_ORG, "Demo device", 24, &[])?;
    for n in 0..initial {
        open_one(store, org_id, &operator, n)?;
    }
    state.changes().bump(org_id);
    Ok(DemoSeed {
        org_id,
        api_key: org.api_key,
        enrolment_code,
        operator,
    })
}

/// Every `interval`, opens one more approval and finalizes what was approved.
pub async fn run(state: AppState, org_id: OrgId, operator: SigningKey, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    let mut n = 1000;
    loop {
        ticker.tick().await;
        n += 1;
        let (s, op) = (state.clone(), operator.clone());
        let work = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            open_one(s.store(), org_id, &op, n)?;
            finalize_approved(s.store(), org_id, &op)?;
            Ok(())
        })
        .await;
        match work {
            Ok(Ok(())) => state.changed(org_id).await,
            Ok(Err(e)) => tracing::warn!(error = %e, "demo operator step failed"),
            Err(e) => tracing::warn!(error = %e, "demo operator task failed"),
        }
    }
}

/// The demo operator's finalize step: L1 from each approved co-signature.
pub fn finalize_approved(
    store: &Store,
    org_id: OrgId,
    operator: &SigningKey,
) -> anyhow::Result<usize> {
    let pending = store.approved_unfinalized(org_id)?;
    for item in &pending {
        let suspended: heso_receipt::Receipt = serde_json::from_str(&item.receipt_text)?;
        let record: ApproverRecord = serde_json::from_str(&item.record)?;
        let approver = keys::decode_public_key(&item.approver_key)?;
        let co_sig = keys::decode_signature(&item.co_sig)?;
        let l1 = assemble_l1(operator, &suspended.content, &record, &approver, &co_sig)?;
        let text = serde_json::to_string(&l1)?;
        let new = NewReceipt {
            org: org_id,
            action_hash: &l1.content.action_hash,
            trust_level: "L1",
            awaiting: false,
            text: &text,
            supersedes: Some(&item.action_hash),
        };
        store.append_receipt(&new, clock::now())?;
    }
    Ok(pending.len())
}

fn open_one(store: &Store, org_id: OrgId, operator: &SigningKey, n: usize) -> anyhow::Result<()> {
    let mut rng = rand::rng();
    let (verb, tool, host, workflow, fields, rule_id, display, conditions, redaction) =
        demo_action(&mut rng, n);
    let content: Content = serde_json::from_value(json!({
        "action_version": heso_receipt::ACTION_VERSION,
        "captured_at": clock::rfc3339(clock::now()),
        "agent_identity": keys::public_key_b64(&operator.verifying_key()),
        "action": {"verb": verb, "tool_name": tool, "target_host": host, "workflow": workflow,
                   "account": format!("acct_{}", 100 + n % 7), "fields": fields},
        "policy": {"rule_id": rule_id, "rule_display": display, "matched_conditions": conditions,
                   "decision_path": "require_approval"},
        "redaction": redaction,
        "trust_level": "L0",
        "action_hash": "",
    }))?;
    let receipt = sign_as_operator(operator, content)?;
    let org = store.org_by_id(org_id)?.expect("the demo org exists");
    let now = clock::now();
    let text = serde_json::to_string(&receipt)?;
    let new = NewReceipt {
        org: org_id,
        action_hash: &receipt.content.action_hash,
        trust_level: "L0",
        awaiting: true,
        text: &text,
        supersedes: None,
    };
    store.append_receipt(&new, now)?;
    store.open_approval(&NewApproval {
        id: secrets::new_id("apr"),
        org_id,
        action_hash: receipt.content.action_hash.clone(),
        workflow: receipt.content.action.workflow.clone(),
        account: receipt.content.action.account.clone(),
        rule_id: receipt.content.policy.rule_id.clone(),
        scope: receipt.content.policy.rule_id.clone(),
        threshold: 1,
        roster: Vec::new(),
        groups: Vec::new(),
        routing_note: None,
        deadline_source: "control_plane".into(),
        matched_conditions: serde_json::to_string(&receipt.content.policy.matched_conditions)?,
        opened_at: now,
        deadline_at: now + org.sla_minutes * 60,
    })?;
    Ok(())
}

type DemoAction = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Value,
    &'static str,
    &'static str,
    Value,
    Value,
);

fn commitment(rng: &mut impl Rng) -> String {
    hex::encode(rng.random::<[u8; 32]>())
}

/// A plausible action an agent would need approval for.
fn demo_action(rng: &mut impl Rng, n: usize) -> DemoAction {
    const PAYEES: [&str; 6] = [
        "Globex LLC",
        "Initech GmbH",
        "Umbrella Logistics",
        "Hooli Cloud Services",
        "Stark Industrial Supply",
        "Wayne Facilities Ltd",
    ];
    match n % 5 {
        0 | 3 => {
            let amount = rng.random_range(1_200..48_000) as f64
                + f64::from(rng.random_range(0..100)) / 100.0;
            let currency = ["USD", "EUR", "GBP"][n % 3];
            let card_commitment = commitment(rng);
            (
                "payment",
                "stripe.transfers.create",
                "api.stripe.com",
                "vendor-payouts",
                json!({"amount": amount, "currency": currency, "payee": PAYEES[n % PAYEES.len()],
                       "invoice": format!("INV-2026-{:04}", 100 + n), "memo": "Net 30 — quarterly services",
                       "destination_account": {"_sd": card_commitment}}),
                "payment.large.requires_approval",
                "Payments over 1,000 need approval from Finance within 30 minutes.",
                json!([{"field": "amount", "op": "gt", "value": 1000}]),
                json!({"mode": "commit_and_reveal", "markers": [
                    {"field_path": "destination_account", "algorithm": "salted-blake3/v1", "commitment": card_commitment}]}),
            )
        }
        1 => (
            "delete",
            "s3.delete_objects",
            "s3.eu-west-1.amazonaws.com",
            "storage-cleanup",
            json!({"bucket": "customer-invoices", "prefix": format!("2019/{:02}/", 1 + n % 12),
                   "object_count": rng.random_range(40..5_000), "versioned": false}),
            "delete.requires_approval",
            "Deleting stored objects needs approval from the data owner.",
            json!([{"field": "verb", "op": "eq", "value": "delete"}]),
            Value::Null,
        ),
        2 => (
            "data_export",
            "warehouse.export_table",
            "warehouse.internal",
            "analytics-sync",
            json!({"table": "crm.contacts", "rows": rng.random_range(10_000..900_000),
                   "destination": "s3://partner-drop/exports/", "columns": ["name", "email", "country"],
                   "partner_token": "[redacted]"}),
            "export.pii.requires_approval",
            "Exports of tables with personal data need approval from the privacy team.",
            json!([{"field": "table", "op": "in", "value": ["crm.contacts", "crm.leads"]}]),
            json!({"mode": "destructive", "markers": [
                {"field_path": "partner_token", "algorithm": "drop/v1", "commitment": ""}]}),
        ),
        _ => (
            "llm_call",
            "openai.chat.completions.create",
            "api.openai.com",
            "support-agent",
            json!({"model": "gpt-5", "max_tokens": 4096, "temperature": 0.2,
                   "prompt_excerpt": "Summarise the customer's account history and draft a refund offer.",
                   "attachments": 3}),
            "llm.customer_data.requires_approval",
            "Model calls that include customer records need approval from a support lead.",
            json!([{"field": "attachments", "op": "gt", "value": 0}]),
            Value::Null,
        ),
    }
}
