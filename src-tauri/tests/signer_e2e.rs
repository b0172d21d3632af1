//! The app with its key in the system signer, against a program of the
//! same desktop user: the window (WebDriver) and the background agent's
//! notifications (dunst) sign only with the person at the system prompt.
//! Each test runs inside `scripts/with-signer.sh` (a private system bus with
//! polkitd and the signer as its own user; the test as a desktop user of its
//! own, on an X display of its own). `person CMD` is the person at the desk,
//! answering the prompts of that one process with the desktop user's
//! password; a process started without it has nobody to answer.
//!
//! The operator is the vendor SDK; the control plane runs in this process.

// Shared with the other window and notification tests, which use more of them.
#[allow(dead_code)]
#[path = "support/notifications.rs"]
mod notifications;
#[path = "../../crates/control-plane/tests/support/mod.rs"]
mod plane;
#[allow(dead_code)]
mod support;

use heso_approver::device_key::Keychain;
use heso_approver::journal::{Journal, SubmitState};
use heso_interop_tests::oracle::Oracle;
use heso_interop_tests::signer_harness::Rerun;
use heso_interop_tests::signer_test;
use notifications::NotificationDaemon;
use plane::{Plane, ORG};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::webdriver::{tauri_driver, Driver};

/// Screenshots of these runs, beside the other window tests'. Made by the
/// run from cargo and left writable for the desktop user of the harness.
fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots/signer")
}

/// Inside the harness the test gets an X display of its own; `tauri-driver`
/// (under /root when cargo installed it there) is shown to it.
fn on_a_display(rerun: Rerun<'static>) -> Rerun<'static> {
    use std::os::unix::fs::PermissionsExt as _;
    let shots = screenshots();
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::set_permissions(&shots, std::fs::Permissions::from_mode(0o777)).unwrap();
    let driver = which(&tauri_driver());
    let rerun = rerun
        .under(&["xvfb-run", "-a", "-s", "-screen 0 1280x800x24"])
        .env("TAURI_DRIVER", &driver.to_string_lossy());
    if driver.starts_with("/root/") {
        rerun.root_bind(&driver.to_string_lossy())
    } else {
        rerun
    }
}

/// `program` as an absolute path (looked up on PATH when it is a bare name).
fn which(program: &Path) -> PathBuf {
    if program.is_absolute() {
        return program.to_owned();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{} is not on PATH", program.display()))
}

/// The vendor SDK as operator and the control plane it pushes to.
struct Operator {
    sdk: Oracle,
    plane: Plane,
    scratch: tempfile::TempDir,
    payments: usize,
}

impl Operator {
    async fn start() -> Operator {
        let scratch = tempfile::tempdir().unwrap();
        let mut sdk = Oracle::sdk_operator();
        let project = scratch.path().join("project");
        std::fs::create_dir(&project).unwrap();
        let operator_key = tokio::task::block_in_place(|| {
            sdk.must(json!({"op": "init", "dir": project}))["operator_public_key"]
                .as_str()
                .unwrap()
                .to_owned()
        });
        let plane = Plane::start_for_operator_key(&operator_key).await;
        tokio::task::block_in_place(|| {
            sdk.must(json!({"op": "configure", "endpoint": plane.url, "api_key": plane.api_key}))
        });
        Operator {
            sdk,
            plane,
            scratch,
            payments: 0,
        }
    }

    fn ask(&mut self, request: Value) -> Value {
        tokio::task::block_in_place(|| self.sdk.must(request))
    }

    /// A payment the SDK suspends (each in a workflow of its own); its hash.
    fn pay(&mut self, amount: u64, payee: &str) -> String {
        self.payments += 1;
        let answer = self.ask(json!({"op": "suspend", "verb": "payment",
            "tool_name": "stripe.transfers.create", "target_host": "api.stripe.com",
            "workflow": format!("payouts-{}", self.payments),
            "fields": {"amount": amount, "currency": "USD", "payee": payee}}));
        answer["receipt"]["content"]["action_hash"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn status(&mut self, hash: &str) -> String {
        self.ask(json!({"op": "poll", "action_hash": hash}))["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `finalize_l1` through the SDK, then the vendor's verdict on the L1.
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

    fn path(&self, name: &str) -> PathBuf {
        self.scratch.path().join(name)
    }

    /// A launcher that is `program` with the person at the desk: `person`
    /// execs it, so the process that calls the signer is the one the
    /// person's prompt agent answers for. What the prompts showed is
    /// appended to `transcript`.
    fn at_the_desk(&self, program: &Path, transcript: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let launcher = self.path("at-the-desk");
        std::fs::write(
            &launcher,
            format!(
                "#!/bin/sh\nexec person --transcript '{}' -- '{}' \"$@\"\n",
                transcript.display(),
                program.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755)).unwrap();
        launcher
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Opens the queue row of `hash` and waits for its verified view.
async fn open_item(ui: &Driver, hash: &str) {
    let row = format!("[data-testid=queue-item][data-action-hash=\"{hash}\"]");
    ui.click_css(&row).await;
    ui.wait_until(
        &format!("[data-testid=detail][data-action-hash=\"{hash}\"] [data-testid=detail-status]"),
        |t| t.contains("Verified"),
    )
    .await;
}

const APP: &str = env!("CARGO_BIN_EXE_heso-approver-app");

signer_test! {
    rerun = on_a_display;
    /// The person enrols in the window (the signer makes the key and the
    /// person confirms at the prompt), approves (the prompt shows the
    /// payment; the vendor SDK's L1 is Valid) and rejects. Then the same
    /// app started by a program with nobody at the desk: Approve signs
    /// nothing, the window says why, the approval stays pending.
    fn the_window_signs_through_the_signer_only_with_the_person() {
        let mut operator = Operator::start().await;
        let home = operator.path("approver");
        let prompts = operator.path("prompts.txt");
        let at_the_desk = operator.at_the_desk(Path::new(APP), &prompts);
        let env = [("HESO_APPROVER_HOME", home.as_path())];
        let ui = Driver::launch(&at_the_desk, &env, screenshots()).await;

        ui.type_into(&ui.wait_for("[data-testid=enroll-url]").await, &operator.plane.url).await;
        let code = operator.plane.enrolment_code("desktop");
        ui.type_into(&ui.wait_for("[data-testid=enroll-code]").await, &code).await;
        ui.click(&ui.wait_for("[data-testid=enroll-submit]").await).await;
        ui.wait_for("[data-testid=enrolled-fingerprint]").await;
        assert!(read(&prompts).contains("enrol this device with org"), "{}", read(&prompts));
        ui.screenshot("01-enrolled-in-the-signer").await;

        let paid = operator.pay(4200, "Globex LLC");
        let refused = operator.pay(9900, "Initech");
        ui.click(&ui.wait_for("[data-testid=open-queue]").await).await;
        open_item(&ui, &paid).await;
        ui.type_into(&ui.wait_for("[data-testid=reason-input]").await, "invoice INV-7 checked").await;
        ui.click(&ui.wait_for("[data-testid=approve-button]").await).await;
        ui.wait_until("[data-testid=toast]", |t| t.contains("Approved: signed and recorded")).await;
        assert_eq!(operator.status(&paid), "approved");
        let shown = read(&prompts);
        assert!(shown.contains("Approve: Pay 4,200 USD to Globex LLC"), "{shown}");
        assert!(shown.contains("Your reason: invoice INV-7 checked"), "{shown}");
        let verdict = operator.finalized_verdict(&paid);
        assert_eq!((verdict["kind"].as_str(), verdict["trust_level"].as_str()), (Some("Valid"), Some("L1")), "{verdict}");

        open_item(&ui, &refused).await;
        ui.click(&ui.wait_for("[data-testid=reject-button]").await).await;
        ui.wait_until("[data-testid=toast]", |t| t.contains("Rejected: signed and recorded")).await;
        assert_eq!(operator.status(&refused), "rejected");
        assert!(read(&prompts).contains("Reject: Pay 9,900 USD to Initech"));

        ui.click(&ui.wait_for("[data-testid=nav-settings]").await).await;
        ui.wait_until("[data-testid=settings-key-protection]", |t| t.contains("held by the system signer")).await;
        assert!(ui.find_all("[data-testid=protect-card]").await.is_empty(), "a protected key is offered protection");
        ui.screenshot("02-settings-protected").await;
        ui.close().await;

        // Started by a program of the same user, nobody at the desk.
        let unattended = operator.pay(8800, "Globex LLC");
        let ui = Driver::launch(Path::new(APP), &env, screenshots()).await;
        ui.click(&ui.wait_for("[data-testid=nav-queue]").await).await;
        open_item(&ui, &unattended).await;
        ui.click(&ui.wait_for("[data-testid=approve-button]").await).await;
        ui.wait_until("[data-testid=toast]", |t| t.contains("nothing was signed")).await;
        ui.screenshot("03-nobody-at-the-desk").await;
        assert_eq!(operator.status(&unattended), "pending");
        let journal = Journal::open(&home.join("journal.db")).unwrap();
        assert!(journal.get(&unattended).unwrap().is_none(), "a vote nobody confirmed was journalled");
        ui.close().await;
    }
}

signer_test! {
    rerun = on_a_display;
    /// A device enrolled before the signer, its key in the keychain: the
    /// window says any program of the user can read it and offers to move
    /// it; with a new code and the person at the prompt, the key is in the
    /// signer, the old one retired (the control plane refuses it), the
    /// keychain holds nothing, and the new key approves.
    fn the_window_moves_a_keychain_key_into_the_signer() {
        let mut operator = Operator::start().await;
        let home = operator.path("approver");
        let cli = heso_interop_tests::signer_harness::bin_dir().join("heso-approver");
        assert!(cli.exists(), "no {} (cargo build -p heso-approver)", cli.display());
        let enrolled = Command::new(&cli)
            .args(["enroll", "--url", &operator.plane.url, "--code", &operator.plane.enrolment_code("desktop")])
            .env("HESO_APPROVER_HOME", &home)
            .env("HESO_APPROVER_KEY_CUSTODY", "keychain")
            .output()
            .unwrap();
        assert!(enrolled.status.success(), "{}", String::from_utf8_lossy(&enrolled.stderr));
        let old_key: Value = serde_json::from_str(&read(&home.join("profile.json"))).unwrap();
        let old_key = old_key["approver_public_key"].as_str().unwrap().to_owned();

        let prompts = operator.path("prompts.txt");
        let at_the_desk = operator.at_the_desk(Path::new(APP), &prompts);
        let ui = Driver::launch(&at_the_desk, &[("HESO_APPROVER_HOME", home.as_path())], screenshots()).await;
        // Said where the person looks, and the way to fix it one click away.
        ui.click(&ui.wait_until("[data-testid=key-warning]", |t| t.contains("not protected")).await).await;
        let card = ui.wait_until("[data-testid=protect-card]", |t| t.contains("can read it")).await;
        assert!(ui.text(&card).await.contains("Move it into the system signer"));
        ui.screenshot("04-keychain-key-offered-protection").await;
        let code = operator.plane.enrolment_code("desktop");
        ui.type_into(&ui.wait_for("[data-testid=protect-code]").await, &code).await;
        ui.click(&ui.wait_for("[data-testid=protect-submit]").await).await;
        ui.wait_until("[data-testid=toast]", |t| t.contains("now held by the system signer")).await;
        ui.wait_until("[data-testid=settings-key-protection]", |t| t.contains("held by the system signer")).await;
        assert!(ui.find_all("[data-testid=key-warning]").await.is_empty(), "still warned after the move");
        ui.screenshot("05-key-moved-into-the-signer").await;

        // The old key is refused; the keychain holds nothing of this device.
        let org = operator.plane.state().store().org_by_name(ORG).unwrap().unwrap().id;
        let standing = operator.plane.state().store().standing(org, &old_key).unwrap();
        assert_eq!(standing, Some(heso_control_plane::store::Standing::Revoked));
        let items = Command::new("secret-tool").args(["search", "--all", "service", "heso-approver"]).output().unwrap();
        assert!(!String::from_utf8_lossy(&items.stdout).contains("secret"), "the keychain still holds a key");

        let paid = operator.pay(1200, "Globex LLC");
        ui.click(&ui.wait_for("[data-testid=nav-queue]").await).await;
        open_item(&ui, &paid).await;
        ui.click(&ui.wait_for("[data-testid=approve-button]").await).await;
        ui.wait_until("[data-testid=toast]", |t| t.contains("Approved: signed and recorded")).await;
        let verdict = operator.finalized_verdict(&paid);
        assert_eq!((verdict["kind"].as_str(), verdict["trust_level"].as_str()), (Some("Valid"), Some("L1")), "{verdict}");
        ui.close().await;
    }
}

/// The app's background agent (no window), its output to `log`.
fn start_agent(launcher: &Path, home: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(launcher)
        .env("HESO_APPROVER_HOME", home)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The test process itself is the person at the desk (it enrols the device
/// through the library); the agents it starts are not, unless started
/// through `person`.
fn as_the_person_on_a_display(rerun: Rerun<'static>) -> Rerun<'static> {
    on_a_display(rerun).under(&["person", "--quiet", "--"])
}

signer_test! {
    rerun = as_the_person_on_a_display;
    /// Approve and Reject pressed on notifications (dunst) of an agent the
    /// person started: each asks at the system prompt; the approval's L1
    /// is Valid for the vendor SDK. The same press on an agent a program
    /// started, with nobody at the desk: nothing is signed, the
    /// notification says so, the approval stays pending.
    fn notifications_sign_through_the_signer_only_with_the_person() {
        let daemon = NotificationDaemon::start();
        let mut operator = Operator::start().await;
        let home = operator.path("approver");
        let code = operator.plane.enrolment_code("desktop");
        let (profile, _) = heso_approver::enrol::enrol(&home, Keychain::Os, &operator.plane.url, &code, "desktop")
            .await
            .expect("enrolment with the person at the prompt");
        assert_eq!(profile.custody, heso_approver::device_key::Custody::Signer);
        let agent = Path::new(env!("CARGO_BIN_EXE_heso-approver-agent"));

        // Nobody at the desk: the agent a program started.
        let unattended_agent = start_agent(agent, &home, &operator.path("agent-unattended.log"));
        let unattended = operator.pay(4100, "Globex LLC");
        let question = "Approve payment of 4,100 USD to Globex LLC?";
        daemon.wait_for(question).await;
        daemon.press(question, &format!("approve:{unattended}"));
        let told = daemon.wait_for("Could not complete the decision").await;
        assert!(told.body.contains("nothing was signed"), "{told:?}");
        assert_eq!(operator.status(&unattended), "pending");
        stop(unattended_agent);

        // The person's own agent.
        let prompts = operator.path("prompts.txt");
        let launcher = operator.at_the_desk(agent, &prompts);
        let person_agent = start_agent(&launcher, &home, &operator.path("agent.log"));
        let paid = operator.pay(4200, "Globex LLC");
        let question = "Approve payment of 4,200 USD to Globex LLC?";
        daemon.wait_for(question).await;
        daemon.press(question, &format!("approve:{paid}"));
        daemon.wait_for("Approved: payment of 4,200 USD to Globex LLC").await;
        assert!(read(&prompts).contains("Approve: Pay 4,200 USD to Globex LLC"), "{}", read(&prompts));
        let journal = Journal::open(&home.join("journal.db")).unwrap();
        assert_eq!(journal.get(&paid).unwrap().unwrap().state, SubmitState::Confirmed);
        let verdict = operator.finalized_verdict(&paid);
        assert_eq!((verdict["kind"].as_str(), verdict["trust_level"].as_str()), (Some("Valid"), Some("L1")), "{verdict}");

        let refused = operator.pay(1500, "Initech");
        let question = "Approve payment of 1,500 USD to Initech?";
        daemon.wait_for(question).await;
        daemon.press(question, &format!("reject:{refused}"));
        daemon.wait_for("Rejected: payment of 1,500 USD to Initech").await;
        assert_eq!(operator.status(&refused), "rejected");
        assert!(read(&prompts).contains("Reject: Pay 1,500 USD to Initech"));
        stop(person_agent);
        // The notification daemon goes with its drop; give the agent's last
        // words a moment to land in its log for a failing run.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
