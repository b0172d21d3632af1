//! HESO Approver core: what the desktop app and the `heso-approver` command
//! line share.

pub mod audit;
pub mod client;
pub mod clock;
pub mod device_key;
pub mod display;
pub mod enrol;
pub mod exit;
pub mod journal;
pub mod private_files;
pub mod profile;
pub mod receipts_file;
pub mod signer;
pub mod view;
pub mod watch;
pub mod workflow;
