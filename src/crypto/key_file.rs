//! The key file: where Attune keeps the key it made for itself on its first start, so stored
//! text is sealed by default without the host generating anything. Only Attune's user may read
//! it; a file others can read is refused rather than trusted.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The key in `path`, or `None` when there is no file yet.
pub fn read(path: &Path) -> Result<Option<String>, String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} can be read by other users; make it private with `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(Some(key.to_string()))
}

/// Makes a new key in `path` (which must not exist yet), readable only by this user, and
/// returns it.
pub fn create(path: &Path) -> Result<String, String> {
    let key = super::Keyring::generate();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(format!("{key}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_key_is_private_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attune.key");
        assert_eq!(read(&path).unwrap(), None);
        let key = create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read(&path).unwrap(), Some(key.clone()));
        assert!(super::super::Keyring::parse(Some(&key), &[])
            .unwrap()
            .is_enabled());
        // Never over an existing key: that would lose everything sealed with it.
        assert!(create(&path).is_err());
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attune.key");
        create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
