pub mod commands;
pub mod verify;
