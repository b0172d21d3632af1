//! Exit codes of `heso-approver`, documented in the README.

/// Everything checked out.
pub const OK: u8 = 0;
/// Something failed a check or was refused: an invalid receipt, an item that
/// cannot be approved, a decision the control plane refused, an audit alert.
pub const INVALID: u8 = 1;
/// At least one input is not a receipt we recognize (wrong algorithm,
/// unsupported version, malformed). Takes precedence over `INVALID`.
pub const UNRECOGNIZED: u8 = 2;
/// The decision was signed and journalled but not delivered yet; it is sent
/// again by the next `heso-approver queue`.
pub const QUEUED: u8 = 3;
/// This device is not ready: not enrolled, or no keychain / key.
pub const NOT_READY: u8 = 4;
/// Nothing was signed: the person did not confirm at the system prompt
/// (dismissed, wrong password, nobody at the desk), or too many prompts
/// ended without a yes and the signer did not ask.
pub const NOT_CONFIRMED: u8 = 5;
/// The command line was wrong (sysexits `EX_USAGE`).
pub const USAGE: u8 = 64;
/// An input file could not be read (sysexits `EX_NOINPUT`).
pub const NO_INPUT: u8 = 66;
/// The control plane could not be reached (sysexits `EX_UNAVAILABLE`).
pub const UNAVAILABLE: u8 = 69;
/// An output file or directory could not be written (sysexits `EX_CANTCREAT`).
pub const CANNOT_WRITE: u8 = 73;
