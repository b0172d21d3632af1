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
