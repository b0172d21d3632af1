//! The window's side of the background agent: make sure one runs for this
//! approver (starting it if not), tell it what changed, and close the window
//! when it quits. The agent keeps running when the window closes.

use heso_desktop::ipc::{self, Request, QUITTING};
use heso_desktop::programs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tauri::AppHandle;

/// A fresh demo (control plane, seeded approvals, enrolment) is ready in
/// about a second; allow for a slow machine.
const AGENT_READY_WITHIN: Duration = Duration::from_secs(20);

/// Starts the agent unless one answers, and waits until it does.
pub async fn ensure_agent(home: &Path, demo: bool) -> Result<(), String> {
    if ipc::agent_runs(home).await {
        return Ok(());
    }
    let mut command = Command::new(programs::beside_this_one(programs::AGENT));
    if demo {
        command.arg("--demo");
    }
    // Its own process group: a Ctrl-C meant for the window leaves it running.
    use std::os::unix::process::CommandExt as _;
    let mut child = command
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", programs::AGENT))?;
    // Reaped on its own thread when it ends, whoever outlives whom.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    let deadline = Instant::now() + AGENT_READY_WITHIN;
    while Instant::now() < deadline {
        if ipc::agent_runs(home).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{} did not answer", programs::AGENT))
}

/// Tells the agent something changed; a missing agent is logged, not fatal
/// (it reads everything afresh when it starts).
pub async fn tell(home: &Path, request: Request) -> Result<(), String> {
    match ipc::send(home, &request).await {
        Ok(reply) => done(reply),
        Err(e) => {
            eprintln!("heso-approver-app: the background agent did not hear {request:?}: {e}");
            Ok(())
        }
    }
}

/// Asks the agent to do something and waits until it is done.
pub async fn ask(home: &Path, request: Request) -> Result<(), String> {
    match ipc::send(home, &request).await {
        Ok(reply) => done(reply),
        Err(e) => Err(format!("the background agent did not answer: {e}")),
    }
}

/// The agent's reply as the window's answer: its refusal in its words.
fn done(reply: ipc::Reply) -> Result<(), String> {
    match reply.ok {
        true => Ok(()),
        false => Err(reply.error.unwrap_or_default()),
    }
}

/// For the window's lifetime: when the agent quits (tray Quit), the window
/// closes too; when it dies, it is started again.
pub async fn follow_agent(app: AppHandle, home: PathBuf) {
    let mut backoff = Duration::from_millis(500);
    loop {
        if let Ok(mut stream) = ipc::request(&home, &Request::Attach).await {
            // The first answer says attached; the second, if any, is the quit.
            let attached = ipc::read_reply(&mut stream).await.is_ok_and(|r| r.ok);
            if attached {
                let last = ipc::read_reply(&mut stream).await;
                if last.is_ok_and(|r| r.error.as_deref() == Some(QUITTING)) {
                    return app.exit(0);
                }
            }
        }
        eprintln!("heso-approver-app: the background agent stopped; starting it again");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
        if let Err(e) = ensure_agent(&home, false).await {
            eprintln!("heso-approver-app: {e}");
        }
    }
}
