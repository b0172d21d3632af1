//! Harness for cross-process tests against the vendor package `heso==0.5.1`.

pub mod diff;
pub mod gen;
pub mod oracle;
pub mod signer_harness;

use std::path::PathBuf;

/// The workspace root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The Python that has the vendor package: `HESO_VENDOR_PYTHON`, or the venv
/// `scripts/setup-vendor-venv.sh` makes. Missing is a test failure, not a skip.
pub fn vendor_python() -> PathBuf {
    if let Some(path) = std::env::var_os("HESO_VENDOR_PYTHON") {
        return PathBuf::from(path);
    }
    let path = workspace_root().join(".venv-heso/bin/python");
    assert!(
        path.exists(),
        "no vendor venv at {}: run scripts/setup-vendor-venv.sh (the README's test command does)",
        path.display()
    );
    path
}
