//! The sync thread: group fsync of written records, off the append lock.
//!
//! Appends only `write(2)` under the state lock and wake this thread. It takes a snapshot of
//! what needs to reach the disk (segments sealed since the last sync, the directory if a
//! segment file was created, the active segment) with the lock held for a moment, runs every
//! `fsync` without the lock, and then advances the synced watermark to the last record the
//! snapshot covered. Records written while an fsync runs are covered by the next one, so a
//! burst of appends costs a few fsyncs, not one each. This module must never fsync with the
//! state lock held: that is what would stall appends (and the sends waiting on them).

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::meta::sync_dir;
use super::{BufferError, Inner, State};

/// What one round of syncing has to make durable, taken from the state under the lock.
struct Job {
    /// The last written record when the snapshot was taken; synced once the round succeeds.
    target: u64,
    /// Segments sealed since the last round, oldest first, with their paths for errors.
    sealed: Vec<(PathBuf, Arc<File>)>,
    /// Whether a segment file was created since the directory was last fsynced.
    dir: bool,
    /// The segment being appended to, if any.
    active: Option<(PathBuf, Arc<File>)>,
    /// Test hook: fail this round as a failed fsync would.
    #[cfg(test)]
    fail: bool,
}

/// True when written records, sealed segments or a new directory entry are not yet durable.
fn has_work(st: &State) -> bool {
    #[cfg(test)]
    if st.hooks.hold_sync {
        return false;
    }
    st.next_seq - 1 > st.synced_seq || st.dir_dirty || !st.sealed_unsynced.is_empty()
}

/// The sync thread's body: runs until the buffer is dropped (then finishes the work already
/// written, so a clean shutdown leaves everything synced) or breaks.
pub(super) fn run(inner: Arc<Inner>) {
    let interval = inner.options.sync_interval;
    let mut last_round: Option<Instant> = None;
    loop {
        let job = {
            let Ok(mut st) = inner.state.lock() else {
                return;
            };
            loop {
                if st.broken {
                    // Nothing can be trusted past the last successful sync; the buffer refuses
                    // appends and the node recovers by reopening it.
                    return;
                }
                if has_work(&st) {
                    // Let writes gather until the interval since the last round is over,
                    // unless someone waits for this round or the buffer is shutting down.
                    let wait =
                        last_round.map_or(Duration::ZERO, |t| interval.saturating_sub(t.elapsed()));
                    if wait.is_zero() || st.sync_urgent || st.shutdown {
                        break;
                    }
                    st = match inner.sync_wanted.wait_timeout(st, wait) {
                        Ok((st, _)) => st,
                        Err(_) => return,
                    };
                    continue;
                }
                if st.shutdown {
                    return;
                }
                st.syncer_idle = true;
                st = match inner.sync_wanted.wait(st) {
                    Ok(st) => st,
                    Err(_) => return,
                };
                st.syncer_idle = false;
            }
            job(&mut st)
        };
        last_round = Some(Instant::now());

        let outcome = sync_job(&inner, &job);

        let Ok(mut st) = inner.state.lock() else {
            inner.synced_cv.notify_all();
            return;
        };
        st.syncing_to = None;
        match outcome {
            Ok(()) => {
                // Segments sealed while this round ran were pushed after the ones it synced.
                st.sealed_unsynced.drain(..job.sealed.len());
                st.synced_seq = st.synced_seq.max(job.target);
                // Published under the lock, so no reader of the state is ahead of the watch.
                inner.synced.send_replace(st.synced_seq);
                drop(st);
                inner.synced_cv.notify_all();
            }
            Err(err) => {
                // After a failed fsync the kernel may have dropped the dirty pages, so what is
                // on disk is unknown. Written records stay in the file (reopening validates
                // them), but nothing more counts as synced and appends are refused.
                tracing::error!(error = %err, "event buffer fsync failed; refusing further appends until reopened");
                st.broken = true;
                drop(st);
                inner.synced_cv.notify_all();
                return;
            }
        }
    }
}

/// Takes what the next round must sync from the state (the lock is held by the caller).
fn job(st: &mut State) -> Job {
    let active = match (st.active.as_ref(), st.segments.last()) {
        (Some(file), Some(seg)) => Some((seg.path.clone(), file.clone())),
        _ => None,
    };
    st.sync_urgent = false;
    st.syncing_to = Some(st.next_seq - 1);
    Job {
        target: st.next_seq - 1,
        sealed: st.sealed_unsynced.clone(),
        dir: std::mem::take(&mut st.dir_dirty),
        active,
        #[cfg(test)]
        fail: std::mem::take(&mut st.hooks.fail_sync),
    }
}

fn sync_job(inner: &Inner, job: &Job) -> Result<(), BufferError> {
    #[cfg(test)]
    if job.fail {
        return Err(BufferError::Io {
            path: inner.dir.clone(),
            source: std::io::Error::other("injected fsync failure"),
        });
    }
    let fsync = |(path, file): &(PathBuf, Arc<File>)| {
        file.sync_data().map_err(|source| BufferError::Io {
            path: path.clone(),
            source,
        })
    };
    // A sealed segment is complete before anything after it counts as synced.
    for sealed in &job.sealed {
        fsync(sealed)?;
    }
    // The directory entry of a new segment must be durable, or a crash could lose the whole
    // file even though its records were fsynced.
    if job.dir {
        sync_dir(&inner.dir)?;
    }
    if let Some(active) = &job.active {
        fsync(active)?;
    }
    Ok(())
}
