//! The window's side of the background agent: make sure one runs for this
//! approver (starting it if not), tell it what changed, and close the window
//! when it quits. The agent keeps running when the window closes.

use heso_desktop::ipc::{self, Request, QUITTING};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tauri::AppHandle;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

/// The agent's program, installed beside the window's.
const AGENT_PROGRAM: &str = "heso-approver-agent";
/// A fresh demo (control plane, seeded approvals, enrolment) is ready in
/// about a second; allow for a slow machine.
const AGENT_READY_WITHIN: Duration = Duration::from_secs(20);

fn agent_program() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(AGENT_PROGRAM)))
        .filter(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from(AGENT_PROGRAM))
}

/// Starts the agent unless one answers, and waits until it does.
pub async fn ensure_agent(home: &Path, demo: bool) -> Result<(), String> {
    if ipc::agent_runs(home).await {
        return Ok(());
    }
    let mut command = Command::new(agent_program());
    if demo {
        command.arg("--demo");
    }
    // Its own process group: a Ctrl-C meant for the window leaves it running.
    use std::os::unix::process::CommandExt as _;
    let mut child = command
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {AGENT_PROGRAM}: {e}"))?;
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
    Err(format!("{AGENT_PROGRAM} did not answer"))
}

/// Tells the agent something changed; a missing agent is logged, not fatal
/// (it reads everything afresh when it starts).
pub async fn tell(home: &Path, request: Request) -> Result<(), String> {
    match ipc::send(home, &request).await {
        Ok(reply) if reply.ok => Ok(()),
        Ok(reply) => Err(reply.error.unwrap_or_default()),
        Err(e) => {
            eprintln!("heso-approver-app: the background agent did not hear {request:?}: {e}");
            Ok(())
        }
    }
}

/// For the window's lifetime: when the agent quits (tray Quit), the window
/// closes too; when it dies, it is started again.
pub async fn follow_agent(app: AppHandle, home: PathBuf) {
    let mut backoff = Duration::from_millis(500);
    loop {
        if let Ok(stream) = tokio::net::UnixStream::connect(ipc::socket_path(&home)).await {
            let mut stream = BufReader::new(stream);
            let mut request = serde_json::to_vec(&Request::Attach).unwrap_or_default();
            request.push(b'\n');
            if stream.get_mut().write_all(&request).await.is_ok() {
                let mut line = String::new();
                // The first answer says attached; the second, if any, is the quit.
                let _ = stream.read_line(&mut line).await;
                line.clear();
                let _ = stream.read_line(&mut line).await;
                if line.contains(QUITTING) {
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
