//! The TypeScript side of the types the window receives, generated from the
//! Rust types (ts-rs) into `ui/src/bindings.ts`, so the two never drift. The
//! test fails when the file is stale; `HESO_WRITE_BINDINGS=1 cargo test -p
//! heso-approver-app bindings` writes it again.

#[cfg(test)]
mod tests {
    use crate::commands::{AuditReceipt, ItemDetail, Status};
    use crate::rows::{QueuePayload, QueueRow};
    use heso_approver::audit::AuditEntry;
    use heso_approver::view::{ConditionView, FieldView, ItemView, QuorumView};
    use heso_desktop::decision::{DecisionResult, Outcome};
    use heso_desktop::settings::{NotificationSettings, Settings};
    use ts_rs::{Config, TS};

    fn declaration<T: TS>(cfg: &Config) -> String {
        let mut text = String::new();
        if let Some(docs) = T::docs() {
            text.push_str(&docs);
        }
        text.push_str("export ");
        text.push_str(&T::decl(cfg));
        text.push('\n');
        text
    }

    fn bindings() -> String {
        // Counts and times are far below 2^53: plain numbers, not bigint.
        let cfg = Config::new().with_large_int("number");
        let declarations = [
            declaration::<Status>(&cfg),
            declaration::<QueueRow>(&cfg),
            declaration::<QueuePayload>(&cfg),
            declaration::<FieldView>(&cfg),
            declaration::<ConditionView>(&cfg),
            declaration::<ItemView>(&cfg),
            declaration::<QuorumView>(&cfg),
            declaration::<ItemDetail>(&cfg),
            declaration::<Outcome>(&cfg),
            declaration::<DecisionResult>(&cfg),
            declaration::<AuditEntry>(&cfg),
            declaration::<AuditReceipt>(&cfg),
            declaration::<NotificationSettings>(&cfg),
            declaration::<Settings>(&cfg),
        ];
        format!(
            "// Generated from the Rust types by src-tauri/src/bindings.rs: do not edit.\n\n{}",
            declarations.join("\n")
        )
    }

    #[test]
    fn the_window_s_types_match_the_rust_types() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ui/src/bindings.ts");
        let fresh = bindings();
        if std::env::var_os("HESO_WRITE_BINDINGS").is_some() {
            std::fs::write(path, &fresh).unwrap();
        }
        let current = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            current == fresh,
            "ui/src/bindings.ts is stale: run HESO_WRITE_BINDINGS=1 cargo test -p heso-approver-app bindings"
        );
    }
}
