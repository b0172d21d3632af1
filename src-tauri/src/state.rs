//! What the window holds while it runs: where the approver lives, its own
//! session (if enrolled) and the settings. The embedded demo, notifications
//! and the tray belong to the background agent.

use heso_desktop::session::Session;
use heso_desktop::settings::Settings;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use tokio::sync::Mutex;

pub struct AppState {
    pub home: PathBuf,
    pub started: Instant,
    pub inner: Mutex<Inner>,
    /// `Settings::run_in_background`, readable from the window's close handler.
    pub keep_running: AtomicBool,
    /// A `heso://` link the app was started with, opened once the window is up.
    pub launch_link: std::sync::Mutex<Option<String>>,
}

#[derive(Default)]
pub struct Inner {
    pub session: Option<Session>,
    /// Why an enrolled approver could not be opened (keychain locked, ...).
    pub open_error: Option<String>,
    pub settings: Settings,
}
