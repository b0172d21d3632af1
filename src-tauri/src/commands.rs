//! The commands the window may call. Each checks its input, does its work
//! through `heso_approver`, and answers with data or a sentence for the user.

use crate::agent_link::tell;
use crate::rows::{payload, QueuePayload};
use crate::state::{AppState, Inner};
use heso_approver::audit::{
    audit as audit_entries, export_lines, history_csv, history_jsonl, AuditEntry,
};
use heso_approver::device_key::Custody;
use heso_approver::device_key::Keychain;
use heso_approver::display::visible;
use heso_approver::enrol::{
    enrol as enrol_device, protect, remove_device as remove, signer_answers,
};
use heso_approver::profile::Profile;
use heso_approver::view::{item_view, ItemView};
use heso_approver::workflow::Approver;
use heso_desktop::decision::{self, DecisionResult};
use heso_desktop::ipc::Request;
use heso_desktop::session::Session;
use heso_desktop::settings::Settings;
use heso_receipt::canonical::is_lower_hex_64;
use heso_receipt::Decision;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tauri::{AppHandle, State};
use tokio::sync::Mutex;

type Answer<T> = Result<T, String>;

/// Where the app stands, for the first screen it shows.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct Status {
    /// `first_run`, `ready`, or `error`.
    pub stage: &'static str,
    pub error: Option<String>,
    pub org: Option<String>,
    pub url: Option<String>,
    pub label: Option<String>,
    pub fingerprint: Option<String>,
    /// The operator keys pinned at enrolment, as fingerprints a person
    /// compares with what the operator shows (`heso-control-plane org show`).
    pub operator_fingerprints: Vec<String>,
    pub demo: bool,
    /// Whether the device key is out of reach of the user's other programs
    /// (held by the system signer), and that in words.
    pub key_protected: bool,
    pub key_protection: Option<String>,
    /// Whether a key in the keychain can be moved into a system signer
    /// here (one answers on the system bus).
    pub can_protect: bool,
}

fn status_of(state: &AppState, inner: &Inner) -> Status {
    let profile = Profile::load(&state.home).ok();
    let stage = match (&profile, &inner.session, &inner.open_error) {
        (None, _, _) => "first_run",
        (Some(_), Some(_), _) => "ready",
        _ => "error",
    };
    Status {
        stage,
        error: inner.open_error.clone(),
        org: profile.as_ref().map(|p| p.org.clone()),
        url: profile.as_ref().map(|p| p.url.clone()),
        label: profile.as_ref().map(|p| p.label.clone()),
        fingerprint: inner.session.as_ref().map(|s| s.fingerprint.clone()),
        operator_fingerprints: profile
            .as_ref()
            .map(Profile::operator_fingerprints)
            .unwrap_or_default(),
        demo: inner.settings.demo,
        key_protected: profile
            .as_ref()
            .is_some_and(|p| p.custody == Custody::Signer),
        key_protection: profile.as_ref().map(|p| p.custody.protection().to_owned()),
        // Asked of the bus only for a key that needs it.
        can_protect: profile
            .as_ref()
            .is_some_and(|p| p.custody == Custody::Keychain && !inner.settings.demo)
            && signer_answers(),
    }
}

/// Opens the enrolled approver and follows its queue (the embedded demo,
/// if that is what it is enrolled with, is served by the agent). Failures
/// are kept for the status screen.
pub async fn open_session(app: &AppHandle, state: &AppState, inner: &mut Inner) {
    inner.session = None;
    inner.open_error = None;
    if Profile::load(&state.home).is_err() {
        return;
    }
    match Session::start(&state.home, &inner.settings) {
        Ok(mut session) => {
            let follow = crate::window::follow_queue(app.clone(), session.queue.clone());
            session.attach(tokio::spawn(follow));
            inner.session = Some(session);
        }
        Err(e) => inner.open_error = Some(e),
    }
}

#[tauri::command]
pub async fn status(state: State<'_, AppState>) -> Answer<Status> {
    let inner = state.inner.lock().await;
    Ok(status_of(&state, &inner))
}

#[tauri::command]
pub async fn enrol(
    app: AppHandle,
    state: State<'_, AppState>,
    url: String,
    code: String,
    label: String,
) -> Answer<Status> {
    let mut inner = state.inner.lock().await;
    let label = match label.trim() {
        "" => default_label(),
        label => label.to_owned(),
    };
    enrol_device(&state.home, Keychain::Os, &url, &code, &label)
        .await
        .map_err(|e| e.to_string())?;
    inner.settings.demo = false;
    inner.settings.save(&state.home)?;
    tell(&state.home, Request::DeviceChanged).await?;
    open_session(&app, &state, &mut inner).await;
    Ok(status_of(&state, &inner))
}

/// Moves the device key from the keychain, where any program of this user
/// can read it, into the system signer: a new key made there is enrolled
/// with `code` (the person confirms at the system prompt), the old key
/// retires on the control plane and leaves the keychain.
#[tauri::command]
pub async fn protect_key(
    app: AppHandle,
    state: State<'_, AppState>,
    code: String,
) -> Answer<Status> {
    let mut inner = state.inner.lock().await;
    let label = Profile::load(&state.home)
        .map(|p| p.label)
        .unwrap_or_else(|_| default_label());
    let protected = protect(&state.home, Keychain::Os, &code, &label).await;
    if protected.is_ok() {
        // The agent and this window sign with the new key from now on.
        tell(&state.home, Request::DeviceChanged).await?;
        open_session(&app, &state, &mut inner).await;
    }
    let protected = protected.map_err(|e| e.to_string())?;
    if let Err(e) = protected.retired {
        return Err(format!(
            "The key is now held by the system signer, but the control plane did not retire the old key {} ({e}). Ask your administrator to revoke it (heso-control-plane approver revoke).",
            protected.old_fingerprint
        ));
    }
    Ok(status_of(&state, &inner))
}

fn default_label() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .map(|h| format!("HESO Approver on {h}"))
        .unwrap_or_else(|| "HESO Approver desktop".into())
}

/// Asks the agent for a fresh local demo (it serves the demo control plane
/// and enrols with it), then opens the session here too.
#[tauri::command]
pub async fn start_demo(app: AppHandle, state: State<'_, AppState>) -> Answer<Status> {
    let mut inner = state.inner.lock().await;
    // The agent refuses an enrolled device, in its words.
    crate::agent_link::ensure_agent(&state.home, false).await?;
    crate::agent_link::ask(&state.home, Request::StartDemo).await?;
    inner.settings = Settings::load(&state.home);
    open_session(&app, &state, &mut inner).await;
    Ok(status_of(&state, &inner))
}

#[tauri::command]
pub async fn queue(state: State<'_, AppState>) -> Answer<QueuePayload> {
    let inner = state.inner.lock().await;
    let session = inner
        .session
        .as_ref()
        .ok_or("this device is not enrolled")?;
    let current = session.queue.borrow().clone();
    Ok(payload(&current))
}

/// The open session's approver (decisions are made one at a time).
async fn session_approver(state: &AppState) -> Answer<Arc<Mutex<Approver>>> {
    let inner = state.inner.lock().await;
    Ok(inner
        .session
        .as_ref()
        .ok_or("this device is not enrolled")?
        .approver
        .clone())
}

fn check_hash(action_hash: &str) -> Answer<()> {
    if is_lower_hex_64(action_hash) {
        Ok(())
    } else {
        Err(format!(
            "`{action_hash}` is not an action hash (64 lowercase hex characters)"
        ))
    }
}

/// One approval as the detail screen shows it.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct ItemDetail {
    pub action_hash: String,
    /// `pending`, `approved`, `rejected`, `expired`, ... as the control plane says.
    pub status: String,
    pub sla_deadline: String,
    /// Shown from the copy verified earlier because the control plane is away.
    pub offline_copy: bool,
    pub view: Option<ItemView>,
    /// Why it cannot be approved.
    pub refusal: Option<String>,
    /// This device's decision on it, if any.
    pub decided: Option<String>,
    /// Where that decision stands: `confirmed`, `unsent` (sent again until
    /// the control plane takes it) or `refused` (for good).
    pub delivery: Option<&'static str>,
    /// Why it is unsent or was refused.
    pub delivery_note: Option<String>,
    /// `signed` (the operator's deadline), `control_plane`, or empty.
    pub deadline_source: String,
    /// The approver groups the control plane routed it to.
    pub groups: Vec<String>,
    /// The control plane's note when the org's policy and the receipt disagree.
    pub routing_note: Option<String>,
    /// `expired` when the deadline rejected it.
    pub resolution: Option<String>,
}

#[tauri::command]
pub async fn item(state: State<'_, AppState>, action_hash: String) -> Answer<ItemDetail> {
    check_hash(&action_hash)?;
    let approver = session_approver(&state).await?;
    let approver = approver.lock().await;
    let (item, offline_copy) = approver
        .fetch_item(&action_hash)
        .await
        .map_err(|e| e.to_string())?;
    let (view, refusal) = match approver.verify_and_remember(&item) {
        Ok(verified) => (Some(item_view(&verified)), None),
        // A refusal can quote what the control plane sent: shown inert.
        Err(refusal) => (None, Some(visible(&refusal.to_string()))),
    };
    let journalled = approver
        .journal
        .get(&action_hash)
        .map_err(|e| e.to_string())?;
    let decided = journalled.as_ref().map(|e| e.decision.clone());
    let delivery = journalled.as_ref().map(|e| e.state.as_str());
    let delivery_note = journalled.and_then(|e| e.last_error);
    let text = |k: &str| visible(item[k].as_str().unwrap_or_default());
    Ok(ItemDetail {
        action_hash,
        status: if offline_copy {
            "pending".into()
        } else {
            text("status")
        },
        sla_deadline: text("sla_deadline"),
        offline_copy,
        view,
        refusal,
        decided,
        delivery,
        delivery_note,
        deadline_source: text("deadline_source"),
        // The control plane's words: shown inert.
        groups: item["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(visible)
            .collect(),
        routing_note: item["routing_note"].as_str().map(visible),
        resolution: item["resolution"].as_str().map(visible),
    })
}

/// Approve or reject: verification, journal, then submit, as everywhere.
#[tauri::command]
pub async fn decide(
    state: State<'_, AppState>,
    action_hash: String,
    decision: String,
    reason: String,
) -> Answer<DecisionResult> {
    check_hash(&action_hash)?;
    let decision = match decision.as_str() {
        "approve" => Decision::Approved,
        "reject" => Decision::Rejected,
        other => return Err(format!("`{other}` is not a decision (approve or reject)")),
    };
    let reason = reason.trim();
    if reason.chars().count() > 2000 {
        return Err("the reason is longer than 2,000 characters".into());
    }
    let approver = session_approver(&state).await?;
    decision::decide(&approver, &action_hash, decision, reason).await
}

/// How long "Report suspicious" mutes the reported workflow's notifications.
const MUTE_AFTER_REPORT_SECS: i64 = 3600;

/// Rejects the item with the signed reason that it looked like an attack,
/// and mutes its workflow's notifications for a while, so a flooding agent
/// stops drawing clicks. The audit marks it.
#[tauri::command]
pub async fn report_suspicious(
    state: State<'_, AppState>,
    action_hash: String,
) -> Answer<DecisionResult> {
    check_hash(&action_hash)?;
    let approver = session_approver(&state).await?;
    let mut result = decision::decide(
        &approver,
        &action_hash,
        Decision::Rejected,
        heso_approver::audit::REPORTED_SUSPICIOUS,
    )
    .await?;
    // The workflow as this device verified and signed it, from the journal.
    let workflow = approver
        .lock()
        .await
        .journal
        .get(&action_hash)
        .map_err(|e| e.to_string())?
        .and_then(|entry| serde_json::from_str::<heso_receipt::Receipt>(&entry.receipt).ok())
        .map(|receipt| receipt.content.action.workflow);
    if let Some(workflow) = workflow {
        let mut inner = state.inner.lock().await;
        let until = heso_approver::clock::now_unix() + MUTE_AFTER_REPORT_SECS;
        let mut settings = inner.settings.clone();
        settings
            .notifications
            .muted_workflows
            .insert(workflow.clone(), until);
        settings.save(&state.home)?;
        inner.settings = settings;
        tell(&state.home, Request::SettingsChanged).await?;
        result.message = format!(
            "Reported and rejected. Notifications from workflow “{}” are muted for an hour. {}",
            visible(&workflow),
            result.message
        );
    }
    Ok(result)
}

/// The org's roster as the control plane lists it: who else can approve.
/// Its values are the control plane's word, so they are shown inert.
#[tauri::command]
pub async fn roster(state: State<'_, AppState>) -> Answer<serde_json::Value> {
    let approver = session_approver(&state).await?;
    let approver = approver.lock().await;
    let mut answer = approver
        .client
        .roster(&approver.key)
        .await
        .map_err(|e| e.to_string())?;
    for entry in answer["items"].as_array_mut().into_iter().flatten() {
        for name in ["label", "fingerprint", "source"] {
            let text = visible(entry[name].as_str().unwrap_or_default());
            entry[name] = text.into();
        }
    }
    Ok(answer)
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub entries: Vec<AuditEntry>,
    pub alerts: usize,
}

async fn audit_now(state: &AppState) -> Answer<Vec<AuditEntry>> {
    let approver = session_approver(state).await?;
    let approver = approver.lock().await;
    audit_entries(&approver).await.map_err(|e| e.to_string())
}

#[tauri::command]
pub async fn audit(state: State<'_, AppState>) -> Answer<AuditView> {
    let entries = audit_now(&state).await?;
    let alerts = entries.iter().filter(|e| e.alert.is_some()).count();
    Ok(AuditView { entries, alerts })
}

#[derive(Debug, Serialize)]
pub struct Exported {
    pub path: String,
    pub count: usize,
}

/// Writes the verified final receipts to a new file in the Downloads folder
/// (or the approver's home when there is none).
#[tauri::command]
pub async fn export_receipts(state: State<'_, AppState>) -> Answer<Exported> {
    let entries = audit_now(&state).await?;
    let (lines, count) = export_lines(&entries);
    let path = write_export(&state, "heso-receipts", "jsonl", &lines)?;
    Ok(Exported { path, count })
}

/// Writes the audit history (every entry, as the Audit screen lists it) as
/// CSV or JSON lines, beside the receipts export.
#[tauri::command]
pub async fn export_history(state: State<'_, AppState>, format: String) -> Answer<Exported> {
    let entries = audit_now(&state).await?;
    let (text, extension) = match format.as_str() {
        "csv" => (history_csv(&entries), "csv"),
        "jsonl" => (history_jsonl(&entries), "jsonl"),
        _ => return Err(format!("no export as {}", visible(&format))),
    };
    let path = write_export(&state, "heso-audit", extension, &text)?;
    Ok(Exported {
        path,
        count: entries.len(),
    })
}

/// A new file named `<stem>-<time>.<extension>` in the Downloads folder (or
/// the approver's home when there is none); returns its path.
fn write_export(state: &AppState, stem: &str, extension: &str, text: &str) -> Answer<String> {
    let dir = directories::UserDirs::new()
        .and_then(|d| d.download_dir().map(|p| p.to_path_buf()))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| state.home.join("exports"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stamp = heso_approver::clock::now_rfc3339().replace(':', "-");
    let path = dir.join(format!("{stem}-{stamp}.{extension}"));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path.display().to_string())
}

/// The signed bytes behind an audit entry, for a person to read: the final
/// receipt when there is one, otherwise the suspended receipt this device
/// verified and decided on.
#[derive(Debug, Serialize, ts_rs::TS)]
pub struct AuditReceipt {
    /// `final` or `suspended (as this device verified it)`.
    pub which: String,
    /// The receipt, pretty-printed JSON (text only: the window never parses it as markup).
    pub json: String,
}

#[tauri::command]
pub async fn audit_receipt(
    state: State<'_, AppState>,
    action_hash: String,
) -> Answer<AuditReceipt> {
    check_hash(&action_hash)?;
    let approver = session_approver(&state).await?;
    let approver = approver.lock().await;
    let entries = audit_entries(&approver).await.map_err(|e| e.to_string())?;
    let entry = entries
        .iter()
        .find(|e| e.action_hash == action_hash)
        .ok_or("no co-signature of this device on that action")?;
    let (which, json) = match &entry.final_receipt {
        Some(receipt) => ("final", serde_json::to_string_pretty(receipt)),
        None => {
            let journalled = approver
                .journal
                .get(&action_hash)
                .map_err(|e| e.to_string())?
                .ok_or("no signed receipt of this action is kept on this device")?;
            let receipt: Value =
                serde_json::from_str(&journalled.receipt).map_err(|e| e.to_string())?;
            (
                "suspended (as this device verified it)",
                serde_json::to_string_pretty(&receipt),
            )
        }
    };
    Ok(AuditReceipt {
        which: which.into(),
        json: json.map_err(|e| e.to_string())?,
    })
}

#[tauri::command]
pub async fn settings(state: State<'_, AppState>) -> Answer<Settings> {
    Ok(state.inner.lock().await.settings.clone())
}

#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
) -> Answer<Settings> {
    let mut inner = state.inner.lock().await;
    // The demo flag follows the enrolment, not the form.
    let settings = Settings {
        demo: inner.settings.demo,
        ..settings
    };
    settings.validate()?;
    if settings.start_at_login != inner.settings.start_at_login {
        start_at_login(&app, settings.start_at_login)?;
    }
    settings.save(&state.home)?;
    let watch_changed = !settings.watches_like(&inner.settings);
    state
        .keep_running
        .store(settings.run_in_background, Ordering::Relaxed);
    inner.settings = settings.clone();
    if watch_changed && inner.session.is_some() {
        open_session(&app, &state, &mut inner).await;
    }
    tell(&state.home, Request::SettingsChanged).await?;
    Ok(settings)
}

fn start_at_login(app: &AppHandle, on: bool) -> Answer<()> {
    use tauri_plugin_autostart::ManagerExt;
    let launcher = app.autolaunch();
    let done = if on {
        launcher.enable()
    } else {
        launcher.disable()
    };
    done.map_err(|e| format!("cannot change starting at login: {e}"))
}

/// Deletes the device key (in the system signer or the keychain) and
/// forgets the enrolment.
#[tauri::command]
pub async fn remove_device(state: State<'_, AppState>) -> Answer<Status> {
    let mut inner = state.inner.lock().await;
    inner.session = None;
    remove(&state.home, Keychain::Os).map_err(|e| e.to_string())?;
    inner.open_error = None;
    inner.settings.demo = false;
    inner.settings.save(&state.home)?;
    // The agent closes its session (its notifications go) and its demo.
    tell(&state.home, Request::DeviceChanged).await?;
    Ok(status_of(&state, &inner))
}

/// The window painted for the first time: logged for the cold-start figure.
#[tauri::command]
pub async fn ui_ready(app: AppHandle, state: State<'_, AppState>) -> Answer<()> {
    eprintln!(
        "heso-approver-app: first paint {} ms after start",
        state.started.elapsed().as_millis()
    );
    // Started by a heso:// link: the window can open it now that it listens.
    let link = state
        .launch_link
        .lock()
        .map(|mut l| l.take())
        .unwrap_or_default();
    if let Some(link) = link {
        crate::window::open_link(&app, &link);
    }
    Ok(())
}

/// An item opened from outside (a link, the agent) is on screen: logged for
/// the open-to-painted figure.
#[tauri::command]
pub async fn item_painted(state: State<'_, AppState>, action_hash: String) -> Answer<()> {
    check_hash(&action_hash)?;
    eprintln!(
        "heso-approver-app: item {action_hash} painted {} ms after start",
        state.started.elapsed().as_millis()
    );
    Ok(())
}
