-- Orgs and their credentials. Secrets (API keys, enrolment codes) are stored as BLAKE3 hashes.
CREATE TABLE orgs (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    api_key_hash  TEXT NOT NULL UNIQUE,
    sla_minutes   INTEGER NOT NULL,
    policy_toml   TEXT,
    created_at    INTEGER NOT NULL
);

-- The operator keys an org signs receipts with; approvers pin these at enrolment.
CREATE TABLE operator_keys (
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    public_key  TEXT NOT NULL,
    PRIMARY KEY (org_id, public_key)
);

-- The approver roster: enrolled devices and keys the operator registered.
CREATE TABLE approvers (
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    key_id      TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    label       TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('enrolment', 'operator')),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, key_id)
);
CREATE UNIQUE INDEX approvers_by_key ON approvers(org_id, public_key);

CREATE TABLE enrolment_codes (
    code_hash   TEXT PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    label       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    used_by     TEXT
);

-- The org's receipt log. `seq` is the gap-detectable position; `entry_hash`
-- chains each entry to the previous one of the same org.
CREATE TABLE receipts (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         INTEGER NOT NULL REFERENCES orgs(id),
    action_hash    TEXT NOT NULL,
    trust_level    TEXT NOT NULL,
    awaiting       INTEGER NOT NULL,  -- a suspended L0 awaiting approval
    receipt        TEXT NOT NULL,     -- the receipt JSON as pushed
    entry_hash     TEXT NOT NULL,
    supersedes     TEXT,
    superseded_by  TEXT,
    created_at     INTEGER NOT NULL,
    UNIQUE (org_id, action_hash)
);

CREATE TABLE approvals (
    id                  TEXT PRIMARY KEY,
    org_id              INTEGER NOT NULL REFERENCES orgs(id),
    action_hash         TEXT NOT NULL,
    workflow            TEXT NOT NULL,
    account             TEXT NOT NULL,
    rule_id             TEXT NOT NULL,
    scope               TEXT NOT NULL,
    threshold           INTEGER NOT NULL,
    matched_conditions  TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    opened_at           INTEGER NOT NULL,
    deadline_at         INTEGER NOT NULL,
    resolved_at         INTEGER,
    has_receipt         INTEGER NOT NULL DEFAULT 0,  -- its suspended receipt has arrived
    UNIQUE (org_id, action_hash)
);
-- Approvers see pending approvals whose receipt arrived. rowid is the
-- implicit last column, so newest-first pages and counts read the index only.
CREATE INDEX approvals_visible ON approvals(org_id, status, has_receipt);

-- The one deciding vote of a single-approver approval.
CREATE TABLE votes (
    approval_id   TEXT PRIMARY KEY REFERENCES approvals(id),
    approver_key  TEXT NOT NULL,
    decision      TEXT NOT NULL,
    record        TEXT,      -- the verbatim ApproverRecord text (approver API)
    co_sig        TEXT,      -- base64 detached co-signature (approver API)
    token         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    via           TEXT NOT NULL CHECK (via IN ('approver', 'token')),
    created_at    INTEGER NOT NULL
);
CREATE INDEX votes_by_key ON votes(approver_key);

CREATE TABLE token_nonces (
    org_id  INTEGER NOT NULL,
    nonce   TEXT NOT NULL,
    PRIMARY KEY (org_id, nonce)
);

-- Device request signatures seen within the clock-skew window (replay guard).
CREATE TABLE request_signatures (
    signature   TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX request_signatures_expiry ON request_signatures(expires_at);
