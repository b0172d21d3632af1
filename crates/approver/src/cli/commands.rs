//! The approver commands: enroll, whoami, queue, show, approve, reject, audit, export.

use heso_approver::audit::{
    audit, export_lines, history_csv, history_jsonl, AuditEntry, NOT_BY_THIS_DEVICE,
};
use heso_approver::device_key::{Custody, KeyError, Keychain};
use heso_approver::display::visible;
use heso_approver::enrol::{enrol, protect as protect_key, EnrolError};
use heso_approver::exit;
use heso_approver::profile::home;
use heso_approver::view::{item_view, ItemView};
use heso_approver::workflow::{Approver, OpenError, Outcome, WorkflowError};
use heso_receipt::Decision;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A failure with the exit status it maps to.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    fn new(code: u8, message: impl std::fmt::Display) -> Self {
        Failure {
            code,
            message: message.to_string(),
        }
    }
}

type Result<T> = std::result::Result<T, Failure>;

fn approver_home() -> Result<PathBuf> {
    home().map_err(|e| Failure::new(exit::NOT_READY, e))
}

/// Appends one line to the approver's log (decisions and their outcome; never key material).
fn log(home: &Path, line: &str) {
    let stamp = heso_approver::clock::now_rfc3339();
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("heso-approver.log"))
    {
        let _ = writeln!(file, "{stamp} {line}");
    }
}

fn open_approver() -> Result<(PathBuf, Approver)> {
    let home = approver_home()?;
    let approver = Approver::open(&home, Keychain::Os).map_err(|e| match e {
        OpenError::Client(e) => Failure::new(exit::UNAVAILABLE, e),
        e => Failure::new(exit::NOT_READY, e),
    })?;
    Ok((home, approver))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON output serializes")
    );
}

pub fn enroll(url: &str, code: &str, label: Option<&str>) -> Result<()> {
    let home = approver_home()?;
    let label = label.map(str::to_owned).unwrap_or_else(default_label);
    let enrolled = runtime().block_on(enrol(&home, Keychain::Os, url, code, &label));
    let (profile, key) = enrolled.map_err(|e| {
        let code = match e {
            EnrolError::Unreachable(_) => exit::UNAVAILABLE,
            EnrolError::Key(ref k) if k.is_not_confirmed() => exit::NOT_CONFIRMED,
            EnrolError::Key(_) | EnrolError::Profile(_) => exit::NOT_READY,
            _ => exit::INVALID,
        };
        Failure::new(code, e)
    })?;
    log(
        &home,
        &format!("enrolled with {} as {}", profile.org, key.public_b64()),
    );
    println!("Enrolled with org `{}` at {}.", profile.org, profile.url);
    println!("Device key fingerprint: {}", key.fingerprint());
    match key.custody() {
        Custody::Signer => println!(
            "Read it out to the operator to confirm. The key stays in the system signer; every vote needs you at the system prompt."
        ),
        Custody::Keychain => {
            println!("Read it out to the operator to confirm. The key stays in this device's keychain.");
            println!("Warning: {}.", Custody::Keychain.protection());
        }
    }
    println!();
    println!("Operator key(s) pinned; every approval is checked against them:");
    for fingerprint in profile.operator_fingerprints() {
        println!("  {fingerprint}");
    }
    println!("Compare with what your operator shows (`heso-control-plane org show`); if they differ, remove this device.");
    Ok(())
}

pub fn protect(code: &str, label: Option<&str>) -> Result<()> {
    let home = approver_home()?;
    let label = label.map(str::to_owned).unwrap_or_else(default_label);
    let protected = runtime().block_on(protect_key(&home, Keychain::Os, code, &label));
    if let Err(EnrolError::AlreadyProtected) = protected {
        println!("This device's key is already held by the system signer.");
        return Ok(());
    }
    let done = protected.map_err(|e| {
        let code = match e {
            EnrolError::Unreachable(_) => exit::UNAVAILABLE,
            EnrolError::Key(ref k) if k.is_not_confirmed() => exit::NOT_CONFIRMED,
            EnrolError::NoSigner | EnrolError::Key(_) | EnrolError::Profile(_) => exit::NOT_READY,
            _ => exit::INVALID,
        };
        Failure::new(code, e)
    })?;
    log(
        &home,
        &format!(
            "key moved into the signer: {} (was {})",
            done.key.public_b64(),
            done.old_fingerprint
        ),
    );
    println!("This device's key is now held by the system signer; every vote needs you at the system prompt.");
    println!(
        "New key fingerprint: {} (read it out to the operator).",
        done.key.fingerprint()
    );
    match done.retired {
        Ok(()) => {
            println!("The old key {} is retired: the control plane refuses it from now on, and it left the keychain.", done.old_fingerprint);
            Ok(())
        }
        Err(e) => Err(Failure::new(
            exit::INVALID,
            format!(
                "the old key {} left the keychain but could not be retired ({e}); ask your administrator to revoke it (heso-control-plane approver revoke)",
                done.old_fingerprint
            ),
        )),
    }
}

fn default_label() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "approver device".to_owned())
}

pub fn whoami(json: bool) -> Result<()> {
    let (_, approver) = open_approver()?;
    let p = &approver.profile;
    if json {
        print_json(&json!({
            "public_key": approver.key.public_b64(), "fingerprint": approver.key.fingerprint(),
            "org": p.org, "url": p.url, "label": p.label,
            "key_custody": approver.key.custody().word(),
            "key_protected": approver.key.custody() == Custody::Signer,
        }));
    } else {
        println!("Public key   {}", approver.key.public_b64());
        println!("Fingerprint  {}", approver.key.fingerprint());
        println!("Org          {} at {}", p.org, p.url);
        println!("Label        {}", p.label);
        println!("Key          {}", approver.key.custody().protection());
        if approver.key.custody() == Custody::Keychain && heso_approver::enrol::signer_answers() {
            println!("             A system signer runs here: move the key into it with a new code from your operator:");
            println!("             heso-approver protect --code CODE");
        }
    }
    Ok(())
}

fn unavailable(e: impl std::fmt::Display) -> Failure {
    Failure::new(exit::UNAVAILABLE, e)
}

fn minutes_left(deadline: &str) -> String {
    match heso_approver::clock::minutes_until(deadline) {
        Some(left) if left >= 0 => format!("{left} min left"),
        Some(left) => format!("SLA passed {} min ago", -left),
        None => String::new(),
    }
}

pub fn queue(json: bool, wait: Option<u64>) -> Result<()> {
    let (home, approver) = open_approver()?;
    let rt = runtime();
    for (hash, outcome) in rt
        .block_on(approver.resume())
        .map_err(|e| Failure::new(exit::NOT_READY, e))?
    {
        log(&home, &format!("resent {hash}: {outcome:?}"));
        match &outcome {
            Outcome::Confirmed => eprintln!("delivered the decision on {hash} made while offline"),
            Outcome::Refused(why) => {
                eprintln!("the control plane refused the decision on {hash} for good: {why}")
            }
            Outcome::Queued(_) => {}
        }
    }
    let mut page = rt
        .block_on(approver.client.pending(&approver.key, None, None))
        .map_err(unavailable)?;
    if let Some(wait) = wait {
        if page["items"]
            .as_array()
            .is_none_or(|items| items.is_empty())
        {
            let since = page["version"].as_u64();
            page = rt
                .block_on(approver.client.pending(&approver.key, since, Some(wait)))
                .map_err(unavailable)?;
        }
    }
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let deadline = item["sla_deadline"].as_str().unwrap_or_default();
            match approver.verify_and_remember(item) {
                Ok(verified) => {
                    let view = item_view(&verified);
                    json!({"action_hash": view.action_hash, "status": "verified", "verb": view.verb,
                           "tool": view.tool_name, "summary": view.summary, "rule_id": view.rule_id,
                           "workflow": view.workflow, "account": view.account, "sla_deadline": deadline,
                           "warnings": view.warnings, "quorum": view.quorum,
                           "groups": item["groups"], "deadline_source": item["deadline_source"]})
                }
                Err(refusal) => json!({"action_hash": item["action_hash"], "status": "refused",
                                       "refusal": refusal.to_string(), "rule_id": item["rule_id"],
                                       "sla_deadline": deadline}),
            }
        })
        .collect();
    if json {
        print_json(&rows);
        return Ok(());
    }
    let total = page["pending_total"].as_u64().unwrap_or(rows.len() as u64);
    println!(
        "{total} pending at {} (org {})",
        approver.profile.url, approver.profile.org
    );
    for row in &rows {
        // A refused row's hash is the control plane's word: shown inert.
        let hash = visible(row["action_hash"].as_str().unwrap_or_default());
        let deadline = row["sla_deadline"].as_str().unwrap_or_default();
        println!();
        if row["status"] == "verified" {
            println!(
                "  {}  {}",
                row["verb"].as_str().unwrap_or_default(),
                row["summary"].as_str().unwrap_or_default()
            );
            println!(
                "    rule {} · {} / {} · {}",
                row["rule_id"].as_str().unwrap_or_default(),
                row["account"].as_str().unwrap_or_default(),
                row["workflow"].as_str().unwrap_or_default(),
                minutes_left(deadline)
            );
            for warning in row["warnings"].as_array().into_iter().flatten() {
                println!("    WARNING {}", warning.as_str().unwrap_or_default());
            }
            if let Some(line) = row["quorum"]["line"].as_str() {
                let yours = if row["quorum"]["you_voted"] == true {
                    " · you voted"
                } else {
                    ""
                };
                println!("    quorum: {line}{yours}");
            }
        } else {
            println!(
                "  REFUSED  {}",
                visible(row["refusal"].as_str().unwrap_or_default())
            );
        }
        println!("    {hash}");
    }
    Ok(())
}

fn fetch_view(
    approver: &Approver,
    hash: &str,
) -> Result<(Value, std::result::Result<ItemView, String>)> {
    let item = runtime()
        .block_on(approver.client.approval(&approver.key, hash))
        .map_err(|e| Failure::new(exit::INVALID, e))?;
    let view = approver
        .verify_and_remember(&item)
        .map(|v| item_view(&v))
        .map_err(|r| r.to_string());
    Ok((item, view))
}

pub fn show(hash: &str, json: bool) -> Result<()> {
    let (_, approver) = open_approver()?;
    let (item, view) = fetch_view(&approver, hash)?;
    let status = item["status"].as_str().unwrap_or_default();
    match (&view, json) {
        (Ok(view), true) => print_json(&json!({
            "status": status, "verified": true, "sla_deadline": item["sla_deadline"], "item": view,
            // Routing is the control plane's word, outside the signed item.
            "deadline_source": item["deadline_source"], "groups": item["groups"],
            "routing_note": item["routing_note"], "resolution": item["resolution"],
        })),
        (Err(why), true) => print_json(
            &json!({"status": status, "verified": false, "refusal": why, "action_hash": hash}),
        ),
        (Err(why), false) => {
            println!("REFUSED: {}", visible(why));
            println!("This item cannot be approved. Action {hash}");
        }
        (Ok(v), false) => {
            println!("{}", v.summary);
            for warning in &v.warnings {
                println!("  WARNING   {warning}");
            }
            println!(
                "  verified: operator {} (pinned at enrolment)",
                v.operator_fingerprint
            );
            println!("  action    {}", v.action_hash);
            println!(
                "  status    {status}, {}{}",
                minutes_left(item["sla_deadline"].as_str().unwrap_or_default()),
                match item["deadline_source"].as_str() {
                    Some("signed") => " (deadline signed by the operator)",
                    Some("control_plane") => " (deadline set by the control plane)",
                    _ => "",
                }
            );
            // Routing is the control plane's word: shown inert, and named as such.
            if let Some(groups) = item["groups"].as_array().filter(|g| !g.is_empty()) {
                let names: Vec<String> = groups
                    .iter()
                    .filter_map(Value::as_str)
                    .map(visible)
                    .collect();
                println!("  routed    to {}", names.join(", "));
            }
            if let Some(note) = item["routing_note"].as_str() {
                println!("  NOTE      from the control plane: {}", visible(note));
            }
            println!(
                "  verb      {} via {}{}",
                v.verb,
                v.tool_name,
                v.target_host
                    .as_ref()
                    .map(|h| format!(" → {h}"))
                    .unwrap_or_default()
            );
            println!(
                "  workflow  {} · account {} · captured {}",
                v.workflow, v.account, v.captured_at
            );
            println!("  rule      {}: {}", v.rule_id, v.rule_display);
            if let Some(q) = &v.quorum {
                println!("  quorum    {}", q.line);
                if !q.approved_by.is_empty() {
                    println!("  approved  by {}", q.approved_by.join(", "));
                }
                if q.you_voted {
                    println!("  you       voted on this approval");
                }
            }
            for c in &v.matched_conditions {
                println!("  matched   {} {} {}", c.field, c.op, c.value);
            }
            println!("  fields");
            for f in &v.fields {
                let mut mark = if f.matched { "  ← matched" } else { "" }.to_owned();
                if let Some(warning) = &f.warning {
                    mark.push_str(&format!("  ⚠ {warning}"));
                }
                match (&f.commitment, f.redacted) {
                    (Some(c), _) => println!("    {}: [redacted, commitment {}]{mark}", f.name, c),
                    (None, true) => println!("    {}: [redacted]{mark}", f.name),
                    _ => println!("    {}: {}{mark}", f.name, f.shown),
                }
            }
        }
    }
    Ok(())
}

/// After a vote on a k-of-n approval: how far the quorum is, in words
/// (empty for a single-approver approval, or when the control plane is away).
fn quorum_progress(approver: &Approver, hash: &str) -> String {
    match runtime().block_on(approver.quorum_progress(hash)) {
        Some(p) if p.status == "pending" => format!(
            " {} of {} approvals so far: waiting for {} more {}.",
            p.approved,
            p.threshold,
            p.more(),
            if p.more() == 1 {
                "approver"
            } else {
                "approvers"
            }
        ),
        Some(p) => format!(" The approval is now {}.", p.status),
        None => String::new(),
    }
}

pub fn decide(hash: &str, decision: Decision, reason: &str) -> Result<()> {
    let (home, approver) = open_approver()?;
    let outcome = runtime().block_on(approver.decide(hash, decision, reason));
    let verb = decision.as_str();
    match outcome {
        Ok(Outcome::Confirmed) => {
            log(&home, &format!("{verb} {hash}: confirmed"));
            println!(
                "{} {hash}: recorded by the control plane.{}",
                capitalized(verb),
                quorum_progress(&approver, hash)
            );
            Ok(())
        }
        Ok(Outcome::Queued(why)) => {
            log(
                &home,
                &format!("{verb} {hash}: journalled, not delivered: {why}"),
            );
            Err(Failure::new(
                exit::QUEUED,
                format!("{verb} {hash}: signed and journalled, not delivered yet ({why}); it is sent again by the next `heso-approver queue`"),
            ))
        }
        Ok(Outcome::Refused(why)) => {
            log(&home, &format!("{verb} {hash}: refused: {why}"));
            Err(Failure::new(
                exit::INVALID,
                format!("the control plane refused the decision: {why}"),
            ))
        }
        Err(WorkflowError::Refused(refusal)) => {
            log(&home, &format!("{verb} {hash}: not signed: {refusal}"));
            Err(Failure::new(
                exit::INVALID,
                format!("not signed: {refusal}"),
            ))
        }
        Err(e @ WorkflowError::Client(_)) => Err(Failure::new(exit::UNAVAILABLE, e)),
        Err(WorkflowError::Key(e)) if e.is_not_confirmed() => {
            log(&home, &format!("{verb} {hash}: not signed: {e}"));
            Err(Failure::new(exit::NOT_CONFIRMED, e))
        }
        Err(e @ WorkflowError::Key(KeyError::NoSigner(_))) => Err(Failure::new(exit::NOT_READY, e)),
        Err(e) => Err(Failure::new(exit::INVALID, e)),
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// How `audit` prints the history.
pub enum AuditFormat {
    Text,
    Json,
    JsonLines,
    Csv,
}

impl AuditFormat {
    pub fn from_flags(json: bool, jsonl: bool, csv: bool) -> AuditFormat {
        match (json, jsonl, csv) {
            (true, _, _) => AuditFormat::Json,
            (_, true, _) => AuditFormat::JsonLines,
            (_, _, true) => AuditFormat::Csv,
            _ => AuditFormat::Text,
        }
    }
}

pub fn audit_command(format: AuditFormat) -> Result<()> {
    let (_, approver) = open_approver()?;
    let entries = runtime()
        .block_on(audit(&approver))
        .map_err(|e| Failure::new(exit::NOT_READY, e))?;
    let alerts = entries.iter().filter(|e| e.alert.is_some()).count();
    match format {
        AuditFormat::Json => print_json(&entries),
        AuditFormat::JsonLines => print!("{}", history_jsonl(&entries)),
        AuditFormat::Csv => print!("{}", history_csv(&entries)),
        AuditFormat::Text => print_history(&entries, alerts),
    }
    if alerts > 0 {
        return Err(Failure::new(
            exit::INVALID,
            format!("{alerts} co-signature(s) {NOT_BY_THIS_DEVICE}"),
        ));
    }
    Ok(())
}

/// Entries the control plane lists are its word: every text is shown inert.
fn print_history(entries: &[AuditEntry], alerts: usize) {
    if alerts > 0 {
        println!("ALERT: {alerts} co-signature(s) {NOT_BY_THIS_DEVICE}.");
        println!();
    }
    for e in entries {
        let flag = if e.alert.is_some() { "ALERT " } else { "" };
        let what = e
            .summary
            .as_deref()
            .unwrap_or("(no verified copy of the action)");
        println!(
            "{flag}{} {what}  {}",
            visible(&e.decision),
            visible(&e.decided_at)
        );
        if !e.rule_id.is_empty() {
            println!("    rule: {} ({})", e.rule_display, e.rule_id);
        }
        if !e.reason.is_empty() {
            println!("    reason: {}", e.reason);
        }
        if !e.cosigners.is_empty() {
            println!("    also signed by: {}", e.cosigners.join(", "));
        }
        println!(
            "    submission: {} · final receipt: {}",
            visible(&e.submission),
            visible(&e.verification)
        );
        println!("    action {}", visible(&e.action_hash));
        if e.reported {
            println!("    reported as suspicious");
        }
    }
    if entries.is_empty() {
        println!("No decisions yet.");
    }
}

pub fn export(file: &Path) -> Result<()> {
    let (_, approver) = open_approver()?;
    let entries = runtime()
        .block_on(audit(&approver))
        .map_err(|e| Failure::new(exit::NOT_READY, e))?;
    let (out, count) = export_lines(&entries);
    std::fs::write(file, out).map_err(|e| {
        Failure::new(
            exit::INVALID,
            format!("cannot write {}: {e}", file.display()),
        )
    })?;
    println!(
        "Exported {count} verified final receipt(s) to {}.",
        file.display()
    );
    Ok(())
}
