//! Files and directories only the service's own user may read: secrets (`node_secret`,
//! `secret_key`), databases, WhatsApp session stores, event buffers and media. Directories are
//! created `0700` and files `0600` from the start (never created wider and narrowed later, so
//! there is no window in which another local user can open them), and what an older version
//! left wider is narrowed at start with [`restrict_dir`], [`restrict_file`] or
//! [`restrict_tree`].
//!
//! Modes exist on Unix only; elsewhere these are the plain `std::fs` calls.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of private directories.
pub const DIR_MODE: u32 = 0o700;
/// Mode of private files.
pub const FILE_MODE: u32 = 0o600;

/// `create_dir_all` with every directory it creates at `0700`. Directories that already
/// existed are left alone (a data directory may live under a shared `/var/lib`); narrow the
/// ones that are the service's own with [`restrict_dir`].
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(path)
}

/// Open options that create files at `0600` (the caller adds read/write/append/create).
pub fn open_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Creates (or truncates) `path` at `0600` and writes `contents`, then fsyncs it. A file that
/// already existed keeps its inode, so its mode is narrowed as well.
pub fn write(path: &Path, contents: &[u8]) -> io::Result<File> {
    use std::io::Write;
    let mut file = open_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    narrow(&file, FILE_MODE)?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(file)
}

/// Creates `path` at `0600` when it does not exist (leaving an existing file's contents
/// alone) and narrows its mode; for files another library opens afterwards (SQLite creates
/// its `-wal` and `-shm` files with the database file's mode).
pub fn touch(path: &Path) -> io::Result<()> {
    let file = open_options()
        .read(true)
        .write(true)
        .create(true)
        .open(path)?;
    narrow(&file, FILE_MODE)
}

/// Narrows a directory to `0700` when group or others have any access; a missing one is fine.
/// A shared directory with the sticky bit (`/tmp`, set as a data directory by mistake) is
/// left alone: narrowing it would lock every other user out of it.
pub fn restrict_dir(path: &Path) -> io::Result<()> {
    restrict(path, DIR_MODE)
}

/// Narrows a file to `0600` when group or others have any access; a missing one is fine.
pub fn restrict_file(path: &Path) -> io::Result<()> {
    restrict(path, FILE_MODE)
}

/// [`restrict_dir`] on `root` and every directory below it, [`restrict_file`] on every file.
/// Symbolic links are neither followed nor changed.
pub fn restrict_tree(root: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        restrict(root, DIR_MODE)?;
        for entry in std::fs::read_dir(root)? {
            restrict_tree(&entry?.path())?;
        }
        Ok(())
    } else if meta.is_file() {
        restrict(root, FILE_MODE)
    } else {
        Ok(())
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Ok(()),
        Ok(meta) if meta.is_dir() && meta.permissions().mode() & 0o1000 != 0 => Ok(()),
        Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn narrow(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn narrow(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_private_and_narrows_wider() {
        let dir = tempfile_dir();
        let nested = dir.join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&dir.join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);

        // An existing directory is not narrowed by creating it, only by restricting it; a
        // sticky one never.
        let shared = dir.join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_dir_all(&shared).unwrap();
        assert_eq!(mode(&shared), 0o755);
        restrict_dir(&shared).unwrap();
        assert_eq!(mode(&shared), 0o700);
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        restrict_dir(&shared).unwrap();
        assert_eq!(mode(&shared), 0o777);

        let file = nested.join("secret");
        write(&file, b"x").unwrap();
        assert_eq!(mode(&file), 0o600);

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o755)).unwrap();
        restrict_tree(&dir.join("a")).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&nested), 0o700);

        // A narrower mode is kept, not widened.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400)).unwrap();
        restrict_file(&file).unwrap();
        assert_eq!(mode(&file), 0o400);

        let touched = nested.join("db");
        touch(&touched).unwrap();
        assert_eq!(mode(&touched), 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("zapini-private-fs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        dir
    }
}
