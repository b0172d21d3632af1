//! A real notification daemon (dunst) on the test's private D-Bus session,
//! the `Notify` / `CloseNotification` calls seen on the bus (dbus-monitor),
//! and pressing a notification's button the way a person would (dunst's
//! context menu, answered by a script that picks the button).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Notify {
    /// The id the server answered with.
    pub id: Option<u32>,
    pub summary: String,
    pub body: String,
    /// Keys and labels, alternating, as sent.
    pub actions: Vec<String>,
}

impl Notify {
    pub fn action_keys(&self) -> Vec<String> {
        self.actions.iter().step_by(2).cloned().collect()
    }
}

pub struct NotificationDaemon {
    dunst: Child,
    monitor: Child,
    dir: tempfile::TempDir,
}

fn tool(name: &str) -> Command {
    let mut command = Command::new(name);
    command.stdin(Stdio::null());
    command
}

impl NotificationDaemon {
    pub fn start() -> NotificationDaemon {
        // These tests stop the session's notification daemon and start their
        // own: never on a real desktop session.
        assert!(
            std::env::var_os("HESO_TEST_PRIVATE_SESSION").is_some(),
            "needs a throwaway D-Bus session: run under scripts/with-secret-service.sh (scripts/test.sh does)"
        );
        stop_running_daemon();
        let dir = tempfile::tempdir().unwrap();
        let pick = dir.path().join("pick.sh");
        // dunst pipes one line per button, e.g. `#Approve (summary) [12,approve]`;
        // the line chosen is the one with the wanted summary and action key.
        std::fs::write(
            &pick,
            format!(
                "#!/bin/sh\ngrep -F -- \"$(sed -n 1p {want})\" | grep -m1 -F -- \"$(sed -n 2p {want})\"\n",
                want = dir.path().join("want").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&pick, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let config = dir.path().join("dunstrc");
        std::fs::write(&config, format!("[global]\ndmenu = {}\n", pick.display())).unwrap();
        let log_path = dir.path().join("bus.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let monitor = tool("dbus-monitor")
            .args([
                "--session",
                "interface='org.freedesktop.Notifications'",
                // Replies carry no interface: these give the ids Notify returns.
                "type='method_return',sender='org.freedesktop.Notifications'",
            ])
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor (apt package dbus-bin) is installed");
        // It prints its own NameAcquired once it listens.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0) == 0 {
            assert!(Instant::now() < deadline, "dbus-monitor did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let dunst = tool("dunst")
            .arg("-config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dunst is installed");
        let daemon = NotificationDaemon {
            dunst,
            monitor,
            dir,
        };
        // Ask the bus, not dunstctl: a call to the name would have D-Bus start
        // a second dunst (without this config) through service activation.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !name_has_owner(DAEMON_NAME) {
            assert!(
                Instant::now() < deadline,
                "dunst did not come up on the session bus"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(
            owner_pid(DAEMON_NAME),
            Some(daemon.dunst.id()),
            "another notification daemon took the name"
        );
        daemon
    }

    /// How many notifications dunst shows now (`None` while it is not up).
    pub fn displayed(&self) -> Option<usize> {
        let out = tool("dunstctl")
            .args(["count", "displayed"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bus.log")).unwrap_or_default()
    }

    /// Every `Notify` call seen so far, in order.
    pub fn notifies(&self) -> Vec<Notify> {
        parse_notifies(&self.log())
    }

    /// How many `CloseNotification` calls were seen so far.
    pub fn closes(&self) -> usize {
        self.log().matches("member=CloseNotification").count()
    }

    /// The ids of the notifications withdrawn so far (`CloseNotification`).
    pub fn closed_ids(&self) -> Vec<u32> {
        let log = self.log();
        log.split("member=CloseNotification")
            .skip(1)
            .filter_map(|after| {
                let line = after.lines().nth(1)?;
                line.trim().strip_prefix("uint32 ")?.parse().ok()
            })
            .collect()
    }

    /// Waits for a `Notify` whose summary is `summary`.
    pub async fn wait_for(&self, summary: &str) -> Notify {
        self.wait_until(&format!("a notification `{summary}`"), |n| {
            n.summary == summary
        })
        .await
    }

    pub async fn wait_until(&self, what: &str, found: impl Fn(&Notify) -> bool) -> Notify {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(n) = self.notifies().into_iter().find(|n| found(n)) {
                return n;
            }
            if Instant::now() > deadline {
                panic!("no {what}; seen: {:#?}", self.notifies());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Presses `action` on the notification shown with `summary`.
    pub fn press(&self, summary: &str, action: &str) {
        std::fs::write(
            self.dir.path().join("want"),
            format!("({summary}) [\n,{action}]\n"),
        )
        .unwrap();
        let status = tool("dunstctl").arg("context").status().unwrap();
        assert!(status.success(), "dunstctl context failed");
    }
}

impl Drop for NotificationDaemon {
    fn drop(&mut self) {
        let _ = self.dunst.kill();
        let _ = self.monitor.kill();
        let _ = self.dunst.wait();
        let _ = self.monitor.wait();
    }
}

const DAEMON_NAME: &str = "org.freedesktop.Notifications";

/// Asks the bus itself (`method`, one string argument); its printed reply.
fn ask_bus(method: &str, name: &str) -> String {
    tool("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
        ])
        .arg(format!("org.freedesktop.DBus.{method}"))
        .arg(format!("string:{name}"))
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

fn name_has_owner(name: &str) -> bool {
    ask_bus("NameHasOwner", name).contains("boolean true")
}

fn owner_pid(name: &str) -> Option<u32> {
    ask_bus("GetConnectionUnixProcessID", name)
        .split_whitespace()
        .skip_while(|w| *w != "uint32")
        .nth(1)
        .and_then(|p| p.parse().ok())
}

/// An app run earlier on this bus may have had D-Bus start a notification
/// daemon (service activation, with its default settings): stop it, so the
/// one these tests configure can take the name.
fn stop_running_daemon() {
    if !name_has_owner(DAEMON_NAME) {
        return;
    }
    let pid = owner_pid(DAEMON_NAME).expect("the daemon's process id");
    let _ = tool("kill").arg(pid.to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while name_has_owner(DAEMON_NAME) {
        assert!(
            Instant::now() < deadline,
            "the running notification daemon did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The text of a dbus-monitor `string "..."` line (may span lines).
fn string_value(first: &str, rest: &mut std::iter::Peekable<std::str::Lines>) -> String {
    let mut text = first
        .trim_start()
        .trim_start_matches("string \"")
        .to_owned();
    while !text.ends_with('"') {
        match rest.next() {
            Some(line) => {
                text.push('\n');
                text.push_str(line);
            }
            None => break,
        }
    }
    text.pop();
    text
}

/// `Notify(app, replaces_id, icon, summary, body, actions, hints, timeout)`
/// calls in dbus-monitor's text output.
pub fn parse_notifies(log: &str) -> Vec<Notify> {
    let mut found = Vec::new();
    let mut lines = log.lines().peekable();
    while let Some(line) = lines.next() {
        if !(line.starts_with("method call") && line.contains("member=Notify")) {
            continue;
        }
        let call = (header_field(line, "sender"), header_field(line, "serial"));
        let mut top = Vec::new();
        let mut actions = Vec::new();
        while let Some(next) = lines.peek() {
            if !next.starts_with("   ") {
                break;
            }
            let line = lines.next().unwrap();
            if line.starts_with("   string \"") {
                top.push(string_value(line, &mut lines));
            } else if line.starts_with("   array [") && top.len() == 4 {
                while let Some(item) = lines.next() {
                    if item.trim() == "]" {
                        break;
                    }
                    if item.trim_start().starts_with("string \"") {
                        actions.push(string_value(item, &mut lines));
                    }
                }
                top.push(String::from("[actions]"));
            }
        }
        // app, icon, summary, body (the uint32 is not kept).
        if top.len() >= 4 {
            found.push(Notify {
                id: reply_id(log, call),
                summary: top[2].clone(),
                body: top[3].clone(),
                actions,
            });
        }
    }
    found
}

/// `name=value` from a dbus-monitor header line.
fn header_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split([' ', ';'])
        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
}

/// The `uint32` in the method return answering (sender, serial).
fn reply_id(log: &str, (sender, serial): (Option<&str>, Option<&str>)) -> Option<u32> {
    let mut lines = log.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("method return")
            && header_field(line, "destination") == sender
            && header_field(line, "reply_serial") == serial
        {
            return lines.next()?.trim().strip_prefix("uint32 ")?.parse().ok();
        }
    }
    None
}
