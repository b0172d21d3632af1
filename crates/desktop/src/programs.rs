//! The app's two programs, installed side by side: each finds the other
//! beside its own executable (a build's `target/` folder, or `/usr/bin`),
//! or else on the `PATH`.

use std::path::PathBuf;

/// The window.
pub const WINDOW: &str = "heso-approver-app";
/// The background agent.
pub const AGENT: &str = "heso-approver-agent";

/// Where `program` is: beside this executable if it is there, else its bare
/// name for a `PATH` lookup.
pub fn beside_this_one(program: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(program)))
        .filter(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from(program))
}
