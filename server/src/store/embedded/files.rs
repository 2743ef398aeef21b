//! The embedded store's files are the accounts' secrets (password hashes, signing keys,
//! refresh-token hashes): the data directory is private to the server's user (0700) and so
//! is every database file (0600; SQLite gives its `-wal` and `-shm` files the database's
//! mode). A directory or file that others can read stops the server, with the command that
//! fixes it, rather than serving from it.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::super::{BadSetting, StoreResult};

/// Creates `dir` and the database files `names` privately, or checks that existing ones
/// are private.
pub fn prepare(dir: &Path, names: &[&str]) -> StoreResult<()> {
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| BadSetting::error("LANYARD_DATA_DIR", e))?;
    }
    private(dir, "chmod 700")?;
    for name in names {
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("{name}{suffix}"));
            if file.exists() {
                private(&file, "chmod 600")?;
            } else if suffix.is_empty() {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&file)
                    .map_err(|e| BadSetting::error("LANYARD_DATA_DIR", e))?;
            }
        }
    }
    Ok(())
}

/// Refuses a path that its group or others may read, write or enter.
fn private(path: &Path, fix: &str) -> StoreResult<()> {
    let mode = std::fs::metadata(path)
        .map_err(|e| BadSetting::error("LANYARD_DATA_DIR", e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(BadSetting::error(
            "LANYARD_DATA_DIR",
            format!(
                "{} is open to other users (mode {:o}); run `{fix} {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_directory_and_its_files_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        prepare(&dir, &["a.db"]).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("a.db")), 0o600);
        // Again, over what the first call made: nothing to refuse.
        prepare(&dir, &["a.db"]).unwrap();
    }

    #[test]
    fn a_directory_or_file_others_can_read_is_refused_with_the_fix() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        prepare(&dir, &["a.db"]).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = format!(
            "{:#}",
            anyhow::Error::new(prepare(&dir, &["a.db"]).unwrap_err())
        );
        assert!(
            err.contains("LANYARD_DATA_DIR") && err.contains("run `chmod 700"),
            "{err}"
        );

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let wal = dir.join("a.db-wal");
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!(
            "{:#}",
            anyhow::Error::new(prepare(&dir, &["a.db"]).unwrap_err())
        );
        assert!(
            err.contains("a.db-wal") && err.contains("run `chmod 600"),
            "{err}"
        );
    }
}
