//! Encryption at rest for free text (notes, repair texts, agreements): XChaCha20-Poly1305
//! under a key from configuration. Each ciphertext names the key it was sealed with, so a
//! key can be rotated without losing data, and old keys can still open old rows.
//!
//! Stored form: `enc:v1:<key id>:<base64(24-byte nonce ‖ ciphertext+tag)>`. A value without
//! the `enc:` prefix is plaintext written while no key was configured.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const PREFIX: &str = "enc:v1:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("key `{0}` needed to read stored text is not configured")]
    UnknownKey(String),
    #[error("stored text could not be decrypted with key `{0}` (wrong key?)")]
    Undecryptable(String),
    #[error("stored text is malformed")]
    Malformed,
    #[error("encrypted text is stored but no privacy.encryption_key is configured")]
    NoKey,
}

#[derive(Clone)]
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The configured keys: one to seal with, any number of old ones to open with.
#[derive(Clone, Default)]
pub struct Keyring {
    current: Option<Key>,
    old: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key ids only; never key material.
        f.debug_struct("Keyring")
            .field("current", &self.current.as_ref().map(|k| &k.id))
            .field("old", &self.old.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

fn parse_key(text: &str) -> Result<Key, String> {
    let (id, b64) = text
        .split_once(':')
        .ok_or("expected KEY_ID:BASE64 (run `attune keygen` for a new one)")?;
    if id.is_empty()
        || id.len() > 32
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("the key id must be 1-32 letters, digits, - or _".into());
    }
    let bytes = B64
        .decode(b64.trim())
        .map_err(|_| "the key is not valid base64".to_string())?;
    if bytes.len() != 32 {
        return Err(format!("the key must be 32 bytes, got {}", bytes.len()));
    }
    Ok(Key {
        id: id.to_string(),
        cipher: XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| "bad key length")?,
    })
}

impl Keyring {
    /// No key: text is stored as written (start-up warns about it).
    pub fn none() -> Keyring {
        Keyring::default()
    }

    pub fn parse(current: Option<&str>, old: &[String]) -> Result<Keyring, String> {
        let current = current.map(parse_key).transpose()?;
        let old = old
            .iter()
            .map(|k| parse_key(k))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Keyring { current, old })
    }

    /// A fresh key in the form `privacy.encryption_key` takes.
    pub fn generate() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let mut id = [0u8; 4];
        rand::rng().fill_bytes(&mut id);
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        format!("k{id}:{}", B64.encode(key))
    }

    pub fn current_id(&self) -> Option<&str> {
        self.current.as_ref().map(|k| k.id.as_str())
    }

    pub fn is_enabled(&self) -> bool {
        self.current.is_some()
    }

    /// Seals text with the current key, or keeps it as is when no key is configured.
    pub fn seal(&self, plaintext: &str) -> String {
        let Some(key) = &self.current else {
            return plaintext.to_string();
        };
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = key
            .cipher
            .encrypt(&XNonce::from(nonce), plaintext.as_bytes())
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{PREFIX}{}:{}", key.id, B64.encode(blob))
    }

    /// The key id a stored value was sealed with, if it is sealed.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        stored.strip_prefix(PREFIX)?.split(':').next()
    }

    pub fn open(&self, stored: &str) -> Result<String, CryptoError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, b64) = rest.split_once(':').ok_or(CryptoError::Malformed)?;
        let key = self
            .current
            .iter()
            .chain(self.old.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| {
                if self.current.is_none() && self.old.is_empty() {
                    CryptoError::NoKey
                } else {
                    CryptoError::UnknownKey(id.to_string())
                }
            })?;
        let blob = B64.decode(b64).map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 24 + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ct) = blob.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        let pt = key
            .cipher
            .decrypt(&XNonce::from(nonce), ct)
            .map_err(|_| CryptoError::Undecryptable(id.to_string()))?;
        String::from_utf8(pt).map_err(|_| CryptoError::Malformed)
    }

    /// Opens an optional stored value; unreadable text becomes `None` and is logged, so one
    /// damaged row never takes a whole screen down.
    pub fn open_lossy(&self, stored: Option<&str>) -> Option<String> {
        let s = stored?;
        match self.open(s) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "could not open stored text");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_ciphertext_hides_text() {
        let k = Keyring::parse(Some(&Keyring::generate()), &[]).unwrap();
        let sealed = k.seal("I felt unseen when the subject changed");
        assert!(sealed.starts_with("enc:v1:k"));
        assert!(!sealed.contains("unseen"));
        assert_eq!(
            k.open(&sealed).unwrap(),
            "I felt unseen when the subject changed"
        );
        // Same text, different nonce.
        assert_ne!(k.seal("x"), k.seal("x"));
    }

    #[test]
    fn rotation_keeps_old_text_readable() {
        let old = Keyring::generate();
        let new = Keyring::generate();
        let before = Keyring::parse(Some(&old), &[]).unwrap().seal("hello");
        let after = Keyring::parse(Some(&new), std::slice::from_ref(&old)).unwrap();
        assert_eq!(after.open(&before).unwrap(), "hello");
        let only_new = Keyring::parse(Some(&new), &[]).unwrap();
        assert!(matches!(
            only_new.open(&before),
            Err(CryptoError::UnknownKey(_))
        ));
        assert!(matches!(
            Keyring::none().open(&before),
            Err(CryptoError::NoKey)
        ));
    }

    #[test]
    fn wrong_key_with_same_id_is_detected() {
        let a = Keyring::parse(Some(&Keyring::generate()), &[]).unwrap();
        let sealed = a.seal("secret");
        let id = Keyring::key_id_of(&sealed).unwrap().to_string();
        let other = Keyring::generate();
        let (_, b64) = other.split_once(':').unwrap();
        let b = Keyring::parse(Some(&format!("{id}:{b64}")), &[]).unwrap();
        assert_eq!(b.open(&sealed), Err(CryptoError::Undecryptable(id)));
        // Tampering is caught by the tag.
        let mut t = sealed.clone();
        t.pop();
        t.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&t).is_err());
    }

    #[test]
    fn bad_keys_are_named() {
        assert!(Keyring::parse(Some("nokeyid"), &[])
            .unwrap_err()
            .contains("KEY_ID:BASE64"));
        assert!(Keyring::parse(Some("k1:!!!"), &[])
            .unwrap_err()
            .contains("base64"));
        assert!(Keyring::parse(Some("k1:AAAA"), &[])
            .unwrap_err()
            .contains("32 bytes"));
        assert_eq!(Keyring::none().seal("plain"), "plain");
    }
}
