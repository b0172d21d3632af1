//! How the window is drawn. The app is a list and a form: WebKitGTK's
//! accelerated compositing buys nothing visible here, but it loads the GL
//! stack into the web process (about 90 MB more resident memory, measured in
//! docs/bench.md) and slows the first paint. So the window paints in software
//! unless the user asks for the GPU with `HESO_APPROVER_GPU=1`.
//!
//! Painting in software, the window process only shows the frames its web
//! process paints; yet GDK still probes GLX and WebKit still opens an EGL
//! display there, and either maps Mesa's driver and its LLVM (about 20 MB of
//! PSS) for nothing. The web process does need EGL (it aborts without a
//! display), so the window process settles its own EGL vendor list as empty
//! and then gives the variable back before any child process starts.

/// Must run first thing in `main`, before any thread exists: the variables
/// are read by WebKit, GDK and libglvnd, and the child processes inherit them.
pub fn paint_in_software_unless_asked() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let gpu_wanted = std::env::var_os("HESO_APPROVER_GPU").is_some_and(|v| v == "1");
    let compositing = std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE");
    if gpu_wanted || compositing.as_ref().is_some_and(|v| v != "1") {
        return;
    }
    // Safe to set here: the process is still single-threaded.
    if compositing.is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    if std::env::var_os("GDK_GL").is_none() {
        std::env::set_var("GDK_GL", "disable");
    }
    #[cfg(target_os = "linux")]
    settle_no_egl_vendor_here();
}

/// libglvnd reads `__EGL_VENDOR_LIBRARY_FILENAMES` once, when the process
/// first asks EGL anything; asking now, with the list pointing nowhere, fixes
/// this process's vendors at none. The old value (usually unset) is then
/// restored, so WebKit's web process, started later, finds Mesa as usual.
#[cfg(target_os = "linux")]
fn settle_no_egl_vendor_here() {
    const VENDORS: &str = "__EGL_VENDOR_LIBRARY_FILENAMES";
    const EGL_EXTENSIONS: i32 = 0x3055;
    type QueryString = unsafe extern "C" fn(*mut std::ffi::c_void, i32) -> *const std::ffi::c_char;
    let previous = std::env::var_os(VENDORS);
    std::env::set_var(VENDORS, "/nonexistent/heso-approver/no-egl-vendor.json");
    // SAFETY: libEGL.so.1 is libglvnd's dispatcher (WebKit links it anyway);
    // eglQueryString(EGL_NO_DISPLAY, EGL_EXTENSIONS) only reads.
    let asked = unsafe {
        libloading::Library::new("libEGL.so.1").and_then(|egl| {
            let query = egl.get::<QueryString>(b"eglQueryString\0")?;
            query(std::ptr::null_mut(), EGL_EXTENSIONS);
            Ok(())
        })
    };
    if let Err(e) = asked {
        // Nothing lost: WebKit finds EGL as before and paints the same.
        eprintln!("heso-approver-app: EGL stays loaded in the window process: {e}");
    }
    match previous {
        Some(value) => std::env::set_var(VENDORS, value),
        None => std::env::remove_var(VENDORS),
    }
}
