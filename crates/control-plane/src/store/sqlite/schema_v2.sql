-- Approver confirmation. A key registered with the org's API key (the
-- operator API, which the agent itself holds) does not count until an
-- administrator confirms it; a device enrolled with a one-time code a person
-- redeemed is confirmed by that act. Keys registered before this version
-- through the operator API start unconfirmed.
ALTER TABLE approvers ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE approvers ADD COLUMN revoked_at INTEGER;
UPDATE approvers SET confirmed = 0 WHERE source = 'operator';
-- The vendor's looser behaviour, only by an explicit choice at `org create`.
ALTER TABLE orgs ADD COLUMN trust_api_approvers INTEGER NOT NULL DEFAULT 0;
