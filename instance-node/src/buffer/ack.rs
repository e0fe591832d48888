//! Acks: persisting the acked sequence (the meta file) and deleting segments that hold only
//! acked records. Acks are serialized by their own mutex and take the state lock only to read
//! and update numbers and to unlink files; their fsyncs never run under it.

use std::fs;
use std::path::Path;

use super::meta::{Meta, sync_dir, write_meta};
use super::{BufferError, EventBuffer, State, run_blocking};

impl EventBuffer {
    /// Acknowledges every record up to and including `up_to_seq`: persists the ack and
    /// deletes segments whose records are all acked. Acks are monotonic (a lower or equal
    /// ack is a no-op) and are clamped to the synced watermark: nothing else was streamed.
    ///
    /// The meta file is written (two fsyncs and a rename) without the state lock, so an ack
    /// never stalls appends; acks are serialized among themselves by their own mutex.
    pub fn ack(&self, up_to_seq: u64) -> Result<(), BufferError> {
        let inner = self.inner();
        // The guarded data is the meta file on disk; a panic mid-ack leaves it either old or
        // new (it is replaced atomically), so a poisoned lock is still safe to take.
        let _serial = inner.ack_lock.lock().unwrap_or_else(|e| e.into_inner());
        let (target, next_seq) = {
            let st = self.lock()?;
            let target = up_to_seq.min(st.synced_seq);
            if target <= st.acked_seq {
                return Ok(());
            }
            (target, st.next_seq)
        };
        #[cfg(test)]
        if let Some((entered, release)) = inner.ack_gate.lock().unwrap().take() {
            let _ = entered.send(());
            let _ = release.recv();
        }
        // Persist first: the ack and the high-water mark must be durable before any segment
        // disappears, or a restart could replay acked data or reuse sequence numbers.
        write_meta(
            &inner.dir,
            Meta {
                version: 1,
                acked_seq: target,
                next_seq,
            },
        )?;
        let removed = {
            let mut st = self.lock()?;
            // Only acks move `acked_seq`, and they are serialized, so nothing moved it since.
            st.acked_seq = target;
            st.persisted_next_seq = st.persisted_next_seq.max(next_seq);
            remove_acked_segments(&inner.dir, &mut st)?
        };
        if removed > 0 {
            // Not needed for correctness (a resurrected acked segment is deleted again on
            // open), but it keeps the directory listing in step with the meta file.
            if let Err(e) = sync_dir(&inner.dir) {
                tracing::warn!(error = %e, "could not fsync the event buffer directory");
            }
        }
        Ok(())
    }

    /// [`EventBuffer::ack`] on the blocking thread pool, for async callers.
    pub async fn ack_async(&self, up_to_seq: u64) -> Result<(), BufferError> {
        let this = self.clone();
        run_blocking(move || this.ack(up_to_seq)).await
    }
}

/// Deletes the leading segments whose records are all acked and returns how many went. Only
/// unlinks happen here (under the state lock); the caller fsyncs the directory afterwards
/// without it. Deletion failures are logged and retried on the next ack; they never fail the
/// ack itself, which is already durable.
pub(super) fn remove_acked_segments(dir: &Path, st: &mut State) -> Result<usize, BufferError> {
    let acked = st.acked_seq;
    let removable = st
        .segments
        .iter()
        .take_while(|s| s.last_seq.is_none_or(|l| l <= acked))
        .count();
    if removable == 0 {
        return Ok(0);
    }
    let highest = st.segments[..removable]
        .iter()
        .filter_map(|s| s.last_seq)
        .max();
    if highest.is_some_and(|h| h >= st.persisted_next_seq) {
        // The segments about to go hold a sequence the meta file does not cover (only after
        // recovering a directory whose meta file lagged behind); record it first. An ack
        // always persists a high-water mark past what it deletes, so this never runs there.
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
    Ok(removed)
}
