//! `heso-approver-signer`: the system service that holds each desktop
//! user's HESO Approver device key, out of reach of that user's programs,
//! and makes a vote only once the person has answered the prompt the
//! desktop's polkit agent draws.
//!
//! It runs as its own system user, on the system bus (name
//! `org.heso.Approver.Signer1`). Every call is keyed by the caller's uid as
//! the bus reports it and the account the key is filed under. Before a vote
//! it verifies the item itself (hash, operator signature, the operator keys
//! it pinned at enrolment, an L0 awaiting approval) and puts the summary it
//! rendered from those verified bytes in the prompt.

mod caller;
mod hardening;
mod presence;
mod prompt_text;
mod service;
mod store;

use clap::Parser;
use heso_approver::signer::protocol::{BUS_NAME, OBJECT_PATH};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "heso-approver-signer",
    version,
    about = "Holds HESO Approver device keys; signs a vote only with the person's confirmation"
)]
struct Args {
    /// Where the keys and what they signed are kept (mode 0700).
    #[arg(long, default_value = "/var/lib/heso-approver-signer")]
    state_dir: PathBuf,
}

fn main() -> ExitCode {
    // Before anything else: no core dump, no same-user ptrace, no
    // /proc/<pid>/mem for anyone but root.
    if let Err(e) = hardening::apply() {
        eprintln!("heso-approver-signer: cannot harden the process: {e}");
        return ExitCode::from(1);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let keys = match store::KeyStore::open(&args.state_dir) {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("heso-approver-signer: {e}");
            return ExitCode::from(1);
        }
    };
    let service = service::Service::new(keys);
    let connection = zbus::blocking::connection::Builder::system()
        .and_then(|b| b.name(BUS_NAME))
        .and_then(|b| b.serve_at(OBJECT_PATH, service))
        .and_then(|b| b.build());
    let _connection = match connection {
        Ok(connection) => connection,
        Err(e) => {
            eprintln!("heso-approver-signer: cannot serve {BUS_NAME} on the system bus: {e}");
            return ExitCode::from(1);
        }
    };
    tracing::info!(state_dir = %args.state_dir.display(), "serving {BUS_NAME}");
    loop {
        std::thread::park();
    }
}
