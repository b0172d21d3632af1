-- k-of-n approvals. The roster of a quorum is fixed when it opens (a JSON
-- array of sorted base64 keys; empty for a single-approver approval, which
-- any confirmed approver may decide). Each key casts at most one vote.
ALTER TABLE approvals ADD COLUMN roster TEXT NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN approved_count INTEGER NOT NULL DEFAULT 0;
UPDATE approvals SET approved_count = 1 WHERE status = 'approved';

CREATE TABLE votes_v3 (
    approval_id   TEXT NOT NULL REFERENCES approvals(id),
    approver_key  TEXT NOT NULL,
    decision      TEXT NOT NULL,
    record        TEXT,      -- the verbatim ApproverRecord text (approver API)
    co_sig        TEXT,      -- base64 detached co-signature (approver API)
    token         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    via           TEXT NOT NULL CHECK (via IN ('approver', 'token')),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (approval_id, approver_key)
);
INSERT INTO votes_v3 SELECT approval_id, approver_key, decision, record, co_sig, token, reason, via, created_at FROM votes;
DROP TABLE votes;
ALTER TABLE votes_v3 RENAME TO votes;
CREATE INDEX votes_by_key ON votes(approver_key);
