-- The control plane's schema on PostgreSQL: the same records and guarantees
-- as SQLite's four migrations, in one step. Booleans are BOOLEAN; rosters and
-- group lists are JSON arrays kept as text, as signed and shown; `position`
-- columns keep insertion order where SQLite uses its rowid.
CREATE TABLE orgs (
    id                   BIGSERIAL PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    api_key_hash         TEXT NOT NULL UNIQUE,
    sla_minutes          BIGINT NOT NULL,
    policy_toml          TEXT,
    created_at           BIGINT NOT NULL,
    trust_api_approvers  BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE operator_keys (
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    public_key  TEXT NOT NULL,
    PRIMARY KEY (org_id, public_key)
);

CREATE TABLE approvers (
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    key_id      TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    label       TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('enrolment', 'operator')),
    created_at  BIGINT NOT NULL,
    confirmed   BOOLEAN NOT NULL DEFAULT TRUE,
    revoked_at  BIGINT,
    PRIMARY KEY (org_id, key_id)
);
CREATE UNIQUE INDEX approvers_by_key ON approvers(org_id, public_key);
CREATE INDEX approvers_by_public_key ON approvers(public_key);

CREATE TABLE approver_groups (
    org_id  BIGINT NOT NULL REFERENCES orgs(id),
    name    TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    PRIMARY KEY (org_id, name, key_id)
);

CREATE TABLE enrolment_codes (
    code_hash   TEXT PRIMARY KEY,
    org_id      BIGINT NOT NULL REFERENCES orgs(id),
    label       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    used_by     TEXT,
    groups      TEXT NOT NULL DEFAULT '[]'
);

-- `seq` is given under a lock as the last one plus one (never a sequence,
-- which a rolled-back insert would leave with a gap).
CREATE TABLE receipts (
    seq            BIGINT PRIMARY KEY,
    org_id         BIGINT NOT NULL REFERENCES orgs(id),
    action_hash    TEXT NOT NULL,
    trust_level    TEXT NOT NULL,
    awaiting       BOOLEAN NOT NULL,
    receipt        TEXT NOT NULL,
    entry_hash     TEXT NOT NULL,
    supersedes     TEXT,
    superseded_by  TEXT,
    created_at     BIGINT NOT NULL,
    UNIQUE (org_id, action_hash)
);
CREATE INDEX receipts_by_org ON receipts(org_id, seq);

CREATE TABLE approvals (
    position            BIGSERIAL UNIQUE,
    id                  TEXT PRIMARY KEY,
    org_id              BIGINT NOT NULL REFERENCES orgs(id),
    action_hash         TEXT NOT NULL,
    workflow            TEXT NOT NULL,
    account             TEXT NOT NULL,
    rule_id             TEXT NOT NULL,
    scope               TEXT NOT NULL,
    threshold           BIGINT NOT NULL,
    matched_conditions  TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    opened_at           BIGINT NOT NULL,
    deadline_at         BIGINT NOT NULL,
    resolved_at         BIGINT,
    has_receipt         BOOLEAN NOT NULL DEFAULT FALSE,
    roster              TEXT NOT NULL DEFAULT '[]',
    approved_count      BIGINT NOT NULL DEFAULT 0,
    groups              TEXT NOT NULL DEFAULT '[]',
    routing_note        TEXT,
    deadline_source     TEXT NOT NULL DEFAULT 'control_plane',
    resolution          TEXT,
    UNIQUE (org_id, action_hash)
);
CREATE INDEX approvals_visible ON approvals(org_id, status, has_receipt, position);
CREATE INDEX approvals_deadline ON approvals(status, deadline_at);
CREATE INDEX approvals_rostered ON approvals(org_id) WHERE status = 'pending' AND roster <> '[]';

CREATE TABLE votes (
    position      BIGSERIAL UNIQUE,
    approval_id   TEXT NOT NULL REFERENCES approvals(id),
    approver_key  TEXT NOT NULL,
    decision      TEXT NOT NULL,
    record        TEXT,
    co_sig        TEXT,
    token         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    via           TEXT NOT NULL CHECK (via IN ('approver', 'token')),
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (approval_id, approver_key)
);
CREATE INDEX votes_by_key ON votes(approver_key);

CREATE TABLE token_nonces (
    org_id  BIGINT NOT NULL,
    nonce   TEXT NOT NULL,
    PRIMARY KEY (org_id, nonce)
);

CREATE TABLE request_signatures (
    signature   TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX request_signatures_expiry ON request_signatures(expires_at);

-- A change counter per org, raised with every change approvers see, so
-- replicas that missed a notification catch up (see `replicas`).
CREATE TABLE org_changes (
    org_id   BIGINT PRIMARY KEY,
    version  BIGINT NOT NULL
);

-- Rate-limit buckets shared by the replicas (GCRA: `tat` is the theoretical
-- arrival time of the next token, in milliseconds).
CREATE TABLE rate_limits (
    bucket  TEXT PRIMARY KEY,
    tat     BIGINT NOT NULL
);
