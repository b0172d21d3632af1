//! Exit codes of `heso-approver`, documented in the README.

/// Everything checked out.
pub const OK: u8 = 0;
/// At least one receipt failed a check (hash, signature, redaction, trust level, self-approval).
pub const INVALID: u8 = 1;
/// At least one input is not a receipt we recognize (wrong algorithm,
/// unsupported version, malformed). Takes precedence over `INVALID`.
pub const UNRECOGNIZED: u8 = 2;
/// The command line was wrong (sysexits `EX_USAGE`).
pub const USAGE: u8 = 64;
/// An input file could not be read (sysexits `EX_NOINPUT`).
pub const NO_INPUT: u8 = 66;
