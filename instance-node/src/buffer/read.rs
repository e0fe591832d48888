//! Reads for the control-plane stream: planned under the state lock, file IO without it,
//! never past the synced watermark.

use std::fs::File;

use super::record::{ReadStep, read_segment_range};
use super::{BufferError, EventBuffer, io_err, run_blocking};

impl EventBuffer {
    /// Returns up to `max` unacked, synced records with a sequence number greater than
    /// `after_seq`, in order. Used both to replay after a reconnect (`after_seq` = last acked)
    /// and to page the live stream (`after_seq` = last record sent). Records that are written
    /// but not yet synced are never returned.
    pub fn read_from(
        &self,
        after_seq: u64,
        max: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, BufferError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let (start, last, plan) = {
            let st = self.lock()?;
            let start = after_seq.max(st.acked_seq).saturating_add(1);
            let last = st.synced_seq;
            let mut plan = Vec::new();
            let mut planned: u64 = 0;
            let first = st
                .segments
                .partition_point(|s| s.first_seq <= start)
                .saturating_sub(1);
            for seg in &st.segments[first..] {
                if seg.first_seq > last {
                    break;
                }
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
            (start, last, plan)
        };
        if start > last {
            return Ok(Vec::new());
        }
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
            if read_segment_range(file, &step, start..=last, max, &mut out)? {
                break;
            }
        }
        Ok(out)
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
