-- Routing by the org's policy. Approver groups (a rule's `approvers`) hold
-- roster entries by key id; an enrolment code can put its device in groups.
CREATE TABLE approver_groups (
    org_id  INTEGER NOT NULL REFERENCES orgs(id),
    name    TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    PRIMARY KEY (org_id, name, key_id)
);
ALTER TABLE enrolment_codes ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
-- What routing decided when the approval opened: the groups asked, a note
-- for approvers when the org's policy and the agent's receipt disagree, and
-- where the deadline comes from ('signed' by the operator in the suspended
-- receipt, or set by the 'control_plane').
ALTER TABLE approvals ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
ALTER TABLE approvals ADD COLUMN routing_note TEXT;
ALTER TABLE approvals ADD COLUMN deadline_source TEXT NOT NULL DEFAULT 'control_plane';
-- Why a resolved approval is resolved so, when not by a vote ('expired').
ALTER TABLE approvals ADD COLUMN resolution TEXT;
CREATE INDEX approvals_deadline ON approvals(status, deadline_at);
-- Whether an org has pending approvals that only some approvers may see:
-- then each device gets its own pending list.
CREATE INDEX approvals_rostered ON approvals(org_id) WHERE status = 'pending' AND roster <> '[]';
