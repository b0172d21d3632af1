//! Session chains, pinned by vectors written with the vendor package
//! (`tests/oracle/chain_vectors.py`): real chains made by `@heso.gated`,
//! `append_decision` and `process_sweep`, those chains broken every way that
//! matters, every lifecycle step from every stage, and link hashes. Same
//! verdict as the package, field for field.

use heso_receipt::chain::{link_hash, verify_chain, verify_session_chain};
use heso_receipt::{Content, Receipt};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/chains.json")).unwrap()
}

fn list(name: &str) -> Vec<Value> {
    vectors()[name].as_array().unwrap().clone()
}

#[test]
fn every_chain_gets_the_vendors_verdict() {
    let cases = list("chains");
    assert!(cases.len() >= 150, "{} cases", cases.len());
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let text = serde_json::to_string(&case["chain"]).unwrap();
        let ours = verify_session_chain(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            serde_json::to_value(&ours).unwrap(),
            case["verdict"],
            "{name}"
        );
    }
}

#[test]
fn every_verdict_kind_is_covered() {
    let kinds: std::collections::BTreeSet<String> = list("chains")
        .iter()
        .map(|case| case["verdict"]["kind"].as_str().unwrap().to_owned())
        .collect();
    let expected = [
        "ContentTamper",
        "DoubleTerminal",
        "Empty",
        "IllegalTransition",
        "LinkBroken",
        "RoleViolation",
        "Valid",
    ];
    assert_eq!(kinds, expected.iter().map(|k| k.to_string()).collect());
}

#[test]
fn the_real_chains_are_valid_and_name_no_link() {
    let real: Vec<Value> = list("chains")
        .into_iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("real: "))
        .collect();
    assert_eq!(real.len(), 7);
    for case in real {
        let links: Vec<Receipt> = serde_json::from_value(case["chain"].clone()).unwrap();
        let count = links.len();
        let report = verify_chain(links);
        assert!(report.verdict.is_valid(), "{}", case["name"]);
        assert_eq!(report.links.len(), count);
        assert!(report.links.iter().all(|v| v.is_valid()));
        assert_eq!(report.at, None);
    }
}

/// The position a broken verdict names is a link that really is at fault:
/// the one whose seq the vendor reports, or the one without a chain block.
#[test]
fn a_broken_chain_names_the_link_at_fault() {
    for case in list("chains") {
        let links: Vec<Receipt> = serde_json::from_value(case["chain"].clone()).unwrap();
        let report = verify_chain(links.clone());
        let Some(seq) = report.verdict.seq() else {
            assert_eq!(report.at, None);
            continue;
        };
        let at = report.at.expect("a broken chain names a link");
        let content = &links[at].content;
        let named =
            content.seq == Some(seq) || (content.seq.is_none() && seq == 0) || seq == at as u64;
        assert!(named, "{}: link {at} for seq {seq}", case["name"]);
    }
}

#[test]
fn link_hashes_match_the_vendor() {
    let cases = list("link_hashes");
    assert!(cases.len() >= 50);
    for case in cases {
        let content: Content = serde_json::from_value(case["content"].clone()).unwrap();
        assert_eq!(
            link_hash(&content),
            case["link_hash"],
            "{}",
            case["content"]
        );
    }
}

#[test]
fn what_the_vendor_cannot_read_we_cannot_either() {
    for case in list("unparsed") {
        let input = case["input"].as_str().unwrap();
        assert!(verify_session_chain(input.as_bytes()).is_err(), "{input}");
    }
}
