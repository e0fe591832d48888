//! The durable event buffer: an append-only, segmented, file-based log of every event this
//! node observes (messages, receipts, reactions, QR codes, connection changes...), kept in
//! the node's data directory until the control plane acknowledges it.
//!
//! Guarantees:
//! - **fsync before an event counts.** [`EventBuffer::append`] returns a sequence number
//!   only after the record is written and `sync_data` has returned, so an event that was
//!   reported as received survives a crash, a SIGKILL or a power loss.
//! - **Dropped only on ack.** Records stay on disk until [`EventBuffer::ack`] covers them;
//!   a control plane that is away for minutes gets everything unacked replayed, in order,
//!   through [`EventBuffer::read_from`]. Delivery is at-least-once: the receiver dedupes by
//!   sequence number.
//! - **Sequence numbers are never reused.** They start at 1 and strictly increase. The
//!   high-water mark is persisted in the meta file before any segment is deleted, so even a
//!   fully acked and emptied buffer continues after its last number when reopened.
//! - **Crash-safe recovery.** [`EventBuffer::open`] validates every record (length, CRC32,
//!   sequence). A torn or corrupt tail of the *last* segment (a write cut short by a crash)
//!   is truncated away with a warning, and anything after it is dropped; none of this stops
//!   the node from starting. Corruption inside an older, sealed segment cannot come from a
//!   crash (those segments were fsynced and never written again), so it is reported with
//!   `tracing::error!` and the rest of that segment is skipped while later segments are kept.
//! - **Bounded disk.** When retained data would exceed [`BufferOptions::max_bytes`],
//!   appends fail with [`BufferError::Full`] instead of silently dropping older events;
//!   the node is expected to refuse new work until acks free space.
//!
//! The API is synchronous and does blocking file IO. Async callers should use the
//! `*_async` wrappers (which run the blocking call on `tokio::task::spawn_blocking`) or call
//! `spawn_blocking` themselves; [`EventBuffer::subscribe`] lets a streaming task wait for
//! new records without polling. `EventBuffer` is a cheap `Clone` handle; appends and acks
//! are serialized by an internal mutex, and reads do their file IO outside it.
//!
//! On-disk layout of the directory: segment files named after the sequence number of their
//! first record (`00000000000000000001.seg`; the record format is documented in
//! `record.rs`), plus `meta.json` holding the acked sequence and the sequence high-water
//! mark, replaced atomically (write temp file, fsync, rename, fsync directory).

mod meta;
mod record;
#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::watch;

use meta::{META_TMP_FILE, Meta, read_meta, sync_dir, write_meta};
pub use record::MAX_RECORD_BYTES;
use record::{INDEX_EVERY, ReadStep, read_segment_range};

/// Tuning knobs of an [`EventBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferOptions {
    /// A new segment is started when the current one would grow past this size. A batch is
    /// never split across segments, so a segment may overshoot by at most one batch.
    pub segment_bytes: u64,
    /// Upper bound on the bytes of retained segment data. Retained data is everything not yet
    /// deleted by acks; because deletion works on whole segments, up to one segment of
    /// already-acked records can still count against it.
    pub max_bytes: u64,
}

impl Default for BufferOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 8 << 20,
            max_bytes: 1 << 30,
        }
    }
}

/// Errors of the event buffer.
#[derive(Debug, thiserror::Error)]
pub enum BufferError {
    /// A file operation failed; `path` names the file or directory involved.
    #[error("event buffer io error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Appending would push retained data past `max_bytes`; nothing was written.
    #[error(
        "event buffer full: {used_bytes} bytes retained, {needed_bytes} more needed, limit {max_bytes}"
    )]
    Full {
        used_bytes: u64,
        needed_bytes: u64,
        max_bytes: u64,
    },
    /// A single payload is larger than [`MAX_RECORD_BYTES`].
    #[error("event payload of {len} bytes exceeds the {max} byte record limit")]
    RecordTooLarge { len: usize, max: usize },
    /// Data on disk is not what the buffer wrote (a bad meta file, or a segment that changed
    /// underneath a read).
    #[error("event buffer corrupt at {path} (offset {offset}): {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    /// An earlier fsync or rollback failed, so the state of the active segment is unknown.
    /// The buffer refuses further appends; reopening it (restarting the node) recovers.
    #[error("event buffer unusable after an earlier write failure; reopen it to recover")]
    Poisoned,
    /// A blocking task behind one of the `*_async` wrappers panicked or was cancelled.
    #[error("event buffer background task failed: {0}")]
    Background(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BufferError + '_ {
    move |source| BufferError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// In-memory description of one segment file.
#[derive(Debug)]
struct Segment {
    first_seq: u64,
    path: PathBuf,
    /// Last valid record; `None` for an empty segment.
    last_seq: Option<u64>,
    /// Bytes of valid records; reads never go past this offset.
    bytes: u64,
    /// Sparse `(seq, offset)` index, one entry every [`INDEX_EVERY`] records.
    index: Vec<(u64, u64)>,
}

impl Segment {
    /// Records in this segment with a sequence number of at least `from`.
    fn count_from(&self, from: u64) -> u64 {
        match self.last_seq {
            Some(last) if last >= from => last - from.max(self.first_seq) + 1,
            _ => 0,
        }
    }
}

#[derive(Debug)]
struct State {
    segments: Vec<Segment>,
    /// Append handle of the last segment; `None` when there is no segment yet.
    active: Option<File>,
    next_seq: u64,
    acked_seq: u64,
    /// The `next_seq` last written to the meta file.
    persisted_next_seq: u64,
    disk_bytes: u64,
    broken: bool,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    options: BufferOptions,
    state: Mutex<State>,
    last_appended: watch::Sender<u64>,
}

/// Handle to the durable event log. Cloning is cheap and every clone shares the same log.
#[derive(Debug, Clone)]
pub struct EventBuffer {
    inner: Arc<Inner>,
}

impl EventBuffer {
    /// Opens (creating if needed) the buffer in `dir` and recovers its state. See the module
    /// docs for how damaged segments are handled; a damaged tail never prevents opening.
    pub fn open(dir: &Path, options: BufferOptions) -> Result<EventBuffer, BufferError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
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
            if scan.valid_bytes < scan.file_len {
                let reason = scan.problem.unwrap_or("trailing bytes");
                if is_last {
                    // The last segment is the only one ever written to, so damage at its end is
                    // a write cut short by a crash: the record was never acknowledged to the
                    // caller and can be discarded.
                    tracing::warn!(
                        file = %path.display(),
                        offset = scan.valid_bytes,
                        dropped_bytes = scan.file_len - scan.valid_bytes,
                        reason,
                        "truncating torn tail of the event buffer"
                    );
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io_err(&path))?;
                    file.set_len(scan.valid_bytes).map_err(io_err(&path))?;
                    file.sync_all().map_err(io_err(&path))?;
                } else {
                    // A sealed segment was fsynced before the next one was created and is never
                    // written again, so damage here is disk corruption. Keep what validated and
                    // skip the rest of this segment rather than refusing to start.
                    tracing::error!(
                        file = %path.display(),
                        offset = scan.valid_bytes,
                        skipped_bytes = scan.file_len - scan.valid_bytes,
                        reason,
                        "corruption in a sealed event buffer segment; skipping the rest of it"
                    );
                }
            }
            segments.push(Segment {
                first_seq,
                path,
                last_seq: scan.last_seq,
                bytes: scan.valid_bytes,
                index: scan.index,
            });
        }

        let mut next_seq = meta.next_seq.max(meta.acked_seq.saturating_add(1)).max(1);
        if let Some(last) = segments.last() {
            next_seq = next_seq.max(last.first_seq);
        }
        if let Some(last) = segments.iter().rev().find_map(|s| s.last_seq) {
            next_seq = next_seq.max(last + 1);
        }
        let active = match segments.last() {
            Some(seg) => Some(
                OpenOptions::new()
                    .append(true)
                    .open(&seg.path)
                    .map_err(io_err(&seg.path))?,
            ),
            None => None,
        };
        let disk_bytes = segments.iter().map(|s| s.bytes).sum();
        let mut state = State {
            segments,
            active,
            next_seq,
            acked_seq: meta.acked_seq.min(next_seq - 1),
            persisted_next_seq: meta.next_seq,
            disk_bytes,
            broken: false,
        };
        // A crash between persisting an ack and deleting segments leaves acked segments
        // behind; finish that work now.
        remove_acked_segments(dir, &mut state)?;
        let (last_appended, _) = watch::channel(next_seq - 1);
        Ok(EventBuffer {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                options,
                state: Mutex::new(state),
                last_appended,
            }),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, BufferError> {
        // A panic while holding the lock may have left the in-memory state half updated, so
        // treat it like a failed write: refuse to continue until reopened.
        self.inner.state.lock().map_err(|_| BufferError::Poisoned)
    }

    /// Durably appends one event and returns its sequence number. The record is fsynced
    /// before this returns. Fails with [`BufferError::Full`] when the disk budget is spent.
    pub fn append(&self, payload: &[u8]) -> Result<u64, BufferError> {
        let seqs = self.append_batch(&[payload])?;
        Ok(seqs[0])
    }

    /// Durably appends several events with a single write and a single fsync (group commit)
    /// and returns their sequence numbers in order. Either the whole batch is accepted or,
    /// on error, none of it counts as appended.
    pub fn append_batch(&self, payloads: &[&[u8]]) -> Result<Vec<u64>, BufferError> {
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        let mut needed: u64 = 0;
        for p in payloads {
            if p.len() > MAX_RECORD_BYTES {
                return Err(BufferError::RecordTooLarge {
                    len: p.len(),
                    max: MAX_RECORD_BYTES,
                });
            }
            needed += record::record_size(p.len());
        }
        let options = self.inner.options;
        let mut st = self.lock()?;
        if st.broken {
            return Err(BufferError::Poisoned);
        }
        if st.disk_bytes + needed > options.max_bytes {
            return Err(BufferError::Full {
                used_bytes: st.disk_bytes,
                needed_bytes: needed,
                max_bytes: options.max_bytes,
            });
        }
        let next_seq = st.next_seq;
        let need_roll = match st.segments.last() {
            None => true,
            // Records in a segment are consecutive, so a segment that cannot take `next_seq`
            // as its next record (possible after recovery dropped its tail) must be sealed.
            Some(seg) => {
                seg.last_seq.map_or(seg.first_seq, |l| l + 1) != next_seq
                    || (seg.bytes > 0 && seg.bytes + needed > options.segment_bytes)
            }
        };
        if need_roll || st.active.is_none() {
            self.roll(&mut st)?;
        }

        let mut buf = Vec::with_capacity(usize::try_from(needed).unwrap_or(0));
        let mut offsets = Vec::with_capacity(payloads.len());
        for (i, p) in payloads.iter().enumerate() {
            offsets.push(buf.len() as u64);
            record::encode_record(&mut buf, next_seq + i as u64, p);
        }

        let state = &mut *st;
        let (Some(seg), Some(file)) = (state.segments.last_mut(), state.active.as_mut()) else {
            return Err(BufferError::Poisoned);
        };
        if let Err(source) = file.write_all(&buf) {
            // Cut off whatever part of the batch reached the file so the next append does not
            // land behind garbage; if even that fails, stop writing until a reopen recovers.
            if file.set_len(seg.bytes).is_err() {
                state.broken = true;
            }
            return Err(BufferError::Io {
                path: seg.path.clone(),
                source,
            });
        }
        if let Err(source) = file.sync_data() {
            // After a failed fsync the kernel may have dropped the dirty pages, so what is on
            // disk is unknown. Refuse further appends; recovery on reopen validates the file.
            let _ = file.set_len(seg.bytes);
            state.broken = true;
            return Err(BufferError::Io {
                path: seg.path.clone(),
                source,
            });
        }
        let base = seg.bytes;
        let mut seqs = Vec::with_capacity(payloads.len());
        for (i, off) in offsets.into_iter().enumerate() {
            let seq = next_seq + i as u64;
            if (seq - seg.first_seq).is_multiple_of(INDEX_EVERY) {
                seg.index.push((seq, base + off));
            }
            seqs.push(seq);
        }
        let last = next_seq + payloads.len() as u64 - 1;
        seg.bytes += needed;
        seg.last_seq = Some(last);
        state.disk_bytes += needed;
        state.next_seq = last + 1;
        drop(st);
        self.inner.last_appended.send_replace(last);
        Ok(seqs)
    }

    /// Seals the current segment and starts a new one named after `next_seq`.
    fn roll(&self, st: &mut State) -> Result<(), BufferError> {
        let dir = &self.inner.dir;
        let path = dir.join(record::segment_file_name(st.next_seq));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        // No indexed segment can own this name (every one starts below `next_seq`, or is this
        // very file while empty), so anything in it is an orphan and must not precede our
        // records.
        let len = file.metadata().map_err(io_err(&path))?.len();
        if len > 0 {
            file.set_len(0).map_err(io_err(&path))?;
        }
        // The new directory entry must be durable, or a crash could lose the whole file even
        // though its records were fsynced.
        sync_dir(dir)?;
        if st.segments.last().is_some_and(|s| s.path == path) {
            st.segments.pop();
        }
        st.segments.push(Segment {
            first_seq: st.next_seq,
            path,
            last_seq: None,
            bytes: 0,
            index: Vec::new(),
        });
        st.active = Some(file);
        Ok(())
    }

    /// Acknowledges every record up to and including `up_to_seq`: persists the ack and
    /// deletes segments whose records are all acked. Acks are monotonic (a lower or equal
    /// ack is a no-op) and are clamped to the last appended sequence.
    pub fn ack(&self, up_to_seq: u64) -> Result<(), BufferError> {
        let mut st = self.lock()?;
        let target = up_to_seq.min(st.next_seq - 1);
        if target <= st.acked_seq {
            return Ok(());
        }
        // Persist first: the ack and the high-water mark must be durable before any segment
        // disappears, or a restart could replay acked data or reuse sequence numbers.
        write_meta(
            &self.inner.dir,
            Meta {
                version: 1,
                acked_seq: target,
                next_seq: st.next_seq,
            },
        )?;
        st.acked_seq = target;
        st.persisted_next_seq = st.next_seq;
        remove_acked_segments(&self.inner.dir, &mut st)
    }

    /// Returns up to `max` unacked records with a sequence number greater than `after_seq`,
    /// in order. Used both to replay after a reconnect (`after_seq` = last acked) and to page
    /// the live stream (`after_seq` = last record sent).
    pub fn read_from(
        &self,
        after_seq: u64,
        max: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, BufferError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let (start, plan) = {
            let st = self.lock()?;
            let start = after_seq.max(st.acked_seq).saturating_add(1);
            let mut plan = Vec::new();
            let mut planned: u64 = 0;
            let first = st
                .segments
                .partition_point(|s| s.first_seq <= start)
                .saturating_sub(1);
            for seg in &st.segments[first..] {
                let n = seg.count_from(start);
                if n == 0 {
                    continue;
                }
                // Seek to the closest indexed record at or before `start`.
                let pos = seg.index.partition_point(|(seq, _)| *seq <= start);
                let offset = if pos == 0 { 0 } else { seg.index[pos - 1].1 };
                plan.push(ReadStep {
                    path: seg.path.clone(),
                    offset,
                    end: seg.bytes,
                });
                planned += n;
                if planned >= max as u64 {
                    break;
                }
            }
            (start, plan)
        };
        // File IO happens without the lock so reads never stall appends. Records only ever
        // get appended past `end`, and a segment can only vanish by being acked, in which
        // case its records are no longer owed to the reader.
        let mut out = Vec::new();
        for step in plan {
            let file = match File::open(&step.path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&step.path)(e)),
            };
            read_segment_range(file, &step, start, max, &mut out)?;
            if out.len() >= max {
                break;
            }
        }
        Ok(out)
    }

    /// Number of records appended but not yet acked.
    pub fn pending_count(&self) -> u64 {
        self.lock().map_or(0, |st| {
            let from = st.acked_seq + 1;
            st.segments.iter().map(|s| s.count_from(from)).sum()
        })
    }

    /// Highest acknowledged sequence number (0 when nothing was ever acked).
    pub fn acked_seq(&self) -> u64 {
        self.lock().map_or(0, |st| st.acked_seq)
    }

    /// Sequence number the next appended record will get.
    pub fn next_seq(&self) -> u64 {
        self.lock().map_or(0, |st| st.next_seq)
    }

    /// Bytes of segment data currently retained on disk (what counts against `max_bytes`).
    pub fn disk_bytes(&self) -> u64 {
        self.lock().map_or(0, |st| st.disk_bytes)
    }

    /// Watches the sequence number of the last appended record (0 if none yet). A streaming
    /// task awaits `changed()` and then calls [`EventBuffer::read_from`].
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.last_appended.subscribe()
    }

    /// The directory holding the segments and meta file.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// [`EventBuffer::append`] on the blocking thread pool, for async callers.
    pub async fn append_async(&self, payload: impl Into<Bytes>) -> Result<u64, BufferError> {
        let this = self.clone();
        let payload = payload.into();
        run_blocking(move || this.append(&payload)).await
    }

    /// [`EventBuffer::append_batch`] on the blocking thread pool, for async callers.
    pub async fn append_batch_async(&self, payloads: Vec<Bytes>) -> Result<Vec<u64>, BufferError> {
        let this = self.clone();
        run_blocking(move || {
            let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_ref()).collect();
            this.append_batch(&refs)
        })
        .await
    }

    /// [`EventBuffer::ack`] on the blocking thread pool, for async callers.
    pub async fn ack_async(&self, up_to_seq: u64) -> Result<(), BufferError> {
        let this = self.clone();
        run_blocking(move || this.ack(up_to_seq)).await
    }

    /// [`EventBuffer::read_from`] on the blocking thread pool, for async callers.
    pub async fn read_from_async(
        &self,
        after_seq: u64,
        max: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, BufferError> {
        let this = self.clone();
        run_blocking(move || this.read_from(after_seq, max)).await
    }
}

async fn run_blocking<T, F>(f: F) -> Result<T, BufferError>
where
    F: FnOnce() -> Result<T, BufferError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BufferError::Background(e.to_string()))?
}

/// Deletes the leading segments whose records are all acked. Deletion failures are logged
/// and retried on the next ack; they never fail the ack itself, which is already durable.
fn remove_acked_segments(dir: &Path, st: &mut State) -> Result<(), BufferError> {
    let acked = st.acked_seq;
    let removable = st
        .segments
        .iter()
        .take_while(|s| s.last_seq.is_none_or(|l| l <= acked))
        .count();
    if removable == 0 {
        return Ok(());
    }
    if st.persisted_next_seq < st.next_seq {
        // The segments about to go may hold the highest sequence ever used; record it first.
        write_meta(
            dir,
            Meta {
                version: 1,
                acked_seq: acked,
                next_seq: st.next_seq,
            },
        )?;
        st.persisted_next_seq = st.next_seq;
    }
    let mut removed = 0;
    for seg in &st.segments[..removable] {
        if let Err(e) = fs::remove_file(&seg.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = %seg.path.display(), error = %e, "could not delete acked segment");
            break;
        }
        removed += 1;
    }
    let freed: u64 = st.segments[..removed].iter().map(|s| s.bytes).sum();
    if removed == st.segments.len() {
        st.active = None;
    }
    st.segments.drain(..removed);
    st.disk_bytes -= freed;
    if removed > 0 {
        // Not needed for correctness (a resurrected acked segment is deleted again on open),
        // but it keeps the directory listing in step with the meta file.
        if let Err(e) = sync_dir(dir) {
            tracing::warn!(error = %e, "could not fsync the event buffer directory");
        }
    }
    Ok(())
}
