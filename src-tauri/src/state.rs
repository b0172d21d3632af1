//! What the app holds while it runs: where the approver lives, the open
//! session (if enrolled), the embedded demo (if that is what it is enrolled
//! with) and the settings.

use crate::demo::EmbeddedDemo;
use crate::session::Session;
use crate::settings::Settings;
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
    pub demo: Option<EmbeddedDemo>,
    /// Why an enrolled approver could not be opened (keychain locked, ...).
    pub open_error: Option<String>,
    pub settings: Settings,
}
