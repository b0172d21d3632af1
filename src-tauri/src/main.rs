//! HESO Approver, the desktop app: a thin Tauri shell over `heso_approver`.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod demo;
mod rows;
mod session;
mod settings;
mod state;

use settings::Settings;
use state::{AppState, Inner};
use std::time::Instant;
use tauri::Manager;
use tokio::sync::Mutex;

fn main() {
    let started = Instant::now();
    let home = match heso_approver::profile::home() {
        Ok(home) => home,
        Err(e) => {
            eprintln!("heso-approver-app: {e}");
            std::process::exit(69);
        }
    };
    let settings = Settings::load(&home);
    // `--demo`: on a device not enrolled yet, start and enrol with the local demo.
    let demo_by_default = std::env::args().skip(1).any(|a| a == "--demo");
    tauri::Builder::default()
        .manage(AppState {
            home,
            started,
            inner: Mutex::new(Inner {
                settings,
                ..Inner::default()
            }),
        })
        .setup(move |app| {
            let handle = app.handle().clone();
            // Open the session before the window asks for its status.
            tauri::async_runtime::block_on(async {
                let state = handle.state::<AppState>();
                let mut inner = state.inner.lock().await;
                let enrolled = heso_approver::profile::Profile::load(&state.home).is_ok();
                if demo_by_default && !enrolled {
                    if let Err(e) = commands::enrol_with_demo(&handle, &state, &mut inner).await {
                        eprintln!("heso-approver-app: {e}");
                    }
                } else {
                    commands::open_session(&handle, &state, &mut inner).await;
                }
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::enrol,
            commands::start_demo,
            commands::queue,
            commands::item,
            commands::decide,
            commands::audit,
            commands::export_receipts,
            commands::settings,
            commands::save_settings,
            commands::remove_device,
            commands::ui_ready,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("the app runs");
}
