//! `heso-approver verify [--json] FILE`

use heso_approver::exit;
use heso_approver::receipts_file::{for_each_receipt, is_jsonl, RawReceipt};
use heso_receipt::{verify_receipt_bytes, Verdict, VerdictKind};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// One JSON object per receipt instead of text.
    #[arg(long)]
    json: bool,
    /// A receipt (.json) or receipts, one per line (.jsonl).
    file: PathBuf,
}

#[derive(Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    unrecognized: usize,
}

pub fn run(args: &Args) -> u8 {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut tally = Tally::default();
    let name = args.file.display().to_string();
    let mut write_error = None;

    let read = for_each_receipt(&args.file, |raw: RawReceipt| {
        let verdict = verify_receipt_bytes(&raw.bytes).verdict;
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
            write_text(&mut out, &source, &verdict)
        };
        if let Err(e) = written {
            write_error.get_or_insert(e);
        }
    });
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

/// A sentence for verdicts the vendor reports without detail.
fn explain(verdict: &Verdict) -> Option<&str> {
    if let Some(detail) = &verdict.detail {
        return Some(detail);
    }
    match verdict.kind {
        VerdictKind::HashMismatch => Some("the content does not hash to its action_hash"),
        _ => None,
    }
}

fn warnings(verdict: &Verdict) -> Vec<String> {
    let mut list = Vec::new();
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

fn write_text(out: &mut impl Write, source: &str, verdict: &Verdict) -> io::Result<()> {
    write!(out, "{source}: {}", verdict.kind.as_str())?;
    if let Some(level) = verdict.trust_level {
        write!(out, " {}", level.as_str())?;
    }
    if let Some(text) = explain(verdict) {
        write!(out, ": {text}")?;
    }
    writeln!(out)?;
    for warning in warnings(verdict) {
        writeln!(out, "  warning: {warning}")?;
    }
    Ok(())
}

fn write_json(out: &mut impl Write, source: &str, verdict: &Verdict) -> io::Result<()> {
    let mut object = serde_json::Map::new();
    object.insert("source".into(), source.into());
    object.insert("kind".into(), verdict.kind.as_str().into());
    if let Some(level) = verdict.trust_level {
        object.insert("trust_level".into(), level.as_str().into());
    }
    object.insert("detail".into(), explain(verdict).into());
    object.insert(
        "approver_identity_mismatch".into(),
        verdict.approver_identity_mismatch.into(),
    );
    object.insert(
        "unsigned_fields".into(),
        verdict.unsigned_paths.clone().into(),
    );
    serde_json::to_writer(&mut *out, &object)?;
    writeln!(out)
}
