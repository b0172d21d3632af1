//! An open session: the enrolled approver, the background queue watcher and
//! the resend of journalled decisions. Each process (the agent, the window)
//! opens its own and follows `queue` for its own purposes.

use crate::settings::Settings;
use heso_approver::device_key::Keychain;
use heso_approver::watch::{watch_queue, QueueState, WatchConfig};
use heso_approver::workflow::Approver;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

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
    /// Opens the approver in `home` and starts watching its queue. Runs its
    /// tasks on the current tokio runtime.
    pub fn start(home: &Path, settings: &Settings) -> Result<Session, String> {
        let approver = Approver::open(home, Keychain::Os).map_err(|e| e.to_string())?;
        let fingerprint = approver.key.fingerprint();
        let (states, queue) = watch::channel(QueueState::default());
        let watcher = tokio::spawn(watch_queue(
            approver.client.clone(),
            approver.key.clone(),
            approver.profile.clone(),
            watch_config(settings),
            states,
        ));
        let approver = Arc::new(Mutex::new(approver));
        let resend = tokio::spawn(resend_unsent(approver.clone()));
        Ok(Session {
            approver,
            queue,
            fingerprint,
            tasks: vec![watcher, resend],
        })
    }

    /// Runs `task` for as long as the session is open.
    pub fn attach(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }
}

/// Decisions journalled but not delivered (the process was closed, or the
/// control plane was away) are sent again at start and every minute after.
async fn resend_unsent(approver: Arc<Mutex<Approver>>) {
    loop {
        {
            let approver = approver.lock().await;
            if let Err(e) = approver.resume().await {
                eprintln!("heso-approver: cannot read the journal: {e}");
            }
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}
