//! API keys for inference. Keys are only ever held as SHA-256 hashes and compared in constant
//! time. (Accounts, per-key limits and the provisioning API replace this key ring later; the
//! check stays one in-memory lookup.)

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const KEY_PREFIX: &str = "sk-sy-v1-";

#[derive(Debug, Default, Clone)]
pub struct KeyRing {
    hashes: Vec<[u8; 32]>,
}

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A new random key: prefix + 256 bits of entropy in hex.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

impl KeyRing {
    pub fn add(&mut self, key: &str) {
        let h = hash_key(key.trim());
        if !self.hashes.contains(&h) {
            self.hashes.push(h);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Checks every stored hash so the time taken does not depend on which one matches.
    pub fn verify(&self, presented: &str) -> bool {
        let h = hash_key(presented);
        self.hashes
            .iter()
            .fold(0u8, |acc, stored| acc | stored.ct_eq(&h).unwrap_u8())
            == 1
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(value: Option<&str>) -> Option<&str> {
    let v = value?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The key kept in `<data-dir>/api-key`, created (readable by the owner only) on first use,
/// so a fresh install has a working key without any set-up and keeps it across restarts.
pub fn load_or_create_key_file(data_dir: &std::path::Path) -> std::io::Result<String> {
    let path = data_dir.join("api-key");
    match std::fs::read_to_string(&path) {
        Ok(k) if !k.trim().is_empty() => return Ok(k.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let key = generate_key();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    std::io::Write::write_all(&mut opts.open(&path)?, format!("{key}\n").as_bytes())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_known_keys() {
        let k = generate_key();
        assert!(k.starts_with(KEY_PREFIX) && k.len() == KEY_PREFIX.len() + 64);
        let mut ring = KeyRing::default();
        ring.add(&k);
        assert!(ring.verify(&k));
        assert!(!ring.verify("sk-sy-v1-nope"));
        assert!(!KeyRing::default().verify(&k));
    }

    #[test]
    fn parses_bearer() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
