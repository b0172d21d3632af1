//! Random secrets (API keys, enrolment codes, ids) and how they are stored.

use rand::Rng;

/// An org API key: `heso_cp_` and 32 random bytes in hex.
pub fn new_api_key() -> String {
    format!("heso_cp_{}", hex::encode(rand::rng().random::<[u8; 32]>()))
}

/// The secret part of a one-time enrolment code: 12 characters from an
/// alphabet without look-alikes (about 60 bits). The code an operator reads
/// out adds a check of the org's operator keys (`heso_receipt::enrolment`).
pub fn new_enrolment_secret() -> String {
    use heso_receipt::enrolment::{ALPHABET, SECRET_LEN};
    let mut rng = rand::rng();
    (0..SECRET_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// How a secret is stored: BLAKE3 of it, domain-separated. The secrets are
/// high-entropy random values, so a fast hash is enough.
pub fn secret_hash(kind: &str, secret: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"heso-control-plane/secret/v1\0");
    hasher.update(kind.as_bytes());
    hasher.update(b"\0");
    hasher.update(secret.as_bytes());
    hasher.finalize().to_hex().to_string()
}

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(rand::rng().random::<[u8; 12]>()))
}
