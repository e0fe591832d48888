//! The on-disk record and segment format, and the scan that validates a segment file.
//!
//! A record is a 16-byte little-endian header followed by the payload:
//!
//! | offset | size | field                                                  |
//! |--------|------|--------------------------------------------------------|
//! | 0      | 4    | payload length in bytes (u32)                          |
//! | 4      | 4    | CRC32 (IEEE) over the length, the sequence and payload |
//! | 8      | 8    | sequence number (u64)                                  |
//! | 16     | len  | payload                                                |
//!
//! The CRC covers the length and the sequence as well as the payload, so a torn or flipped
//! header is caught just like a damaged payload. Records inside one segment carry consecutive
//! sequence numbers starting at the number encoded in the segment's file name.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use super::{BufferError, io_err};

/// Size of the fixed record header.
pub(super) const HEADER_LEN: usize = 16;

/// Largest payload accepted. The limit also keeps recovery from trusting a garbage length
/// field and trying to allocate gigabytes for it.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// Every `INDEX_EVERY`-th record of a segment gets an entry in the in-memory sparse index,
/// so a read seeks close to its start instead of decoding the segment from the beginning.
pub(super) const INDEX_EVERY: u64 = 64;

/// Suffix of segment files.
pub(super) const SEGMENT_SUFFIX: &str = ".seg";

/// File name of the segment whose first record has sequence `first_seq`. Zero-padding to
/// twenty digits (the width of `u64::MAX`) makes name order equal sequence order.
pub(super) fn segment_file_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_SUFFIX}")
}

/// Parses a segment file name back into its first sequence number.
pub(super) fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn checksum(len: u32, seq: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len.to_le_bytes());
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// Appends the encoding of one record to `buf`. The caller has checked the payload against
/// [`MAX_RECORD_BYTES`], so the length fits in a `u32`.
pub(super) fn encode_record(buf: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&checksum(len, seq, payload).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
}

/// Encoded size of a record holding `payload_len` bytes.
pub(super) fn record_size(payload_len: usize) -> u64 {
    (HEADER_LEN + payload_len) as u64
}

/// Parsed record header.
pub(super) struct Header {
    pub(super) len: u32,
    pub(super) crc: u32,
    pub(super) seq: u64,
}

pub(super) fn decode_header(bytes: &[u8; HEADER_LEN]) -> Header {
    let mut len = [0u8; 4];
    let mut crc = [0u8; 4];
    let mut seq = [0u8; 8];
    len.copy_from_slice(&bytes[0..4]);
    crc.copy_from_slice(&bytes[4..8]);
    seq.copy_from_slice(&bytes[8..16]);
    Header {
        len: u32::from_le_bytes(len),
        crc: u32::from_le_bytes(crc),
        seq: u64::from_le_bytes(seq),
    }
}

/// True when `payload` matches the checksum stored in `header`.
pub(super) fn verify(header: &Header, payload: &[u8]) -> bool {
    checksum(header.len, header.seq, payload) == header.crc
}

/// What a recovery scan learned about one segment file.
#[derive(Debug)]
pub(super) struct ScanResult {
    /// Bytes from the start of the file that hold valid, complete records.
    pub(super) valid_bytes: u64,
    /// Sequence of the last valid record, if any.
    pub(super) last_seq: Option<u64>,
    /// Sparse `(seq, offset)` index of the valid records.
    pub(super) index: Vec<(u64, u64)>,
    /// Why the scan stopped before the end of the file, if it did.
    pub(super) problem: Option<&'static str>,
    /// Length of the file as found.
    pub(super) file_len: u64,
}

/// Validates the records of a segment file whose first record must carry `first_seq`.
/// The scan stops at the first record that is incomplete, fails its CRC, or breaks the
/// consecutive numbering; everything before that point is trustworthy.
pub(super) fn scan_segment(path: &Path, first_seq: u64) -> std::io::Result<ScanResult> {
    let data = std::fs::read(path)?;
    Ok(scan_bytes(&data, first_seq))
}

pub(super) fn scan_bytes(data: &[u8], first_seq: u64) -> ScanResult {
    let mut offset = 0usize;
    let mut expected = first_seq;
    let mut last_seq = None;
    let mut index = Vec::new();
    let mut problem = None;
    while offset < data.len() {
        let Some(head) = data.get(offset..offset + HEADER_LEN) else {
            problem = Some("incomplete record header");
            break;
        };
        let mut head_bytes = [0u8; HEADER_LEN];
        head_bytes.copy_from_slice(head);
        let header = decode_header(&head_bytes);
        let len = header.len as usize;
        if len > MAX_RECORD_BYTES {
            problem = Some("record length out of range");
            break;
        }
        let start = offset + HEADER_LEN;
        let Some(payload) = data.get(start..start + len) else {
            problem = Some("incomplete record payload");
            break;
        };
        if !verify(&header, payload) {
            problem = Some("checksum mismatch");
            break;
        }
        if header.seq != expected {
            problem = Some("unexpected sequence number");
            break;
        }
        if (header.seq - first_seq).is_multiple_of(INDEX_EVERY) {
            index.push((header.seq, offset as u64));
        }
        last_seq = Some(header.seq);
        expected = header.seq.saturating_add(1);
        offset = start + len;
    }
    ScanResult {
        valid_bytes: offset as u64,
        last_seq,
        index,
        problem,
        file_len: data.len() as u64,
    }
}

/// One step of a read plan: a byte range of a segment file to decode.
pub(super) struct ReadStep {
    pub(super) path: PathBuf,
    pub(super) offset: u64,
    pub(super) end: u64,
}

/// Decodes the records of `step` with a sequence in `seqs` into `out`, stopping once `out`
/// holds `max` records. Returns true when the read is complete (`max` reached, or a record
/// past the end of `seqs` seen), so later segments need not be opened.
pub(super) fn read_segment_range(
    file: File,
    step: &ReadStep,
    seqs: RangeInclusive<u64>,
    max: usize,
    out: &mut Vec<(u64, Vec<u8>)>,
) -> Result<bool, BufferError> {
    let mut file = file;
    let path = &step.path;
    file.seek(SeekFrom::Start(step.offset))
        .map_err(io_err(path))?;
    let mut reader = BufReader::new(file.take(step.end - step.offset));
    let mut offset = step.offset;
    let corrupt = |offset: u64, reason: &str| BufferError::Corrupt {
        path: path.clone(),
        offset,
        reason: reason.to_string(),
    };
    while offset < step.end {
        if out.len() >= max {
            return Ok(true);
        }
        let mut head = [0u8; HEADER_LEN];
        reader
            .read_exact(&mut head)
            .map_err(|_| corrupt(offset, "record header missing"))?;
        let header = decode_header(&head);
        if header.len as usize > MAX_RECORD_BYTES {
            return Err(corrupt(offset, "record length out of range"));
        }
        let mut payload = vec![0u8; header.len as usize];
        reader
            .read_exact(&mut payload)
            .map_err(|_| corrupt(offset, "record payload missing"))?;
        if !verify(&header, &payload) {
            return Err(corrupt(offset, "checksum mismatch"));
        }
        if header.seq > *seqs.end() {
            // Written but not synced yet: not for readers.
            return Ok(true);
        }
        if header.seq >= *seqs.start() {
            out.push((header.seq, payload));
        }
        offset += record_size(header.len as usize);
    }
    Ok(out.len() >= max)
}
