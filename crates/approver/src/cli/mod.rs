pub mod commands;
pub mod verify;
pub mod verify_chain;
