//! Encryption at rest for free text (notes, repair texts, agreements): XChaCha20-Poly1305
//! under a key from configuration. Each ciphertext names the key it was sealed with, so a
//! key can be rotated without losing data, and old keys can still open old rows.
//!
//! Every stored value carries a tag user text cannot produce, because the tag is added to
//! every value, plain ones too:
//! - `p:<text>`: plaintext, written while the host opted out of encryption;
//! - `enc:v2:<key id>:<base64(24-byte nonce ‖ ciphertext+tag)>`: sealed, with the value's
//!   place (table, column, row key) as associated data, so a value moved to another row or
//!   column does not open.
//!
//! Release 0.1 stored untagged values (`enc:v1:…` sealed without associated data, anything
//! else plain); start-up re-seals them (`store::privacy::reseal`), so the read path refuses
//! untagged values.

pub mod key_file;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// The tag of a sealed value.
pub const SEALED: &str = "enc:v2:";
/// The tag of a plain value.
pub const PLAIN: &str = "p:";
/// Release 0.1's sealed form, without associated data.
const LEGACY: &str = "enc:v1:";

/// Where a value lives: its table, column and row key. Sealed values are bound to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub table: &'static str,
    pub column: &'static str,
    /// The row's key columns as Postgres prints them (`k1::text`), joined by `|`.
    pub row: String,
}

impl Place {
    pub fn new(table: &'static str, column: &'static str, row: &[&dyn std::fmt::Display]) -> Place {
        let row = row
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("|");
        Place { table, column, row }
    }

    fn aad(&self) -> Vec<u8> {
        format!("attune|{}|{}|{}", self.table, self.column, self.row).into_bytes()
    }
}

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
    #[error("stored text has no tag (written before the upgrade and not yet re-sealed)")]
    Untagged,
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
    if !valid_key_id(id) {
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

    /// Seals text for its place with the current key, or tags it as plain when the host
    /// opted out of encryption.
    pub fn seal(&self, plaintext: &str, place: &Place) -> String {
        let Some(key) = &self.current else {
            return format!("{PLAIN}{plaintext}");
        };
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let ct = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &place.aad(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{SEALED}{}:{}", key.id, B64.encode(blob))
    }

    /// The key id a stored value was sealed with, if it is sealed.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        stored.strip_prefix(SEALED)?.split(':').next()
    }

    fn key(&self, id: &str) -> Result<&Key, CryptoError> {
        self.current
            .iter()
            .chain(self.old.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| {
                if self.current.is_none() && self.old.is_empty() {
                    CryptoError::NoKey
                } else {
                    CryptoError::UnknownKey(id.to_string())
                }
            })
    }

    /// Opens a stored value at its place. A sealed value moved from elsewhere, sealed under
    /// a wrong key or damaged does not open.
    pub fn open(&self, stored: &str, place: &Place) -> Result<String, CryptoError> {
        if let Some(plain) = stored.strip_prefix(PLAIN) {
            return Ok(plain.to_string());
        }
        let Some(rest) = stored.strip_prefix(SEALED) else {
            return Err(CryptoError::Untagged);
        };
        let (id, b64) = rest.split_once(':').ok_or(CryptoError::Malformed)?;
        let key = self.key(id)?;
        let (nonce, ct) = split_blob(b64)?;
        let pt = key
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &ct,
                    aad: &place.aad(),
                },
            )
            .map_err(|_| CryptoError::Undecryptable(id.to_string()))?;
        String::from_utf8(pt).map_err(|_| CryptoError::Malformed)
    }

    /// Reads a value written before values were tagged: `enc:v1:<id>:<base64>` that is
    /// well-formed is sealed (and must open with a configured key); anything else, including
    /// text merely shaped like it, is plaintext as the person typed it.
    pub fn open_legacy(&self, stored: &str) -> Result<String, CryptoError> {
        let Some((id, b64)) = stored
            .strip_prefix(LEGACY)
            .and_then(|rest| rest.split_once(':'))
        else {
            return Ok(stored.to_string());
        };
        let well_formed = valid_key_id(id) && split_blob(b64).is_ok();
        if !well_formed {
            return Ok(stored.to_string());
        }
        let key = self.key(id)?;
        let (nonce, ct) = split_blob(b64)?;
        let pt = key
            .cipher
            .decrypt(&XNonce::from(nonce), ct.as_slice())
            .map_err(|_| CryptoError::Undecryptable(id.to_string()))?;
        String::from_utf8(pt).map_err(|_| CryptoError::Malformed)
    }

    /// Whether a stored value is already in its final form for this keyring: sealed under
    /// the current key, or plain while the host opted out.
    pub fn is_current(&self, stored: &str) -> bool {
        match self.current_id() {
            Some(id) => Keyring::key_id_of(stored) == Some(id),
            None => stored.starts_with(PLAIN),
        }
    }

    /// Opens an optional stored value; unreadable text becomes `None` and is logged (the
    /// place and the reason, never the content), so one damaged row never takes a whole
    /// screen down and is never posted.
    pub fn open_lossy(&self, stored: Option<&str>, place: &Place) -> Option<String> {
        let s = stored?;
        match self.open(s, place) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, table = place.table, column = place.column, "stored text is unavailable");
                None
            }
        }
    }
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn split_blob(b64: &str) -> Result<([u8; 24], Vec<u8>), CryptoError> {
    let blob = B64.decode(b64).map_err(|_| CryptoError::Malformed)?;
    if blob.len() < 24 + 16 {
        return Err(CryptoError::Malformed);
    }
    let (nonce, ct) = blob.split_at(24);
    let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
    Ok((nonce, ct.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> Place {
        Place::new("checkin_answers", "note", &[&"a", &"b"])
    }

    #[test]
    fn seal_open_round_trip_and_ciphertext_hides_text() {
        let k = Keyring::parse(Some(&Keyring::generate()), &[]).unwrap();
        let sealed = k.seal("I felt unseen when the subject changed", &here());
        assert!(sealed.starts_with("enc:v2:k"));
        assert!(!sealed.contains("unseen"));
        assert_eq!(
            k.open(&sealed, &here()).unwrap(),
            "I felt unseen when the subject changed"
        );
        // Same text, different nonce.
        assert_ne!(k.seal("x", &here()), k.seal("x", &here()));
    }

    #[test]
    fn a_value_moved_to_another_place_does_not_open() {
        let k = Keyring::parse(Some(&Keyring::generate()), &[]).unwrap();
        let sealed = k.seal("private", &here());
        for other in [
            Place::new("checkin_answers", "note", &[&"a", &"c"]),
            Place::new("repair_texts", "note", &[&"a", &"b"]),
            Place::new("checkin_answers", "body", &[&"a", &"b"]),
        ] {
            assert!(matches!(
                k.open(&sealed, &other),
                Err(CryptoError::Undecryptable(_))
            ));
        }
    }

    #[test]
    fn user_text_shaped_like_a_sealed_value_stays_text() {
        let on = Keyring::parse(Some(&Keyring::generate()), &[]).unwrap();
        for k in [Keyring::none(), on] {
            for text in ["enc:v1:x:y", "enc:v2:x:y", "p:hello", "enc:v2:k1:AAAA"] {
                let stored = k.seal(text, &here());
                assert_eq!(k.open(&stored, &here()).unwrap(), text);
            }
        }
        // Before tags, text shaped like the old form was ambiguous; it still reads as typed.
        let k = Keyring::parse(Some(&Keyring::generate()), &[]).unwrap();
        assert_eq!(k.open_legacy("enc:v1:x:y").unwrap(), "enc:v1:x:y");
        assert_eq!(k.open_legacy("just words").unwrap(), "just words");
        assert_eq!(k.open("enc:v1:x:y", &here()), Err(CryptoError::Untagged));
    }

    #[test]
    fn rotation_keeps_old_text_readable() {
        let old = Keyring::generate();
        let new = Keyring::generate();
        let before = Keyring::parse(Some(&old), &[])
            .unwrap()
            .seal("hello", &here());
        let after = Keyring::parse(Some(&new), std::slice::from_ref(&old)).unwrap();
        assert_eq!(after.open(&before, &here()).unwrap(), "hello");
        assert!(!after.is_current(&before));
        let only_new = Keyring::parse(Some(&new), &[]).unwrap();
        assert!(matches!(
            only_new.open(&before, &here()),
            Err(CryptoError::UnknownKey(_))
        ));
        assert!(matches!(
            Keyring::none().open(&before, &here()),
            Err(CryptoError::NoKey)
        ));
    }

    #[test]
    fn wrong_key_with_same_id_is_detected() {
        let a = Keyring::parse(Some(&Keyring::generate()), &[]).unwrap();
        let sealed = a.seal("secret", &here());
        let id = Keyring::key_id_of(&sealed).unwrap().to_string();
        let other = Keyring::generate();
        let (_, b64) = other.split_once(':').unwrap();
        let b = Keyring::parse(Some(&format!("{id}:{b64}")), &[]).unwrap();
        assert_eq!(
            b.open(&sealed, &here()),
            Err(CryptoError::Undecryptable(id))
        );
        // Tampering is caught by the tag.
        let mut t = sealed.clone();
        t.pop();
        t.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&t, &here()).is_err());
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
        assert_eq!(Keyring::none().seal("plain", &here()), "p:plain");
    }
}
