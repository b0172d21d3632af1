//! HESO Approver on the desktop, without a window: the background agent
//! (queue watcher, notifications, tray, the embedded demo) and the pieces it
//! shares with the window process (settings, the session, the one decision
//! path, `heso://` links, and the requests between the two).
//!
//! The agent links no GTK or WebKit: the window is a separate process,
//! started when a person looks and gone when they close it.

pub mod agent;
pub mod decision;
pub mod demo;
pub mod ipc;
pub mod links;
pub mod programs;
pub mod session;
pub mod settings;
