//! HESO Approver, the desktop app: a thin Tauri shell over `heso_approver`.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod agent_link;
mod bindings;
mod commands;
mod rendering;
mod rows;
mod state;
mod window;

use heso_desktop::ipc::Request;
use heso_desktop::links;
use heso_desktop::settings::Settings;
use state::{AppState, Inner};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tauri::{Manager, WindowEvent};
use tauri_plugin_deep_link::DeepLinkExt;
use tokio::sync::Mutex;

/// Started at login: only the background agent, no window.
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--demo`: on a device not enrolled yet, the agent starts the local demo and enrols.
    let demo_by_default = args.iter().any(|a| a == "--demo");
    let in_background = args.iter().any(|a| a == BACKGROUND_ARG);
    // The agent first: it serves the demo, the notifications and the tray,
    // and stays when the window closes.
    let agent = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(agent_link::ensure_agent(&home, demo_by_default)));
    if let Err(e) = &agent {
        eprintln!("heso-approver-app: {e}");
    }
    if in_background {
        std::process::exit(if agent.is_ok() { 0 } else { 70 });
    }
    let settings = Settings::load(&home);
    let keep_running = AtomicBool::new(settings.run_in_background);
    let launch_link = links::in_args(args.iter().map(String::as_str)).map(str::to_owned);
    tauri::Builder::default()
        // First: a second launch hands its arguments (a link, say) to this one and exits.
        .plugin(tauri_plugin_single_instance::init(
            |app, argv, _cwd| match links::in_args(argv.iter().map(String::as_str)) {
                Some(link) => window::open_link(app, link),
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
            home: home.clone(),
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
            // Links the platform delivers as events (macOS); on Linux and
            // Windows they come as arguments: at launch, or to the running
            // instance through the single-instance callback above.
            let links_handle = handle.clone();
            app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    window::open_link(&links_handle, url.as_str());
                }
            });
            if let Some(window) = app.get_webview_window(window::MAIN) {
                let _ = window.show();
            }
            // Open the session before the window asks for its status.
            tauri::async_runtime::block_on(async {
                let state = handle.state::<AppState>();
                let mut inner = state.inner.lock().await;
                commands::open_session(&handle, &state, &mut inner).await;
            });
            tauri::async_runtime::spawn(agent_link::follow_agent(handle.clone(), home.clone()));
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window ends this process; the agent stays in the
            // tray unless the person wants the app gone with its window.
            if let WindowEvent::CloseRequested { .. } = event {
                let state = window.state::<AppState>();
                if !state.keep_running.load(Ordering::Relaxed) {
                    let home = state.home.clone();
                    let _ = tauri::async_runtime::block_on(agent_link::tell(&home, Request::Quit));
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
            commands::export_history,
            commands::audit_receipt,
            commands::settings,
            commands::save_settings,
            commands::remove_device,
            commands::protect_key,
            commands::ui_ready,
            commands::item_painted,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("the app runs");
}
