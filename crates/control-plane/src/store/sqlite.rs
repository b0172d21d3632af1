//! The SQLite backend: the embedded default (one machine, the demo). WAL
//! mode with one connection behind a mutex: SQLite serializes writers anyway,
//! and the callers run these methods on tokio's blocking pool.

use super::*;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use rusqlite_migration::{Migrations, M};
use std::sync::{Mutex, MutexGuard};

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("sqlite/schema_v1.sql")),
        M::up(include_str!("sqlite/schema_v2.sql")),
        M::up(include_str!("sqlite/schema_v3.sql")),
        M::up(include_str!("sqlite/schema_v4.sql")),
        M::up(include_str!("sqlite/schema_v5.sql")),
    ])
}

/// The condition that an approval `a` is one the viewer (query parameter
/// `?{param}`: a base64 key, or NULL for everyone) may see.
fn visible_to(param: usize) -> String {
    format!(
        "(?{param} IS NULL OR a.roster = '[]'
         OR EXISTS(SELECT 1 FROM json_each(a.roster) WHERE json_each.value = ?{param}))"
    )
}

/// `columns` of the pending approvals with their receipt, newest first;
/// parameters: org, before, limit, viewer, from.
fn pending_sql(columns: &str) -> String {
    format!(
        "SELECT {columns} FROM approvals a
         JOIN receipts r ON r.org_id = a.org_id AND r.action_hash = a.action_hash
         WHERE a.org_id = ?1 AND a.status = 'pending' AND a.has_receipt = 1
           AND a.rowid < ?2 AND a.rowid >= ?5 AND {}
         ORDER BY a.rowid DESC LIMIT ?3",
        visible_to(4)
    )
}

fn approval_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApprovalRow> {
    Ok(ApprovalRow {
        id: row.get(0)?,
        org_id: row.get(1)?,
        action_hash: row.get(2)?,
        workflow: row.get(3)?,
        account: row.get(4)?,
        rule_id: row.get(5)?,
        scope: row.get(6)?,
        threshold: row.get(7)?,
        matched_conditions: row.get(8)?,
        status: row.get(9)?,
        opened_at: row.get(10)?,
        deadline_at: row.get(11)?,
        resolved_at: row.get(12)?,
        roster: serde_json::from_str(&row.get::<_, String>(13)?).unwrap_or_default(),
        approved_count: row.get(14)?,
        groups: serde_json::from_str(&row.get::<_, String>(15)?).unwrap_or_default(),
        routing_note: row.get(16)?,
        deadline_source: row.get(17)?,
        resolution: row.get(18)?,
    })
}

fn vote_from_row(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<VoteRow> {
    Ok(VoteRow {
        approval_id: row.get(at)?,
        approver_key: row.get(at + 1)?,
        decision: row.get(at + 2)?,
        record: row.get(at + 3)?,
        co_sig: row.get(at + 4)?,
        token: row.get(at + 5)?,
        reason: row.get(at + 6)?,
        via: row.get(at + 7)?,
        created_at: row.get(at + 8)?,
    })
}

/// Whether a public key is on the roster of an org other than `org`: a
/// device belongs to one org, so its requests name one roster.
fn key_in_other_org(conn: &Connection, org: OrgId, public_key: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM approvers WHERE org_id <> ?1 AND public_key = ?2)",
        params![org, public_key],
        |r| r.get(0),
    )?)
}
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        Self::init(Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations().to_latest(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// Every row of a query, mapped.
    fn rows<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt
            .query_map(params, map)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (statements are atomic), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn org_where(&self, clause: &str, value: &str) -> Result<Option<Org>> {
        let sql = format!("SELECT id, name, sla_minutes FROM orgs WHERE {clause} = ?1");
        Ok(self
            .conn()
            .query_row(&sql, [value], |r| {
                Ok(Org {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    sla_minutes: r.get(2)?,
                })
            })
            .optional()?)
    }

    fn votes_in(conn: &Connection, approval_id: &str) -> Result<Vec<VoteRow>> {
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {VOTE_COLUMNS} FROM votes v WHERE v.approval_id = ?1 ORDER BY v.created_at, v.rowid"
        ))?;
        let rows = statement.query_map([approval_id], |r| vote_from_row(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Backend for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn ready(&self) -> Result<()> {
        // Migrated at open; the connection answering is what is left to know.
        Ok(self.conn().query_row("SELECT 1", [], |_| Ok(()))?)
    }

    fn create_org(
        &self,
        name: &str,
        api_key_hash: &str,
        operator_key: &str,
        sla_minutes: i64,
        now: i64,
    ) -> Result<OrgId> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let exists: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM orgs WHERE name = ?1)",
            [name],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::Conflict(format!(
                "an org named `{name}` already exists"
            )));
        }
        tx.execute(
            "INSERT INTO orgs (name, api_key_hash, sla_minutes, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, api_key_hash, sla_minutes, now],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO operator_keys (org_id, public_key) VALUES (?1, ?2)",
            params![id, operator_key],
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn org_by_api_key_hash(&self, hash: &str) -> Result<Option<Org>> {
        self.org_where("api_key_hash", hash)
    }

    fn org_by_name(&self, name: &str) -> Result<Option<Org>> {
        self.org_where("name", name)
    }

    fn org_by_id(&self, id: OrgId) -> Result<Option<Org>> {
        self.org_where("id", &id.to_string())
    }

    fn operator_keys(&self, org: OrgId) -> Result<Vec<String>> {
        self.rows(
            "SELECT public_key FROM operator_keys WHERE org_id = ?1 ORDER BY public_key",
            [org],
            |r| r.get(0),
        )
    }

    fn policy(&self, org: OrgId) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT policy_toml FROM orgs WHERE id = ?1", [org], |r| {
                r.get(0)
            })?)
    }

    fn set_policy(&self, org: OrgId, toml: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE orgs SET policy_toml = ?2 WHERE id = ?1",
            params![org, toml],
        )?;
        Ok(())
    }

    /// Registers or updates a roster entry keyed on `key_id` through the
    /// operator API. An enrolled device's entry cannot be changed this way; a
    /// new public key under an existing id starts `confirmed` again as given
    /// (an agent cannot swap its key into a confirmed entry); a revoked entry
    /// stays revoked; a key in another org's roster is refused.
    fn upsert_approver(&self, a: &Approver, confirmed: bool, now: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let taken: Option<String> = tx
            .query_row(
                "SELECT key_id FROM approvers WHERE org_id = ?1 AND public_key = ?2 AND key_id <> ?3",
                params![a.org_id, a.public_key, a.key_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(other) = taken {
            return Err(StoreError::Conflict(format!(
                "this public key is already registered as `{other}`"
            )));
        }
        if key_in_other_org(&tx, a.org_id, &a.public_key)? {
            return Err(StoreError::Conflict(
                "this public key is on another org's roster".into(),
            ));
        }
        let existing = tx
            .query_row(
                "SELECT source, public_key, label, confirmed, revoked_at FROM approvers
                 WHERE org_id = ?1 AND key_id = ?2",
                params![a.org_id, a.key_id],
                |r| {
                    Ok(ExistingEntry {
                        source: r.get(0)?,
                        public_key: r.get(1)?,
                        label: r.get(2)?,
                        standing: standing(r.get(3)?, r.get(4)?),
                    })
                },
            )
            .optional()?;
        if registration(existing.as_ref(), a, confirmed)? == Registration::Unchanged {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO approvers (org_id, key_id, public_key, label, source, created_at, confirmed)
             VALUES (?1, ?2, ?3, ?4, 'operator', ?5, ?6)
             ON CONFLICT (org_id, key_id) DO UPDATE SET
                 confirmed = CASE WHEN approvers.public_key = excluded.public_key
                                  THEN approvers.confirmed ELSE excluded.confirmed END,
                 public_key = excluded.public_key, label = excluded.label",
            params![a.org_id, a.key_id, a.public_key, a.label, now, confirmed],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Whether the org accepts keys registered through its API key as confirmed.
    fn trusts_api_approvers(&self, org: OrgId) -> Result<bool> {
        Ok(self.conn().query_row(
            "SELECT trust_api_approvers FROM orgs WHERE id = ?1",
            [org],
            |r| r.get(0),
        )?)
    }

    fn refuses_unprotected(&self, org: OrgId) -> Result<bool> {
        Ok(self.conn().query_row(
            "SELECT refuse_unprotected FROM orgs WHERE id = ?1",
            [org],
            |r| r.get(0),
        )?)
    }

    fn set_refuse_unprotected(&self, org: OrgId, refuse: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE orgs SET refuse_unprotected = ?2 WHERE id = ?1",
            params![org, refuse],
        )?;
        Ok(())
    }

    fn set_trust_api_approvers(&self, org: OrgId, trust: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE orgs SET trust_api_approvers = ?2 WHERE id = ?1",
            params![org, trust],
        )?;
        Ok(())
    }

    /// The standing of a public key on an org's roster, if it is on it.
    fn standing(&self, org: OrgId, public_key: &str) -> Result<Option<Standing>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT confirmed, revoked_at FROM approvers WHERE org_id = ?1 AND public_key = ?2",
                params![org, public_key],
                |r| Ok(standing(r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Every roster entry of an org, oldest first.
    fn roster(&self, org: OrgId) -> Result<Vec<RosterEntry>> {
        self.rows(
            "SELECT key_id, public_key, label, source, confirmed, revoked_at, created_at, protection
             FROM approvers WHERE org_id = ?1 ORDER BY created_at, key_id",
            [org],
            |r| {
                Ok(RosterEntry {
                    key_id: r.get(0)?,
                    public_key: r.get(1)?,
                    label: r.get(2)?,
                    source: r.get(3)?,
                    standing: standing(r.get(4)?, r.get(5)?),
                    created_at: r.get(6)?,
                    protection: r.get(7)?,
                })
            },
        )
    }

    /// Confirms an entry (a revoked one stays revoked). False when no such entry.
    fn confirm_approver(&self, org: OrgId, key_id: &str) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE approvers SET confirmed = 1 WHERE org_id = ?1 AND key_id = ?2",
            params![org, key_id],
        )?;
        Ok(changed == 1)
    }

    /// Revokes an entry for good. False when no such entry.
    fn revoke_approver(&self, org: OrgId, key_id: &str, now: i64) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE approvers SET revoked_at = COALESCE(revoked_at, ?3) WHERE org_id = ?1 AND key_id = ?2",
            params![org, key_id, now],
        )?;
        Ok(changed == 1)
    }

    /// The roster entries holding this public key, across orgs.
    fn approvers_with_key(&self, public_key: &str) -> Result<Vec<Approver>> {
        self.rows("SELECT org_id, key_id, public_key, label FROM approvers WHERE public_key = ?1 ORDER BY org_id", [public_key], |r| {
                Ok(Approver {
                    org_id: r.get(0)?,
                    key_id: r.get(1)?,
                    public_key: r.get(2)?,
                    label: r.get(3)?,
                })
            })
    }

    /// The keys whose votes count: confirmed and not revoked.
    fn roster_keys(&self, org: OrgId) -> Result<Vec<String>> {
        self.rows(
            "SELECT public_key FROM approvers WHERE org_id = ?1 AND confirmed = 1 AND revoked_at IS NULL",
            [org],
            |r| r.get(0),
        )
    }

    /// Adds a roster entry to a group. False when the org has no such entry.
    fn add_to_group(&self, org: OrgId, group: &str, key_id: &str) -> Result<bool> {
        let conn = self.conn();
        let known: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM approvers WHERE org_id = ?1 AND key_id = ?2)",
            params![org, key_id],
            |r| r.get(0),
        )?;
        if known {
            conn.execute(
                "INSERT INTO approver_groups (org_id, name, key_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![org, group, key_id],
            )?;
        }
        Ok(known)
    }

    /// Takes a roster entry out of a group. False when it was not in it.
    fn remove_from_group(&self, org: OrgId, group: &str, key_id: &str) -> Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM approver_groups WHERE org_id = ?1 AND name = ?2 AND key_id = ?3",
            params![org, group, key_id],
        )? == 1)
    }

    /// Every group of the org with its members' key ids, by name.
    fn groups(&self, org: OrgId) -> Result<Vec<(String, String)>> {
        self.rows(
            "SELECT name, key_id FROM approver_groups WHERE org_id = ?1 ORDER BY name, key_id",
            [org],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// The confirmed, unrevoked keys in any of these groups, sorted.
    fn group_keys(&self, org: OrgId, groups: &[String]) -> Result<Vec<String>> {
        let names = serde_json::to_string(groups).expect("names serialize");
        self.rows(
            "SELECT DISTINCT a.public_key FROM approvers a
             JOIN approver_groups g ON g.org_id = a.org_id AND g.key_id = a.key_id
             WHERE a.org_id = ?1 AND a.confirmed = 1 AND a.revoked_at IS NULL
               AND g.name IN (SELECT value FROM json_each(?2))
             ORDER BY a.public_key",
            params![org, names],
            |r| r.get(0),
        )
    }

    /// A one-time code; the device that redeems it joins `groups`.
    fn add_enrolment_code(
        &self,
        org: OrgId,
        code_hash: &str,
        label: &str,
        expires_at: i64,
        groups: &[String],
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO enrolment_codes (code_hash, org_id, label, expires_at, groups) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![code_hash, org, label, expires_at, serde_json::to_string(groups).expect("names serialize")],
        )?;
        Ok(())
    }

    /// Uses up a code and enrols the device in one transaction. Returns the
    /// org and the label the operator gave the code, or why it was refused.
    fn redeem_enrolment_code(
        &self,
        code_hash: &str,
        public_key: &str,
        device_label: &str,
        protection: Option<&str>,
        now: i64,
    ) -> Result<std::result::Result<(OrgId, String), &'static str>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        type Code = (OrgId, String, i64, Option<i64>, String);
        let code: Option<Code> = tx
            .query_row(
                "SELECT org_id, label, expires_at, used_at, groups FROM enrolment_codes WHERE code_hash = ?1",
                [code_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((org, code_label, expires_at, used_at, groups)) = code else {
            return Ok(Err("unknown enrolment code"));
        };
        if let Some(refusal) = code_refusal(used_at, expires_at, now) {
            return Ok(Err(refusal));
        }
        let exists = |sql: &str| -> Result<bool> {
            Ok(tx.query_row(sql, params![org, public_key], |r| r.get(0))?)
        };
        let key = EnrollingKey {
            is_operator: exists(
                "SELECT EXISTS(SELECT 1 FROM operator_keys WHERE org_id = ?1 AND public_key = ?2)",
            )?,
            on_this_roster: exists(
                "SELECT EXISTS(SELECT 1 FROM approvers WHERE org_id = ?1 AND public_key = ?2)",
            )?,
            on_another_roster: key_in_other_org(&tx, org, public_key)?,
            unprotected_refused: refuses(
                tx.query_row(
                    "SELECT refuse_unprotected FROM orgs WHERE id = ?1",
                    [org],
                    |r| r.get(0),
                )?,
                protection,
            ),
        };
        if let Some(refusal) = key.refusal() {
            return Ok(Err(refusal));
        }
        let (key_id, label) = enrolled_entry(public_key, device_label, code_label);
        tx.execute(
            "INSERT INTO approvers (org_id, key_id, public_key, label, source, created_at, protection)
             VALUES (?1, ?2, ?3, ?4, 'enrolment', ?5, ?6)",
            params![org, key_id, public_key, label, now, protection],
        )?;
        tx.execute(
            "INSERT INTO approver_groups (org_id, name, key_id)
             SELECT ?1, value, ?2 FROM json_each(?3) WHERE true ON CONFLICT DO NOTHING",
            params![org, key_id, groups],
        )?;
        tx.execute(
            "UPDATE enrolment_codes SET used_at = ?2, used_by = ?3 WHERE code_hash = ?1",
            params![code_hash, now, public_key],
        )?;
        tx.commit()?;
        Ok(Ok((org, label)))
    }

    fn receipt(&self, org: OrgId, action_hash: &str) -> Result<Option<StoredReceipt>> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT seq, action_hash, trust_level, awaiting, receipt, entry_hash, superseded_by
                 FROM receipts WHERE org_id = ?1 AND action_hash = ?2",
            )?
            .query_row(params![org, action_hash], |r| {
                Ok(StoredReceipt {
                    seq: r.get(0)?,
                    action_hash: r.get(1)?,
                    trust_level: r.get(2)?,
                    awaiting: r.get(3)?,
                    text: r.get(4)?,
                    entry_hash: r.get(5)?,
                    superseded_by: r.get(6)?,
                })
            })
            .optional()?)
    }

    /// Appends a verified receipt to the org's log. The same receipt again is
    /// a duplicate; different bytes under the same action hash are a conflict.
    /// With `supersedes`, marks that entry as replaced, atomically.
    fn append_receipt(&self, new: &NewReceipt<'_>, now: i64) -> Result<AppendOutcome> {
        let NewReceipt {
            org,
            action_hash,
            trust_level,
            awaiting,
            text,
            supersedes,
        } = *new;
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<(i64, String, String)> = tx
            .query_row(
                "SELECT seq, entry_hash, receipt FROM receipts WHERE org_id = ?1 AND action_hash = ?2",
                params![org, action_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((seq, entry_hash, stored)) = existing {
            return already_appended(seq, entry_hash, &stored, text, action_hash);
        }
        let previous: String = tx
            .query_row(
                "SELECT entry_hash FROM receipts WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1",
                [org],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or_default();
        tx.execute(
            "INSERT INTO receipts (org_id, action_hash, trust_level, awaiting, receipt, entry_hash, supersedes, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7)",
            params![org, action_hash, trust_level, awaiting, text, supersedes, now],
        )?;
        let seq = tx.last_insert_rowid();
        let entry_hash = entry_hash(&previous, seq, action_hash);
        tx.execute(
            "UPDATE receipts SET entry_hash = ?2 WHERE seq = ?1",
            params![seq, entry_hash],
        )?;
        if awaiting {
            tx.execute(
                "UPDATE approvals SET has_receipt = 1 WHERE org_id = ?1 AND action_hash = ?2",
                params![org, action_hash],
            )?;
        }
        if let Some(old) = supersedes {
            tx.execute(
                "UPDATE receipts SET superseded_by = ?3 WHERE org_id = ?1 AND action_hash = ?2",
                params![org, old, action_hash],
            )?;
        }
        tx.commit()?;
        Ok(AppendOutcome::Appended { seq, entry_hash })
    }

    /// Opens an approval, or returns the one already open for this action.
    fn open_approval(&self, new: &NewApproval) -> Result<(ApprovalRow, bool)> {
        let conn = self.conn();
        let inserted = conn.execute(
            "INSERT INTO approvals (id, org_id, action_hash, workflow, account, rule_id, scope, threshold,
                                    matched_conditions, status, opened_at, deadline_at, roster,
                                    groups, routing_note, deadline_source, has_receipt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?11, ?12, ?13, ?14, ?15,
                     EXISTS(SELECT 1 FROM receipts WHERE org_id = ?2 AND action_hash = ?3 AND awaiting = 1))
             ON CONFLICT (org_id, action_hash) DO NOTHING",
            params![
                new.id,
                new.org_id,
                new.action_hash,
                new.workflow,
                new.account,
                new.rule_id,
                new.scope,
                new.threshold,
                new.matched_conditions,
                new.opened_at,
                new.deadline_at,
                serde_json::to_string(&new.roster).expect("keys serialize"),
                serde_json::to_string(&new.groups).expect("names serialize"),
                new.routing_note,
                new.deadline_source
            ],
        )?;
        drop(conn);
        let row = self
            .approval(new.org_id, &new.action_hash)?
            .expect("the approval was just inserted or already present");
        Ok((row, inserted == 1))
    }

    fn approval(&self, org: OrgId, action_hash: &str) -> Result<Option<ApprovalRow>> {
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals a WHERE a.org_id = ?1 AND a.action_hash = ?2"
        );
        Ok(self
            .conn()
            .prepare_cached(&sql)?
            .query_row(params![org, action_hash], approval_from_row)
            .optional()?)
    }

    /// Pending approvals whose suspended receipt has arrived, newest first,
    /// strictly older than `before` (a cursor from a previous page).
    /// With `viewer`, only the approvals that key may decide (its roster
    /// holds it, or it has none).
    fn pending(
        &self,
        org: OrgId,
        viewer: Option<&str>,
        cursors: CursorRange,
        limit: i64,
    ) -> Result<Vec<PendingItem>> {
        let sql = pending_sql(&format!("{APPROVAL_COLUMNS}, r.receipt, a.rowid"));
        let (before, from) = cursors.bounds();
        self.rows(&sql, params![org, before, limit, viewer, from], |r| {
            Ok(PendingItem {
                approval: approval_from_row(r)?,
                receipt_text: r.get(APPROVAL_WIDTH)?,
                cursor: r.get(APPROVAL_WIDTH + 1)?,
            })
        })
    }

    fn pending_sizes(
        &self,
        org: OrgId,
        viewer: Option<&str>,
        cursors: CursorRange,
        limit: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let sql = pending_sql("a.rowid, octet_length(r.receipt)");
        let (before, from) = cursors.bounds();
        self.rows(&sql, params![org, before, limit, viewer, from], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    fn pending_count(&self, org: OrgId, viewer: Option<&str>) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM approvals a
                 WHERE a.org_id = ?1 AND a.status = 'pending' AND a.has_receipt = 1
                   AND {}",
                visible_to(2)
            ))?
            .query_row(params![org, viewer], |r| r.get(0))?)
    }

    /// Whether some pending approval of the org has a roster (not every
    /// approver may see it).
    fn has_rostered_pending(&self, org: OrgId) -> Result<bool> {
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM approvals WHERE org_id = ?1 AND status = 'pending' AND roster <> '[]')",
            )?
            .query_row([org], |r| r.get(0))?)
    }

    /// Resolves every pending approval whose deadline passed as `rejected`
    /// (resolution `expired`). Returns the orgs whose lists changed.
    fn expire_overdue(&self, now: i64) -> Result<Vec<OrgId>> {
        let mut orgs: Vec<OrgId> = self.rows(
            "UPDATE approvals SET status = 'rejected', resolution = 'expired', resolved_at = ?1
             WHERE status = 'pending' AND deadline_at <= ?1 RETURNING org_id",
            [now],
            |r| r.get(0),
        )?;
        orgs.sort_unstable();
        orgs.dedup();
        Ok(orgs)
    }

    /// Records one key's vote. A rejection resolves the approval `rejected`
    /// (fail closed); approvals resolve it `approved` once `threshold`
    /// distinct keys approved. Exactly one vote resolves an approval, each key
    /// votes once, and the token's nonce is burned in the same transaction.
    fn record_vote(&self, org: OrgId, vote: &VoteRow, nonce_hex: &str) -> Result<VoteOutcome> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let target = tx.query_row(
            "SELECT status, threshold, approved_count, deadline_at, resolution FROM approvals WHERE id = ?1",
            [&vote.approval_id],
            |r| {
                Ok(VoteTarget {
                    status: r.get(0)?,
                    threshold: r.get(1)?,
                    approved_count: r.get(2)?,
                    deadline_at: r.get(3)?,
                    resolution: r.get(4)?,
                })
            },
        )?;
        let (approved, resolution) = match target
            .plan(vote, || Self::votes_in(&tx, &vote.approval_id))?
        {
            VotePlan::Answer(outcome) => return Ok(outcome),
            VotePlan::Expire => {
                tx.execute(
                        "UPDATE approvals SET status = 'rejected', resolution = 'expired', resolved_at = ?2 WHERE id = ?1",
                        params![vote.approval_id, vote.created_at],
                    )?;
                tx.commit()?;
                return Ok(VoteOutcome::Expired);
            }
            VotePlan::Cast {
                approved_count,
                resolution,
            } => (approved_count, resolution),
        };
        let fresh = tx.execute(
            "INSERT INTO token_nonces (org_id, nonce) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![org, nonce_hex],
        )?;
        if fresh == 0 {
            return Ok(VoteOutcome::ReplayedNonce);
        }
        tx.execute(
            "INSERT INTO votes (approval_id, approver_key, decision, record, co_sig, token, reason, via, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                vote.approval_id,
                vote.approver_key,
                vote.decision,
                vote.record,
                vote.co_sig,
                vote.token,
                vote.reason,
                vote.via,
                vote.created_at
            ],
        )?;
        tx.execute(
            "UPDATE approvals SET approved_count = ?2, status = COALESCE(?3, status),
                    resolved_at = CASE WHEN ?3 IS NULL THEN resolved_at ELSE ?4 END
             WHERE id = ?1",
            params![vote.approval_id, approved, resolution, vote.created_at],
        )?;
        tx.commit()?;
        Ok(VoteOutcome::Recorded)
    }

    /// Every vote on an approval, in the order they were cast.
    fn votes(&self, approval_id: &str) -> Result<Vec<VoteRow>> {
        Self::votes_in(&self.conn(), approval_id)
    }

    fn nonce_seen(&self, org: OrgId, nonce_hex: &str) -> Result<bool> {
        Ok(self.conn().query_row(
            "SELECT EXISTS(SELECT 1 FROM token_nonces WHERE org_id = ?1 AND nonce = ?2)",
            params![org, nonce_hex],
            |r| r.get(0),
        )?)
    }

    /// Every vote cast with this key in this org, newest first, with the
    /// final L1 receipt where the operator has pushed it.
    fn cosignatures_by(&self, org: OrgId, approver_key: &str) -> Result<Vec<CosignatureRow>> {
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS}, {VOTE_COLUMNS}, l1.receipt FROM votes v
             JOIN approvals a ON a.id = v.approval_id
             LEFT JOIN receipts l0 ON l0.org_id = a.org_id AND l0.action_hash = a.action_hash
             LEFT JOIN receipts l1 ON l1.org_id = a.org_id AND l1.action_hash = l0.superseded_by
             WHERE a.org_id = ?1 AND v.approver_key = ?2
             ORDER BY v.created_at DESC, a.rowid DESC"
        );
        self.rows(&sql, params![org, approver_key], |r| {
            Ok(CosignatureRow {
                approval: approval_from_row(r)?,
                vote: vote_from_row(r, APPROVAL_WIDTH)?,
                final_receipt: r.get(APPROVAL_WIDTH + 9)?,
            })
        })
    }

    /// Approved approvals with a co-signature whose suspended receipt no L1
    /// has superseded yet: what an operator still has to finalize.
    fn approved_unfinalized(&self, org: OrgId) -> Result<Vec<Unfinalized>> {
        self.rows(
            "SELECT a.action_hash, r.receipt, v.record, v.co_sig, v.approver_key FROM approvals a
             JOIN votes v ON v.approval_id = a.id
             JOIN receipts r ON r.org_id = a.org_id AND r.action_hash = a.action_hash
             WHERE a.org_id = ?1 AND a.status = 'approved' AND a.threshold = 1
               AND v.co_sig IS NOT NULL AND r.superseded_by IS NULL",
            [org],
            |r| {
                Ok(Unfinalized {
                    action_hash: r.get(0)?,
                    receipt_text: r.get(1)?,
                    record: r.get(2)?,
                    co_sig: r.get(3)?,
                    approver_key: r.get(4)?,
                })
            },
        )
    }

    /// How many request signatures are remembered now (each one a row).
    fn remembered_request_signatures(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM request_signatures", [], |r| r.get(0))?)
    }

    /// Remembers a request signature until `expires_at`. False when it was
    /// already seen (a replay).
    fn remember_request_signature(
        &self,
        signature: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool> {
        let conn = self.conn();
        conn.prepare_cached("DELETE FROM request_signatures WHERE expires_at < ?1")?
            .execute([now])?;
        let fresh = conn
            .prepare_cached(
                "INSERT INTO request_signatures (signature, expires_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )?
            .execute(params![signature, expires_at])?;
        Ok(fresh == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written before quorums keeps its votes, and its approved
    /// approvals count their one approval.
    #[test]
    fn votes_of_single_approvals_survive_the_quorum_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        migrations().to_version(&mut conn, 2).unwrap();
        conn.execute_batch(
            "INSERT INTO orgs (id, name, api_key_hash, sla_minutes, created_at) VALUES (1, 'acme', 'h', 30, 0);
             INSERT INTO approvals (id, org_id, action_hash, workflow, account, rule_id, scope, threshold,
                                    matched_conditions, status, opened_at, deadline_at, resolved_at)
             VALUES ('apr_1', 1, 'aa', 'w', 'a', 'r', 'r', 1, '[]', 'approved', 0, 1800, 5);
             INSERT INTO votes (approval_id, approver_key, decision, record, co_sig, token, reason, via, created_at)
             VALUES ('apr_1', 'KEY', 'approved', '{}', 'SIG', 'TOKEN', '', 'approver', 5);",
        )
        .unwrap();
        drop(conn);

        let store = Store::open(&path).unwrap();
        let approval = store.approval(1, "aa").unwrap().unwrap();
        assert_eq!(approval.approved_count, 1);
        assert!(approval.roster.is_empty());
        let votes = store.votes("apr_1").unwrap();
        assert_eq!(votes.len(), 1);
        assert_eq!(votes[0].co_sig.as_deref(), Some("SIG"));
        assert_eq!(
            store
                .deciding_vote(&approval)
                .unwrap()
                .unwrap()
                .approver_key,
            "KEY"
        );
    }
}
