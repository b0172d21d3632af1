fn main() {
    let commands = tauri_build::AppManifest::new().commands(&[
        "status",
        "enrol",
        "start_demo",
        "queue",
        "item",
        "decide",
        "report_suspicious",
        "audit",
        "roster",
        "export_receipts",
        "export_history",
        "audit_receipt",
        "settings",
        "save_settings",
        "remove_device",
        "protect_key",
        "ui_ready",
        "item_painted",
    ]);
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .config_path("../tauri.conf.json")
            .app_manifest(commands),
    )
    .expect("tauri build script");
}
