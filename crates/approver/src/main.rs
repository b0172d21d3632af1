//! `heso-approver`: the HESO Approver command line.

use clap::{CommandFactory, Parser, Subcommand};
use heso_approver::exit;
use heso_cli_docs::Invocation;
use heso_receipt::Decision;
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
    invocation: Invocation<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Verify HESO action receipts offline.
    ///
    /// FILE is one receipt (.json) or many (.jsonl, one per line).
    /// Exit status: 0 all valid, 1 any invalid, 2 any unrecognized or
    /// malformed, 64 usage error, 66 unreadable file. With --chain: 0 only
    /// for a valid chain, 1 for a broken one, 2 when a line is not a receipt.
    Verify(cli::verify::Args),
    /// Enrol this device with a control plane, using a one-time code from the operator.
    Enroll {
        #[arg(long)]
        url: String,
        #[arg(long)]
        code: String,
        /// A name for this device in the org's roster.
        #[arg(long)]
        label: Option<String>,
    },
    /// Move this device's key out of the keychain into the system signer
    /// (Linux), with a new one-time code of the same org; the old key is
    /// retired. The person confirms at the system's prompt.
    Protect {
        #[arg(long)]
        code: String,
        /// A name for this device in the org's roster.
        #[arg(long)]
        label: Option<String>,
    },
    /// Show this device's public key and fingerprint.
    Whoami {
        #[arg(long)]
        json: bool,
    },
    /// List pending approvals, each verified. Also re-sends undelivered decisions.
    Queue {
        #[arg(long)]
        json: bool,
        /// When nothing is pending, wait up to this many seconds for an approval.
        #[arg(long)]
        wait: Option<u64>,
    },
    /// Show one approval as the app would: the verified view only.
    Show {
        action_hash: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve an action: verify, co-sign, journal, send.
    Approve {
        action_hash: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Reject an action: verify, co-sign, journal, send.
    Reject {
        action_hash: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Every co-signature made in this approver's name, final receipts verified offline:
    /// what was decided, the rule, the reason, who else signed a quorum.
    Audit {
        /// One JSON array.
        #[arg(long, conflicts_with_all = ["jsonl", "csv"])]
        json: bool,
        /// One JSON object per line.
        #[arg(long, conflicts_with = "csv")]
        jsonl: bool,
        /// CSV with a header row (cells that would be formulas are quoted as text).
        #[arg(long)]
        csv: bool,
    },
    /// Write the verified final receipts as .jsonl.
    Export { file: std::path::PathBuf },
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
    use cli::commands as c;
    let command = match cli.invocation {
        Invocation::Run(command) => command,
        Invocation::Generate(args) => {
            let documented = heso_cli_docs::documented::<Command>(&Cli::command());
            return match heso_cli_docs::generate(documented, &args) {
                Ok(()) => ExitCode::from(exit::OK),
                Err(e) => {
                    eprintln!(
                        "heso-approver: cannot write into {}: {e}",
                        args.dir.display()
                    );
                    ExitCode::from(exit::CANNOT_WRITE)
                }
            };
        }
    };
    let result = match command {
        Command::Verify(args) => return ExitCode::from(cli::verify::run(&args)),
        Command::Enroll { url, code, label } => c::enroll(&url, &code, label.as_deref()),
        Command::Protect { code, label } => c::protect(&code, label.as_deref()),
        Command::Whoami { json } => c::whoami(json),
        Command::Queue { json, wait } => c::queue(json, wait),
        Command::Show { action_hash, json } => c::show(&action_hash, json),
        Command::Approve {
            action_hash,
            reason,
        } => c::decide(&action_hash, Decision::Approved, &reason),
        Command::Reject {
            action_hash,
            reason,
        } => c::decide(&action_hash, Decision::Rejected, &reason),
        Command::Audit { json, jsonl, csv } => {
            c::audit_command(c::AuditFormat::from_flags(json, jsonl, csv))
        }
        Command::Export { file } => c::export(&file),
    };
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) => {
            eprintln!("heso-approver: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
