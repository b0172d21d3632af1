//! The PostgreSQL backend: several `serve` replicas over one database. A pool
//! of connections instead of SQLite's one; where SQLite's single writer made
//! a check-then-write safe, a row lock (`FOR UPDATE`) or a transaction-scoped
//! advisory lock does here, so two replicas behave as one.

use super::*;
use ::postgres::{GenericClient, NoTls, Row};
use r2d2_postgres::PostgresConnectionManager;
use std::cell::Cell;

type Manager = PostgresConnectionManager<NoTls>;

/// The schema, one step per entry; applied in order at start.
const MIGRATIONS: &[&str] = &[
    include_str!("postgres/schema_v1.sql"),
    include_str!("postgres/schema_v2.sql"),
];

/// The schema version this build migrates a database to.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Transaction-scoped advisory lock keys, one per thing they serialize.
const MIGRATION_LOCK: i64 = 0x4845_534f_0001;
/// The receipt log (its `seq` is global) and what reads it to open approvals.
const RECEIPT_LOG_LOCK: i64 = 0x4845_534f_0002;
/// Rosters and orgs: a key may be on one org's roster only.
const ROSTER_LOCK: i64 = 0x4845_534f_0003;

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// `location` fit for a message or a log: a URL's password replaced.
pub fn redacted(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://").filter(|_| is_url(location)) else {
        return location.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            let hidden = if credentials.contains(':') {
                ":***"
            } else {
                ""
            };
            format!("{scheme}://{user}{hidden}@{host}")
        }
        None => location.to_owned(),
    }
}

thread_local! {
    static MAY_BLOCK: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with this thread marked as one that may block (tokio's
/// blocking pool, where `AppState::db` runs storage work).
pub fn on_blocking_thread<T>(work: impl FnOnce() -> T) -> T {
    MAY_BLOCK.with(|flag| {
        let before = flag.replace(true);
        let out = work();
        flag.set(before);
        out
    })
}

/// The channel replicas announce changes on; the payload is `org:version`.
pub const CHANGES_CHANNEL: &str = "heso_changes";

pub struct PgStore {
    /// Always `Some`; taken only to be dropped off any async thread.
    pool: Option<r2d2::Pool<Manager>>,
    url: String,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing a connection blocks on the driver's runtime, as a query
        // does: never on an async worker thread.
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// The condition that approval `a` is one the viewer (`$param`: a base64
/// key, or NULL for everyone) may see.
fn visible_to(param: usize) -> String {
    format!(
        "(${param}::text IS NULL OR a.roster = '[]'
         OR a.roster::jsonb @> jsonb_build_array(${param}::text))"
    )
}

/// `columns` of the pending approvals with their receipt, newest first;
/// parameters: org, before, limit, viewer, from.
fn pending_sql(columns: &str) -> String {
    format!(
        "SELECT {columns} FROM approvals a
         JOIN receipts r ON r.org_id = a.org_id AND r.action_hash = a.action_hash
         WHERE a.org_id = $1 AND a.status = 'pending' AND a.has_receipt
           AND a.position < $2 AND a.position >= $5 AND {}
         ORDER BY a.position DESC LIMIT $3",
        visible_to(4)
    )
}

fn approval_from_row(row: &Row) -> Result<ApprovalRow> {
    let roster: String = row.try_get(13)?;
    let groups: String = row.try_get(15)?;
    Ok(ApprovalRow {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        action_hash: row.try_get(2)?,
        workflow: row.try_get(3)?,
        account: row.try_get(4)?,
        rule_id: row.try_get(5)?,
        scope: row.try_get(6)?,
        threshold: row.try_get(7)?,
        matched_conditions: row.try_get(8)?,
        status: row.try_get(9)?,
        opened_at: row.try_get(10)?,
        deadline_at: row.try_get(11)?,
        resolved_at: row.try_get(12)?,
        roster: serde_json::from_str(&roster).unwrap_or_default(),
        approved_count: row.try_get(14)?,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        routing_note: row.try_get(16)?,
        deadline_source: row.try_get(17)?,
        resolution: row.try_get(18)?,
    })
}

fn vote_from_row(row: &Row, at: usize) -> Result<VoteRow> {
    Ok(VoteRow {
        approval_id: row.try_get(at)?,
        approver_key: row.try_get(at + 1)?,
        decision: row.try_get(at + 2)?,
        record: row.try_get(at + 3)?,
        co_sig: row.try_get(at + 4)?,
        token: row.try_get(at + 5)?,
        reason: row.try_get(at + 6)?,
        via: row.try_get(at + 7)?,
        created_at: row.try_get(at + 8)?,
    })
}

fn lock(client: &mut impl GenericClient, key: i64) -> Result<()> {
    client.execute("SELECT pg_advisory_xact_lock($1)", &[&key])?;
    Ok(())
}

fn key_in_other_org(client: &mut impl GenericClient, org: OrgId, public_key: &str) -> Result<bool> {
    Ok(client
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM approvers WHERE org_id <> $1 AND public_key = $2)",
            &[&org, &public_key],
        )?
        .try_get(0)?)
}

fn votes_in(client: &mut impl GenericClient, approval_id: &str) -> Result<Vec<VoteRow>> {
    let sql = format!(
        "SELECT {VOTE_COLUMNS} FROM votes v WHERE v.approval_id = $1 ORDER BY v.created_at, v.position"
    );
    client
        .query(&sql, &[&approval_id])?
        .iter()
        .map(|r| vote_from_row(r, 0))
        .collect()
}

/// Applies the migrations this build has and the database lacks, under a
/// lock, so replicas starting together migrate once.
fn migrate(client: &mut ::postgres::Client) -> Result<()> {
    let mut tx = client.transaction()?;
    lock(&mut tx, MIGRATION_LOCK)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS heso_schema_migrations (
             version BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )?;
    let current = schema_version(&mut tx)?;
    if current > MIGRATIONS.len() as i64 {
        return Err(StoreError::Conflict(format!(
            "the database has schema version {current}, newer than this build's {}: upgrade heso-control-plane",
            MIGRATIONS.len()
        )));
    }
    for (version, sql) in (1i64..).zip(MIGRATIONS).skip(current as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO heso_schema_migrations (version) VALUES ($1)",
            &[&version],
        )?;
    }
    tx.commit()?;
    Ok(())
}

fn schema_version(client: &mut impl GenericClient) -> Result<i64> {
    Ok(client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM heso_schema_migrations",
            &[],
        )?
        .try_get(0)?)
}

impl PgStore {
    /// Connects (a pool of up to 16) and migrates.
    pub fn connect(url: &str) -> Result<PgStore> {
        let config: ::postgres::Config = url.parse()?;
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(5))
            .build(Manager::new(config, NoTls))?;
        let store = PgStore {
            pool: Some(pool),
            url: url.to_owned(),
        };
        store.run(migrate)?;
        Ok(store)
    }

    /// Runs `work` on a pooled connection. The driver blocks on its own
    /// runtime, which tokio forbids on an async worker thread: unless this
    /// thread may block, the work goes to a short-lived thread of its own.
    fn run<T: Send>(
        &self,
        work: impl FnOnce(&mut ::postgres::Client) -> Result<T> + Send,
    ) -> Result<T> {
        let pool = self
            .pool
            .as_ref()
            .expect("the pool lives as long as the store");
        let job = || work(&mut *pool.get()?);
        if MAY_BLOCK.get() || tokio::runtime::Handle::try_current().is_err() {
            job()
        } else {
            std::thread::scope(|s| s.spawn(job).join().expect("storage thread panicked"))
        }
    }

    fn org_where(
        &self,
        clause: &str,
        value: &(dyn ::postgres::types::ToSql + Sync),
    ) -> Result<Option<Org>> {
        let sql = format!("SELECT id, name, sla_minutes FROM orgs WHERE {clause} = $1");
        self.run(|c| {
            c.query_opt(&sql, &[value])?
                .map(|r| {
                    Ok(Org {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        sla_minutes: r.try_get(2)?,
                    })
                })
                .transpose()
        })
    }
}

impl Backend for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn ready(&self) -> Result<()> {
        let version = self.run(schema_version)?;
        if version == MIGRATIONS.len() as i64 {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "schema version {version}, this build needs {}",
                MIGRATIONS.len()
            )))
        }
    }

    fn change_feed(&self) -> Option<&str> {
        Some(&self.url)
    }

    fn announce_change(&self, org: OrgId) -> Result<i64> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            let version: i64 = tx
                .query_one(
                    "INSERT INTO org_changes (org_id, version) VALUES ($1, 1)
                     ON CONFLICT (org_id) DO UPDATE SET version = org_changes.version + 1
                     RETURNING version",
                    &[&org],
                )?
                .try_get(0)?;
            // Delivered when the transaction commits, with the counter.
            let payload = format!("{org}:{version}");
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANGES_CHANNEL, &payload])?;
            tx.commit()?;
            Ok(version)
        })
    }

    fn take_token(
        &self,
        bucket: &str,
        now_ms: i64,
        interval_ms: i64,
        burst: i64,
    ) -> Result<Option<i64>> {
        // GCRA in one statement: a token is there when the bucket's next
        // arrival time is at most `burst - 1` intervals ahead of now.
        let tolerance = interval_ms * (burst - 1).max(0);
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute("DELETE FROM rate_limits WHERE tat < $1", &[&now_ms])?;
            let taken = tx.query_opt(
                "INSERT INTO rate_limits (bucket, tat) VALUES ($1, $2::bigint + $3::bigint)
                 ON CONFLICT (bucket) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2::bigint) + $3::bigint
                 WHERE GREATEST(rate_limits.tat, $2::bigint) - $2::bigint <= $4::bigint
                 RETURNING tat",
                &[&bucket, &now_ms, &interval_ms, &tolerance],
            )?;
            let wait = match taken {
                Some(_) => None,
                None => {
                    let tat: i64 = tx
                        .query_one("SELECT tat FROM rate_limits WHERE bucket = $1", &[&bucket])?
                        .try_get(0)?;
                    Some((tat - now_ms - tolerance).max(1))
                }
            };
            tx.commit()?;
            Ok(wait)
        })
    }

    fn token_arrival(&self, bucket: &str) -> Result<Option<i64>> {
        self.run(|c| {
            Ok(
                c.query_opt("SELECT tat FROM rate_limits WHERE bucket = $1", &[&bucket])?
                    .map(|r| r.try_get(0))
                    .transpose()?,
            )
        })
    }

    fn change_versions(&self) -> Result<Vec<(OrgId, i64)>> {
        self.run(|c| {
            c.query("SELECT org_id, version FROM org_changes", &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn create_org(
        &self,
        name: &str,
        api_key_hash: &str,
        operator_key: &str,
        sla_minutes: i64,
        now: i64,
    ) -> Result<OrgId> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            lock(&mut tx, ROSTER_LOCK)?;
            let exists: bool = tx
                .query_one("SELECT EXISTS(SELECT 1 FROM orgs WHERE name = $1)", &[&name])?
                .try_get(0)?;
            if exists {
                return Err(StoreError::Conflict(format!(
                    "an org named `{name}` already exists"
                )));
            }
            let id: i64 = tx
                .query_one(
                    "INSERT INTO orgs (name, api_key_hash, sla_minutes, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&name, &api_key_hash, &sla_minutes, &now],
                )?
                .try_get(0)?;
            tx.execute(
                "INSERT INTO operator_keys (org_id, public_key) VALUES ($1, $2)",
                &[&id, &operator_key],
            )?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn org_by_api_key_hash(&self, hash: &str) -> Result<Option<Org>> {
        self.org_where("api_key_hash", &hash)
    }

    fn org_by_name(&self, name: &str) -> Result<Option<Org>> {
        self.org_where("name", &name)
    }

    fn org_by_id(&self, id: OrgId) -> Result<Option<Org>> {
        self.org_where("id", &id)
    }

    fn operator_keys(&self, org: OrgId) -> Result<Vec<String>> {
        self.run(|c| {
            c.query(
                "SELECT public_key FROM operator_keys WHERE org_id = $1 ORDER BY public_key",
                &[&org],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn policy(&self, org: OrgId) -> Result<Option<String>> {
        self.run(|c| {
            Ok(
                c.query_one("SELECT policy_toml FROM orgs WHERE id = $1", &[&org])?
                    .try_get(0)?,
            )
        })
    }

    fn set_policy(&self, org: OrgId, toml: &str) -> Result<()> {
        self.run(|c| {
            c.execute(
                "UPDATE orgs SET policy_toml = $2 WHERE id = $1",
                &[&org, &toml],
            )?;
            Ok(())
        })
    }

    fn upsert_approver(&self, a: &Approver, confirmed: bool, now: i64) -> Result<()> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            lock(&mut tx, ROSTER_LOCK)?;
            let taken: Option<String> = tx
                .query_opt(
                    "SELECT key_id FROM approvers WHERE org_id = $1 AND public_key = $2 AND key_id <> $3",
                    &[&a.org_id, &a.public_key, &a.key_id],
                )?
                .map(|r| r.try_get(0))
                .transpose()?;
            if let Some(other) = taken {
                return Err(StoreError::Conflict(format!(
                    "this public key is already registered as `{other}`"
                )));
            }
            if key_in_other_org(&mut tx, a.org_id, &a.public_key)? {
                return Err(StoreError::Conflict(
                    "this public key is on another org's roster".into(),
                ));
            }
            let existing = tx
                .query_opt(
                    "SELECT source, public_key, label, confirmed, revoked_at FROM approvers
                     WHERE org_id = $1 AND key_id = $2",
                    &[&a.org_id, &a.key_id],
                )?
                .map(|r| -> Result<ExistingEntry> {
                    Ok(ExistingEntry {
                        source: r.try_get(0)?,
                        public_key: r.try_get(1)?,
                        label: r.try_get(2)?,
                        standing: standing(r.try_get(3)?, r.try_get(4)?),
                    })
                })
                .transpose()?;
            if registration(existing.as_ref(), a, confirmed)? == Registration::Unchanged {
                return Ok(());
            }
            tx.execute(
                "INSERT INTO approvers (org_id, key_id, public_key, label, source, created_at, confirmed)
                 VALUES ($1, $2, $3, $4, 'operator', $5, $6)
                 ON CONFLICT (org_id, key_id) DO UPDATE SET
                     confirmed = CASE WHEN approvers.public_key = excluded.public_key
                                      THEN approvers.confirmed ELSE excluded.confirmed END,
                     public_key = excluded.public_key, label = excluded.label",
                &[&a.org_id, &a.key_id, &a.public_key, &a.label, &now, &confirmed],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn trusts_api_approvers(&self, org: OrgId) -> Result<bool> {
        self.run(|c| {
            Ok(c.query_one(
                "SELECT trust_api_approvers FROM orgs WHERE id = $1",
                &[&org],
            )?
            .try_get(0)?)
        })
    }

    fn refuses_unprotected(&self, org: OrgId) -> Result<bool> {
        self.run(|c| {
            Ok(
                c.query_one("SELECT refuse_unprotected FROM orgs WHERE id = $1", &[&org])?
                    .try_get(0)?,
            )
        })
    }

    fn set_refuse_unprotected(&self, org: OrgId, refuse: bool) -> Result<()> {
        self.run(|c| {
            c.execute(
                "UPDATE orgs SET refuse_unprotected = $2 WHERE id = $1",
                &[&org, &refuse],
            )?;
            Ok(())
        })
    }

    fn set_trust_api_approvers(&self, org: OrgId, trust: bool) -> Result<()> {
        self.run(|c| {
            c.execute(
                "UPDATE orgs SET trust_api_approvers = $2 WHERE id = $1",
                &[&org, &trust],
            )?;
            Ok(())
        })
    }

    fn standing(&self, org: OrgId, public_key: &str) -> Result<Option<Standing>> {
        self.run(|c| {
            c.query_opt(
                "SELECT confirmed, revoked_at FROM approvers WHERE org_id = $1 AND public_key = $2",
                &[&org, &public_key],
            )?
            .map(|r| Ok(standing(r.try_get(0)?, r.try_get(1)?)))
            .transpose()
        })
    }

    fn roster(&self, org: OrgId) -> Result<Vec<RosterEntry>> {
        self.run(|c| {
            c.query(
                "SELECT key_id, public_key, label, source, confirmed, revoked_at, created_at, protection
                 FROM approvers WHERE org_id = $1 ORDER BY created_at, key_id",
                &[&org],
            )?
            .iter()
            .map(|r| {
                Ok(RosterEntry {
                    key_id: r.try_get(0)?,
                    public_key: r.try_get(1)?,
                    label: r.try_get(2)?,
                    source: r.try_get(3)?,
                    standing: standing(r.try_get(4)?, r.try_get(5)?),
                    created_at: r.try_get(6)?,
                    protection: r.try_get(7)?,
                })
            })
            .collect()
        })
    }

    fn confirm_approver(&self, org: OrgId, key_id: &str) -> Result<bool> {
        self.run(|c| {
            Ok(c.execute(
                "UPDATE approvers SET confirmed = TRUE WHERE org_id = $1 AND key_id = $2",
                &[&org, &key_id],
            )? == 1)
        })
    }

    fn revoke_approver(&self, org: OrgId, key_id: &str, now: i64) -> Result<bool> {
        self.run(|c| {
            Ok(c.execute(
                "UPDATE approvers SET revoked_at = COALESCE(revoked_at, $3) WHERE org_id = $1 AND key_id = $2",
                &[&org, &key_id, &now],
            )? == 1)
        })
    }

    fn approvers_with_key(&self, public_key: &str) -> Result<Vec<Approver>> {
        self.run(|c| {
            c.query(
                "SELECT org_id, key_id, public_key, label FROM approvers WHERE public_key = $1 ORDER BY org_id",
                &[&public_key],
            )?
            .iter()
            .map(|r| {
                Ok(Approver {
                    org_id: r.try_get(0)?,
                    key_id: r.try_get(1)?,
                    public_key: r.try_get(2)?,
                    label: r.try_get(3)?,
                })
            })
            .collect()
        })
    }

    fn roster_keys(&self, org: OrgId) -> Result<Vec<String>> {
        self.run(|c| {
            c.query(
                "SELECT public_key FROM approvers WHERE org_id = $1 AND confirmed AND revoked_at IS NULL",
                &[&org],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn add_to_group(&self, org: OrgId, group: &str, key_id: &str) -> Result<bool> {
        self.run(|c| {
            let known: bool = c
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM approvers WHERE org_id = $1 AND key_id = $2)",
                    &[&org, &key_id],
                )?
                .try_get(0)?;
            if known {
                c.execute(
                    "INSERT INTO approver_groups (org_id, name, key_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&org, &group, &key_id],
                )?;
            }
            Ok(known)
        })
    }

    fn remove_from_group(&self, org: OrgId, group: &str, key_id: &str) -> Result<bool> {
        self.run(|c| {
            Ok(c.execute(
                "DELETE FROM approver_groups WHERE org_id = $1 AND name = $2 AND key_id = $3",
                &[&org, &group, &key_id],
            )? == 1)
        })
    }

    fn groups(&self, org: OrgId) -> Result<Vec<(String, String)>> {
        self.run(|c| {
            c.query(
                "SELECT name, key_id FROM approver_groups WHERE org_id = $1 ORDER BY name, key_id",
                &[&org],
            )?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
        })
    }

    fn group_keys(&self, org: OrgId, groups: &[String]) -> Result<Vec<String>> {
        self.run(|c| {
            c.query(
                "SELECT DISTINCT a.public_key FROM approvers a
                 JOIN approver_groups g ON g.org_id = a.org_id AND g.key_id = a.key_id
                 WHERE a.org_id = $1 AND a.confirmed AND a.revoked_at IS NULL AND g.name = ANY($2)
                 ORDER BY a.public_key",
                &[&org, &groups],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
        })
    }

    fn add_enrolment_code(
        &self,
        org: OrgId,
        code_hash: &str,
        label: &str,
        expires_at: i64,
        groups: &[String],
    ) -> Result<()> {
        let groups = serde_json::to_string(groups).expect("names serialize");
        self.run(|c| {
            c.execute(
                "INSERT INTO enrolment_codes (code_hash, org_id, label, expires_at, groups) VALUES ($1, $2, $3, $4, $5)",
                &[&code_hash, &org, &label, &expires_at, &groups],
            )?;
            Ok(())
        })
    }

    fn redeem_enrolment_code(
        &self,
        code_hash: &str,
        public_key: &str,
        device_label: &str,
        protection: Option<&str>,
        now: i64,
    ) -> Result<std::result::Result<(OrgId, String), &'static str>> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            lock(&mut tx, ROSTER_LOCK)?;
            let Some(code) = tx.query_opt(
                "SELECT org_id, label, expires_at, used_at, groups FROM enrolment_codes WHERE code_hash = $1",
                &[&code_hash],
            )?
            else {
                return Ok(Err("unknown enrolment code"));
            };
            let org: OrgId = code.try_get(0)?;
            let code_label: String = code.try_get(1)?;
            let expires_at: i64 = code.try_get(2)?;
            let used_at: Option<i64> = code.try_get(3)?;
            let groups: String = code.try_get(4)?;
            if let Some(refusal) = code_refusal(used_at, expires_at, now) {
                return Ok(Err(refusal));
            }
            let mut exists = |sql: &str| -> Result<bool> {
                Ok(tx.query_one(sql, &[&org, &public_key])?.try_get(0)?)
            };
            let is_operator = exists(
                "SELECT EXISTS(SELECT 1 FROM operator_keys WHERE org_id = $1 AND public_key = $2)",
            )?;
            let on_this_roster = exists(
                "SELECT EXISTS(SELECT 1 FROM approvers WHERE org_id = $1 AND public_key = $2)",
            )?;
            let org_refuses: bool = tx
                .query_one("SELECT refuse_unprotected FROM orgs WHERE id = $1", &[&org])?
                .try_get(0)?;
            let key = EnrollingKey {
                is_operator,
                on_this_roster,
                on_another_roster: key_in_other_org(&mut tx, org, public_key)?,
                unprotected_refused: refuses(org_refuses, protection),
            };
            if let Some(refusal) = key.refusal() {
                return Ok(Err(refusal));
            }
            let (key_id, label) = enrolled_entry(public_key, device_label, code_label);
            tx.execute(
                "INSERT INTO approvers (org_id, key_id, public_key, label, source, created_at, protection)
                 VALUES ($1, $2, $3, $4, 'enrolment', $5, $6)",
                &[&org, &key_id, &public_key, &label, &now, &protection],
            )?;
            tx.execute(
                "INSERT INTO approver_groups (org_id, name, key_id)
                 SELECT $1, name, $2 FROM jsonb_array_elements_text($3::text::jsonb) AS name
                 ON CONFLICT DO NOTHING",
                &[&org, &key_id, &groups],
            )?;
            tx.execute(
                "UPDATE enrolment_codes SET used_at = $2, used_by = $3 WHERE code_hash = $1",
                &[&code_hash, &now, &public_key],
            )?;
            tx.commit()?;
            Ok(Ok((org, label)))
        })
    }

    fn receipt(&self, org: OrgId, action_hash: &str) -> Result<Option<StoredReceipt>> {
        self.run(|c| {
            c.query_opt(
                "SELECT seq, action_hash, trust_level, awaiting, receipt, entry_hash, superseded_by
                 FROM receipts WHERE org_id = $1 AND action_hash = $2",
                &[&org, &action_hash],
            )?
            .map(|r| {
                Ok(StoredReceipt {
                    seq: r.try_get(0)?,
                    action_hash: r.try_get(1)?,
                    trust_level: r.try_get(2)?,
                    awaiting: r.try_get(3)?,
                    text: r.try_get(4)?,
                    entry_hash: r.try_get(5)?,
                    superseded_by: r.try_get(6)?,
                })
            })
            .transpose()
        })
    }

    fn append_receipt(&self, new: &NewReceipt<'_>, now: i64) -> Result<AppendOutcome> {
        let NewReceipt {
            org,
            action_hash,
            trust_level,
            awaiting,
            text,
            supersedes,
        } = *new;
        self.run(|c| {
            let mut tx = c.transaction()?;
            // One appender at a time across replicas: the next `seq` and the
            // previous entry hash are read and written as one step.
            lock(&mut tx, RECEIPT_LOG_LOCK)?;
            if let Some(row) = tx.query_opt(
                "SELECT seq, entry_hash, receipt FROM receipts WHERE org_id = $1 AND action_hash = $2",
                &[&org, &action_hash],
            )? {
                let stored: String = row.try_get(2)?;
                return already_appended(row.try_get(0)?, row.try_get(1)?, &stored, text, action_hash);
            }
            let previous: String = tx
                .query_opt(
                    "SELECT entry_hash FROM receipts WHERE org_id = $1 ORDER BY seq DESC LIMIT 1",
                    &[&org],
                )?
                .map(|r| r.try_get(0))
                .transpose()?
                .unwrap_or_default();
            let seq: i64 = tx
                .query_one("SELECT COALESCE(MAX(seq), 0) + 1 FROM receipts", &[])?
                .try_get(0)?;
            let entry_hash = entry_hash(&previous, seq, action_hash);
            tx.execute(
                "INSERT INTO receipts (seq, org_id, action_hash, trust_level, awaiting, receipt, entry_hash, supersedes, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[&seq, &org, &action_hash, &trust_level, &awaiting, &text, &entry_hash, &supersedes, &now],
            )?;
            if awaiting {
                tx.execute(
                    "UPDATE approvals SET has_receipt = TRUE WHERE org_id = $1 AND action_hash = $2",
                    &[&org, &action_hash],
                )?;
            }
            if let Some(old) = supersedes {
                tx.execute(
                    "UPDATE receipts SET superseded_by = $3 WHERE org_id = $1 AND action_hash = $2",
                    &[&org, &old, &action_hash],
                )?;
            }
            tx.commit()?;
            Ok(AppendOutcome::Appended { seq, entry_hash })
        })
    }

    fn open_approval(&self, new: &NewApproval) -> Result<(ApprovalRow, bool)> {
        let roster = serde_json::to_string(&new.roster).expect("keys serialize");
        let groups = serde_json::to_string(&new.groups).expect("names serialize");
        let inserted = self.run(|c| {
            let mut tx = c.transaction()?;
            // With the log's lock, a suspended receipt pushed at the same
            // moment through another replica is either seen here or sees
            // this approval: `has_receipt` cannot be left false.
            lock(&mut tx, RECEIPT_LOG_LOCK)?;
            let inserted = tx.execute(
                "INSERT INTO approvals (id, org_id, action_hash, workflow, account, rule_id, scope, threshold,
                                        matched_conditions, status, opened_at, deadline_at, roster,
                                        groups, routing_note, deadline_source, has_receipt)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12, $13, $14, $15,
                         EXISTS(SELECT 1 FROM receipts WHERE org_id = $2 AND action_hash = $3 AND awaiting))
                 ON CONFLICT (org_id, action_hash) DO NOTHING",
                &[
                    &new.id,
                    &new.org_id,
                    &new.action_hash,
                    &new.workflow,
                    &new.account,
                    &new.rule_id,
                    &new.scope,
                    &new.threshold,
                    &new.matched_conditions,
                    &new.opened_at,
                    &new.deadline_at,
                    &roster,
                    &groups,
                    &new.routing_note,
                    &new.deadline_source,
                ],
            )?;
            tx.commit()?;
            Ok(inserted)
        })?;
        let row = self
            .approval(new.org_id, &new.action_hash)?
            .expect("the approval was just inserted or already present");
        Ok((row, inserted == 1))
    }

    fn approval(&self, org: OrgId, action_hash: &str) -> Result<Option<ApprovalRow>> {
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals a WHERE a.org_id = $1 AND a.action_hash = $2"
        );
        self.run(|c| {
            c.query_opt(&sql, &[&org, &action_hash])?
                .map(|r| approval_from_row(&r))
                .transpose()
        })
    }

    fn pending(
        &self,
        org: OrgId,
        viewer: Option<&str>,
        cursors: CursorRange,
        limit: i64,
    ) -> Result<Vec<PendingItem>> {
        let sql = pending_sql(&format!("{APPROVAL_COLUMNS}, r.receipt, a.position"));
        let (before, from) = cursors.bounds();
        self.run(|c| {
            c.query(&sql, &[&org, &before, &limit, &viewer, &from])?
                .iter()
                .map(|r| {
                    Ok(PendingItem {
                        approval: approval_from_row(r)?,
                        receipt_text: r.try_get(APPROVAL_WIDTH)?,
                        cursor: r.try_get(APPROVAL_WIDTH + 1)?,
                    })
                })
                .collect()
        })
    }

    fn pending_sizes(
        &self,
        org: OrgId,
        viewer: Option<&str>,
        cursors: CursorRange,
        limit: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let sql = pending_sql("a.position, octet_length(r.receipt)::bigint");
        let (before, from) = cursors.bounds();
        self.run(|c| {
            c.query(&sql, &[&org, &before, &limit, &viewer, &from])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn pending_count(&self, org: OrgId, viewer: Option<&str>) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM approvals a
             WHERE a.org_id = $1 AND a.status = 'pending' AND a.has_receipt AND {}",
            visible_to(2)
        );
        self.run(|c| Ok(c.query_one(&sql, &[&org, &viewer])?.try_get(0)?))
    }

    fn has_rostered_pending(&self, org: OrgId) -> Result<bool> {
        self.run(|c| {
            Ok(c.query_one(
                "SELECT EXISTS(SELECT 1 FROM approvals WHERE org_id = $1 AND status = 'pending' AND roster <> '[]')",
                &[&org],
            )?
            .try_get(0)?)
        })
    }

    fn expire_overdue(&self, now: i64) -> Result<Vec<OrgId>> {
        let mut orgs: Vec<OrgId> = self.run(|c| {
            c.query(
                "UPDATE approvals SET status = 'rejected', resolution = 'expired', resolved_at = $1
                 WHERE status = 'pending' AND deadline_at <= $1 RETURNING org_id",
                &[&now],
            )?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect::<Result<_>>()
        })?;
        orgs.sort_unstable();
        orgs.dedup();
        Ok(orgs)
    }

    fn record_vote(&self, org: OrgId, vote: &VoteRow, nonce_hex: &str) -> Result<VoteOutcome> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            // The approval's row lock: votes on one approval, through any
            // replica, are taken one at a time.
            let state = tx.query_one(
                "SELECT status, threshold, approved_count, deadline_at, resolution
                 FROM approvals WHERE id = $1 FOR UPDATE",
                &[&vote.approval_id],
            )?;
            let target = VoteTarget {
                status: state.try_get(0)?,
                threshold: state.try_get(1)?,
                approved_count: state.try_get(2)?,
                deadline_at: state.try_get(3)?,
                resolution: state.try_get(4)?,
            };
            let plan = target.plan(vote, || votes_in(&mut tx, &vote.approval_id))?;
            let (approved, resolution) = match plan {
                VotePlan::Answer(outcome) => return Ok(outcome),
                VotePlan::Expire => {
                    tx.execute(
                        "UPDATE approvals SET status = 'rejected', resolution = 'expired', resolved_at = $2 WHERE id = $1",
                        &[&vote.approval_id, &vote.created_at],
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
                "INSERT INTO token_nonces (org_id, nonce) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&org, &nonce_hex],
            )?;
            if fresh == 0 {
                return Ok(VoteOutcome::ReplayedNonce);
            }
            tx.execute(
                "INSERT INTO votes (approval_id, approver_key, decision, record, co_sig, token, reason, via, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &vote.approval_id,
                    &vote.approver_key,
                    &vote.decision,
                    &vote.record,
                    &vote.co_sig,
                    &vote.token,
                    &vote.reason,
                    &vote.via,
                    &vote.created_at,
                ],
            )?;
            tx.execute(
                "UPDATE approvals SET approved_count = $2, status = COALESCE($3::text, status),
                        resolved_at = CASE WHEN $3::text IS NULL THEN resolved_at ELSE $4 END
                 WHERE id = $1",
                &[&vote.approval_id, &approved, &resolution, &vote.created_at],
            )?;
            tx.commit()?;
            Ok(VoteOutcome::Recorded)
        })
    }

    fn votes(&self, approval_id: &str) -> Result<Vec<VoteRow>> {
        self.run(|c| votes_in(c, approval_id))
    }

    fn nonce_seen(&self, org: OrgId, nonce_hex: &str) -> Result<bool> {
        self.run(|c| {
            Ok(c.query_one(
                "SELECT EXISTS(SELECT 1 FROM token_nonces WHERE org_id = $1 AND nonce = $2)",
                &[&org, &nonce_hex],
            )?
            .try_get(0)?)
        })
    }

    fn cosignatures_by(&self, org: OrgId, approver_key: &str) -> Result<Vec<CosignatureRow>> {
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS}, {VOTE_COLUMNS}, l1.receipt FROM votes v
             JOIN approvals a ON a.id = v.approval_id
             LEFT JOIN receipts l0 ON l0.org_id = a.org_id AND l0.action_hash = a.action_hash
             LEFT JOIN receipts l1 ON l1.org_id = a.org_id AND l1.action_hash = l0.superseded_by
             WHERE a.org_id = $1 AND v.approver_key = $2
             ORDER BY v.created_at DESC, a.position DESC"
        );
        self.run(|c| {
            c.query(&sql, &[&org, &approver_key])?
                .iter()
                .map(|r| {
                    Ok(CosignatureRow {
                        approval: approval_from_row(r)?,
                        vote: vote_from_row(r, APPROVAL_WIDTH)?,
                        final_receipt: r.try_get(APPROVAL_WIDTH + 9)?,
                    })
                })
                .collect()
        })
    }

    fn approved_unfinalized(&self, org: OrgId) -> Result<Vec<Unfinalized>> {
        self.run(|c| {
            c.query(
                "SELECT a.action_hash, r.receipt, v.record, v.co_sig, v.approver_key FROM approvals a
                 JOIN votes v ON v.approval_id = a.id
                 JOIN receipts r ON r.org_id = a.org_id AND r.action_hash = a.action_hash
                 WHERE a.org_id = $1 AND a.status = 'approved' AND a.threshold = 1
                   AND v.co_sig IS NOT NULL AND r.superseded_by IS NULL",
                &[&org],
            )?
            .iter()
            .map(|r| {
                Ok(Unfinalized {
                    action_hash: r.try_get(0)?,
                    receipt_text: r.try_get(1)?,
                    record: r.try_get(2)?,
                    co_sig: r.try_get(3)?,
                    approver_key: r.try_get(4)?,
                })
            })
            .collect()
        })
    }

    fn remembered_request_signatures(&self) -> Result<i64> {
        self.run(|c| {
            Ok(c.query_one("SELECT COUNT(*) FROM request_signatures", &[])?
                .try_get(0)?)
        })
    }

    fn remember_request_signature(
        &self,
        signature: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool> {
        self.run(|c| {
            c.execute(
                "DELETE FROM request_signatures WHERE expires_at < $1",
                &[&now],
            )?;
            // Shared by every replica: a request replayed to another is seen.
            Ok(c.execute(
                "INSERT INTO request_signatures (signature, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&signature, &expires_at],
            )? == 1)
        })
    }
}
