//! The background agent: one per approver home, no window toolkit. It keeps
//! the session (queue watcher, resend of journalled decisions), shows
//! notifications and carries out what is chosen on them, keeps the tray
//! icon, serves the embedded demo control plane, and starts the window
//! process when a person asks for it. The window tells it of changes over
//! the socket in `ipc`.

pub mod notify;
mod tray;

use crate::demo::{self, EmbeddedDemo};
use crate::ipc::{self, Reply, Request};
use crate::session::Session;
use crate::settings::Settings;
use heso_approver::device_key::Keychain;
use heso_approver::profile::Profile;
use notify::Notifier;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{watch, Mutex};

/// How often the agent checks that its socket is still its own (the home
/// removed, say): cheap enough to cost no measurable CPU.
const WATCHDOG: Duration = Duration::from_secs(10);
/// How often the agent looks again for a tray host when there was none.
const TRAY_RETRY: Duration = Duration::from_secs(30);

pub struct Agent {
    pub home: PathBuf,
    pub inner: Mutex<Inner>,
    notifier: Notifier,
    tray: OnceLock<tray::TrayHandle>,
    quit: watch::Sender<bool>,
    /// Windows attached now: told before the agent exits that it quits.
    attached: watch::Sender<usize>,
}

#[derive(Default)]
pub struct Inner {
    pub session: Option<Session>,
    pub demo: Option<EmbeddedDemo>,
    /// Why an enrolled approver could not be opened (keychain locked, ...).
    pub open_error: Option<String>,
    pub settings: Settings,
}

fn log(message: impl std::fmt::Display) {
    eprintln!("heso-approver-agent: {message}");
}

impl Agent {
    /// Starts the window, on `item` when given. A window already open takes
    /// the request over (its single-instance handoff) and this one exits.
    pub fn open_window(&self, item: Option<&str>) {
        let program = crate::programs::beside_this_one(crate::programs::WINDOW);
        log(format_args!(
            "opening the window{}",
            item.map(|h| format!(" on {h}")).unwrap_or_default()
        ));
        let mut command = tokio::process::Command::new(program);
        if let Some(hash) = item {
            command.arg(crate::links::approval_link(hash));
        }
        command.stdin(std::process::Stdio::null());
        match command.spawn() {
            // Reaped in the background, so no zombie is left behind.
            Ok(mut child) => {
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
            }
            Err(e) => log(format_args!("cannot start the window: {e}")),
        }
    }

    pub fn quit(&self) {
        self.quit.send_replace(true);
    }

    /// Opens the enrolled approver (restarting the embedded demo first when
    /// the profile points at it). Failures are kept and logged.
    async fn open_session(self: &Arc<Self>, inner: &mut Inner) {
        inner.session = None;
        inner.open_error = None;
        if !inner.settings.demo {
            inner.demo = None;
        }
        let Ok(mut profile) = Profile::load(&self.home) else {
            return self.notifier.changed();
        };
        if inner.settings.demo && inner.demo.is_none() {
            match demo::resume(&self.home, demo::port_of(&profile.url)).await {
                Ok(running) => {
                    if running.url != profile.url {
                        profile.url = running.url.clone();
                        if let Err(e) = profile.save(&self.home) {
                            inner.open_error = Some(e.to_string());
                            return;
                        }
                    }
                    inner.demo = Some(running);
                }
                Err(e) => {
                    inner.open_error = Some(format!("the local demo could not be restarted: {e}"));
                    return log(inner.open_error.as_deref().unwrap_or_default());
                }
            }
        }
        match Session::start(&self.home, &inner.settings) {
            Ok(mut session) => {
                session.attach(tokio::spawn(follow(self.clone(), session.queue.clone())));
                inner.session = Some(session);
            }
            Err(e) => {
                log(&e);
                inner.open_error = Some(e);
            }
        }
        self.notifier.changed();
    }

    /// Starts a fresh embedded demo, enrols with it and opens the session.
    async fn enrol_with_demo(self: &Arc<Self>, inner: &mut Inner) -> Result<(), String> {
        if Profile::load(&self.home).is_ok() {
            return Err(
                "this device is already enrolled; remove it in Settings to try the demo".into(),
            );
        }
        let (running, code) = demo::start_fresh(&self.home)
            .await
            .map_err(|e| format!("the local demo could not start: {e}"))?;
        heso_approver::enrol::enrol(&self.home, Keychain::Os, &running.url, &code, "Demo device")
            .await
            .map_err(|e| e.to_string())?;
        inner.demo = Some(running);
        inner.settings.demo = true;
        inner.settings.save(&self.home)?;
        self.open_session(inner).await;
        Ok(())
    }

    /// Reads the settings the window saved; the watcher restarts only when
    /// how it watches changed.
    async fn reload_settings(self: &Arc<Self>) {
        let mut inner = self.inner.lock().await;
        let settings = Settings::load(&self.home);
        let rewatch =
            !settings.watches_like(&inner.settings) || settings.demo != inner.settings.demo;
        inner.settings = settings;
        if rewatch {
            self.open_session(&mut inner).await;
        }
        self.notifier.changed();
    }

    async fn handle(self: &Arc<Self>, request: Request) -> Reply {
        match request {
            Request::Ping | Request::Attach => Reply::done(),
            Request::Open { item } => {
                self.open_window(item.as_deref());
                Reply::done()
            }
            Request::SettingsChanged => {
                self.reload_settings().await;
                Reply::done()
            }
            Request::DeviceChanged => {
                let mut inner = self.inner.lock().await;
                inner.settings = Settings::load(&self.home);
                self.open_session(&mut inner).await;
                Reply::done()
            }
            Request::StartDemo => {
                let mut inner = self.inner.lock().await;
                match self.enrol_with_demo(&mut inner).await {
                    Ok(()) => Reply::done(),
                    Err(e) => Reply::failed(e),
                }
            }
            Request::Quit => {
                self.quit();
                Reply::done()
            }
        }
    }
}

/// Every new queue state: the notifier looks again, the tray shows the count.
async fn follow(agent: Arc<Agent>, mut queue: watch::Receiver<heso_approver::watch::QueueState>) {
    while queue.changed().await.is_ok() {
        let pending = queue.borrow_and_update().pending_total;
        agent.notifier.changed();
        if let Some(handle) = agent.tray.get() {
            tray::show_pending(handle, pending).await;
        }
    }
}

/// The tray icon, as soon as a host shows such icons: a session without one
/// (none yet at login, or none at all) is tried again now and then.
async fn put_up_tray(agent: Arc<Agent>) {
    let mut first = true;
    loop {
        if let Some(handle) = tray::start(&agent, first).await {
            let pending = agent
                .inner
                .lock()
                .await
                .session
                .as_ref()
                .map_or(0, |s| s.queue.borrow().pending_total);
            tray::show_pending(&handle, pending).await;
            let _ = agent.tray.set(handle);
            return;
        }
        first = false;
        tokio::time::sleep(TRAY_RETRY).await;
    }
}

/// One connection from a window: only from the home's owner; one request,
/// one reply (an attached window waits for a second one at quit).
async fn serve_peer(agent: Arc<Agent>, stream: UnixStream, owner: u32) {
    if stream.peer_cred().map(|c| c.uid()).ok() != Some(owner) {
        return;
    }
    let mut stream = BufReader::new(stream);
    let reply = match ipc::read_request(&mut stream).await {
        Ok(Request::Attach) => return attach(&agent, stream).await,
        Ok(request) => agent.handle(request).await,
        Err(e) => Reply::failed(format!("not a request: {e}")),
    };
    let _ = ipc::write_reply(&mut stream, &reply).await;
}

/// A window's connection for its lifetime: answered at once, and once more
/// when the agent quits (counted, so the agent waits until it is told).
async fn attach(agent: &Agent, mut stream: BufReader<UnixStream>) {
    agent.attached.send_modify(|n| *n += 1);
    if ipc::write_reply(&mut stream, &Reply::done()).await.is_ok() {
        let mut quit = agent.quit.subscribe();
        tokio::select! {
            _ = async { drop(quit.wait_for(|q| *q).await) } => {
                let _ = ipc::write_reply(&mut stream, &Reply::failed(ipc::QUITTING)).await;
            }
            // The window closed its end: nothing more to tell it.
            _ = stream.fill_buf() => {}
        }
    }
    agent.attached.send_modify(|n| *n -= 1);
}

/// Listens on the home's socket (any stale file from a crashed agent is
/// replaced: the lock says no other agent runs).
fn listen(home: &Path) -> std::io::Result<UnixListener> {
    let path = ipc::socket_path(home);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Quits when the socket is gone or replaced (the home was removed).
async fn watch_socket(agent: Arc<Agent>) {
    let path = ipc::socket_path(&agent.home);
    let ours = std::fs::metadata(&path).map(|m| m.ino()).ok();
    loop {
        tokio::time::sleep(WATCHDOG).await;
        if std::fs::metadata(&path).map(|m| m.ino()).ok() != ours {
            log("the agent's socket is gone: stopping");
            return agent.quit();
        }
    }
}

async fn run(home: PathBuf, demo_by_default: bool) -> Result<(), String> {
    let owner = std::fs::metadata(&home).map_err(|e| e.to_string())?.uid();
    let (notifier, nudges) = notify::channel();
    let (quit, mut quitting) = watch::channel(false);
    let agent = Arc::new(Agent {
        home: home.clone(),
        inner: Mutex::new(Inner {
            settings: Settings::load(&home),
            ..Inner::default()
        }),
        notifier,
        tray: OnceLock::new(),
        quit,
        attached: watch::channel(0).0,
    });
    // The session (and a demo enrolment) before the socket: a window that
    // waits for the socket finds the device ready.
    {
        let mut inner = agent.inner.lock().await;
        if demo_by_default && Profile::load(&home).is_err() {
            if let Err(e) = agent.enrol_with_demo(&mut inner).await {
                log(e);
            }
        } else {
            agent.open_session(&mut inner).await;
        }
    }
    tokio::spawn(notify::run(agent.clone(), nudges));
    tokio::spawn(put_up_tray(agent.clone()));
    let listener = listen(&home).map_err(|e| format!("cannot listen for the window: {e}"))?;
    tokio::spawn(watch_socket(agent.clone()));
    let accept = {
        let agent = agent.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve_peer(agent.clone(), stream, owner));
                    }
                    Err(e) => log(format_args!("cannot accept a connection: {e}")),
                }
            }
        })
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = quitting.wait_for(|q| *q) => {}
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    agent.quit();
    accept.abort();
    // Every attached window hears that the agent quits (and closes), rather
    // than taking the end of its connection for a crash and restarting it.
    let mut attached = agent.attached.subscribe();
    let _ = tokio::time::timeout(Duration::from_secs(2), attached.wait_for(|n| *n == 0)).await;
    let _ = std::fs::remove_file(ipc::socket_path(&home));
    // Notifications whose buttons nobody would answer are withdrawn.
    agent.notifier.withdraw_all().await;
    Ok(())
}

/// `heso-approver-agent [--demo]`: runs until Quit (tray, window, signal).
pub fn main() -> ExitCode {
    let demo_by_default = std::env::args().skip(1).any(|a| a == "--demo");
    let home = match heso_approver::profile::home() {
        Ok(home) => home,
        Err(e) => {
            log(e);
            return ExitCode::from(69);
        }
    };
    if let Err(e) = heso_approver::private_files::private_dir(&home) {
        log(format_args!("cannot use {}: {e}", home.display()));
        return ExitCode::from(73);
    }
    // One agent per home: the lock is held for the process's lifetime.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(ipc::lock_path(&home));
    let lock = match lock {
        Ok(file) => file,
        Err(e) => {
            log(format_args!("cannot create the lock file: {e}"));
            return ExitCode::from(73);
        }
    };
    if lock.try_lock().is_err() {
        log("already running for this approver");
        return ExitCode::SUCCESS;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(home, demo_by_default)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(e);
            ExitCode::from(70)
        }
    }
}
