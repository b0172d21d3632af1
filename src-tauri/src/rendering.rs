//! How the window is drawn. The app is a list and a form: WebKitGTK's
//! accelerated compositing buys nothing visible here, but it loads the GL
//! stack into the web process (about 90 MB more resident memory, measured in
//! docs/bench.md) and slows the first paint. So the window paints in software
//! unless the user asks for the GPU with `HESO_APPROVER_GPU=1`.

/// Must run first thing in `main`, before any thread exists: WebKit reads the
/// variable when it starts, and its child processes inherit it.
pub fn paint_in_software_unless_asked() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let gpu_wanted = std::env::var_os("HESO_APPROVER_GPU").is_some_and(|v| v == "1");
    let already_chosen = std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_some();
    if !gpu_wanted && !already_chosen {
        // Safe to set here: the process is still single-threaded.
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
}
