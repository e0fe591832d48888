//! The meta file: the acked sequence and the sequence high-water mark, replaced atomically.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{BufferError, io_err};

pub(super) const META_FILE: &str = "meta.json";
pub(super) const META_TMP_FILE: &str = "meta.json.tmp";

/// Persisted bookkeeping: what has been acked and the next sequence to hand out.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct Meta {
    pub(super) version: u32,
    pub(super) acked_seq: u64,
    pub(super) next_seq: u64,
}

pub(super) fn read_meta(dir: &Path) -> Result<Meta, BufferError> {
    let path = dir.join(META_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<Meta>(&bytes).map_err(|e| BufferError::Corrupt {
            // The meta file is replaced atomically, so a bad one is not a torn write; guessing
            // the ack or the high-water mark could replay acked events or reuse sequence
            // numbers, so this needs an operator instead.
            path: path.clone(),
            offset: 0,
            reason: format!("unreadable meta file: {e}"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Meta {
            version: 1,
            acked_seq: 0,
            next_seq: 1,
        }),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Atomically replaces the meta file: write a temp file, fsync it, rename it over the old
/// one, fsync the directory so the rename itself is durable.
pub(super) fn write_meta(dir: &Path, meta: Meta) -> Result<(), BufferError> {
    let tmp = dir.join(META_TMP_FILE);
    let path = dir.join(META_FILE);
    let bytes = serde_json::to_vec(&meta).map_err(|e| BufferError::Io {
        path: tmp.clone(),
        source: std::io::Error::other(e),
    })?;
    let mut file = zapini_shared::private_fs::open_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    file.write_all(&bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), BufferError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}
