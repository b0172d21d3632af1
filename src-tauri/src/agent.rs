//! `heso-approver-agent`: HESO Approver in the background (queue,
//! notifications, tray), without the window. See `heso_desktop::agent`.

fn main() -> std::process::ExitCode {
    heso_desktop::agent::main()
}
