//! Bringing the window forward: from a notification, the tray, a second
//! launch or a `heso://` link.

use tauri::{AppHandle, Emitter, Manager};

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
    match crate::links::approval_hash(link) {
        Ok(hash) => reveal(app, Some(&hash)),
        Err(e) => {
            eprintln!("heso-approver-app: {e}");
            reveal(app, None);
        }
    }
}
