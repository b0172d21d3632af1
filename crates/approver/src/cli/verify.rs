//! `heso-approver verify [--json] [--chain] FILE`

use heso_approver::exit;
use heso_approver::receipts_file::{for_each_receipt, is_jsonl, RawReceipt};
use heso_receipt::verify::Verifier;
use heso_receipt::{Verdict, VerdictKind};
use std::io::{self, BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// One JSON object per receipt instead of text.
    #[arg(long)]
    pub(super) json: bool,
    /// The receipts are one gated session's chain, in order: verify each
    /// link and that they make the chain (exit 0 only for a valid chain).
    #[arg(long, conflicts_with = "threads")]
    chain: bool,
    /// Threads to verify with (default: one per core).
    #[arg(long)]
    threads: Option<NonZeroUsize>,
    /// A receipt (.json) or receipts, one per line (.jsonl).
    pub(super) file: PathBuf,
}

/// Receipts verified together before their verdicts are printed, in order.
const BATCH: usize = 2048;

/// Verifies a batch of receipts on `verifiers.len()` threads, keeping order.
fn verify_batch(verifiers: &mut [Verifier], batch: &[RawReceipt]) -> Vec<Verdict> {
    if verifiers.len() == 1 || batch.len() < 64 {
        let verifier = &mut verifiers[0];
        return batch
            .iter()
            .map(|raw| verifier.verify_bytes(&raw.bytes).verdict)
            .collect();
    }
    let per_thread = batch.len().div_ceil(verifiers.len());
    std::thread::scope(|scope| {
        let workers: Vec<_> = verifiers
            .iter_mut()
            .zip(batch.chunks(per_thread))
            .map(|(verifier, part)| {
                scope.spawn(move || {
                    part.iter()
                        .map(|raw| verifier.verify_bytes(&raw.bytes).verdict)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a verifier thread panicked"))
            .collect()
    })
}

#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    unrecognized: usize,
}

pub fn run(args: &Args) -> u8 {
    if args.chain {
        return super::verify_chain::run(args);
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut tally = Tally::default();
    let name = args.file.display().to_string();
    let mut write_error = None;

    let threads = args
        .threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, NonZeroUsize::get);
    let mut verifiers: Vec<Verifier> = (0..threads).map(|_| Verifier::default()).collect();
    let mut batch = Vec::with_capacity(BATCH);
    let mut report = |batch: &mut Vec<RawReceipt>| {
        for (raw, verdict) in batch.iter().zip(verify_batch(&mut verifiers, batch)) {
            match verdict.kind {
                VerdictKind::Valid => tally.valid += 1,
                kind if kind.is_unrecognized() => tally.unrecognized += 1,
                _ => tally.invalid += 1,
            }
            let source = match raw.line {
                Some(line) => format!("{name}:{line}"),
                None => name.clone(),
            };
            let written = if args.json {
                write_json(&mut out, &source, &verdict)
            } else {
                write_text(&mut out, &source, &verdict, Placed::NotChecked)
            };
            if let Err(e) = written {
                write_error.get_or_insert(e);
            }
        }
        batch.clear();
    };
    let read = for_each_receipt(&args.file, |raw: RawReceipt| {
        batch.push(raw);
        if batch.len() == BATCH {
            report(&mut batch);
        }
    });
    report(&mut batch);
    if let Err(e) = read {
        let _ = out.flush();
        eprintln!("heso-approver: cannot read {name}: {e}");
        return exit::NO_INPUT;
    }
    if is_jsonl(&args.file) && !args.json {
        let _ = writeln!(
            out,
            "{} valid, {} invalid",
            tally.valid,
            tally.invalid + tally.unrecognized
        );
    }
    if let Some(e) = write_error.or_else(|| out.flush().err()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("heso-approver: cannot write output: {e}");
        }
    }
    if tally.unrecognized > 0 {
        exit::UNRECOGNIZED
    } else if tally.invalid > 0 {
        exit::INVALID
    } else {
        exit::OK
    }
}

/// The verdict's detail, or a sentence where the vendor gives none.
fn explain(verdict: &Verdict) -> Option<String> {
    match (verdict.kind, &verdict.detail) {
        (VerdictKind::WrongAlgorithm, Some(alg)) => Some(format!(
            "algorithm `{alg}` is not `{}`",
            heso_receipt::RECEIPT_ALG
        )),
        (_, Some(detail)) => Some(detail.clone()),
        (VerdictKind::HashMismatch, None) => {
            Some("the content does not hash to its action_hash".to_owned())
        }
        _ => None,
    }
}

/// Whether a session link's place in its chain was checked (`--chain`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Placed {
    Checked,
    NotChecked,
}

fn warnings(verdict: &Verdict, placed: Placed) -> Vec<String> {
    let mut list = Vec::new();
    if let (Some(kind), true) = (verdict.session_link, verdict.is_valid()) {
        let place = match placed {
            Placed::Checked => "",
            Placed::NotChecked => ", and its place in the session's chain is not checked",
        };
        list.push(format!(
            "session link `{}` of a gated action: its trust level is the one written in it, \
             not derived from who signed{place}",
            kind.as_str()
        ));
    }
    if verdict.approver_identity_mismatch {
        list.push("approver_decision.approver_identity is not the key that co-signed".to_owned());
    }
    if !verdict.unsigned_paths.is_empty() {
        list.push(format!(
            "values not covered by any signature: {}",
            verdict.unsigned_paths.join(", ")
        ));
    }
    list
}

pub(super) fn write_text(
    out: &mut impl Write,
    source: &str,
    verdict: &Verdict,
    placed: Placed,
) -> io::Result<()> {
    write!(out, "{source}: {}", verdict.kind.as_str())?;
    if let Some(level) = verdict.trust_level {
        write!(out, " {}", level.as_str())?;
    }
    if let Some(text) = explain(verdict) {
        write!(out, ": {text}")?;
    }
    writeln!(out)?;
    for warning in warnings(verdict, placed) {
        writeln!(out, "  warning: {warning}")?;
    }
    Ok(())
}

pub(super) fn write_json(out: &mut impl Write, source: &str, verdict: &Verdict) -> io::Result<()> {
    let mut object = serde_json::Map::new();
    object.insert("source".into(), source.into());
    object.insert("kind".into(), verdict.kind.as_str().into());
    if let Some(level) = verdict.trust_level {
        object.insert("trust_level".into(), level.as_str().into());
    }
    object.insert("detail".into(), verdict.detail.clone().into());
    object.insert(
        "approver_identity_mismatch".into(),
        verdict.approver_identity_mismatch.into(),
    );
    object.insert(
        "unsigned_fields".into(),
        verdict.unsigned_paths.clone().into(),
    );
    if let Some(kind) = verdict.session_link {
        object.insert("session_link".into(), kind.as_str().into());
    }
    serde_json::to_writer(&mut *out, &object)?;
    writeln!(out)
}
