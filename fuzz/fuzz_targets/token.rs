//! Approval tokens from anywhere: the parser and the verifier.
//!
//! Invariants: nothing panics; a token that parses writes back to exactly the
//! bytes it came from; the verifier accepts only what parses, in scope, with
//! the required decision and a registered key, and answers the same twice.

use heso_fuzz::Case;
use heso_receipt::token::{self, ApprovalToken, TokenDecision, TokenRequirements};

fn main() {
    let case = Case::load();
    let registered = [case.approver_key()];
    afl::fuzz(true, move |data: &[u8]| {
        let parsed = ApprovalToken::parse(data);
        if let Ok(token) = &parsed {
            assert_eq!(token.to_bytes(), data, "parse and to_bytes disagree");
        }

        for decision in [TokenDecision::Approved, TokenDecision::Rejected] {
            let required = TokenRequirements {
                canonical_suspended: &case.canonical_suspended,
                // Before the vector tokens expire, so they verify.
                now_unix_secs: 1_768_414_000,
                required_scope: &case.rule_id,
                required_decision: decision,
                registered_keys: &registered,
            };
            // A nonce starting with 0xff counts as seen, to reach the replay check.
            let seen = |nonce: &[u8; 32]| nonce[0] == 0xff;
            let verdict = token::verify(data, &required, seen);
            assert_eq!(verdict, token::verify(data, &required, seen));
            if let Ok(token) = verdict {
                assert_eq!(Ok(&token), parsed.as_ref());
                assert_eq!(token.decision, decision);
                assert_eq!(token.scope, case.rule_id);
                assert!(registered.contains(&token.approver_key));
                assert!(token.expiry_unix_secs >= required.now_unix_secs);
                assert_ne!(token.nonce[0], 0xff);
            }
        }
    });
}
