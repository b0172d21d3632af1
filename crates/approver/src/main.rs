//! `heso-approver`: the HESO Approver command line.

use clap::{Parser, Subcommand};
use heso_approver::exit;
use std::process::ExitCode;

mod cli;

#[derive(Parser)]
#[command(
    name = "heso-approver",
    version,
    about = "Approve what AI agents want to do, and verify HESO receipts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify HESO action receipts offline.
    ///
    /// FILE is one receipt (.json) or many (.jsonl, one per line).
    /// Exit status: 0 all valid, 1 any invalid, 2 any unrecognized or
    /// malformed, 64 usage error, 66 unreadable file.
    Verify(cli::verify::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Verify(args) => cli::verify::run(&args),
    };
    ExitCode::from(code)
}
