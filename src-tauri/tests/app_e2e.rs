//! The real app window, driven over WebDriver (tauri-driver + WebKitWebDriver
//! under Xvfb), against a real control plane with the vendor SDK as operator:
//! enrol, an approval appears, open it, approve with a reason,
//! `heso.finalize_l1` gives a final receipt both verifiers call Valid at L1,
//! the audit lists it; a rejection; a tampered item shown as refused with
//! no way to approve; HTML in a field shown as literal text. Screenshots of
//! each screen go to `target/screenshots/`.

#[path = "../../crates/control-plane/tests/support/mod.rs"]
mod plane;
mod support;

use heso_control_plane::store::Store;
use heso_interop_tests::oracle::Oracle;
use plane::{Plane, ORG};
use serde_json::{json, Value};
use std::path::PathBuf;
use support::webdriver::Driver;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";
const ENTER: &str = "\u{E007}";
const ARROW_DOWN: &str = "\u{E015}";
const ESCAPE: &str = "\u{E00C}";

/// One app window at a time: the tests share the display and the keyring.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots")
}

/// The desktop theme a window test runs under. The dark runs name their
/// screenshots `dark-…`, beside the light ones.
#[derive(Clone, Copy, PartialEq)]
enum Theme {
    Light,
    Dark,
}

impl Theme {
    /// The app's environment for this theme (GTK tells WebKitGTK, which
    /// answers `prefers-color-scheme`), added to `env`.
    fn env<'a>(
        self,
        env: &[(&'a str, &'a std::path::Path)],
    ) -> Vec<(&'a str, &'a std::path::Path)> {
        let mut env = env.to_vec();
        if self == Theme::Dark {
            env.push(("GTK_THEME", std::path::Path::new("Adwaita:dark")));
        }
        env
    }

    fn shot(self, name: &str) -> String {
        match self {
            Theme::Light => name.to_owned(),
            Theme::Dark => format!("dark-{name}"),
        }
    }
}

/// Replaces the stored receipt of `hash` (a compromised control plane) and
/// makes the change visible to long-polls.
fn tamper(plane: &Plane, db: &std::path::Path, hash: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let text: String = conn
        .query_row(
            "SELECT receipt FROM receipts WHERE action_hash = ?1",
            [hash],
            |r| r.get(0),
        )
        .unwrap();
    let mut receipt: Value = serde_json::from_str(&text).unwrap();
    receipt["content"]["action"]["fields"]["payee"] = "Mallory Ltd".into();
    conn.execute(
        "UPDATE receipts SET receipt = ?1 WHERE action_hash = ?2",
        rusqlite::params![receipt.to_string(), hash],
    )
    .unwrap();
    let org = plane.state().store().org_by_name(ORG).unwrap().unwrap().id;
    plane.state().changes().bump(org);
}

/// Everything a person needs, with the keyboard alone: start the demo
/// (enrolment), open the queue, move through it as a listbox whose selected
/// row is announced, open an item, reach Settings and the remove dialog,
/// which takes the focus on its safe choice and gives it back on Escape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_alone_reaches_every_step() {
    let _window = ONE_WINDOW.lock().await;
    let home = tempfile::tempdir().unwrap();
    let app = PathBuf::from(env!("CARGO_BIN_EXE_heso-approver-app"));
    let ui = Driver::launch(&app, &[("HESO_APPROVER_HOME", home.path())], screenshots()).await;
    ui.wait_for("[data-testid=demo-start]").await;
    let start = ui.tab_to("demo-start", false).await;
    ui.type_into(&start, ENTER).await;
    ui.wait_for("[data-testid=enrolled-fingerprint]").await;
    let open = ui.tab_to("open-queue", false).await;
    ui.type_into(&open, ENTER).await;
    ui.wait_until("[data-testid=queue-item]", |t| !t.contains("Refused"))
        .await;
    let list = ui.tab_to("queue-list", false).await;
    assert_eq!(
        ui.attribute(&list, "role").await.as_deref(),
        Some("listbox")
    );
    ui.type_into(&list, ARROW_DOWN).await;
    ui.type_into(&list, ARROW_DOWN).await;
    let selected = ui.wait_for(".queue-item.selected").await;
    assert_eq!(
        ui.attribute(&selected, "role").await.as_deref(),
        Some("option")
    );
    assert_eq!(
        ui.attribute(&selected, "aria-selected").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        ui.attribute(&selected, "aria-posinset").await.as_deref(),
        Some("2")
    );
    assert_eq!(
        ui.attribute(&list, "aria-activedescendant").await,
        ui.attribute(&selected, "id").await,
        "the selected row is the list's active descendant"
    );
    ui.type_into(&list, ENTER).await;
    ui.wait_until("[data-testid=detail-status]", |t| t.contains("Verified"))
        .await;
    let settings = ui.tab_to("nav-settings", true).await;
    ui.type_into(&settings, ENTER).await;
    ui.wait_for("[data-testid=settings-fingerprint]").await;
    let remove = ui.tab_to("remove-device", false).await;
    ui.type_into(&remove, ENTER).await;
    ui.wait_for("[role=dialog]").await;
    let focused = ui.focused().await;
    assert_eq!(
        ui.attribute(&focused, "data-testid").await.as_deref(),
        Some("remove-cancel"),
        "the dialog opens on its safe choice"
    );
    ui.screenshot("07b-remove-dialog").await;
    ui.type_into(&focused, ESCAPE).await;
    for _ in 0..50 {
        if ui.find_all("[role=dialog]").await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        ui.find_all("[role=dialog]").await.is_empty(),
        "Escape closes the dialog"
    );
    let back = ui.focused().await;
    assert_eq!(
        ui.attribute(&back, "data-testid").await.as_deref(),
        Some("remove-device"),
        "the focus returns where it was"
    );
    ui.close().await;
}

/// The window follows the desktop's dark preference (GTK's, which WebKitGTK
/// reports as `prefers-color-scheme`); the demo's screens pass the same
/// accessibility check as in the light theme (contrast included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_demo_in_the_dark_theme() {
    let _window = ONE_WINDOW.lock().await;
    let home = tempfile::tempdir().unwrap();
    let app = PathBuf::from(env!("CARGO_BIN_EXE_heso-approver-app"));
    let ui = Driver::launch(
        &app,
        &Theme::Dark.env(&[("HESO_APPROVER_HOME", home.path())]),
        screenshots(),
    )
    .await;
    let start = ui.wait_for("[data-testid=demo-start]").await;
    let theme = ui
        .script(
            "const bg = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
             return { dark: matchMedia('(prefers-color-scheme: dark)').matches, bg };",
        )
        .await;
    assert_eq!(theme["dark"], true, "{theme}");
    let brightness: u64 = theme["bg"].as_array().unwrap()[..3]
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert!(brightness < 150, "the page is not dark: {theme}");
    ui.click(&start).await;
    ui.wait_for("[data-testid=enrolled-fingerprint]").await;
    ui.screenshot(&Theme::Dark.shot("08a-demo-running")).await;
    ui.click(&ui.wait_for("[data-testid=open-queue]").await)
        .await;
    ui.wait_until("[data-testid=queue-item]", |t| !t.contains("Refused"))
        .await;
    ui.screenshot(&Theme::Dark.shot("08-demo-queue")).await;
    let list = ui.wait_for("[data-testid=queue-list]").await;
    ui.type_into(&list, "j").await;
    ui.type_into(&list, ENTER).await;
    ui.wait_until("[data-testid=detail-status]", |t| t.contains("Verified"))
        .await;
    ui.screenshot(&Theme::Dark.shot("09-demo-detail")).await;
    ui.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_demo_and_the_keyboard() {
    let _window = ONE_WINDOW.lock().await;
    let home = tempfile::tempdir().unwrap();
    let app = PathBuf::from(env!("CARGO_BIN_EXE_heso-approver-app"));
    let ui = Driver::launch(&app, &[("HESO_APPROVER_HOME", home.path())], screenshots()).await;
    ui.click(&ui.wait_for("[data-testid=demo-start]").await)
        .await;
    ui.wait_for("[data-testid=enrolled-fingerprint]").await;
    ui.screenshot("08a-demo-running").await;
    ui.click(&ui.wait_for("[data-testid=open-queue]").await)
        .await;
    // The demo operator's approvals arrive within seconds, verified.
    ui.wait_until("[data-testid=queue-item]", |t| !t.contains("Refused"))
        .await;
    ui.screenshot("08-demo-queue").await;

    // J selects the first item, Enter opens it, R rejects it.
    let list = ui.wait_for("[data-testid=queue-list]").await;
    ui.type_into(&list, "j").await;
    let selected = ui.wait_for(".queue-item.selected").await;
    let hash = ui.attribute(&selected, "data-action-hash").await.unwrap();
    ui.type_into(&list, ENTER).await;
    ui.wait_until("[data-testid=detail-status]", |t| t.contains("Verified"))
        .await;
    // Just opened: focus is on the item, and one keystroke decides nothing.
    assert_eq!(
        ui.script("return document.activeElement.dataset.testid")
            .await,
        "detail-summary"
    );
    ui.type_into(&list, "r").await;
    ui.wait_until("[data-testid=toast]", |t| t.contains("Take a moment"))
        .await;
    ui.screenshot("09-demo-detail").await;
    assert_eq!(
        ui.text(&ui.wait_for("[data-testid=detail-state]").await)
            .await,
        "pending"
    );
    // After a moment on screen, R rejects it.
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    ui.type_into(&list, "r").await;
    ui.wait_until("[data-testid=toast]", |t| t.contains("Rejected"))
        .await;
    ui.wait_until("[data-testid=detail-state]", |t| t.contains("rejected"))
        .await;
    let gone = format!("[data-testid=queue-item][data-action-hash=\"{hash}\"]");
    for _ in 0..100 {
        if ui.find_all(&gone).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        ui.find_all(&gone).await.is_empty(),
        "the decided item left the queue"
    );

    // A heso://approval/<hash> link, opened as the desktop does (a second
    // launch with the link): that launch hands it over and exits, and the
    // running window opens the item.
    let last = ui.find_all("[data-testid=queue-item]").await.pop().unwrap();
    let other = ui.attribute(&last, "data-action-hash").await.unwrap();
    let mut second = std::process::Command::new(&app)
        .arg(format!("heso://approval/{other}"))
        .env("HESO_APPROVER_HOME", home.path())
        .spawn()
        .unwrap();
    let mut exited = None;
    for _ in 0..200 {
        exited = second.try_wait().unwrap();
        if exited.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = second.kill();
    assert!(exited.expect("the second launch exits at once").success());
    ui.wait_for(&format!(
        "[data-testid=detail][data-action-hash=\"{other}\"] [data-testid=detail-status]"
    ))
    .await;
    ui.wait_until("[data-testid=detail-status]", |t| t.contains("Verified"))
        .await;
    // Opened from outside: focus on the item, never on Approve.
    assert_eq!(
        ui.script("return document.activeElement.dataset.testid")
            .await,
        "detail-summary"
    );
    ui.screenshot("10-opened-from-link").await;
    ui.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_reject_and_refuse_in_the_real_window() {
    approve_reject_and_refuse(Theme::Light).await;
}

/// The same screens (enrolment form, flagged and refused items, audit,
/// settings) in the dark theme, each checked by axe-core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_reject_and_refuse_in_the_dark_theme() {
    approve_reject_and_refuse(Theme::Dark).await;
}

async fn approve_reject_and_refuse(theme: Theme) {
    let _window = ONE_WINDOW.lock().await;
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "needs a Secret Service: run under scripts/with-secret-service.sh (scripts/test.sh does)"
    );
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("control-plane.db");
    let mut sdk = Oracle::sdk_operator();
    let mut ask = |request: Value| tokio::task::block_in_place(|| sdk.must(request));
    let operator_key = ask(json!({"op": "init", "dir": project.path()}))["operator_public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let unused_operator = heso_receipt::SigningKey::from_bytes(&[11; 32]);
    let plane = Plane::start_on(Store::open(&db).unwrap(), unused_operator, &operator_key).await;
    ask(json!({"op": "configure", "endpoint": plane.url, "api_key": plane.api_key}));

    let approver_home = home.path().join("approver");
    // The user's home, where "start at login" writes its autostart entry.
    let user_home = home.path().join("user");
    std::fs::create_dir_all(&user_home).unwrap();
    let app = PathBuf::from(env!("CARGO_BIN_EXE_heso-approver-app"));
    let ui = Driver::launch(
        &app,
        &theme.env(&[
            ("HESO_APPROVER_HOME", approver_home.as_path()),
            ("HOME", user_home.as_path()),
        ]),
        screenshots(),
    )
    .await;

    // First run: enrol with the control plane.
    let url = ui.wait_for("[data-testid=enroll-url]").await;
    ui.screenshot(&theme.shot("01-first-run")).await;
    ui.type_into(&url, &plane.url).await;
    let code = ui.wait_for("[data-testid=enroll-code]").await;
    ui.type_into(&code, &plane.enrolment_code("desktop")).await;
    ui.click(&ui.wait_for("[data-testid=enroll-submit]").await)
        .await;
    let fingerprint = ui.wait_for("[data-testid=enrolled-fingerprint]").await;
    assert!(ui.text(&fingerprint).await.starts_with("heso:"));
    // The pinned operator key, for the person to compare with the operator's.
    let operator_fingerprint = heso_receipt::keys::fingerprint(
        &heso_receipt::keys::decode_public_key(&operator_key).unwrap(),
    );
    ui.wait_until("[data-testid=operator-fingerprints]", |t| {
        t.contains(&operator_fingerprint)
    })
    .await;
    ui.screenshot(&theme.shot("02-enrolled")).await;
    ui.click(&ui.wait_for("[data-testid=open-queue]").await)
        .await;

    // The SDK suspends three payments; they appear in the queue.
    let suspend = |amount: u64, payee: &str| {
        json!({"op": "suspend", "verb": "payment", "tool_name": "stripe.transfers.create",
               "target_host": "api.stripe.com",
               "fields": {"amount": amount, "currency": "USD", "payee": payee}})
    };
    let hash_of = |answer: Value| {
        answer["receipt"]["content"]["action_hash"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let approved = hash_of(ask(suspend(4200, HOSTILE)));
    let rejected = hash_of(ask(suspend(9900, "Globex LLC")));
    let tampered = hash_of(ask(suspend(1500, "Globex LLC")));
    // "Globex" with a Cyrillic о (U+043E): reads the same, is another payee.
    let lookalike = hash_of(ask(suspend(120, "Gl\u{043e}bex LLC")));
    tamper(&plane, &db, &tampered);
    let row = |hash: &str| format!("[data-testid=queue-item][data-action-hash=\"{hash}\"]");
    ui.wait_until(&row(&approved), |t| {
        t.contains(&format!("Pay 4,200 USD to {HOSTILE}"))
    })
    .await;
    ui.wait_until(&row(&tampered), |t| t.contains("Failed verification"))
        .await;
    ui.screenshot(&theme.shot("03-queue")).await;

    // Open the first: the verified view, with the HTML shown as text.
    ui.click_css(&row(&approved)).await;
    ui.wait_until("[data-testid=detail-status]", |t| t.contains("Verified"))
        .await;
    let payee = ui
        .wait_for("[data-testid=detail-field][data-field=payee] td")
        .await;
    assert_eq!(ui.text(&payee).await, HOSTILE);
    assert!(ui
        .find_all("[data-testid=detail] img, .queue-list img")
        .await
        .is_empty());
    let amount = ui
        .wait_for("[data-testid=detail-field][data-field=amount]")
        .await;
    assert!(
        ui.text(&amount).await.contains("matched"),
        "the rule's condition is highlighted"
    );
    let rule = ui
        .text(&ui.wait_for("[data-testid=detail-rule]").await)
        .await;
    assert!(!rule.is_empty());
    assert_eq!(ui.script("return document.title").await, "HESO Approver");
    ui.screenshot(&theme.shot("04-detail")).await;

    // Approve with a reason.
    ui.type_into(
        &ui.wait_for("[data-testid=reason-input]").await,
        "invoice INV-7 checked",
    )
    .await;
    ui.click(&ui.wait_for("[data-testid=approve-button]").await)
        .await;
    ui.wait_until("[data-testid=toast]", |t| t.contains("Approved"))
        .await;
    assert_eq!(
        ask(json!({"op": "poll", "action_hash": approved}))["status"],
        "approved"
    );
    ask(json!({"op": "finalize", "action_hash": approved}));
    let org = plane.state().store().org_by_name(ORG).unwrap().unwrap().id;
    let store = plane.state().store();
    let suspended = store.receipt(org, &approved).unwrap().unwrap();
    let l1_hash = suspended.superseded_by.expect("the L1 supersedes the L0");
    let final_receipt = store.receipt(org, &l1_hash).unwrap().unwrap();
    let receipt: Value = serde_json::from_str(&final_receipt.text).unwrap();
    let verdict = ask(json!({"op": "verify", "receipt": receipt}));
    assert_eq!(verdict["verdict"]["kind"], "Valid", "{verdict}");
    assert_eq!(verdict["verdict"]["trust_level"], "L1", "{verdict}");
    assert_eq!(
        receipt["content"]["approver_decision"]["reason"],
        "invoice INV-7 checked"
    );

    // Reject the second.
    ui.click_css(&row(&rejected)).await;
    ui.wait_until("[data-testid=detail-summary]", |t| t.contains("9,900"))
        .await;
    ui.type_into(
        &ui.wait_for("[data-testid=reason-input]").await,
        "not in budget",
    )
    .await;
    ui.click(&ui.wait_for("[data-testid=reject-button]").await)
        .await;
    ui.wait_until("[data-testid=toast]", |t| t.contains("Rejected"))
        .await;
    assert_eq!(
        ask(json!({"op": "poll", "action_hash": rejected}))["status"],
        "rejected"
    );

    // The look-alike payee: flagged where it stands, then reported.
    ui.click_css(&row(&lookalike)).await;
    let flagged = ui
        .wait_for("[data-testid=detail-field][data-field=payee][data-warning]")
        .await;
    let warning = ui.attribute(&flagged, "data-warning").await.unwrap();
    assert!(warning.contains("Cyrillic"), "{warning}");
    ui.wait_until("[data-testid=detail-warnings]", |t| t.contains("payee"))
        .await;
    ui.screenshot(&theme.shot("04b-flagged")).await;
    ui.click(&ui.wait_for("[data-testid=report-button]").await)
        .await;
    ui.wait_until("[data-testid=toast]", |t| t.contains("Reported"))
        .await;
    assert_eq!(
        ask(json!({"op": "poll", "action_hash": lookalike}))["status"],
        "rejected"
    );

    // The tampered one: refused, why, and nothing to approve with.
    ui.click_css(&row(&tampered)).await;
    let status = ui
        .wait_until("[data-testid=detail-status]", |t| t.contains("Refused"))
        .await;
    assert!(ui.text(&status).await.contains("HashMismatch"));
    assert_eq!(
        ui.attribute(&status, "data-verified").await.as_deref(),
        Some("false")
    );
    assert!(ui.find_all("[data-testid=approve-button]").await.is_empty());
    ui.screenshot(&theme.shot("05-refused")).await;
    assert_eq!(
        ask(json!({"op": "poll", "action_hash": tampered}))["status"],
        "pending"
    );

    // The audit lists both decisions; the approval's final receipt verifies.
    ui.click(&ui.wait_for("[data-testid=nav-audit]").await)
        .await;
    let audit_row = |hash: &str| format!("[data-testid=audit-item][data-action-hash=\"{hash}\"]");
    ui.wait_until(&audit_row(&approved), |t| t.contains("Valid L1"))
        .await;
    ui.wait_until(&audit_row(&rejected), |t| {
        t.to_lowercase().contains("rejected")
    })
    .await;
    ui.wait_until(&audit_row(&lookalike), |t| {
        t.contains("Reported as suspicious")
    })
    .await;
    // Each row says what was decided, under which rule, and why; the
    // hostile payee stays literal text.
    let approved_row = ui.text(&ui.wait_for(&audit_row(&approved)).await).await;
    assert!(
        approved_row.contains(&format!("Pay 4,200 USD to {HOSTILE}"))
            && approved_row.contains("Reason: invoice INV-7 checked")
            && approved_row.contains("payment.large.requires_approval"),
        "{approved_row}"
    );
    assert!(ui.find_all("[data-testid=audit-list] img").await.is_empty());
    ui.screenshot(&theme.shot("06-audit")).await;
    // Filters: by decision, then by text.
    ui.wait_for("[data-testid=audit-filter-decision]").await;
    ui.script(
        "const s = document.querySelector('[data-testid=audit-filter-decision]');
         s.value = 'rejected'; s.dispatchEvent(new Event('change'));",
    )
    .await;
    let shown: Vec<String> = {
        let mut hashes = Vec::new();
        for row in ui.find_all("[data-testid=audit-item]").await {
            hashes.push(ui.attribute(&row, "data-action-hash").await.unwrap());
        }
        hashes
    };
    assert!(
        shown.contains(&rejected) && !shown.contains(&approved),
        "{shown:?}"
    );
    ui.script(
        "const s = document.querySelector('[data-testid=audit-filter-decision]');
         s.value = ''; s.dispatchEvent(new Event('change'));",
    )
    .await;
    ui.type_into(
        &ui.wait_for("[data-testid=audit-filter-text]").await,
        "INV-7",
    )
    .await;
    ui.wait_until("[data-testid=audit-count]", |t| t.starts_with("1 of "))
        .await;
    // The signed view of the approval's final receipt.
    let details = ui
        .wait_for(&format!(
            "{} [data-testid=audit-receipt] summary",
            audit_row(&approved)
        ))
        .await;
    ui.click(&details).await;
    let signed = ui
        .wait_until("[data-testid=audit-receipt-json]", |t| {
            t.contains("\"approver_decision\"")
        })
        .await;
    let signed: Value = serde_json::from_str(&ui.text(&signed).await).unwrap();
    assert_eq!(signed, receipt, "the signed view is the final receipt");
    ui.screenshot(&theme.shot("06b-audit-filtered-receipt"))
        .await;
    // A rejection has no final receipt: its signed view is the suspended
    // receipt this device verified and decided on, kept in its journal.
    ui.script(
        "const f = document.querySelector('[data-testid=audit-filter-text]');
         f.value = ''; f.dispatchEvent(new Event('input'));",
    )
    .await;
    let details = ui
        .wait_for(&format!(
            "{} [data-testid=audit-receipt] summary",
            audit_row(&rejected)
        ))
        .await;
    ui.click(&details).await;
    let shown = ui
        .wait_until(
            &format!("{} [data-testid=audit-receipt]", audit_row(&rejected)),
            |t| t.contains("as this device verified it"),
        )
        .await;
    let json = ui
        .text(
            &shown
                .find(fantoccini::Locator::Css("[data-testid=audit-receipt-json]"))
                .await
                .unwrap(),
        )
        .await;
    let suspended: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(suspended["content"]["action_hash"], rejected.as_str());
    assert_eq!(suspended["content"]["trust_level"], "L0");

    // The decisions' messages fade first: they sit over the settings' controls.
    for _ in 0..100 {
        if ui.find_all("[data-testid=toast]").await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    ui.click(&ui.wait_for("[data-testid=nav-settings]").await)
        .await;
    ui.wait_until("[data-testid=settings-fingerprint]", |t| {
        t.starts_with("heso:")
    })
    .await;
    // The agent, holding the org's API key, registers a key of its own: the
    // roster shows it, and shows that it cannot approve until confirmed.
    let minted = heso_receipt::SigningKey::from_bytes(&[77; 32]);
    let (status, _) = plane
        .op(
            reqwest::Method::POST,
            "/v1/orgs/register-approver-pubkey",
            Some(json!({"key_id": "ci-bot", "label": "ci-bot",
                        "public_key": heso_receipt::keys::public_key_b64(&minted.verifying_key())})),
        )
        .await;
    assert!(status.is_success(), "{status}");
    ui.click(&ui.wait_for("[data-testid=nav-audit]").await)
        .await;
    ui.click(&ui.wait_for("[data-testid=nav-settings]").await)
        .await;
    ui.wait_until("[data-testid=roster]", |t| {
        t.contains("this device") && t.contains("ci-bot") && t.contains("awaiting confirmation")
    })
    .await;
    ui.screenshot(&theme.shot("07-settings")).await;

    // Start at login: an autostart entry that starts the app in the tray.
    let autostart = user_home.join(".config/autostart");
    let entries = || -> Vec<String> {
        std::fs::read_dir(&autostart)
            .map(|dir| {
                dir.flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(entries().is_empty());
    for expect_entry in [true, false] {
        ui.click(&ui.wait_for("[data-testid=start-at-login]").await)
            .await;
        let checked = ui
            .script("return document.querySelector('[data-testid=start-at-login]').checked")
            .await;
        assert_eq!(checked, expect_entry, "the box did not change");
        ui.click(&ui.wait_for("[data-testid=settings-save]").await)
            .await;
        for _ in 0..100 {
            if entries().is_empty() != expect_entry {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let found = entries();
        assert_eq!(!found.is_empty(), expect_entry, "{found:?}");
        if expect_entry {
            assert!(found[0].contains("--background"), "{}", found[0]);
        }
    }
    ui.close().await;
}

/// The app with its home under `dir`, enrolled with `plane`, on its queue.
async fn launch_enrolled(dir: &std::path::Path, plane: &Plane, theme: Theme) -> Driver {
    let approver_home = dir.join("approver");
    let app = PathBuf::from(env!("CARGO_BIN_EXE_heso-approver-app"));
    let ui = Driver::launch(
        &app,
        &theme.env(&[("HESO_APPROVER_HOME", approver_home.as_path())]),
        screenshots(),
    )
    .await;
    enrol_window(&ui, plane).await;
    ui
}

/// Enrols the window's device with `plane` and opens the queue.
async fn enrol_window(ui: &Driver, plane: &Plane) {
    let url = ui.wait_for("[data-testid=enroll-url]").await;
    ui.type_into(&url, &plane.url).await;
    let code = ui.wait_for("[data-testid=enroll-code]").await;
    ui.type_into(&code, &plane.enrolment_code("desktop")).await;
    ui.click(&ui.wait_for("[data-testid=enroll-submit]").await)
        .await;
    ui.wait_for("[data-testid=enrolled-fingerprint]").await;
    ui.click(&ui.wait_for("[data-testid=open-queue]").await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_of_three_quorum_in_the_real_window() {
    two_of_three_quorum(Theme::Light).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_of_three_quorum_in_the_dark_theme() {
    two_of_three_quorum(Theme::Dark).await;
}

async fn two_of_three_quorum(theme: Theme) {
    let _window = ONE_WINDOW.lock().await;
    let project = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut sdk = Oracle::sdk_operator();
    let mut ask = |request: Value| tokio::task::block_in_place(|| sdk.must(request));
    let operator_key = ask(json!({"op": "init", "dir": project.path()}))["operator_public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let plane = Plane::start_for_operator_key(&operator_key).await;
    ask(json!({"op": "configure", "endpoint": plane.url, "api_key": plane.api_key}));

    let ui = launch_enrolled(home.path(), &plane, theme).await;
    let colleagues = [
        plane.enrolled_device(31).await,
        plane.enrolled_device(32).await,
    ];

    let answer = ask(
        json!({"op": "suspend", "verb": "payment", "tool_name": "stripe.transfers.create",
        "fields": {"amount": 64_000, "currency": "USD", "payee": "Globex LLC"}, "threshold": 2}),
    );
    let hash = answer["receipt"]["content"]["action_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let row = format!("[data-testid=queue-item][data-action-hash=\"{hash}\"]");
    ui.wait_until(&row, |t| t.contains("0 of 2 approvals"))
        .await;
    ui.click(&ui.wait_for(&row).await).await;
    ui.wait_until("[data-testid=detail-quorum]", |t| {
        t.contains("0 of 2 approvals") && t.contains("2 of 3 approvers must approve")
    })
    .await;

    // This device approves first: its vote counts once, and it waits.
    ui.click(&ui.wait_for("[data-testid=approve-button]").await)
        .await;
    ui.wait_until("[data-testid=toast]", |t| {
        t.contains("1 of 2 approvals: waiting for 1 more")
    })
    .await;
    ui.wait_until(".decision-bar.done", |t| {
        t.contains("Waiting for 1 more approval (1 of 2)")
    })
    .await;
    ui.wait_until("[data-testid=detail-quorum]", |t| {
        t.contains("approved by this device (heso:")
    })
    .await;
    ui.screenshot(&theme.shot("11-quorum-after-one-approval"))
        .await;
    assert_eq!(
        ask(json!({"op": "poll", "action_hash": hash}))["status"],
        "pending"
    );
    // It has voted: the approval leaves its queue while others decide.
    for _ in 0..100 {
        if ui.find_all(&row).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        ui.find_all(&row).await.is_empty(),
        "a voted quorum stays in the queue"
    );

    // A colleague approves: the SDK assembles the quorum receipt.
    let (_, item) = colleagues[1]
        .call(
            reqwest::Method::GET,
            &format!("/v1/approver/approvals/{hash}"),
            None,
        )
        .await;
    let roster: Vec<String> = serde_json::from_value(item["roster"].clone()).unwrap();
    let suspended: heso_receipt::Receipt =
        serde_json::from_value(answer["receipt"].clone()).unwrap();
    let vote =
        colleagues[1].quorum_decision(&suspended, heso_receipt::Decision::Approved, 2, &roster);
    let (status, body) = colleagues[1].decide(&hash, vote).await;
    assert!(status.is_success(), "{body}");
    let finalized = ask(json!({"op": "finalize_quorum", "action_hash": hash}));
    assert_eq!(finalized["legs"], 2);

    ui.click(&ui.wait_for("[data-testid=nav-audit]").await)
        .await;
    let audit_row = format!("[data-testid=audit-item][data-action-hash=\"{hash}\"]");
    ui.wait_until(&audit_row, |t| t.contains("Valid L1 (quorum 2 of 3)"))
        .await;
    ui.screenshot(&theme.shot("12-quorum-audit")).await;
    ui.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_whose_deadline_passes_leaves_the_window() {
    let _window = ONE_WINDOW.lock().await;
    let home = tempfile::tempdir().unwrap();
    let plane = Plane::start().await;
    let ui = launch_enrolled(home.path(), &plane, Theme::Light).await;

    // The operator signed a deadline into the suspended receipt: 8 seconds.
    let receipt = plane::suspended_with(
        &plane.operator,
        "payment",
        json!({"amount": 7300, "currency": "EUR", "payee": "Initech"}),
        "payments.review",
        plane::signed_deadline_in(8),
    );
    let hash = plane.park(&receipt).await;
    let row = format!("[data-testid=queue-item][data-action-hash=\"{hash}\"]");
    ui.click(&ui.wait_for(&row).await).await;
    ui.wait_until("[data-testid=detail-deadline]", |t| {
        t.contains("deadline signed by the operator")
    })
    .await;
    ui.screenshot("13-signed-deadline").await;

    // Nobody decided: past the deadline the control plane rejects it as
    // expired, and it leaves the queue.
    for _ in 0..300 {
        if ui.find_all(&row).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        ui.find_all(&row).await.is_empty(),
        "an expired approval stays in the queue"
    );
    let (_, view) = plane
        .op(reqwest::Method::GET, &format!("/v1/approvals/{hash}"), None)
        .await;
    assert_eq!(view["status"], "rejected");
    ui.close().await;
}
