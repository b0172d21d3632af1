//! HESO Approver, the desktop app: a thin Tauri shell over `heso_approver`.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod decision;
mod demo;
mod links;
mod notify;
mod rendering;
mod rows;
mod session;
mod settings;
mod state;
mod tray;
mod window;

use settings::Settings;
use state::{AppState, Inner};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tauri::{Manager, WindowEvent};
use tauri_plugin_deep_link::DeepLinkExt;
use tokio::sync::Mutex;

/// Started at login: stay in the tray until asked for.
const BACKGROUND_ARG: &str = "--background";

fn main() {
    let started = Instant::now();
    rendering::paint_in_software_unless_asked();
    let home = match heso_approver::profile::home() {
        Ok(home) => home,
        Err(e) => {
            eprintln!("heso-approver-app: {e}");
            std::process::exit(69);
        }
    };
    let settings = Settings::load(&home);
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--demo`: on a device not enrolled yet, start and enrol with the local demo.
    let demo_by_default = args.iter().any(|a| a == "--demo");
    let in_background = args.iter().any(|a| a == BACKGROUND_ARG);
    let keep_running = AtomicBool::new(settings.run_in_background);
    let launch_link = links::in_args(args.iter().map(String::as_str)).map(str::to_owned);
    tauri::Builder::default()
        // First: a second launch hands its arguments (a link, say) to this one and exits.
        .plugin(tauri_plugin_single_instance::init(
            |app, argv, _cwd| match links::in_args(argv.iter().map(String::as_str)) {
                Some(link) => window::open_link(app, link),
                None if argv.iter().any(|a| a == BACKGROUND_ARG) => {}
                None => window::reveal(app, None),
            },
        ))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .arg(BACKGROUND_ARG)
                .build(),
        )
        .manage(AppState {
            home,
            started,
            inner: Mutex::new(Inner {
                settings,
                ..Inner::default()
            }),
            keep_running,
            launch_link: std::sync::Mutex::new(launch_link),
        })
        .setup(move |app| {
            let handle = app.handle().clone();
            if let Err(e) = tray::build(&handle) {
                eprintln!("heso-approver-app: no tray icon: {e}");
            }
            app.manage(notify::start(&handle));
            // Links the platform delivers as events (macOS); on Linux and
            // Windows they come as arguments: at launch, or to the running
            // instance through the single-instance callback above.
            let links_handle = handle.clone();
            app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    window::open_link(&links_handle, url.as_str());
                }
            });
            // The window is created hidden: started at login it stays in the
            // tray until asked for, without a flash.
            if !in_background {
                if let Some(window) = app.get_webview_window(window::MAIN) {
                    let _ = window.show();
                }
            }
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
        .on_window_event(|window, event| {
            // Closing the window leaves the app in the tray, if the user wants that.
            if let WindowEvent::CloseRequested { api, .. } = event {
                let state = window.state::<AppState>();
                if state.keep_running.load(Ordering::Relaxed) {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::enrol,
            commands::start_demo,
            commands::queue,
            commands::item,
            commands::decide,
            commands::report_suspicious,
            commands::audit,
            commands::roster,
            commands::export_receipts,
            commands::settings,
            commands::save_settings,
            commands::remove_device,
            commands::ui_ready,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("the app runs");
}
