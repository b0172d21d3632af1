//! Deciding from a desktop notification, against a real notification daemon
//! (dunst) on the test's private D-Bus session, a real control plane, the
//! vendor SDK as operator and the real app's background agent, with no window
//! open: the notification's summary, body
//! and buttons; Approve pressed in dunst → journalled, submitted, and
//! `heso.finalize_l1` gives Valid at L1; Reject likewise; a large payment
//! offers no Approve; a notification is withdrawn when its approval is
//! decided elsewhere or expires; no approval is notified twice; a burst folds into one.

#[path = "support/notifications.rs"]
mod notifications;
#[path = "../../crates/control-plane/tests/support/mod.rs"]
mod plane;

use heso_approver::device_key::Keychain;
use heso_approver::journal::{Journal, SubmitState};
use heso_approver::workflow::Approver;
use heso_control_plane::store::Store;
use heso_interop_tests::oracle::Oracle;
use heso_receipt::Decision;
use notifications::NotificationDaemon;
use plane::{Plane, ORG};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One notification daemon at a time: the tests share the session bus.
static ONE_DAEMON: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct World {
    sdk: Oracle,
    plane: Plane,
    home: tempfile::TempDir,
    app: Child,
    daemon: NotificationDaemon,
    _project: tempfile::TempDir,
    /// Payments made so far: each gets a workflow of its own, so the
    /// per-workflow notification budget is not what a test measures.
    payments: usize,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.app.kill();
        let _ = self.app.wait();
        // And any window the agent started (which would start the agent
        // again): nothing of this test outlives it.
        for _ in 0..3 {
            for (pid, _) in processes_of(&self.approver_home()) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl World {
    /// dunst, a control plane whose operator is the vendor SDK, this device
    /// enrolled with it, and the app's background agent running.
    async fn start() -> World {
        let daemon = NotificationDaemon::start();
        let project = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let mut sdk = Oracle::sdk_operator();
        let operator_key = tokio::task::block_in_place(|| {
            sdk.must(json!({"op": "init", "dir": project.path()}))["operator_public_key"]
                .as_str()
                .unwrap()
                .to_owned()
        });
        let store = Store::open(&home.path().join("control-plane.db")).unwrap();
        let unused_operator = heso_receipt::SigningKey::from_bytes(&[11; 32]);
        let plane = Plane::start_on(store, unused_operator, &operator_key).await;
        tokio::task::block_in_place(|| {
            sdk.must(json!({"op": "configure", "endpoint": plane.url, "api_key": plane.api_key}))
        });
        let approver_home = home.path().join("approver");
        heso_approver::enrol::enrol(
            &approver_home,
            Keychain::Os,
            &plane.url,
            &plane.enrolment_code("desktop"),
            "desktop",
        )
        .await
        .expect("enrolment");
        let log = std::fs::File::create(home.path().join("app.log")).unwrap();
        // The background agent alone: notifications work with no window.
        let app = Command::new(env!("CARGO_BIN_EXE_heso-approver-agent"))
            .env("HESO_APPROVER_HOME", &approver_home)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        World {
            sdk,
            plane,
            home,
            app,
            daemon,
            _project: project,
            payments: 0,
        }
    }

    fn approver_home(&self) -> PathBuf {
        self.home.path().join("approver")
    }

    fn ask(&mut self, request: Value) -> Value {
        tokio::task::block_in_place(|| self.sdk.must(request))
    }

    /// The SDK suspends a payment and opens its approval; its action hash.
    fn pay(&mut self, amount: u64, payee: &str) -> String {
        self.pay_redacted(amount, payee, &[])
    }

    /// A payment whose `redacted` fields the engine commits to before
    /// signing (commit and reveal); its action hash.
    fn pay_redacted(&mut self, amount: u64, payee: &str, redacted: &[&str]) -> String {
        self.payments += 1;
        let workflow = format!("payouts-{}", self.payments);
        let answer = self.ask(json!({"op": "suspend", "verb": "payment",
            "tool_name": "stripe.transfers.create", "target_host": "api.stripe.com",
            "workflow": workflow, "fields": {"amount": amount, "currency": "USD", "payee": payee},
            "redact_fields": redacted, "redact_strategy": "commit_and_reveal"}));
        answer["receipt"]["content"]["action_hash"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn journalled(&self, hash: &str) -> heso_approver::journal::JournalEntry {
        Journal::open(&self.approver_home().join("journal.db"))
            .unwrap()
            .get(hash)
            .unwrap()
            .unwrap_or_else(|| panic!("no journal entry for {hash}; app log:\n{}", self.app_log()))
    }

    fn journalled_opt(&self, hash: &str) -> Option<heso_approver::journal::JournalEntry> {
        Journal::open(&self.approver_home().join("journal.db"))
            .unwrap()
            .get(hash)
            .unwrap()
    }

    fn app_log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("app.log")).unwrap_or_default()
    }

    /// `finalize_l1` through the SDK, then the vendor verifier on the L1.
    fn finalized_verdict(&mut self, hash: &str) -> Value {
        self.ask(json!({"op": "finalize", "action_hash": hash}));
        let store = self.plane.state().store();
        let org = store.org_by_name(ORG).unwrap().unwrap().id;
        let suspended = store.receipt(org, hash).unwrap().unwrap();
        let l1_hash = suspended.superseded_by.expect("the L1 supersedes the L0");
        let text = store.receipt(org, &l1_hash).unwrap().unwrap().text;
        let receipt: Value = serde_json::from_str(&text).unwrap();
        self.ask(json!({"op": "verify", "receipt": receipt}))["verdict"].clone()
    }
}

async fn eventually(what: &str, done: impl FnMut() -> bool) {
    assert!(within_30s(done).await, "timed out waiting for {what}");
}

/// Whether `done` comes true within 30 s (asked every 100 ms).
async fn within_30s(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..300 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn count(daemon: &NotificationDaemon, summary: &str) -> usize {
    daemon
        .notifies()
        .iter()
        .filter(|n| n.summary == summary)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_and_reject_from_a_notification() {
    let _daemon = ONE_DAEMON.lock().await;
    let mut world = World::start().await;

    // A payment: the question, the rule's sentence, and the buttons.
    let paid = world.pay(4200, "Globex LLC");
    let question = "Approve payment of 4,200 USD to Globex LLC?";
    let shown = world.daemon.wait_for(question).await;
    assert!(
        shown.body.contains("require"),
        "the rule's sentence: {shown:?}"
    );
    assert_eq!(
        shown.action_keys(),
        // Each button names the approval it was shown for.
        [
            format!("approve:{paid}"),
            format!("reject:{paid}"),
            format!("open:{paid}"),
            "default".into()
        ],
        "{shown:?}"
    );
    assert_eq!(
        shown.actions.iter().skip(1).step_by(2).collect::<Vec<_>>(),
        ["Approve", "Reject", "Open", "Open"]
    );

    // Approve, pressed in dunst: journalled, submitted, confirmed, and the
    // operator's final receipt is Valid at L1.
    world.daemon.press(question, &format!("approve:{paid}"));
    world
        .daemon
        .wait_for("Approved: payment of 4,200 USD to Globex LLC")
        .await;
    let entry = world.journalled(&paid);
    assert_eq!(entry.decision, "approved");
    assert_eq!(entry.state, SubmitState::Confirmed);
    assert_eq!(
        world.ask(json!({"op": "poll", "action_hash": paid}))["status"],
        "approved"
    );
    let verdict = world.finalized_verdict(&paid);
    assert_eq!(verdict["kind"], "Valid", "{verdict}");
    assert_eq!(verdict["trust_level"], "L1", "{verdict}");

    // Reject, pressed in dunst.
    let refused = world.pay(1500, "Initech");
    let question = "Approve payment of 1,500 USD to Initech?";
    world.daemon.wait_for(question).await;
    world.daemon.press(question, &format!("reject:{refused}"));
    world
        .daemon
        .wait_for("Rejected: payment of 1,500 USD to Initech")
        .await;
    let entry = world.journalled(&refused);
    assert_eq!(entry.decision, "rejected");
    assert_eq!(entry.state, SubmitState::Confirmed);
    assert_eq!(
        world.ask(json!({"op": "poll", "action_hash": refused}))["status"],
        "rejected"
    );

    // Above the amount set in the settings (10,000): no Approve button.
    let hooli = world.pay(25_000, "Hooli");
    let large = world
        .daemon
        .wait_for("Approve payment of 25,000 USD to Hooli?")
        .await;
    assert_eq!(
        large.action_keys(),
        [
            format!("reject:{hooli}"),
            format!("open:{hooli}"),
            "default".into()
        ]
    );
    assert!(large
        .body
        .ends_with("Payments above 10,000 USD need the app."));
    // A forged press of the Approve it does not offer (any program on the
    // session bus can send the signal): nothing is signed.
    let id = large.id.expect("the server's id for it");
    let forged = Command::new("dbus-send")
        .args([
            "--session",
            "--type=signal",
            "/org/freedesktop/Notifications",
        ])
        .arg("org.freedesktop.Notifications.ActionInvoked")
        .arg(format!("uint32:{id}"))
        .arg(format!("string:approve:{hooli}"))
        .status()
        .unwrap();
    assert!(forged.success());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(Journal::open(&world.approver_home().join("journal.db"))
        .unwrap()
        .get(&hooli)
        .unwrap()
        .is_none());
    assert_eq!(
        world.ask(json!({"op": "poll", "action_hash": hooli}))["status"],
        "pending"
    );

    // Decided elsewhere (here: the same device through the library, as
    // another window would): the notification is withdrawn.
    let elsewhere = world.pay(2000, "Umbrella");
    world
        .daemon
        .wait_for("Approve payment of 2,000 USD to Umbrella?")
        .await;
    let closes = world.daemon.closes();
    let approver = Approver::open(&world.approver_home(), Keychain::Os).unwrap();
    approver
        .decide(&elsewhere, Decision::Rejected, "")
        .await
        .unwrap();
    let daemon = &world.daemon;
    eventually("the notification to be withdrawn", || {
        daemon.closes() > closes
    })
    .await;

    // Its deadline passes with nobody deciding (the clock moved past it):
    // the control plane rejects it as expired and the notification goes.
    let overdue = world.pay(2100, "Cyberdyne");
    world
        .daemon
        .wait_for("Approve payment of 2,100 USD to Cyberdyne?")
        .await;
    let closes = world.daemon.closes();
    let db = world.home.path().join("control-plane.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE approvals SET deadline_at = 0 WHERE action_hash = ?1",
            [&overdue],
        )
        .unwrap();
    heso_control_plane::sweep_expired(world.plane.state())
        .await
        .unwrap();
    let daemon = &world.daemon;
    eventually(
        "the expired approval's notification to be withdrawn",
        || daemon.closes() > closes,
    )
    .await;
    assert_eq!(
        world.ask(json!({"op": "poll", "action_hash": overdue}))["status"],
        "rejected"
    );

    // Markup in a value is sent escaped (dunst renders markup even in the
    // summary), so it shows as the text it is instead of vanishing.
    world.pay(1100, "<img src=x onerror=alert(1)>");
    world
        .daemon
        .wait_for("Approve payment of 1,100 USD to &lt;img src=x onerror=alert(1)&gt;?")
        .await;
    assert!(!world.app_log().contains("panicked"), "{}", world.app_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redacted_or_look_alike_values_need_the_app() {
    let _daemon = ONE_DAEMON.lock().await;
    let mut world = World::start().await;

    // A small payment whose payee is only a commitment: the notification
    // cannot show what would be signed, so it offers no Approve.
    let committed = world.pay_redacted(120, "Globex LLC", &["payee"]);
    let shown = world
        .daemon
        .wait_for("Approve payment of 120 USD to a redacted payee?")
        .await;
    assert_eq!(
        shown.action_keys(),
        [
            format!("reject:{committed}"),
            format!("open:{committed}"),
            "default".into()
        ],
        "{shown:?}"
    );
    assert!(shown.body.contains("redacted: open the app"), "{shown:?}");

    // "Globex" with a Cyrillic о: no Approve, and the notification says why.
    let lookalike = world.pay(130, "Gl\u{043e}bex LLC");
    let shown = world
        .daemon
        .wait_for("Approve payment of 130 USD to Gl\u{043e}bex LLC?")
        .await;
    assert!(!shown
        .action_keys()
        .contains(&format!("approve:{lookalike}")));
    assert!(shown.body.contains("Cyrillic"), "{shown:?}");

    // A plain small payment stays approvable from its notification.
    let plain = world.pay(140, "Globex LLC");
    let shown = world
        .daemon
        .wait_for("Approve payment of 140 USD to Globex LLC?")
        .await;
    assert!(shown.action_keys().contains(&format!("approve:{plain}")));
    assert!(!world.app_log().contains("panicked"), "{}", world.app_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_approval_twice_and_a_burst_folds_into_one() {
    let _daemon = ONE_DAEMON.lock().await;
    let mut world = World::start().await;

    world.pay(1200, "Acme Corp");
    let first = "Approve payment of 1,200 USD to Acme Corp?";
    world.daemon.wait_for(first).await;
    // The queue changes again (a second approval); the first is not repeated.
    world.pay(1300, "Acme Corp");
    world
        .daemon
        .wait_for("Approve payment of 1,300 USD to Acme Corp?")
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(&world.daemon, first), 1);

    // Five more at once: with two on screen, all fold into one.
    for i in 0..5 {
        world.pay(2000 + i, "Burst Ltd");
    }
    world.daemon.wait_for("7 approvals waiting").await;
    let daemon = &world.daemon;
    eventually("one notification on screen", || {
        daemon.displayed() == Some(1)
    })
    .await;
    let individual = world
        .daemon
        .notifies()
        .iter()
        .filter(|n| n.summary.starts_with("Approve payment"))
        .count();
    assert!(
        individual <= 3,
        "at most three before folding, saw {individual}"
    );
    for n in world.daemon.notifies() {
        if n.summary.starts_with("Approve payment") {
            assert_eq!(count(&world.daemon, &n.summary), 1, "{} twice", n.summary);
        }
    }
}

#[test]
fn dbus_monitor_output_is_read_back() {
    let log = r#"method call time=1.5 sender=:1.9 -> destination=org.freedesktop.Notifications serial=4 path=/org/freedesktop/Notifications; interface=org.freedesktop.Notifications; member=Notify
   string "HESO Approver"
   uint32 0
   string ""
   string "Approve payment of 4,200 USD to Globex LLC?"
   string "When any agent pays
Payments above 10,000 need the app."
   array [
      string "reject"
      string "Reject"
   ]
   array [
      dict entry(
         string "desktop-entry"
         variant             string "heso-approver-app"
      )
   ]
   int32 0
method return time=1.6 sender=:1.2 -> destination=:1.9 serial=11 reply_serial=4
   uint32 7
"#;
    let found = notifications::parse_notifies(log);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, Some(7));
    assert_eq!(
        found[0].summary,
        "Approve payment of 4,200 USD to Globex LLC?"
    );
    assert_eq!(
        found[0].body,
        "When any agent pays\nPayments above 10,000 need the app."
    );
    assert_eq!(found[0].actions, ["reject", "Reject"]);
}

/// The processes running with `home` in their environment (the agent, the
/// windows and their WebKit processes), each with its command line.
fn processes_of(home: &std::path::Path) -> Vec<(u32, Vec<String>)> {
    let marker = format!("HESO_APPROVER_HOME={}", home.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if !environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            continue;
        }
        let argv = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let argv = argv
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        found.push((pid, argv));
    }
    found
}

/// Those of `home`'s processes that run `program`.
fn running(home: &std::path::Path, program: &str) -> Vec<(u32, Vec<String>)> {
    processes_of(home)
        .into_iter()
        .filter(|(_, argv)| argv.first().is_some_and(|a| a.ends_with(program)))
        .collect()
}

/// One request to the agent, as the window (or the tray's Quit) sends it.
fn ask_agent(home: &std::path::Path, request: Value) -> Value {
    ask_agent_raw(home, format!("{request}\n").as_bytes())
}

fn ask_agent_raw(home: &std::path::Path, line: &[u8]) -> Value {
    use std::io::{BufRead as _, Write as _};
    let mut stream = std::os::unix::net::UnixStream::connect(home.join("agent.sock")).unwrap();
    stream.write_all(line).unwrap();
    let mut answer = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut answer)
        .unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_comes_and_goes_while_the_agent_stays() {
    let _daemon = ONE_DAEMON.lock().await;
    let mut world = World::start().await;
    let home = world.approver_home();

    // A window started on a link while only the agent runs: it opens on the
    // item, and starts no second agent.
    let linked = world.pay(1200, "Umbrella Corp");
    world
        .daemon
        .wait_for("Approve payment of 1,200 USD to Umbrella Corp?")
        .await;
    let window_log = world.home.path().join("window.log");
    let log = std::fs::File::create(&window_log).unwrap();
    let mut window = Command::new(env!("CARGO_BIN_EXE_heso-approver-app"))
        .arg(format!("heso://approval/{linked}"))
        .env("HESO_APPROVER_HOME", &home)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let painted = format!("item {linked} painted");
    let window_said = || std::fs::read_to_string(&window_log).unwrap_or_default();
    assert!(
        within_30s(|| window_said().contains(&painted)).await,
        "window log:\n{}",
        window_said()
    );
    assert_eq!(running(&home, "heso-approver-agent").len(), 1);

    // The window killed: the agent goes on, a new approval is notified.
    window.kill().unwrap();
    window.wait().unwrap();
    let opened = world.pay(1300, "Soylent");
    let question = "Approve payment of 1,300 USD to Soylent?";
    world.daemon.wait_for(question).await;

    // Open on the notification: the agent starts a window on that item.
    world.daemon.press(question, &format!("open:{opened}"));
    let painted = format!("item {opened} painted");
    eventually(
        "a window painted the item opened from the notification",
        || world.app_log().contains(&painted),
    )
    .await;
    let windows = running(&home, "heso-approver-app");
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert!(windows[0].1.contains(&format!("heso://approval/{opened}")));

    // Anything else on its socket is refused, and the agent carries on.
    for junk in [
        b"{\"request\":\"format_disk\"}\n".to_vec(),
        vec![b'x'; 10_000],
    ] {
        let answer = ask_agent_raw(&home, &junk);
        assert_eq!(answer["ok"], false, "{answer}");
    }
    assert_eq!(ask_agent(&home, json!({"request": "ping"}))["ok"], true);

    // Quit (what the tray's Quit does): the agent and its window end, and
    // no notification is left whose buttons nobody would answer.
    assert_eq!(ask_agent(&home, json!({"request": "quit"}))["ok"], true);
    eventually("the agent and the window ended", || {
        processes_of(&home).is_empty()
    })
    .await;
    let umbrella = world
        .daemon
        .notifies()
        .into_iter()
        .find(|n| n.summary.contains("Umbrella Corp"))
        .and_then(|n| n.id)
        .unwrap();
    assert!(
        world.daemon.closed_ids().contains(&umbrella),
        "{:?} / {umbrella}",
        world.daemon.closed_ids()
    );
    assert!(!world.app_log().contains("panicked"), "{}", world.app_log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_from_the_window_reach_the_agent_and_login_starts_only_the_agent() {
    let _daemon = ONE_DAEMON.lock().await;
    let mut world = World::start().await;
    let home = world.approver_home();
    let hash = world.pay(1400, "Cyberdyne");
    let shown = world
        .daemon
        .wait_for("Approve payment of 1,400 USD to Cyberdyne?")
        .await;

    // Notifications turned off in the window (it saves, then tells the
    // agent): what was shown is withdrawn at once.
    let path = home.join("settings.json");
    let mut settings: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or("{}".into())).unwrap();
    settings["notifications"] = json!({"enabled": false});
    std::fs::write(&path, settings.to_string()).unwrap();
    assert_eq!(
        ask_agent(&home, json!({"request": "settings_changed"}))["ok"],
        true
    );
    let id = shown.id.unwrap();
    eventually("the notification withdrawn", || {
        world.daemon.closed_ids().contains(&id)
    })
    .await;
    assert!(world.journalled_opt(&hash).is_none());

    // Started at login (`--background`): the agent is started if none runs,
    // and no window opens.
    assert_eq!(ask_agent(&home, json!({"request": "quit"}))["ok"], true);
    eventually("the agent ended", || processes_of(&home).is_empty()).await;
    let status = Command::new(env!("CARGO_BIN_EXE_heso-approver-app"))
        .arg("--background")
        .env("HESO_APPROVER_HOME", &home)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    eventually("the agent started at login answers", || {
        home.join("agent.sock").exists()
    })
    .await;
    assert_eq!(ask_agent(&home, json!({"request": "ping"}))["ok"], true);
    assert_eq!(running(&home, "heso-approver-agent").len(), 1);
    assert!(running(&home, "heso-approver-app").is_empty());
    assert_eq!(ask_agent(&home, json!({"request": "quit"}))["ok"], true);
    eventually("the agent ended", || processes_of(&home).is_empty()).await;
}
