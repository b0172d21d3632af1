//! The system signer (Linux): where the device key lives when it is
//! protected from the desktop user's other programs. See
//! `crates/signer` for the service itself. Elsewhere `client` is a client
//! that can never connect, with the same interface.

pub mod protocol;

#[cfg(target_os = "linux")]
pub mod client;

#[cfg(not(target_os = "linux"))]
#[path = "unavailable.rs"]
pub mod client;
