//! The signer played against by a program of the same desktop user, and
//! used by the person at the desk. Each test runs inside
//! `scripts/with-signer.sh` (a private system bus with polkitd and the
//! signer as its own user; the test as a desktop user of its own): run from
//! cargo as root, a test starts the harness with this binary and itself.
//! Inside, `person CMD` is the person answering the system prompt with the
//! desktop user's password; without it nobody answers.
//!
//! The operator is the vendor SDK; the control plane runs in this process.

#[path = "../../control-plane/tests/support/mod.rs"]
mod support;

use heso_interop_tests::oracle::Oracle;
use heso_interop_tests::{signer_harness, signer_test};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::Plane;

fn target_dir() -> PathBuf {
    signer_harness::bin_dir()
}

/// `heso-approver ARGS`, as the agent runs it: nobody at the desk.
fn agent(home: &Path, args: &[&str]) -> (i32, String) {
    run(
        home,
        Command::new(target_dir().join("heso-approver")).args(args),
    )
}

/// `heso-approver ARGS` with the person answering the prompt.
fn person(home: &Path, extra: &[&str], args: &[&str]) -> (i32, String) {
    run(
        home,
        Command::new("person")
            .args(extra)
            .arg("--")
            .arg(target_dir().join("heso-approver"))
            .args(args),
    )
}

fn run(home: &Path, command: &mut Command) -> (i32, String) {
    let out =
        tokio::task::block_in_place(|| command.env("HESO_APPROVER_HOME", home).output().unwrap());
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The vendor SDK as operator, the control plane, and an enrolled device
/// (the person confirmed the enrolment at the prompt).
struct Desk {
    sdk: Oracle,
    plane: Plane,
    home: tempfile::TempDir,
    _project: tempfile::TempDir,
}

impl Desk {
    async fn enrolled() -> Desk {
        Self::enrolled_in(None).await
    }

    /// Enrolled the way a device was before the signer: its key in the
    /// keychain (the session's Secret Service).
    async fn enrolled_in_keychain() -> Desk {
        Self::enrolled_in(Some("keychain")).await
    }

    async fn enrolled_in(custody: Option<&str>) -> Desk {
        let project = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let mut sdk = Oracle::sdk_operator();
        let operator_key =
            tokio::task::block_in_place(|| sdk.must(json!({"op": "init", "dir": project.path()})))
                ["operator_public_key"]
                .as_str()
                .unwrap()
                .to_owned();
        let plane = Plane::start_for_operator_key(&operator_key).await;
        tokio::task::block_in_place(|| {
            sdk.must(json!({"op": "configure", "endpoint": plane.url, "api_key": plane.api_key}))
        });
        let code = plane.enrolment_code("desk");
        let enroll = ["enroll", "--url", &plane.url, "--code", &code];
        let (status, out) = match custody {
            Some(custody) => run(
                home.path(),
                Command::new(target_dir().join("heso-approver"))
                    .args(enroll)
                    .env("HESO_APPROVER_KEY_CUSTODY", custody),
            ),
            None => person(home.path(), &[], &enroll),
        };
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("system signer") || custody.is_some(), "{out}");
        Desk {
            sdk,
            plane,
            home,
            _project: project,
        }
    }

    fn ask(&mut self, request: Value) -> Value {
        tokio::task::block_in_place(|| self.sdk.must(request))
    }

    /// A payment the SDK suspends; its action hash.
    fn payment(&mut self, amount: u64, payee: &str) -> String {
        let receipt = self.ask(json!({"op": "suspend", "verb": "payment",
            "tool_name": "stripe.transfers.create", "target_host": "api.stripe.com",
            "fields": {"amount": amount, "currency": "USD", "payee": payee}}));
        receipt["receipt"]["content"]["action_hash"]
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

    /// The operator's finalize (the SDK checks its L1 itself), then the
    /// vendor's verdict on every final receipt the device's audit exports.
    fn finalize_and_verify(&mut self, hash: &str) {
        let finalized = self.ask(json!({"op": "finalize", "action_hash": hash}));
        assert_eq!(finalized["duplicate"], false, "{finalized}");
        let export = self.home().join("final.jsonl");
        let (status, out) = agent(self.home(), &["export", export.to_str().unwrap()]);
        assert_eq!(status, 0, "{out}");
        let lines = std::fs::read_to_string(&export).unwrap();
        assert!(!lines.trim().is_empty(), "no final receipt exported");
        for line in lines.lines().filter(|l| !l.trim().is_empty()) {
            let receipt: Value = serde_json::from_str(line).unwrap();
            let verdict = self.ask(json!({"op": "verify", "receipt": receipt}));
            assert_eq!(verdict["verdict"]["kind"], "Valid", "{verdict}");
            assert_eq!(verdict["verdict"]["trust_level"], "L1", "{verdict}");
        }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }
}

signer_test! {
    /// The agent runs `heso-approver approve` with nobody at the desk:
    /// nothing is signed, the approval stays pending, the command says why
    /// (exit 5). The person then approves and rejects; the vendor SDK makes
    /// a Valid L1 of the approval.
    fn nobody_at_the_desk_signs_nothing_and_the_person_decides() {
        let mut desk = Desk::enrolled().await;
        let (status, out) = agent(desk.home(), &["whoami"]);
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("protected: held by the system signer"), "{out}");

        let hash = desk.payment(8800, "Globex LLC");
        let (status, out) = agent(desk.home(), &["approve", &hash]);
        assert_eq!(status, 5, "{out}");
        assert!(out.contains("nothing was signed"), "{out}");
        assert_eq!(desk.status(&hash), "pending");

        let (status, out) = person(desk.home(), &[], &["approve", &hash, "--reason", "invoice checked"]);
        assert_eq!(status, 0, "{out}");
        assert_eq!(desk.status(&hash), "approved");
        desk.finalize_and_verify(&hash);

        let other = desk.payment(9900, "Initech");
        let (status, out) = person(desk.home(), &[], &["reject", &other, "--reason", "over budget"]);
        assert_eq!(status, 0, "{out}");
        assert_eq!(desk.status(&other), "rejected");

        let (status, out) = agent(desk.home(), &["audit", "--json"]);
        assert_eq!(status, 0, "{out}");
        let audit: Value = serde_json::from_str(&out).unwrap();
        let approved = audit.as_array().unwrap().iter().find(|e| e["action_hash"] == hash.as_str()).unwrap();
        assert_eq!(approved["verification"], "Valid L1", "{approved}");
    }
}

signer_test! {
    /// The agent looks for the seed: every Secret Service item, every file
    /// it can read where keys live, the signer's memory. Nothing.
    fn the_agent_finds_no_seed_anywhere_it_can_reach() {
        let desk = Desk::enrolled().await;
        // The Secret Service holds nothing of this device.
        let out = Command::new("secret-tool")
            .args(["search", "--all", "service", "heso-approver"])
            .output()
            .unwrap();
        let found = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!found.contains("secret"), "a keychain item: {found}");
        // The profile and journal name the key's account, never its seed.
        let profile = std::fs::read_to_string(desk.home().join("profile.json")).unwrap();
        assert!(profile.contains("\"custody\": \"signer\""), "{profile}");
        // The signer's state and memory are out of reach.
        let pid = std::env::var("HESO_SIGNER_PID").unwrap();
        for path in [
            format!("/proc/{pid}/mem"),
            format!("/proc/{pid}/environ"),
            format!("/proc/{pid}/maps"),
        ] {
            let read = std::fs::read(&path);
            assert!(read.is_err(), "{path} is readable");
        }
        let attach = unsafe {
            libc::ptrace(libc::PTRACE_ATTACH, pid.parse::<libc::pid_t>().unwrap(), 0, 0)
        };
        assert_eq!(attach, -1, "ptrace attached to the signer");
        for dir in ["/var/lib/heso-approver-signer", "/var/lib"] {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    assert!(
                        !name.to_string_lossy().ends_with(".seed"),
                        "a seed file is listed in {dir}"
                    );
                }
            }
        }
    }
}

/// A D-Bus call to the signer as the agent makes it, with its own arguments.
fn call_signer(
    method: &str,
    body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
) -> Result<zbus::Message, zbus::Error> {
    let connection = zbus::blocking::Connection::system().unwrap();
    connection.call_method(
        Some("org.heso.Approver.Signer1"),
        "/org/heso/Approver/Signer1",
        Some("org.heso.Approver.Signer1"),
        method,
        body,
    )
}

fn error_name(result: Result<zbus::Message, zbus::Error>) -> String {
    match result {
        Err(zbus::Error::MethodError(name, message, _)) => {
            format!("{name}: {}", message.unwrap_or_default())
        }
        other => format!("not refused: {other:?}"),
    }
}

signer_test! {
    /// The agent calls the signer directly with arguments of its own: an
    /// item signed by a key the signer never pinned, a receipt edited after
    /// it was signed, an account that is not its own. Refused, and refused
    /// before any prompt (the refusal is `Refused`, not a prompt's answer).
    fn forged_calls_are_refused_before_anything_is_prompted() {
        let mut desk = Desk::enrolled().await;
        let profile: Value = serde_json::from_str(
            &std::fs::read_to_string(desk.home().join("profile.json")).unwrap(),
        )
        .unwrap();
        let account = profile["key_account"].as_str().unwrap().to_owned();
        let hash = desk.payment(8800, "Globex LLC");

        let store = desk.plane.state().store();
        let org = store.org_by_name(support::ORG).unwrap().unwrap().id;
        let receipt: Value = serde_json::from_str(&store.receipt(org, &hash).unwrap().unwrap().text).unwrap();
        let item = json!({"action_hash": hash, "receipt": receipt, "threshold": 1, "roster": []});

        // An operator key the signer never pinned (the profile says so:
        // the agent rewrote it; the signer keeps its own pins).
        let stranger = heso_receipt::SigningKey::from_bytes(&[0x77; 32]);
        let forged = heso_receipt::sign_as_operator(
            &stranger,
            serde_json::from_value({
                let mut content = receipt["content"].clone();
                content["agent_identity"] = heso_receipt::keys::public_key_b64(&stranger.verifying_key()).into();
                content["action_hash"] = "".into();
                content
            })
            .unwrap(),
        )
        .unwrap();
        let mut rewritten = profile.clone();
        rewritten["operator_keys"] = json!([heso_receipt::keys::public_key_b64(&stranger.verifying_key())]);
        std::fs::write(desk.home().join("profile.json"), rewritten.to_string()).unwrap();
        let forged_item = json!({"action_hash": forged.content.action_hash, "receipt": forged, "threshold": 1, "roster": []});
        let answer = error_name(call_signer("Decide", &(account.as_str(), forged_item.to_string().as_str(), "approved", "")));
        assert!(answer.contains("Error.Refused") && answer.contains("did not pin"), "{answer}");

        // The genuine receipt with a field edited after it was signed.
        let mut edited = item.clone();
        edited["receipt"]["content"]["action"]["fields"]["payee"] = "Mallory Ltd".into();
        let answer = error_name(call_signer("Decide", &(account.as_str(), edited.to_string().as_str(), "approved", "")));
        assert!(answer.contains("Error.Refused") && answer.contains("HashMismatch"), "{answer}");

        // A summary of its own rides along: ignored; the genuine item still
        // needs the person (nobody answers: not authorized).
        let mut with_summary = item.clone();
        with_summary["summary"] = "Pay 1 USD to Globex LLC".into();
        let answer = error_name(call_signer("Decide", &(account.as_str(), with_summary.to_string().as_str(), "approved", "")));
        assert!(answer.contains("Error.NotAuthorized"), "{answer}");

        // Someone else's account: there is no such key for this user.
        let answer = error_name(call_signer("Describe", &("device-of-someone-else",)));
        assert!(answer.contains("Error.NoSuchKey"), "{answer}");
        let answer = error_name(call_signer("Describe", &("../../users/0/x",)));
        assert!(answer.contains("Error.Invalid"), "{answer}");
        // No vote was made for the approval the agent asked about.
        let answer = error_name(call_signer("FreshToken", &(account.as_str(), hash.as_str())));
        assert!(answer.contains("Error.Refused"), "{answer}");
        assert_eq!(desk.status(&hash), "pending");
    }
}

signer_test! {
    /// The agent's own polkit agent with a wrong password: refused; after
    /// three prompts without a yes in a minute, the next request is refused
    /// without prompting. The person approving five items in a row is not
    /// slowed.
    fn prompts_without_a_yes_are_limited_and_a_person_is_not() {
        let mut desk = Desk::enrolled().await;
        let hashes: Vec<String> = (0..5).map(|i| desk.payment(2000 + i, "Globex LLC")).collect();
        for hash in &hashes {
            let (status, out) = person(desk.home(), &[], &["approve", hash]);
            assert_eq!(status, 0, "{out}");
        }
        let target = desk.payment(7000, "Globex LLC");
        for _ in 0..3 {
            let (status, out) = person(desk.home(), &["--wrong-password"], &["approve", &target]);
            assert_eq!(status, 5, "{out}");
        }
        let transcript = desk.home().join("fourth.txt");
        let (status, out) = person(
            desk.home(),
            &["--transcript", transcript.to_str().unwrap()],
            &["approve", &target],
        );
        assert_eq!(status, 5, "{out}");
        assert!(out.contains("without a yes"), "{out}");
        let shown = std::fs::read_to_string(&transcript).unwrap_or_default();
        assert!(!shown.contains("AUTHENTICATING"), "a prompt was shown: {shown}");
        assert_eq!(desk.status(&target), "pending");
    }
}

signer_test! {
    /// The prompt says what is signed, from the verified bytes, hidden
    /// characters written out: a payee with U+202E.
    fn the_prompt_shows_the_verified_summary_with_hidden_characters_visible() {
        let mut desk = Desk::enrolled().await;
        let hash = desk.payment(4200, "Globex\u{202E}CLL");
        let transcript = desk.home().join("prompt.txt");
        let (status, out) = person(
            desk.home(),
            &["--transcript", transcript.to_str().unwrap()],
            &["approve", &hash],
        );
        assert_eq!(status, 0, "{out}");
        let shown = std::fs::read_to_string(&transcript).unwrap();
        println!("the prompt as the person saw it:\n{shown}");
        assert!(shown.contains("Approve: Pay 4,200 USD to Globex[U+202E]CLL"), "{shown}");
        assert!(!shown.contains('\u{202E}'), "{shown}");
        assert!(shown.contains("heso-approver"), "names the program: {shown}");
    }
}

signer_test! {
    /// `kill -9` of the signer while the person is being asked: nothing
    /// half-signed, nothing journalled, the approval pending; once it is
    /// back the person decides again.
    fn a_signer_killed_during_an_approval_loses_nothing() {
        let mut desk = Desk::enrolled().await;
        let hash = desk.payment(6100, "Globex LLC");
        let home = desk.home().to_owned();
        let cli = target_dir().join("heso-approver");
        let waiting = std::thread::spawn({
            let hash = hash.clone();
            move || {
                let out = Command::new("person")
                    .args(["--after", "4", "--"])
                    .arg(cli)
                    .args(["approve", &hash])
                    .env("HESO_APPROVER_HOME", &home)
                    .output()
                    .unwrap();
                (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let killed = Command::new("kill-signer").output().unwrap();
        assert!(killed.status.success(), "{killed:?}");
        let (status, stderr) = waiting.join().unwrap();
        assert_ne!(status, Some(0), "{stderr}");
        assert_eq!(desk.status(&hash), "pending");
        let (_, audit) = agent(desk.home(), &["audit", "--json"]);
        assert!(!audit.contains(&hash), "journalled: {audit}");

        let restarted = Command::new("restart-signer").output().unwrap();
        assert!(restarted.status.success(), "{restarted:?}");
        let (status, out) = person(desk.home(), &[], &["approve", &hash]);
        assert_eq!(status, 0, "{out}");
        desk.finalize_and_verify(&hash);
    }
}

signer_test! {
    /// A device enrolled before the signer keeps its key in the keychain,
    /// where the agent reads the seed. `whoami` says so and offers the move;
    /// `protect` with a new code (the person at the prompt) makes a new key
    /// in the signer and retires the old one: the keychain holds nothing, the
    /// control plane refuses the seed the agent took, and the new key votes.
    fn a_keychain_key_moves_into_the_signer_and_the_stolen_one_is_refused() {
        let mut desk = Desk::enrolled_in_keychain().await;
        let (status, out) = agent(desk.home(), &["whoami"]);
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("key not protected from other programs"), "{out}");
        assert!(out.contains("heso-approver protect --code"), "{out}");
        println!("whoami, key in the keychain:\n{out}");
        let profile: Value = serde_json::from_str(
            &std::fs::read_to_string(desk.home().join("profile.json")).unwrap(),
        )
        .unwrap();
        let account = profile["key_account"].as_str().unwrap().to_owned();
        let lookup = || {
            Command::new("secret-tool")
                .args(["lookup", "service", "heso-approver", "username", &account])
                .output()
                .unwrap()
                .stdout
        };
        let stolen = lookup();
        assert_eq!(stolen.len(), 32, "the agent reads the seed: {stolen:?}");

        let code = desk.plane.enrolment_code("moved");
        let (status, out) = person(desk.home(), &[], &["protect", "--code", &code]);
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("retired"), "{out}");
        println!("protect:\n{out}");
        let (status, out) = agent(desk.home(), &["whoami"]);
        assert_eq!(status, 0, "{out}");
        assert!(out.contains("protected: held by the system signer"), "{out}");
        assert!(lookup().is_empty(), "the old seed is still in the keychain");

        let thief = support::Device {
            key: heso_receipt::SigningKey::from_bytes(&stolen.try_into().unwrap()),
            url: desk.plane.url.clone(),
            http: reqwest::Client::new(),
        };
        let (status, body) = thief.call(reqwest::Method::GET, "/v1/approver/approvals", None).await;
        assert_eq!(status, reqwest::StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["code"], "device_revoked", "{body}");

        let hash = desk.payment(5100, "Globex LLC");
        let (status, out) = agent(desk.home(), &["approve", &hash]);
        assert_eq!(status, 5, "{out}");
        let (status, out) = person(desk.home(), &[], &["approve", &hash]);
        assert_eq!(status, 0, "{out}");
        desk.finalize_and_verify(&hash);
    }
}
