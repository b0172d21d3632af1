-- What an enrolling device says of where its key is held: 'signer' (a
-- system signer out of reach of the desktop user's other programs, every
-- vote confirmed at the system's prompt) or 'keychain' (the desktop
-- keychain). Self-reported; NULL for devices enrolled before. An org may
-- refuse devices that do not report a signer.
ALTER TABLE approvers ADD COLUMN protection TEXT;
ALTER TABLE orgs ADD COLUMN refuse_unprotected INTEGER NOT NULL DEFAULT 0;
