//! HESO Approver core: what the desktop app and the `heso-approver` command
//! line share.

pub mod exit;
pub mod receipts_file;
