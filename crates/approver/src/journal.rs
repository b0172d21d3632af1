//! The local journal of decisions (SQLite in the approver's home). A decision
//! is written here, with its record, co-signature and token, before it is
//! sent, and marked once the control plane confirms it; unsent ones are sent
//! again at the next start. It never holds key material.

use rusqlite::{params, Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitState {
    /// Written, not yet confirmed by the control plane.
    Unsent,
    Confirmed,
    /// The control plane refused it for good (the reason is in `last_error`).
    Refused,
}

impl SubmitState {
    pub fn as_str(&self) -> &'static str {
        match self {
            SubmitState::Unsent => "unsent",
            SubmitState::Confirmed => "confirmed",
            SubmitState::Refused => "refused",
        }
    }

    fn parse(text: &str) -> SubmitState {
        match text {
            "confirmed" => SubmitState::Confirmed,
            "refused" => SubmitState::Refused,
            _ => SubmitState::Unsent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub action_hash: String,
    pub decision: String,
    pub reason: String,
    /// The ApproverRecord text exactly as signed.
    pub record: String,
    pub co_sig_b64: String,
    pub token_b64: String,
    /// The suspended receipt the decision is about, as verified.
    pub receipt: String,
    pub created_at: i64,
    pub state: SubmitState,
    pub attempts: i64,
    pub last_error: Option<String>,
}

pub struct Journal {
    /// Behind a mutex so an `Approver` can be shared between threads.
    conn: std::sync::Mutex<Connection>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("journal migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("journal files: {0}")]
    Files(std::io::Error),
}

const SCHEMA_V1: &str = "
CREATE TABLE decisions (
    action_hash  TEXT PRIMARY KEY,
    decision     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    record       TEXT NOT NULL,
    co_sig       TEXT NOT NULL,
    token        TEXT NOT NULL,
    receipt      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
-- The last copy of each approval this device verified and showed, so a
-- decision can be made (and journalled) while the control plane is away.
CREATE TABLE seen_items (
    action_hash  TEXT PRIMARY KEY,
    item         TEXT NOT NULL,
    seen_at      INTEGER NOT NULL
);";

const COLUMNS: &str =
    "action_hash, decision, reason, record, co_sig, token, receipt, created_at, state, attempts, last_error";

fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JournalEntry> {
    Ok(JournalEntry {
        action_hash: r.get(0)?,
        decision: r.get(1)?,
        reason: r.get(2)?,
        record: r.get(3)?,
        co_sig_b64: r.get(4)?,
        token_b64: r.get(5)?,
        receipt: r.get(6)?,
        created_at: r.get(7)?,
        state: SubmitState::parse(&r.get::<_, String>(8)?),
        attempts: r.get(9)?,
        last_error: r.get(10)?,
    })
}

impl Journal {
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent: keep going.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private_files::private_dir(dir).map_err(JournalError::Files)?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // The window and a command may open a new journal at the same
        // moment. Turning on WAL takes an exclusive lock that SQLite does not
        // wait for (it answers "database is locked" at once), and the
        // migration that loses the race fails likewise: the loser tries the
        // whole setup again and finds it done. Each step is idempotent.
        let mut attempt = 0;
        while let Err(e) = Self::prepare(&mut conn) {
            attempt += 1;
            if attempt == 10 {
                return Err(e);
            }
            std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
        }
        // The journal and SQLite's side files: this user only.
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            crate::private_files::restrict(Path::new(&file)).map_err(JournalError::Files)?;
        }
        Ok(Journal {
            conn: std::sync::Mutex::new(conn),
        })
    }

    fn prepare(conn: &mut Connection) -> Result<(), JournalError> {
        // Durable before the decision leaves the device.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Migrations::new(vec![M::up(SCHEMA_V1)]).to_latest(conn)?;
        Ok(())
    }

    /// Records a decision before it is sent. A decision already journalled
    /// for this action is kept and returned instead: one decision per action.
    pub fn record(&self, entry: &JournalEntry) -> Result<JournalEntry, JournalError> {
        self.conn().execute(
            &format!("INSERT INTO decisions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, NULL)
                      ON CONFLICT (action_hash) DO NOTHING"),
            params![
                entry.action_hash,
                entry.decision,
                entry.reason,
                entry.record,
                entry.co_sig_b64,
                entry.token_b64,
                entry.receipt,
                entry.created_at,
                SubmitState::Unsent.as_str()
            ],
        )?;
        Ok(self.get(&entry.action_hash)?.expect("just written"))
    }

    pub fn get(&self, action_hash: &str) -> Result<Option<JournalEntry>, JournalError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM decisions WHERE action_hash = ?1"),
                [action_hash],
                entry_from_row,
            )
            .optional()?)
    }

    pub fn all(&self) -> Result<Vec<JournalEntry>, JournalError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM decisions ORDER BY created_at DESC, action_hash"
        ))?;
        let rows = stmt
            .query_map([], entry_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn unsent(&self) -> Result<Vec<JournalEntry>, JournalError> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|e| e.state == SubmitState::Unsent)
            .collect())
    }

    /// Keeps the item as last seen (and verified) by this device.
    pub fn remember_item(
        &self,
        action_hash: &str,
        item: &serde_json::Value,
        now: i64,
    ) -> Result<(), JournalError> {
        self.conn().execute(
            "INSERT INTO seen_items (action_hash, item, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (action_hash) DO UPDATE SET item = excluded.item, seen_at = excluded.seen_at",
            params![action_hash, item.to_string(), now],
        )?;
        Ok(())
    }

    pub fn seen_item(&self, action_hash: &str) -> Result<Option<serde_json::Value>, JournalError> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT item FROM seen_items WHERE action_hash = ?1",
                [action_hash],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    pub fn mark(
        &self,
        action_hash: &str,
        state: SubmitState,
        error: Option<&str>,
    ) -> Result<(), JournalError> {
        self.conn().execute(
            "UPDATE decisions SET state = ?2, attempts = attempts + 1, last_error = ?3 WHERE action_hash = ?1",
            params![action_hash, state.as_str(), error],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action_hash: &str) -> JournalEntry {
        JournalEntry {
            action_hash: action_hash.into(),
            decision: "approve".into(),
            reason: String::new(),
            record: "{}".into(),
            co_sig_b64: String::new(),
            token_b64: String::new(),
            receipt: "{}".into(),
            created_at: 0,
            state: SubmitState::Unsent,
            attempts: 0,
            last_error: None,
        }
    }

    /// The window, the agent and a command can all open a journal that does
    /// not exist yet at the same moment; none of them may fail for it.
    #[test]
    fn many_openers_of_a_new_journal_at_once_all_succeed() {
        for round in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.db");
            let start = std::sync::Arc::new(std::sync::Barrier::new(6));
            let openers: Vec<_> = (0..6)
                .map(|i| {
                    let (path, start) = (path.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        let journal = Journal::open(&path)?;
                        journal.record(&entry(&format!("sha256:{i}")))
                    })
                })
                .collect();
            for opener in openers {
                let recorded = opener.join().unwrap();
                assert!(recorded.is_ok(), "round {round}: {recorded:?}");
            }
            assert_eq!(Journal::open(&path).unwrap().all().unwrap().len(), 6);
        }
    }
}
