//! Opening a buffer directory: validate every segment, cut a torn tail, finish deletions an
//! interrupted ack left behind, and make everything recovered durable before it counts as
//! synced. Only [`super::EventBuffer::open`] calls this; nothing else here runs afterwards.

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::sync::Arc;

use super::meta::{META_TMP_FILE, read_meta, sync_dir};
use super::{BufferError, Segment, State, io_err, record, remove_acked_segments};

/// Reads the directory into a fresh [`State`]. A damaged tail never prevents opening; see
/// the module docs of `buffer` for what is kept and what is dropped.
pub(super) fn recover(dir: &Path) -> Result<State, BufferError> {
    zapini_shared::private_fs::create_dir_all(dir).map_err(io_err(dir))?;
    let tmp = dir.join(META_TMP_FILE);
    // A leftover temp file is a meta write that never got renamed; the old meta file is
    // still authoritative.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&tmp)(e)),
    }
    let meta = read_meta(dir)?;

    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(record::SEGMENT_SUFFIX) {
            continue;
        }
        match record::parse_segment_file_name(name) {
            Some(seq) => names.push((seq, entry.path())),
            None => {
                tracing::warn!(file = %entry.path().display(), "ignoring file with a malformed segment name")
            }
        }
    }
    names.sort_by_key(|(seq, _)| *seq);

    let mut segments: Vec<Segment> = Vec::new();
    let count = names.len();
    for (i, (first_seq, path)) in names.into_iter().enumerate() {
        let is_last = i + 1 == count;
        let prev_last = segments.iter().rev().find_map(|s| s.last_seq);
        if prev_last.is_some_and(|prev| first_seq <= prev) {
            tracing::error!(file = %path.display(), "segment overlaps the previous one; ignoring it");
            continue;
        }
        let scan = record::scan_segment(&path, first_seq).map_err(io_err(&path))?;
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        if scan.valid_bytes < scan.file_len {
            let reason = scan.problem.unwrap_or("trailing bytes");
            if is_last {
                // The last segment is the only one ever written to, so damage at its end is
                // a write cut short by a crash: the record never counted as synced, so the
                // control plane never saw it, and it can be discarded.
                tracing::warn!(
                    file = %path.display(),
                    offset = scan.valid_bytes,
                    dropped_bytes = scan.file_len - scan.valid_bytes,
                    reason,
                    "truncating torn tail of the event buffer"
                );
                file.set_len(scan.valid_bytes).map_err(io_err(&path))?;
            } else {
                // A sealed segment is never written again. Damage in it is disk corruption,
                // or (after an OS crash or power loss) the unsynced tail of a segment that
                // was sealed before the sync thread got to it. Keep what validated and skip
                // the rest of this segment rather than refusing to start.
                tracing::error!(
                    file = %path.display(),
                    offset = scan.valid_bytes,
                    skipped_bytes = scan.file_len - scan.valid_bytes,
                    reason,
                    "damage in a sealed event buffer segment; skipping the rest of it"
                );
            }
        }
        // A process crash leaves written records in the page cache only; make them durable
        // now, since everything recovered counts as synced from here on.
        file.sync_all().map_err(io_err(&path))?;
        segments.push(Segment {
            first_seq,
            path,
            last_seq: scan.last_seq,
            bytes: scan.valid_bytes,
            index: scan.index,
        });
    }
    // And the directory entries of those segments, in case their creation was never synced.
    sync_dir(dir)?;

    let mut next_seq = meta.next_seq.max(meta.acked_seq.saturating_add(1)).max(1);
    if let Some(last) = segments.last() {
        next_seq = next_seq.max(last.first_seq);
    }
    if let Some(last) = segments.iter().rev().find_map(|s| s.last_seq) {
        next_seq = next_seq.max(last + 1);
    }
    let active = match segments.last() {
        Some(seg) => Some(Arc::new(
            OpenOptions::new()
                .append(true)
                .open(&seg.path)
                .map_err(io_err(&seg.path))?,
        )),
        None => None,
    };
    let disk_bytes = segments.iter().map(|s| s.bytes).sum();
    let mut state = State {
        segments,
        active,
        next_seq,
        synced_seq: next_seq - 1,
        sealed_unsynced: Vec::new(),
        dir_dirty: false,
        acked_seq: meta.acked_seq.min(next_seq - 1),
        persisted_next_seq: meta.next_seq,
        disk_bytes,
        broken: false,
        shutdown: false,
        syncer_idle: false,
        sync_urgent: false,
        syncing_to: None,
        #[cfg(test)]
        hooks: Default::default(),
    };
    // A crash between persisting an ack and deleting segments leaves acked segments
    // behind; finish that work now.
    if remove_acked_segments(dir, &mut state)? > 0 {
        sync_dir(dir)?;
    }
    Ok(state)
}
