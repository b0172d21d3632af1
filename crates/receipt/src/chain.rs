//! Session chains: the links one gated session writes (`suspended`, its
//! decisions, `completed`), in file order, judged as the vendor's
//! `verify_session_chain` judges them. Three passes, each over the whole
//! chain before the next, so the verdict names the first failure of the
//! earliest pass:
//!
//! 1. each link on its own, by kind (see `lifecycle`): `ContentTamper`, or
//!    `RoleViolation` for a decision signed with the operator's authority;
//! 2. the links: a chain block on each, one session, `seq` 0, 1, 2, … and
//!    each `prev_receipt_hash` the [`link_hash`] of the link before:
//!    `LinkBroken`;
//! 3. the lifecycle of each action the session gates (links are about the
//!    same action when their [`ActionSpec`] is): `IllegalTransition`,
//!    `DoubleTerminal`. Key rotation links take no part in it.
//!
//! As in the vendor, nothing pins keys across links: any key that signs a
//! link under its kind's domain will do.

use crate::canonical::jcs;
use crate::verify::{LinkFault, Verdict, Verifier};
use crate::wire::{Content, Receipt, ReceiptKind, Verb};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The domain that opens a link hash's preimage.
const LINK_DOMAIN: &[u8] = b"heso-rcpt-chain/v1";

/// The `prev_receipt_hash` the link after this one must carry: BLAKE3 of
/// its [`link_preimage`], lowercase hex.
pub fn link_hash(content: &Content) -> String {
    blake3::hash(&link_preimage(content)).to_hex().to_string()
}

/// The domain, `0x00`, then the session id, seq (u64 LE) and action hash as
/// written, each framed by its length as a u64 LE. An absent session id
/// frames as empty and an absent seq as 0. The action hash is not
/// recomputed: the first pass checks it.
fn link_preimage(content: &Content) -> Vec<u8> {
    let session = content.session_id.as_deref().unwrap_or_default();
    let seq = content.seq.unwrap_or(0).to_le_bytes();
    let fields = [session.as_bytes(), &seq, content.action_hash.as_bytes()];
    let mut preimage = [LINK_DOMAIN, &[0]].concat();
    for field in fields {
        preimage.extend_from_slice(&(field.len() as u64).to_le_bytes());
        preimage.extend_from_slice(field);
    }
    preimage
}

/// The vendor's chain verdict; serializes to its exact shape, e.g.
/// `{"kind": "LinkBroken", "seq": 2, "detail": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum ChainVerdict {
    Valid {
        length: usize,
    },
    /// No links at all.
    Empty,
    /// A link fails on its own; `reason` is its failure in the vendor's
    /// rendering (`HashMismatch`, `Malformed("…")`, …).
    ContentTamper {
        seq: u64,
        reason: String,
    },
    /// A decision link signed with the wrong authority.
    RoleViolation {
        seq: u64,
        receipt_kind: &'static str,
        required: &'static str,
        detail: String,
    },
    /// A link does not follow the one before it.
    LinkBroken {
        seq: u64,
        detail: String,
    },
    /// A link that cannot come next in its action's lifecycle.
    IllegalTransition {
        seq: u64,
        detail: String,
    },
    /// A second terminal (`denied`, `expired`, `completed`) for one action.
    DoubleTerminal {
        seq: u64,
        first: &'static str,
        second: &'static str,
    },
}

impl ChainVerdict {
    pub fn is_valid(&self) -> bool {
        matches!(self, ChainVerdict::Valid { .. })
    }

    /// The verdict's kind as the vendor names it.
    pub fn name(&self) -> &'static str {
        match self {
            ChainVerdict::Valid { .. } => "Valid",
            ChainVerdict::Empty => "Empty",
            ChainVerdict::ContentTamper { .. } => "ContentTamper",
            ChainVerdict::RoleViolation { .. } => "RoleViolation",
            ChainVerdict::LinkBroken { .. } => "LinkBroken",
            ChainVerdict::IllegalTransition { .. } => "IllegalTransition",
            ChainVerdict::DoubleTerminal { .. } => "DoubleTerminal",
        }
    }

    /// The seq the vendor reports for a broken chain.
    pub fn seq(&self) -> Option<u64> {
        match self {
            ChainVerdict::Valid { .. } | ChainVerdict::Empty => None,
            ChainVerdict::ContentTamper { seq, .. }
            | ChainVerdict::RoleViolation { seq, .. }
            | ChainVerdict::LinkBroken { seq, .. }
            | ChainVerdict::IllegalTransition { seq, .. }
            | ChainVerdict::DoubleTerminal { seq, .. } => Some(*seq),
        }
    }
}

/// A verified chain: each link's own verdict and the chain's.
#[derive(Debug, Clone)]
pub struct ChainReport {
    /// Each link's own verdict, in file order.
    pub links: Vec<Verdict>,
    pub verdict: ChainVerdict,
    /// The position in `links` of the link the verdict names (the vendor's
    /// `seq` is not always one); `None` for `Valid` and `Empty`.
    pub at: Option<usize>,
}

/// Input that is not a JSON array of receipts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse chain: {0}")]
pub struct ChainParseError(pub String);

/// Verify chain JSON (an array of receipts), as `heso._core.verify_session_chain`.
pub fn verify_session_chain(json: &[u8]) -> Result<ChainVerdict, ChainParseError> {
    let links: Vec<Receipt> =
        serde_json::from_slice(json).map_err(|e| ChainParseError(e.to_string()))?;
    Ok(verify_chain(links).verdict)
}

/// Verify each link, then the chain they make.
pub fn verify_chain(links: Vec<Receipt>) -> ChainReport {
    let mut verifier = Verifier::default();
    let (chain, verdicts): (Vec<Receipt>, Vec<Verdict>) = links
        .into_iter()
        .map(|link| {
            let verified = verifier.verify(link);
            let receipt = verified.receipt.expect("verify hands back its receipt");
            (receipt, verified.verdict)
        })
        .unzip();
    let broken = first_failed_link(&chain, &verdicts)
        .or_else(|| first_broken_link(&chain))
        .or_else(|| first_illegal_step(&chain));
    let (verdict, at) = match broken {
        Some((at, verdict)) => (verdict, Some(at)),
        None if chain.is_empty() => (ChainVerdict::Empty, None),
        None => (
            ChainVerdict::Valid {
                length: chain.len(),
            },
            None,
        ),
    };
    ChainReport {
        links: verdicts,
        verdict,
        at,
    }
}

/// Pass 1: the first link that fails on its own. Reported at its seq, 0
/// when it has none.
fn first_failed_link(chain: &[Receipt], verdicts: &[Verdict]) -> Option<(usize, ChainVerdict)> {
    chain
        .iter()
        .zip(verdicts)
        .enumerate()
        .find_map(|(at, (link, verdict))| {
            let seq = link.content.seq.unwrap_or(0);
            let failure = match verdict.link_fault.as_ref()? {
                LinkFault::Tamper(reason) => ChainVerdict::ContentTamper {
                    seq,
                    reason: reason.clone(),
                },
                LinkFault::Role => ChainVerdict::RoleViolation {
                    seq,
                    receipt_kind: link
                        .content
                        .kind
                        .map_or("Action", ReceiptKind::verdict_name),
                    required: "Decision",
                    detail: verdict.detail.clone().unwrap_or_default(),
                },
            };
            Some((at, failure))
        })
}

/// Pass 2: the first link that does not follow the one before it.
fn first_broken_link(chain: &[Receipt]) -> Option<(usize, ChainVerdict)> {
    (0..chain.len()).find_map(|at| {
        let (seq, detail) = link_break(chain, at)?;
        Some((at, ChainVerdict::LinkBroken { seq, detail }))
    })
}

/// Why the link at `at` breaks the chain, as `(seq, detail)`: checked in
/// the vendor's order, its chain block, then its session, its seq, and its
/// `prev_receipt_hash`. A link without a chain block is reported at its
/// position.
fn link_break(chain: &[Receipt], at: usize) -> Option<(u64, String)> {
    let content = &chain[at].content;
    let (Some(session), Some(seq)) = (&content.session_id, content.seq) else {
        let detail = match at {
            0 => "genesis receipt carries no chain block (session_id + seq required)",
            _ => "non-genesis receipt carries no chain block",
        };
        return Some((at as u64, detail.to_owned()));
    };
    let Some(previous) = at.checked_sub(1).map(|i| &chain[i].content) else {
        return genesis_break(content, seq).map(|detail| (seq, detail));
    };
    // The genesis link passed this check, so it has a session id.
    let genesis = chain[0].content.session_id.as_deref().unwrap_or_default();
    if session != genesis {
        let detail = format!("session_id changed mid-chain: `{session}` != genesis `{genesis}`");
        return Some((seq, detail));
    }
    let expected = at as u64;
    if seq != expected {
        let detail = format!(
            "seq {seq} out of order (expected {expected}); a drop, reorder, or insert breaks the chain"
        );
        return Some((seq, detail));
    }
    let Some(claimed) = &content.prev_receipt_hash else {
        let detail = "non-genesis receipt carries no prev_receipt_hash".to_owned();
        return Some((seq, detail));
    };
    let recomputed = link_hash(previous);
    if *claimed != recomputed {
        let detail = format!(
            "prev_receipt_hash {claimed} != recomputed link {recomputed} of seq {}",
            previous.seq.unwrap_or(0)
        );
        return Some((seq, detail));
    }
    None
}

/// The genesis link starts at seq 0 and links to nothing.
fn genesis_break(content: &Content, seq: u64) -> Option<String> {
    if seq != 0 {
        return Some(format!("genesis receipt has seq {seq}, expected 0"));
    }
    content
        .prev_receipt_hash
        .as_ref()
        .map(|_| "genesis receipt must carry no prev_receipt_hash".to_owned())
}

/// What makes links about the same action: what it does, to what, with
/// which arguments; not how it was classified (`ert`), its outcome
/// (`result_hash`, `error`) or its mandate. Compared by canonical bytes, so
/// `120` and `120.0` are one amount.
#[derive(Serialize)]
pub struct ActionSpec<'a> {
    verb: Verb,
    domain: &'a Option<String>,
    action: &'a Option<String>,
    tool_name: &'a str,
    target_host: &'a Option<String>,
    workflow: &'a str,
    account: &'a str,
    fields: &'a Map<String, Value>,
}

impl<'a> ActionSpec<'a> {
    pub fn of(content: &'a Content) -> Self {
        let action = &content.action;
        ActionSpec {
            verb: action.verb,
            domain: &action.domain,
            action: &action.action,
            tool_name: &action.tool_name,
            target_host: &action.target_host,
            workflow: &action.workflow,
            account: &action.account,
            fields: &action.fields,
        }
    }

    /// The canonical bytes two links share when they are about one action.
    fn key(&self) -> Vec<u8> {
        // Parsed JSON values always canonicalize (see `canonical::jcs`).
        jcs(self).expect("an action spec canonicalizes")
    }
}

/// Where one action is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Suspended,
    Escalated,
    Approved,
    /// Allowed without a pause: a plain `action` receipt.
    FastAction,
    /// Denied, expired or completed.
    Closed(ReceiptKind),
}

/// Why a link cannot come next in its action's lifecycle.
enum Misstep {
    Illegal(String),
    SecondTerminal(ReceiptKind),
}

/// Pass 3: the first link that cannot come next for its action.
fn first_illegal_step(chain: &[Receipt]) -> Option<(usize, ChainVerdict)> {
    let mut stages: HashMap<Vec<u8>, Stage> = HashMap::new();
    chain.iter().enumerate().find_map(|(at, link)| {
        let content = &link.content;
        let kind = content.kind.unwrap_or(ReceiptKind::Action);
        if kind == ReceiptKind::KeyRotation {
            return None;
        }
        let seq = content.seq.unwrap_or(0);
        let spec = ActionSpec::of(content).key();
        let failure = match next_stage(stages.get(&spec).copied(), kind) {
            Ok(next) => {
                stages.insert(spec, next);
                return None;
            }
            Err(Misstep::Illegal(detail)) => ChainVerdict::IllegalTransition { seq, detail },
            Err(Misstep::SecondTerminal(first)) => ChainVerdict::DoubleTerminal {
                seq,
                first: first.verdict_name(),
                second: kind.verdict_name(),
            },
        };
        Some((at, failure))
    })
}

/// The vendor's lifecycle: `suspended`, then any escalations, then approved
/// and completed, or denied or expired; or a plain `action` and its
/// `completed`; or a lone `completed`. `current` is `None` for an action's
/// first link.
fn next_stage(current: Option<Stage>, kind: ReceiptKind) -> Result<Stage, Misstep> {
    use ReceiptKind::*;
    let name = kind.verdict_name();
    let illegal = |detail: String| Err(Misstep::Illegal(detail));
    match (current, kind) {
        (None, Suspended) => Ok(Stage::Suspended),
        (None, Action) => Ok(Stage::FastAction),
        (None, Completed) => Ok(Stage::Closed(Completed)),
        (None, _) => illegal(format!(
            "{name} is the first receipt for its action spec, but a decision/terminal must \
             follow a `suspended` (or be a fast `action`/`completed`)"
        )),
        (Some(Stage::Suspended | Stage::Escalated), Escalated) => Ok(Stage::Escalated),
        (Some(Stage::Suspended | Stage::Escalated), Approved) => Ok(Stage::Approved),
        (Some(Stage::Suspended | Stage::Escalated), Denied | Expired) => Ok(Stage::Closed(kind)),
        (Some(Stage::Suspended), Completed) => illegal(
            "`completed` follows `suspended` with no `approved` — a gated action must be \
             approved before it fires"
                .to_owned(),
        ),
        (Some(Stage::Suspended), Suspended) => {
            illegal("a second `suspended` for an action spec already in flight".to_owned())
        }
        (Some(Stage::Suspended), _) => illegal(format!(
            "{name} is not a legal next step for this action spec"
        )),
        (Some(Stage::Escalated), _) => illegal(format!(
            "{name} follows `escalated`; expected another escalation, an approval, or a \
             deny/expire terminal"
        )),
        (Some(Stage::Approved | Stage::FastAction), Completed) => Ok(Stage::Closed(Completed)),
        (Some(Stage::Approved), _) => illegal(format!(
            "{name} follows `approved`; only `completed` (the fire) is legal"
        )),
        (Some(Stage::FastAction), _) => illegal(format!(
            "{name} follows a fast `action`; only a single `completed` may follow the fast \
             allow path"
        )),
        (Some(Stage::Closed(first)), Denied | Expired | Completed) => {
            Err(Misstep::SecondTerminal(first))
        }
        (Some(Stage::Closed(_)), _) => illegal(format!(
            "{name} follows a terminal for the same action spec — the lifecycle is closed"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The `suspended` link of the vendor's "denied" session (in
    /// `tests/vectors/lifecycle.json`) and the `prev_receipt_hash` its
    /// `denied` link carries.
    #[test]
    fn the_worked_example() {
        let content: Content = serde_json::from_value(json!({
            "action_version": "heso-action/2.0", "captured_at": "", "agent_identity": "",
            "action": {"verb": "payment", "tool_name": "pay", "workflow": "default",
                       "account": "default", "fields": {}},
            "policy": {"rule_id": "gate", "rule_display": "", "matched_conditions": [],
                       "decision_path": "require_approval"},
            "trust_level": "L0",
            "action_hash": "b7d654b22c54bd6f9bac5048f761e41e6fd048c1177033227087683327be2c8b",
            "session_id": "denied", "seq": 0, "kind": "suspended"
        }))
        .unwrap();
        let preimage = hex::encode(link_preimage(&content));
        assert!(preimage.starts_with("6865736f2d726370742d636861696e2f76310006000000000000006465"));
        assert_eq!(
            link_hash(&content),
            "91f9d2d6b844170522124e03ce0b615262af9bc4139658e0436f25f0155f7095"
        );
    }
}
