//! What the targets share: the vendor-made approval case they build on.

use heso_receipt::{canonical_bytes, keys, Receipt, SigningKey, VerifyingKey};
use serde_json::Value;

/// The first case of the co-signing vectors: an operator-signed payment
/// awaiting approval, with the test keys that signed it.
pub struct Case {
    pub operator: SigningKey,
    pub approver: SigningKey,
    pub suspended: Receipt,
    /// JCS bytes of the suspended content: what tokens are signed over.
    pub canonical_suspended: Vec<u8>,
    /// The rule that asks for approval (the tokens' scope).
    pub rule_id: String,
}

impl Case {
    pub fn load() -> Case {
        let doc: Value = serde_json::from_str(include_str!(
            "../../crates/receipt/tests/vectors/cosign.json"
        ))
        .expect("vectors are JSON");
        let case = &doc["cases"][0];
        let seed = |name: &str| {
            let bytes = hex::decode(case[name].as_str().expect("seed present")).expect("hex");
            SigningKey::from_bytes(&bytes.try_into().expect("32-byte seed"))
        };
        let suspended: Receipt =
            serde_json::from_value(case["suspended_receipt"].clone()).expect("a receipt");
        Case {
            operator: seed("operator_seed_hex"),
            approver: seed("approver_seed_hex"),
            canonical_suspended: canonical_bytes(&suspended.content).expect("canonical"),
            rule_id: suspended.content.policy.rule_id.clone(),
            suspended,
        }
    }

    pub fn approver_key(&self) -> VerifyingKey {
        self.approver.verifying_key()
    }

    pub fn operator_b64(&self) -> String {
        keys::public_key_b64(&self.operator.verifying_key())
    }
}
