//! Random secrets (API keys, enrolment codes, ids) and how they are stored.

use rand::Rng;

/// An org API key: `heso_cp_` and 32 random bytes in hex.
pub fn new_api_key() -> String {
    format!("heso_cp_{}", hex::encode(rand::rng().random::<[u8; 32]>()))
}

/// A one-time enrolment code a person can read out: 12 characters from an
/// alphabet without look-alikes, in three groups (about 60 bits).
pub fn new_enrolment_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let chars: Vec<u8> = (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect();
    let text = String::from_utf8(chars).expect("ASCII");
    format!("{}-{}-{}", &text[..4], &text[4..8], &text[8..])
}

/// Enrolment codes are compared without dashes, spaces or case.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
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
