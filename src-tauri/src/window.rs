//! The window: brought forward on a second launch or a `heso://` link (the
//! agent starts a second launch for the tray and notifications), and told of
//! each new queue state.

use heso_approver::watch::QueueState;
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::watch;

pub const MAIN: &str = "main";

/// Shows and focuses the window; with a hash, the queue opens that item.
pub fn reveal(app: &AppHandle, action_hash: Option<&str>) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
    let _ = app.emit("open-item", action_hash);
}

/// Opens a `heso://approval/<hash>` link; anything else only brings the
/// window forward (and says why on stderr).
pub fn open_link(app: &AppHandle, link: &str) {
    match heso_desktop::links::approval_hash(link) {
        Ok(hash) => reveal(app, Some(&hash)),
        Err(e) => {
            eprintln!("heso-approver-app: {e}");
            reveal(app, None);
        }
    }
}

/// Tells the window of every new queue state, and shows the count in its
/// title (and badge, where the desktop has one). The event carries no rows:
/// the window asks for them with the `queue` command, whose answer travels
/// over the IPC protocol, far faster than an event for 10,000 rows.
pub async fn follow_queue(app: AppHandle, mut queue: watch::Receiver<QueueState>) {
    while queue.changed().await.is_ok() {
        let pending = queue.borrow_and_update().pending_total;
        let _ = app.emit("queue-changed", ());
        if let Some(window) = app.get_webview_window(MAIN) {
            let _ = window.set_badge_count((pending > 0).then_some(pending as i64));
            let title = match pending {
                0 => "HESO Approver".to_owned(),
                n => format!("HESO Approver ({n})"),
            };
            let _ = window.set_title(&title);
        }
    }
}
