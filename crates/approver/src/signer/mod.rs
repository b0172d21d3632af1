//! The system signer (Linux): where the device key lives when it is
//! protected from the desktop user's other programs. See
//! `crates/signer` for the service itself.

pub mod protocol;

#[cfg(target_os = "linux")]
pub mod client;
