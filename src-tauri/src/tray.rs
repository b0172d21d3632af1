//! The tray icon: the pending count (label, tooltip and menu; the window
//! badge where the desktop shows one), Open and Quit. Linux tray icons send
//! no clicks, so everything is in the menu.

use crate::window;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

const TRAY: &str = "main";

/// The menu line that shows the count.
struct CountItem(MenuItem<tauri::Wry>);

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let count = MenuItem::with_id(app, "count", "No pending approvals", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open HESO Approver", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&count, &open, &separator, &quit])?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip("HESO Approver")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => window::reveal(app, None),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(CountItem(count));
    Ok(())
}

fn describe(pending: u64) -> String {
    match pending {
        0 => "No pending approvals".into(),
        1 => "1 pending approval".into(),
        n => format!("{n} pending approvals"),
    }
}

/// Shows the pending count wherever the platform has a place for it.
pub fn show_pending(app: &AppHandle, pending: u64) {
    let text = describe(pending);
    if let Some(tray) = app.tray_by_id(TRAY) {
        let _ = tray.set_tooltip(Some(format!("HESO Approver: {text}")));
        let _ = tray.set_title((pending > 0).then(|| pending.to_string()));
    }
    if let Some(item) = app.try_state::<CountItem>() {
        let _ = item.0.set_text(&text);
    }
    if let Some(window) = app.get_webview_window(window::MAIN) {
        let _ = window.set_badge_count((pending > 0).then_some(pending as i64));
        let title = if pending > 0 {
            format!("HESO Approver ({pending})")
        } else {
            "HESO Approver".into()
        };
        let _ = window.set_title(&title);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_count_reads_naturally() {
        assert_eq!(super::describe(0), "No pending approvals");
        assert_eq!(super::describe(1), "1 pending approval");
        assert_eq!(super::describe(12), "12 pending approvals");
    }
}
