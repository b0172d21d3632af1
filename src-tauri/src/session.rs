//! An open session: the enrolled approver, the background queue watcher and
//! the task that tells the window of each new queue state (`queue-changed`).

use crate::settings::Settings;
use heso_approver::device_key::Keychain;
use heso_approver::watch::{watch_queue, QueueState, WatchConfig};
use heso_approver::workflow::Approver;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter};
use tokio::sync::{watch, Mutex};

pub struct Session {
    /// Decisions are made one at a time.
    pub approver: Arc<Mutex<Approver>>,
    pub queue: watch::Receiver<QueueState>,
    pub fingerprint: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn watch_config(settings: &Settings) -> WatchConfig {
    WatchConfig {
        long_poll: settings.long_poll,
        poll_interval: Duration::from_secs(settings.poll_interval_secs),
        ..WatchConfig::default()
    }
}

impl Session {
    /// Opens the approver in `home` and starts watching its queue.
    pub fn start(app: &AppHandle, home: &Path, settings: &Settings) -> Result<Session, String> {
        let approver = Approver::open(home, Keychain::Os).map_err(|e| e.to_string())?;
        let fingerprint = approver.key.fingerprint();
        let (states, queue) = watch::channel(QueueState::default());
        let watcher = tauri::async_runtime::spawn(watch_queue(
            approver.client.clone(),
            approver.key.clone(),
            approver.profile.clone(),
            watch_config(settings),
            states,
        ));
        let approver = Arc::new(Mutex::new(approver));
        let forwarder = tauri::async_runtime::spawn(forward(app.clone(), queue.clone()));
        let resend = tauri::async_runtime::spawn(resend_unsent(approver.clone()));
        Ok(Session {
            approver,
            queue,
            fingerprint,
            tasks: vec![watcher, forwarder, resend],
        })
    }
}

/// Tells the window, the tray and the notifier of every new queue state. The event carries no rows:
/// the window asks for them with the `queue` command, whose answer travels
/// over the IPC protocol, far faster than an event for 10,000 rows.
async fn forward(app: AppHandle, mut queue: watch::Receiver<QueueState>) {
    while queue.changed().await.is_ok() {
        let pending = queue.borrow_and_update().pending_total;
        let _ = app.emit("queue-changed", ());
        crate::tray::show_pending(&app, pending);
        crate::notify::changed(&app);
    }
}

/// Decisions journalled but not delivered (the app was closed, or the control
/// plane was away) are sent again at start and every minute after.
async fn resend_unsent(approver: Arc<Mutex<Approver>>) {
    loop {
        {
            let approver = approver.lock().await;
            if let Err(e) = approver.resume().await {
                eprintln!("heso-approver-app: cannot read the journal: {e}");
            }
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}
