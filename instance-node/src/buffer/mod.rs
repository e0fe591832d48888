//! The event buffer: an append-only, segmented, file-based log of every event this node
//! observes (messages, receipts, reactions, QR codes, connection changes...), kept in the
//! node's data directory until the control plane acknowledges it.
//!
//! Records go through two stages. **Written**: [`EventBuffer::write_batch`] puts them in the
//! segment file with `write(2)` under the state lock and returns their sequence numbers; from
//! then on they survive the process crashing or being killed, but not an OS crash or a power
//! loss. **Synced**: a sync thread (`sync.rs`) fsyncs what was written, in groups and without
//! holding the state lock, and then advances the synced watermark. [`EventBuffer::append`] and
//! [`EventBuffer::append_batch`] write and then wait for that.
//!
//! Guarantees:
//! - **An event counts only once it is fsync'd.** [`EventBuffer::read_from`] and the watch
//!   from [`EventBuffer::subscribe_synced`] never go past the synced watermark, and acks are
//!   clamped to it, so everything the control plane is ever sent survives a crash, a SIGKILL
//!   or a power loss. A segment that is sealed (the next one started) is fsynced, and the new
//!   segment's directory entry too, before any record after it counts as synced.
//! - **Dropped only on ack.** Records stay on disk until [`EventBuffer::ack`] covers them;
//!   a control plane that is away for minutes gets everything unacked replayed, in order,
//!   through [`EventBuffer::read_from`]. Delivery is at-least-once: the receiver dedupes by
//!   sequence number.
//! - **Sequence numbers are never reused for anything the control plane may have seen.** They
//!   start at 1 and strictly increase. The high-water mark of *written* numbers is persisted
//!   in the meta file before any segment is deleted, so even a fully acked and emptied buffer
//!   continues after its last number when reopened. Only numbers of records that were written
//!   but never synced can come back, after an OS crash took those records with it.
//! - **Crash-safe recovery.** [`EventBuffer::open`] validates every record (length, CRC32,
//!   sequence). A torn or corrupt tail of the *last* segment (a write cut short by a crash)
//!   is truncated away with a warning, and anything after it is dropped; none of this stops
//!   the node from starting. Damage inside an older, sealed segment is disk corruption, or
//!   the unsynced tail of a segment sealed just before an OS crash; it is reported with
//!   `tracing::error!` and the rest of that segment is skipped while later segments are kept.
//!   Everything recovered is fsynced before it counts as synced, since a process crash leaves
//!   written records in the page cache only.
//! - **A failed fsync poisons the buffer.** The kernel may have dropped the dirty pages, so
//!   nothing more counts as synced and appends fail with [`BufferError::Poisoned`] until the
//!   buffer is reopened (the node restarted), which validates what reached the disk.
//! - **Bounded disk.** When retained data would exceed [`BufferOptions::max_bytes`],
//!   appends fail with [`BufferError::Full`] instead of silently dropping older events;
//!   the node is expected to refuse new work until acks free space.
//!
//! The API is synchronous and does blocking file IO. Async callers should use the
//! `*_async` wrappers (which run the blocking call on `tokio::task::spawn_blocking`) or call
//! `spawn_blocking` themselves. The exception is [`EventBuffer::write_batch`], which only
//! copies into the page cache (tens of microseconds) and is called inline by the pump, where
//! a hop to the blocking pool would cost more than the write. [`EventBuffer::subscribe_synced`]
//! lets a streaming task wait for new records without polling. `EventBuffer` is a cheap `Clone` handle. Writes take an
//! internal state mutex only for the `write(2)` and the bookkeeping; fsyncs (the sync thread),
//! the meta-file writes of acks (serialized by a mutex of their own) and the file IO of reads
//! all happen outside it, so none of them stalls an append.
//!
//! On-disk layout of the directory: segment files named after the sequence number of their
//! first record (`00000000000000000001.seg`; the record format is documented in
//! `record.rs`), plus `meta.json` holding the acked sequence and the sequence high-water
//! mark, replaced atomically (write temp file, fsync, rename, fsync directory).

mod ack;
mod meta;
mod read;
mod record;
mod recover;
mod sync;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use ack::remove_acked_segments;
use record::INDEX_EVERY;
pub use record::MAX_RECORD_BYTES;

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
    /// Least time between the starts of two fsync rounds of the sync thread. Records written
    /// meanwhile wait and share the next round, so a steady stream of writes costs at most
    /// one round (and one wake-up of everything that follows the synced watermark) per
    /// interval instead of one per write: at 1,000 sends/s this cut the node's CPU by half.
    /// Someone waiting for the synced watermark ([`EventBuffer::sync`],
    /// [`EventBuffer::append`], [`EventBuffer::sync_soon`]) cuts the wait short. Zero syncs
    /// as soon as the previous round is done.
    pub sync_interval: Duration,
}

impl Default for BufferOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 8 << 20,
            max_bytes: 1 << 30,
            sync_interval: Duration::from_millis(5),
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
    /// Append handle of the last segment; `None` when there is no segment yet. Shared with
    /// the sync thread, which fsyncs it without the lock.
    active: Option<Arc<File>>,
    next_seq: u64,
    /// Highest sequence known to be on disk: fsynced, in a segment whose directory entry is
    /// durable, with every segment before it sealed and fsynced.
    synced_seq: u64,
    /// Segments sealed since the sync thread's last round, oldest first.
    sealed_unsynced: Vec<(PathBuf, Arc<File>)>,
    /// A segment file was created since the directory was last fsynced.
    dir_dirty: bool,
    acked_seq: u64,
    /// The `next_seq` last written to the meta file.
    persisted_next_seq: u64,
    disk_bytes: u64,
    /// A write could not be rolled back, or an fsync failed: appends are refused.
    broken: bool,
    /// The last handle is gone: the sync thread finishes what was written and stops.
    shutdown: bool,
    /// The sync thread is waiting for work (not syncing, not waiting out the interval), so a
    /// write must wake it; otherwise it picks the write up anyway and is left alone.
    syncer_idle: bool,
    /// Someone waits for the synced watermark: the next round starts without waiting out
    /// [`BufferOptions::sync_interval`].
    sync_urgent: bool,
    /// The target of the round in progress, if one is: a waiter it covers need not ask for
    /// another (a stale request would cut the next interval short for nobody).
    syncing_to: Option<u64>,
    #[cfg(test)]
    hooks: TestHooks,
}

/// Knobs the unit tests use to stop the sync thread at chosen points.
#[cfg(test)]
#[derive(Debug, Default)]
struct TestHooks {
    /// The sync thread does nothing while set (as if every fsync were slow).
    hold_sync: bool,
    /// The sync thread's next round fails, as a failed fsync would.
    fail_sync: bool,
}

/// Lets a test stop an ack between its snapshot and its meta-file write: `ack` signals the
/// sender, then waits on the receiver.
#[cfg(test)]
type AckGate = Mutex<
    Option<(
        std::sync::mpsc::SyncSender<()>,
        std::sync::mpsc::Receiver<()>,
    )>,
>;

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    options: BufferOptions,
    state: Mutex<State>,
    /// Wakes the sync thread: records were written, a segment sealed, or shutdown.
    sync_wanted: Condvar,
    /// Wakes [`EventBuffer::sync`] callers: the synced watermark moved or the buffer broke.
    synced_cv: Condvar,
    /// Serializes acks, so the state lock is never held across their meta-file fsyncs.
    ack_lock: Mutex<()>,
    /// The synced watermark, for streaming tasks.
    synced: watch::Sender<u64>,
    #[cfg(test)]
    ack_gate: AckGate,
}

/// Owns the sync thread; dropped with the last [`EventBuffer`] clone.
#[derive(Debug)]
struct Handle {
    inner: Arc<Inner>,
    syncer: Option<JoinHandle<()>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .shutdown = true;
        self.inner.sync_wanted.notify_one();
        // The thread syncs what is already written before it stops, so a clean shutdown
        // leaves nothing unsynced and a reopen in the same process sees a quiet directory.
        if let Some(thread) = self.syncer.take() {
            let _ = thread.join();
        }
    }
}

/// Handle to the event log. Cloning is cheap and every clone shares the same log.
#[derive(Debug, Clone)]
pub struct EventBuffer {
    handle: Arc<Handle>,
}

impl EventBuffer {
    /// Opens (creating if needed) the buffer in `dir`, recovers its state and starts its sync
    /// thread. See the module docs for how damaged segments are handled; a damaged tail never
    /// prevents opening.
    pub fn open(dir: &Path, options: BufferOptions) -> Result<EventBuffer, BufferError> {
        let state = recover::recover(dir)?;
        let (synced, _) = watch::channel(state.synced_seq);
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            options,
            state: Mutex::new(state),
            sync_wanted: Condvar::new(),
            synced_cv: Condvar::new(),
            ack_lock: Mutex::new(()),
            synced,
            #[cfg(test)]
            ack_gate: Mutex::new(None),
        });
        let for_thread = inner.clone();
        let syncer = std::thread::Builder::new()
            .name("event-buffer-sync".to_owned())
            // It makes syscalls and, at worst, logs one error: a small stack will do.
            .stack_size(256 << 10)
            .spawn(move || sync::run(for_thread))
            .map_err(io_err(dir))?;
        Ok(EventBuffer {
            handle: Arc::new(Handle {
                inner,
                syncer: Some(syncer),
            }),
        })
    }

    fn inner(&self) -> &Inner {
        &self.handle.inner
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, BufferError> {
        // A panic while holding the lock may have left the in-memory state half updated, so
        // treat it like a failed write: refuse to continue until reopened.
        self.inner().state.lock().map_err(|_| BufferError::Poisoned)
    }

    /// Appends one event and waits until it is synced. Fails with [`BufferError::Full`] when
    /// the disk budget is spent.
    pub fn append(&self, payload: &[u8]) -> Result<u64, BufferError> {
        let seqs = self.append_batch(&[payload])?;
        Ok(seqs[0])
    }

    /// [`EventBuffer::write_batch`], then waits until the batch is synced (group commit: the
    /// sync thread covers every batch written while it runs with one fsync).
    pub fn append_batch(&self, payloads: &[&[u8]]) -> Result<Vec<u64>, BufferError> {
        let seqs = self.write_batch(payloads)?;
        if let Some(&last) = seqs.last() {
            self.wait_synced(last)?;
        }
        Ok(seqs)
    }

    /// Writes one event without waiting for the fsync; see [`EventBuffer::write_batch`].
    pub fn write(&self, payload: &[u8]) -> Result<u64, BufferError> {
        let seqs = self.write_batch(&[payload])?;
        Ok(seqs[0])
    }

    /// Writes several events with a single `write(2)` and returns their sequence numbers in
    /// order, without waiting for the fsync: once this returns the records survive a process
    /// crash, and they count (are streamed, can be acked) once the sync thread has synced
    /// them. Either the whole batch is written or, on error, none of it counts as appended.
    pub fn write_batch(&self, payloads: &[&[u8]]) -> Result<Vec<u64>, BufferError> {
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
        // The CRC covers the sequence number, so records are encoded under the lock; the
        // buffer is allocated before it.
        let mut buf = Vec::with_capacity(usize::try_from(needed).unwrap_or(0));
        let options = self.inner().options;
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

        let mut offsets = Vec::with_capacity(payloads.len());
        for (i, p) in payloads.iter().enumerate() {
            offsets.push(buf.len() as u64);
            record::encode_record(&mut buf, next_seq + i as u64, p);
        }

        let state = &mut *st;
        let (Some(seg), Some(file)) = (state.segments.last_mut(), state.active.as_ref()) else {
            return Err(BufferError::Poisoned);
        };
        if let Err(source) = (&**file).write_all(&buf) {
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
        let wake = std::mem::take(&mut state.syncer_idle);
        drop(st);
        if wake {
            self.inner().sync_wanted.notify_one();
        }
        Ok(seqs)
    }

    /// Seals the current segment (the sync thread fsyncs it before anything after it counts)
    /// and starts a new one named after `next_seq`. No fsync happens here, under the lock.
    fn roll(&self, st: &mut State) -> Result<(), BufferError> {
        let dir = &self.inner().dir;
        let path = dir.join(record::segment_file_name(st.next_seq));
        let file = zapini_shared::private_fs::open_options()
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
        if let (Some(old), Some(seg)) = (st.active.take(), st.segments.last()) {
            st.sealed_unsynced.push((seg.path.clone(), old));
        }
        st.dir_dirty = true;
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
        st.active = Some(Arc::new(file));
        Ok(())
    }

    /// Waits until every record written so far is synced and returns the synced watermark.
    /// Fails with [`BufferError::Poisoned`] once an fsync has failed.
    pub fn sync(&self) -> Result<u64, BufferError> {
        let target = self.lock()?.next_seq - 1;
        self.wait_synced(target)?;
        Ok(target)
    }

    /// Asks the sync thread to start its next round now instead of after the rest of the
    /// sync interval; for a caller about to wait for the synced watermark.
    pub fn sync_soon(&self) {
        if let Ok(mut st) = self.lock()
            && st.synced_seq < st.next_seq - 1
            && st.syncing_to.is_none_or(|t| t < st.next_seq - 1)
        {
            st.sync_urgent = true;
            drop(st);
            self.inner().sync_wanted.notify_one();
        }
    }

    fn wait_synced(&self, seq: u64) -> Result<(), BufferError> {
        let inner = self.inner();
        let mut st = self.lock()?;
        if st.synced_seq < seq && st.syncing_to.is_none_or(|t| t < seq) {
            st.sync_urgent = true;
            inner.sync_wanted.notify_one();
        }
        loop {
            if st.synced_seq >= seq {
                return Ok(());
            }
            if st.broken {
                return Err(BufferError::Poisoned);
            }
            if st.syncing_to.is_none() && !st.sync_urgent {
                // The round this waiter relied on ended short of `seq`: ask for another.
                st.sync_urgent = true;
                inner.sync_wanted.notify_one();
            }
            st = inner
                .synced_cv
                .wait(st)
                .map_err(|_| BufferError::Poisoned)?;
        }
    }

    /// Number of records written but not yet acked (synced or not).
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

    /// Sequence number the next written record will get.
    pub fn next_seq(&self) -> u64 {
        self.lock().map_or(0, |st| st.next_seq)
    }

    /// The synced watermark: every record up to it is fsynced (0 if none yet).
    pub fn synced_seq(&self) -> u64 {
        self.lock().map_or(0, |st| st.synced_seq)
    }

    /// Bytes of segment data currently retained on disk (what counts against `max_bytes`).
    pub fn disk_bytes(&self) -> u64 {
        self.lock().map_or(0, |st| st.disk_bytes)
    }

    /// Watches the synced watermark (0 if nothing synced yet). A streaming task awaits
    /// `changed()` and then calls [`EventBuffer::read_from`], which stops at the same mark.
    pub fn subscribe_synced(&self) -> watch::Receiver<u64> {
        self.inner().synced.subscribe()
    }

    /// Test hook: while `hold` is set the sync thread leaves written records unsynced.
    #[cfg(test)]
    pub(crate) fn hold_sync(&self, hold: bool) {
        self.lock().unwrap().hooks.hold_sync = hold;
        self.inner().sync_wanted.notify_one();
    }

    /// The directory holding the segments and meta file.
    pub fn dir(&self) -> &Path {
        &self.inner().dir
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
