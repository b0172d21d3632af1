//! `heso-approver verify --chain [--json] FILE`: each link verified as
//! `verify` verifies it, then the chain the links make, judged as the
//! vendor judges it (`heso_receipt::chain`).

use super::verify::{write_json, write_text, Args, Placed};
use heso_approver::exit;
use heso_approver::receipts_file::{for_each_receipt, RawReceipt};
use heso_receipt::chain::{verify_chain, ChainReport, ChainVerdict};
use heso_receipt::{verify_receipt_bytes, Receipt};
use serde_json::{Map, Value};
use std::io::{self, BufWriter, Write};

pub fn run(args: &Args) -> u8 {
    let name = args.file.display().to_string();
    let mut raws = Vec::new();
    if let Err(e) = for_each_receipt(&args.file, |raw| raws.push(raw)) {
        eprintln!("heso-approver: cannot read {name}: {e}");
        return exit::NO_INPUT;
    }
    let sources: Vec<String> = raws.iter().map(|raw| source(&name, raw)).collect();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let (code, written) = match parse_all(&raws) {
        Ok(links) => {
            let report = verify_chain(links);
            let code = if report.verdict.is_valid() {
                exit::OK
            } else {
                exit::INVALID
            };
            (code, write_report(&mut out, args.json, &sources, &report))
        }
        Err(unreadable) => {
            let written = write_unjudged(&mut out, args.json, &sources, &raws, unreadable);
            (exit::UNRECOGNIZED, written)
        }
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("heso-approver: cannot write output: {e}");
        }
    }
    code
}

fn source(name: &str, raw: &RawReceipt) -> String {
    match raw.line {
        Some(line) => format!("{name}:{line}"),
        None => name.to_owned(),
    }
}

/// The links, or the position of the first line that is not a receipt (a
/// chain with a hole in it cannot be judged).
fn parse_all(raws: &[RawReceipt]) -> Result<Vec<Receipt>, usize> {
    raws.iter()
        .enumerate()
        .map(|(at, raw)| serde_json::from_slice(&raw.bytes).map_err(|_| at))
        .collect()
}

fn write_report(
    out: &mut impl Write,
    json: bool,
    sources: &[String],
    report: &ChainReport,
) -> io::Result<()> {
    for (source, verdict) in sources.iter().zip(&report.links) {
        if json {
            write_json(out, source, verdict)?;
        } else {
            write_text(out, source, verdict, Placed::Checked)?;
        }
    }
    let named = report.at.map(|at| sources[at].as_str());
    if json {
        serde_json::to_writer(&mut *out, &chain_object(&report.verdict, named))?;
        writeln!(out)
    } else {
        writeln!(out, "{}", chain_line(&report.verdict, named))
    }
}

/// Each line's own verdict as plain `verify` gives it, then why the chain
/// is not judged.
fn write_unjudged(
    out: &mut impl Write,
    json: bool,
    sources: &[String],
    raws: &[RawReceipt],
    unreadable: usize,
) -> io::Result<()> {
    for (source, raw) in sources.iter().zip(raws) {
        let verdict = verify_receipt_bytes(&raw.bytes).verdict;
        if json {
            write_json(out, source, &verdict)?;
        } else {
            write_text(out, source, &verdict, Placed::NotChecked)?;
        }
    }
    let source = &sources[unreadable];
    if json {
        let object = serde_json::json!({
            "chain": null,
            "source": source,
            "detail": format!("{source} is not a receipt, so the chain is not judged"),
        });
        serde_json::to_writer(&mut *out, &object)?;
        writeln!(out)
    } else {
        writeln!(out, "chain: not judged: {source} is not a receipt")
    }
}

/// The vendor's verdict with its `kind` as `chain`, and the `source` of
/// the link it names.
fn chain_object(verdict: &ChainVerdict, named: Option<&str>) -> Value {
    let Ok(Value::Object(fields)) = serde_json::to_value(verdict) else {
        unreachable!("a chain verdict serializes to an object");
    };
    let mut object = Map::new();
    for (key, value) in fields {
        let key = if key == "kind" {
            "chain".to_owned()
        } else {
            key
        };
        object.insert(key, value);
    }
    if let Some(source) = named {
        object.insert("source".into(), source.into());
    }
    Value::Object(object)
}

/// `chain: Valid, 4 links` or `chain: LinkBroken at seq 2 (FILE:3): …`.
fn chain_line(verdict: &ChainVerdict, named: Option<&str>) -> String {
    let why = match verdict {
        ChainVerdict::Valid { length: 1 } => return "chain: Valid, 1 link".to_owned(),
        ChainVerdict::Valid { length } => return format!("chain: Valid, {length} links"),
        ChainVerdict::Empty => return "chain: Empty: the file holds no receipts".to_owned(),
        ChainVerdict::ContentTamper { reason, .. } => {
            format!("the link fails on its own: {reason}")
        }
        ChainVerdict::RoleViolation { detail, .. }
        | ChainVerdict::LinkBroken { detail, .. }
        | ChainVerdict::IllegalTransition { detail, .. } => detail.clone(),
        ChainVerdict::DoubleTerminal { first, second, .. } => {
            format!("a second terminal for one action: `{second}` after `{first}`")
        }
    };
    let seq = verdict.seq().map(|seq| format!(" at seq {seq}"));
    let source = named.map(|source| format!(" ({source})"));
    format!(
        "chain: {}{}{}: {why}",
        verdict.name(),
        seq.unwrap_or_default(),
        source.unwrap_or_default()
    )
}
