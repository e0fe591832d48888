use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::record::HEADER_LEN;
use super::*;

fn small(segment_bytes: u64) -> BufferOptions {
    BufferOptions {
        segment_bytes,
        ..BufferOptions::default()
    }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

fn payload(i: u64) -> Vec<u8> {
    format!("event-{i}").into_bytes()
}

#[test]
fn append_read_ack_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    assert_eq!(buf.next_seq(), 1);
    for i in 1..=5 {
        assert_eq!(buf.append(&payload(i)).unwrap(), i);
    }
    let all = buf.read_from(0, usize::MAX).unwrap();
    assert_eq!(all, (1..=5).map(|i| (i, payload(i))).collect::<Vec<_>>());
    assert_eq!(buf.pending_count(), 5);

    buf.ack(3).unwrap();
    assert_eq!(buf.acked_seq(), 3);
    assert_eq!(buf.pending_count(), 2);
    // Reading from before the ack point still returns only unacked records.
    let rest = buf.read_from(0, usize::MAX).unwrap();
    assert_eq!(rest, vec![(4, payload(4)), (5, payload(5))]);
    // Lower acks are no-ops; acks past the end are clamped.
    buf.ack(1).unwrap();
    assert_eq!(buf.acked_seq(), 3);
    buf.ack(100).unwrap();
    assert_eq!(buf.acked_seq(), 5);
    assert_eq!(buf.pending_count(), 0);
    assert!(buf.read_from(0, usize::MAX).unwrap().is_empty());
}

#[test]
fn seqs_increase_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buf = EventBuffer::open(dir.path(), small(100)).unwrap();
        for i in 1..=10 {
            assert_eq!(buf.append(&payload(i)).unwrap(), i);
        }
        buf.ack(4).unwrap();
    }
    let buf = EventBuffer::open(dir.path(), small(100)).unwrap();
    assert_eq!(buf.next_seq(), 11);
    assert_eq!(buf.acked_seq(), 4);
    assert_eq!(buf.append(b"x").unwrap(), 11);
    let got: Vec<u64> = buf
        .read_from(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(got, (5..=11).collect::<Vec<_>>());
}

#[test]
fn reopen_after_acking_everything_never_reuses_seqs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buf = EventBuffer::open(dir.path(), small(64)).unwrap();
        for i in 1..=7 {
            buf.append(&payload(i)).unwrap();
        }
        buf.ack(7).unwrap();
        assert!(segment_files(dir.path()).is_empty());
        assert_eq!(buf.disk_bytes(), 0);
        // Appending after a full ack starts a fresh segment named after the next seq.
        assert_eq!(buf.append(b"eight").unwrap(), 8);
        buf.ack(8).unwrap();
    }
    let buf = EventBuffer::open(dir.path(), small(64)).unwrap();
    assert_eq!(buf.next_seq(), 9);
    assert_eq!(buf.pending_count(), 0);
    assert_eq!(buf.append(b"nine").unwrap(), 9);
    drop(buf);
    let buf = EventBuffer::open(dir.path(), small(64)).unwrap();
    assert_eq!(buf.read_from(0, 10).unwrap(), vec![(9, b"nine".to_vec())]);
}

#[test]
fn torn_tail_truncated_mid_record_recovers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
        for i in 1..=4 {
            buf.append(&payload(i)).unwrap();
        }
    }
    let seg = segment_files(dir.path()).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    // Cut the last record in half, as a crash mid-write would.
    let file = OpenOptions::new().write(true).open(&seg).unwrap();
    file.set_len(len - 5).unwrap();
    drop(file);

    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    let got = buf.read_from(0, usize::MAX).unwrap();
    assert_eq!(got, (1..=3).map(|i| (i, payload(i))).collect::<Vec<_>>());
    // The lost record was never durable, so its number is handed out again exactly once.
    assert_eq!(buf.append(b"after").unwrap(), 4);
    drop(buf);
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    let got = buf.read_from(0, usize::MAX).unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3], (4, b"after".to_vec()));
}

#[test]
fn garbage_tail_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
        for i in 1..=3 {
            buf.append(&payload(i)).unwrap();
        }
    }
    let seg = segment_files(dir.path()).pop().unwrap();
    let clean_len = fs::metadata(&seg).unwrap().len();
    let mut file = OpenOptions::new().append(true).open(&seg).unwrap();
    file.write_all(&[0xAB; 37]).unwrap();
    drop(file);

    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    assert_eq!(fs::metadata(&seg).unwrap().len(), clean_len);
    assert_eq!(buf.read_from(0, usize::MAX).unwrap().len(), 3);
    assert_eq!(buf.append(b"four").unwrap(), 4);
    drop(buf);
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    let got = buf.read_from(3, usize::MAX).unwrap();
    assert_eq!(got, vec![(4, b"four".to_vec())]);
}

#[test]
fn flipped_payload_byte_is_detected_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
        for i in 1..=3 {
            buf.append(&payload(i)).unwrap();
        }
    }
    let seg = segment_files(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&seg, &bytes).unwrap();

    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    let got = buf.read_from(0, usize::MAX).unwrap();
    assert_eq!(got, vec![(1, payload(1)), (2, payload(2))]);
    assert_eq!(buf.append(b"again").unwrap(), 3);
}

#[test]
fn corruption_in_sealed_segment_skips_rest_of_that_segment() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small(60);
    {
        let buf = EventBuffer::open(dir.path(), opts).unwrap();
        for i in 1..=9 {
            buf.append(&payload(i)).unwrap();
        }
    }
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    // Damage the first (sealed) segment's first record.
    let mut bytes = fs::read(&files[0]).unwrap();
    bytes[HEADER_LEN] ^= 0xFF;
    fs::write(&files[0], &bytes).unwrap();

    let buf = EventBuffer::open(dir.path(), opts).unwrap();
    let got: Vec<u64> = buf
        .read_from(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|r| r.0)
        .collect();
    assert!(!got.is_empty());
    assert!(!got.contains(&1));
    assert_eq!(*got.last().unwrap(), 9);
    assert_eq!(buf.append(b"ten").unwrap(), 10);
}

#[test]
fn segments_roll_and_acked_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    // Each record is 16 + 7 bytes ("event-N"), so three fit under 70 bytes.
    let buf = EventBuffer::open(dir.path(), small(70)).unwrap();
    for i in 1..=9 {
        buf.append(&payload(i)).unwrap();
    }
    let names: Vec<String> = segment_files(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "00000000000000000001.seg",
            "00000000000000000004.seg",
            "00000000000000000007.seg"
        ]
    );
    // Acking into the middle of the second segment deletes only the first.
    buf.ack(5).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 2);
    assert_eq!(buf.read_from(0, usize::MAX).unwrap()[0].0, 6);
    buf.ack(6).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 1);
    buf.ack(9).unwrap();
    assert!(segment_files(dir.path()).is_empty());
    assert_eq!(buf.append(b"next").unwrap(), 10);
    assert_eq!(
        segment_files(dir.path())[0].file_name().unwrap(),
        "00000000000000000010.seg"
    );
}

#[test]
fn read_from_pages_with_max() {
    let dir = tempfile::tempdir().unwrap();
    let buf = EventBuffer::open(dir.path(), small(500)).unwrap();
    for i in 1..=300 {
        buf.append(&payload(i)).unwrap();
    }
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = buf.read_from(after, 7).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        after = page.last().unwrap().0;
        seen.extend(page);
    }
    assert_eq!(seen, (1..=300).map(|i| (i, payload(i))).collect::<Vec<_>>());
    assert!(buf.read_from(0, 0).unwrap().is_empty());
    // A read starting deep inside a segment uses the sparse index and still lands exactly.
    assert_eq!(buf.read_from(150, 1).unwrap(), vec![(151, payload(151))]);
}

#[test]
fn full_when_max_bytes_is_tiny() {
    let dir = tempfile::tempdir().unwrap();
    let opts = BufferOptions {
        segment_bytes: 1024,
        max_bytes: 64,
        ..BufferOptions::default()
    };
    let buf = EventBuffer::open(dir.path(), opts).unwrap();
    assert_eq!(buf.append(&[1; 20]).unwrap(), 1);
    assert!(matches!(
        buf.append(&[2; 20]),
        Err(BufferError::Full { .. })
    ));
    assert_eq!(
        buf.next_seq(),
        2,
        "a refused append consumes no sequence number"
    );
    buf.ack(1).unwrap();
    assert_eq!(buf.append(&[2; 20]).unwrap(), 2);
    assert!(matches!(
        buf.append(&vec![0; MAX_RECORD_BYTES + 1]),
        Err(BufferError::RecordTooLarge { .. })
    ));
}

#[test]
fn batch_append() {
    let dir = tempfile::tempdir().unwrap();
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    buf.append(b"solo").unwrap();
    let seqs = buf.append_batch(&[b"a", b"bb", b"", b"dddd"]).unwrap();
    assert_eq!(seqs, vec![2, 3, 4, 5]);
    assert!(buf.append_batch(&[]).unwrap().is_empty());
    drop(buf);
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    let got = buf.read_from(1, usize::MAX).unwrap();
    assert_eq!(
        got,
        vec![
            (2, b"a".to_vec()),
            (3, b"bb".to_vec()),
            (4, Vec::new()),
            (5, b"dddd".to_vec())
        ]
    );
}

#[tokio::test]
async fn subscription_sees_new_appends() {
    let dir = tempfile::tempdir().unwrap();
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    let mut rx = buf.subscribe_synced();
    assert_eq!(*rx.borrow(), 0);
    let writer = buf.clone();
    let task = tokio::spawn(async move { writer.append_async(b"hello".to_vec()).await });
    tokio::time::timeout(std::time::Duration::from_secs(5), rx.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*rx.borrow_and_update(), 1);
    assert_eq!(task.await.unwrap().unwrap(), 1);
    let seqs = buf
        .append_batch_async(vec![Bytes::from_static(b"x"), Bytes::from_static(b"y")])
        .await
        .unwrap();
    assert_eq!(seqs, vec![2, 3]);
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow(), 3);
    let page = buf.read_from_async(1, 10).await.unwrap();
    assert_eq!(page.len(), 2);
    buf.ack_async(3).await.unwrap();
    assert_eq!(buf.pending_count(), 0);
}

fn hold(buf: &EventBuffer, hold: bool) {
    buf.hold_sync(hold);
}

#[test]
fn written_records_count_only_once_synced() {
    let dir = tempfile::tempdir().unwrap();
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    assert_eq!(buf.append(&payload(1)).unwrap(), 1);
    hold(&buf, true);
    assert_eq!(buf.write_batch(&[b"two", b"three"]).unwrap(), vec![2, 3]);
    assert_eq!(buf.write(b"four").unwrap(), 4);
    // Written: numbered, on file, pending; not synced, so not readable and not ackable.
    assert_eq!(buf.next_seq(), 5);
    assert_eq!(buf.synced_seq(), 1);
    assert_eq!(buf.pending_count(), 4);
    assert_eq!(buf.read_from(0, usize::MAX).unwrap(), vec![(1, payload(1))]);
    assert!(buf.read_from(1, usize::MAX).unwrap().is_empty());
    buf.ack(4).unwrap();
    assert_eq!(
        buf.acked_seq(),
        1,
        "acks are clamped to the synced watermark"
    );
    let rx = buf.subscribe_synced();
    assert_eq!(*rx.borrow(), 1);

    hold(&buf, false);
    assert_eq!(buf.sync().unwrap(), 4);
    assert_eq!(buf.synced_seq(), 4);
    assert_eq!(*rx.borrow(), 4);
    let got: Vec<u64> = buf.read_from(1, 10).unwrap().iter().map(|r| r.0).collect();
    assert_eq!(got, vec![2, 3, 4]);
    buf.ack(4).unwrap();
    assert_eq!(buf.acked_seq(), 4);
}

#[test]
fn a_sealed_segment_is_synced_before_later_records_count() {
    let dir = tempfile::tempdir().unwrap();
    // Three "event-N" records (23 bytes each) per segment.
    let buf = EventBuffer::open(dir.path(), small(70)).unwrap();
    hold(&buf, true);
    for i in 1..=7 {
        buf.write(&payload(i)).unwrap();
    }
    {
        let st = buf.lock().unwrap();
        assert_eq!(st.segments.len(), 3);
        assert_eq!(
            st.sealed_unsynced.len(),
            2,
            "two segments sealed, not synced"
        );
        assert!(st.dir_dirty);
        assert_eq!(st.synced_seq, 0);
    }
    assert!(buf.read_from(0, usize::MAX).unwrap().is_empty());
    hold(&buf, false);
    assert_eq!(buf.sync().unwrap(), 7);
    {
        let st = buf.lock().unwrap();
        assert!(st.sealed_unsynced.is_empty());
        assert!(!st.dir_dirty);
    }
    assert_eq!(buf.read_from(0, usize::MAX).unwrap().len(), 7);
}

#[test]
fn acks_do_not_block_writes() {
    let dir = tempfile::tempdir().unwrap();
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    for i in 1..=3 {
        buf.append(&payload(i)).unwrap();
    }
    // Stop the ack after its snapshot, where it writes (and fsyncs) the meta file.
    let (entered_tx, entered) = std::sync::mpsc::sync_channel(1);
    let (release, release_rx) = std::sync::mpsc::sync_channel(1);
    *buf.inner().ack_gate.lock().unwrap() = Some((entered_tx, release_rx));
    let acker = buf.clone();
    let ack = std::thread::spawn(move || acker.ack(2));
    entered.recv().unwrap();

    // Meanwhile writes, syncs and reads go through.
    let (done_tx, done) = std::sync::mpsc::channel();
    let writer = buf.clone();
    std::thread::spawn(move || {
        let seq = writer.append(b"during the ack").unwrap();
        let read = writer.read_from(0, usize::MAX).unwrap().len();
        done_tx.send((seq, read)).unwrap();
    });
    let (seq, read) = done
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a write waited for an ack's meta-file write");
    assert_eq!((seq, read), (4, 4));
    // A second ack waits for the first (acks are serialized), not the other way round.
    let (second_tx, second) = std::sync::mpsc::channel();
    let acker = buf.clone();
    std::thread::spawn(move || second_tx.send(acker.ack(4)).unwrap());

    release.send(()).unwrap();
    ack.join().unwrap().unwrap();
    second
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap()
        .unwrap();
    assert_eq!(buf.acked_seq(), 4);
    drop(buf);
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    assert_eq!(buf.acked_seq(), 4);
    assert_eq!(buf.next_seq(), 5);
}

#[test]
fn written_records_survive_a_process_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buf = EventBuffer::open(dir.path(), small(70)).unwrap();
        buf.append(&payload(1)).unwrap();
        hold(&buf, true);
        for i in 2..=5 {
            buf.write(&payload(i)).unwrap();
        }
        assert_eq!(buf.synced_seq(), 1);
        // Dropped with the sync thread held: it stops without syncing, like a killed
        // process. The records are in the files (the page cache), not known to be on disk.
    }
    let buf = EventBuffer::open(dir.path(), small(70)).unwrap();
    // Recovery fsyncs what it found, so all of it counts.
    assert_eq!(buf.synced_seq(), 5);
    assert_eq!(
        buf.read_from(0, usize::MAX).unwrap(),
        (1..=5).map(|i| (i, payload(i))).collect::<Vec<_>>()
    );
    assert_eq!(buf.append(b"six").unwrap(), 6);
}

#[test]
fn an_unsynced_tail_lost_with_the_os_never_reuses_a_streamed_seq() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
        for i in 1..=3 {
            buf.append(&payload(i)).unwrap();
        }
        buf.ack(3).unwrap();
        buf.append(&payload(4)).unwrap();
        hold(&buf, true);
        buf.write(&payload(5)).unwrap();
    }
    // An OS crash takes the unsynced record 5 with it (and tears record 4's neighbour).
    let seg = segment_files(dir.path()).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    let file = OpenOptions::new().write(true).open(&seg).unwrap();
    file.set_len(len - 3).unwrap();
    drop(file);

    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    // Record 4 was synced (and maybe streamed): it stays, and its number is never reused.
    assert_eq!(buf.read_from(0, usize::MAX).unwrap(), vec![(4, payload(4))]);
    // Record 5 never counted, so the control plane never saw number 5.
    assert_eq!(buf.append(b"new five").unwrap(), 5);
}

#[test]
fn a_failed_sync_poisons_the_buffer_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    {
        let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
        buf.append(&payload(1)).unwrap();
        hold(&buf, true);
        buf.write(&payload(2)).unwrap();
        buf.lock().unwrap().hooks.fail_sync = true;
        hold(&buf, false);
        assert!(matches!(buf.sync(), Err(BufferError::Poisoned)));
        assert!(matches!(buf.write(b"x"), Err(BufferError::Poisoned)));
        assert!(matches!(buf.append(b"x"), Err(BufferError::Poisoned)));
        // Nothing past the last good sync is readable.
        assert_eq!(buf.synced_seq(), 1);
        assert_eq!(buf.read_from(0, usize::MAX).unwrap(), vec![(1, payload(1))]);
    }
    // Reopening validates what is on file; the written record is intact here, so it stays.
    let buf = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
    assert_eq!(buf.read_from(0, usize::MAX).unwrap().len(), 2);
    assert_eq!(buf.append(b"three").unwrap(), 3);
}

/// Writes wait out the sync interval and share a round; anyone waiting for the synced
/// watermark (or a shutdown) cuts it short.
#[tokio::test]
async fn the_sync_interval_gathers_writes_unless_someone_waits() {
    let dir = tempfile::tempdir().unwrap();
    let opts = BufferOptions {
        sync_interval: std::time::Duration::from_secs(3600),
        ..BufferOptions::default()
    };
    let buf = EventBuffer::open(dir.path(), opts).unwrap();
    let within = std::time::Duration::from_secs(10);
    // A broken interval would make these wait an hour; fail instead.
    let waiter = buf.clone();
    let appended = tokio::task::spawn_blocking(move || {
        waiter.append(b"first").unwrap();
        waiter.append(b"second").unwrap();
        waiter.write(b"third").unwrap();
        waiter.sync().unwrap()
    });
    assert_eq!(
        tokio::time::timeout(within, appended)
            .await
            .unwrap()
            .unwrap(),
        3
    );

    buf.write(b"fourth").unwrap();
    // Nobody waits: the record stays written, not synced, for the rest of the interval.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(buf.synced_seq(), 3);
    buf.sync_soon();
    let mut synced = buf.subscribe_synced();
    tokio::time::timeout(within, synced.wait_for(|s| *s >= 4))
        .await
        .unwrap()
        .unwrap();

    buf.write(b"fifth").unwrap();
    // Dropping the last handle syncs at once rather than after the interval.
    let dropped = tokio::task::spawn_blocking(move || drop(buf));
    tokio::time::timeout(within, dropped)
        .await
        .unwrap()
        .unwrap();
    let buf = EventBuffer::open(dir.path(), opts).unwrap();
    assert_eq!(buf.read_from(3, 10).unwrap().len(), 2);
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    Batch(Vec<Vec<u8>>),
    /// Ack this many of the pending records.
    Ack(usize),
    Reopen,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        4 => bytes.clone().prop_map(Op::Append),
        2 => proptest::collection::vec(bytes, 0..5).prop_map(Op::Batch),
        2 => (0usize..8).prop_map(Op::Ack),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn unacked_payloads_survive_any_history(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let opts = small(120);
        let mut buf = EventBuffer::open(dir.path(), opts).unwrap();
        let mut pending: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut last_seq = 0u64;
        for op in ops {
            match op {
                Op::Append(p) => {
                    let seq = buf.append(&p).unwrap();
                    prop_assert!(seq > last_seq);
                    last_seq = seq;
                    pending.push((seq, p));
                }
                Op::Batch(ps) => {
                    let refs: Vec<&[u8]> = ps.iter().map(|p| p.as_slice()).collect();
                    let seqs = buf.append_batch(&refs).unwrap();
                    for (seq, p) in seqs.into_iter().zip(ps) {
                        prop_assert!(seq > last_seq);
                        last_seq = seq;
                        pending.push((seq, p));
                    }
                }
                Op::Ack(n) => {
                    let n = n.min(pending.len());
                    if n > 0 {
                        buf.ack(pending[n - 1].0).unwrap();
                        pending.drain(..n);
                    }
                }
                Op::Reopen => {
                    drop(buf);
                    buf = EventBuffer::open(dir.path(), opts).unwrap();
                }
            }
            let acked = buf.acked_seq();
            prop_assert_eq!(buf.read_from(acked, usize::MAX).unwrap(), pending.clone());
            prop_assert_eq!(buf.pending_count(), pending.len() as u64);
            prop_assert_eq!(buf.next_seq(), last_seq + 1);
        }
    }
}
