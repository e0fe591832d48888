//! The sandbox's media bytes: what injected inbound messages carry (given, or made up to the
//! declared size with the format's real leading bytes) and what we sent, kept for
//! `download_media` within a memory budget (oldest dropped first), like WhatsApp's servers
//! keep media for a while and then let it expire.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

/// Bytes kept across all messages.
const BUDGET: usize = 256 * 1024 * 1024;
/// Size of made-up media when the injection names none.
pub const DEFAULT_SIZE: usize = 2048;
/// The largest media an injected inbound message may carry or declare (16 MB, WhatsApp's
/// limit for images and audio): a declared `size` is allocated, so it is bounded.
pub const MAX_INBOUND_SIZE: u64 = 16 * 1024 * 1024;

#[derive(Default)]
pub struct MediaStore {
    files: HashMap<String, Bytes>,
    order: VecDeque<String>,
    total: usize,
}

impl MediaStore {
    pub fn insert(&mut self, message_id: &str, data: Bytes) {
        if data.len() > BUDGET {
            return;
        }
        if let Some(old) = self.files.insert(message_id.to_owned(), data.clone()) {
            self.total -= old.len();
        } else {
            self.order.push_back(message_id.to_owned());
        }
        self.total += data.len();
        while self.total > BUDGET {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.files.remove(&oldest) {
                self.total -= gone.len();
            }
        }
    }

    pub fn get(&self, message_id: &str) -> Option<Bytes> {
        self.files.get(message_id).cloned()
    }
}

/// The leading bytes of a file of `mime`, so that what the sandbox makes up is recognised as
/// what it claims to be.
fn magic(mime: &str) -> &'static [u8] {
    match mime.split(';').next().unwrap_or("").trim() {
        "image/jpeg" => b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        "image/png" => b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "image/gif" => b"GIF89a",
        "image/webp" => b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        "video/mp4" => b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
        "audio/mpeg" => b"ID3\x03\x00\x00\x00\x00\x00\x00",
        "audio/ogg" => b"OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00",
        "application/pdf" => b"%PDF-1.7\n",
        _ => b"",
    }
}

/// Made-up media of `size` bytes (at least the format's header), deterministic per message.
pub fn synthesize(mime: &str, size: usize, seed: &str) -> Bytes {
    let head = magic(mime);
    let size = size.max(head.len()).max(1);
    let mut data = Vec::with_capacity(size);
    data.extend_from_slice(head);
    let seed = seed
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    let mut x = seed | 1;
    while data.len() < size {
        // xorshift: cheap filler that does not compress to nothing.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push((x & 0xff) as u8);
    }
    Bytes::from(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_within_budget() {
        let mut store = MediaStore::default();
        store.insert("a", Bytes::from(vec![1; BUDGET / 2]));
        store.insert("b", Bytes::from(vec![2; BUDGET / 2]));
        store.insert("c", Bytes::from(vec![3; 10]));
        assert!(store.get("a").is_none());
        assert_eq!(store.get("c").unwrap().len(), 10);
    }

    #[test]
    fn synthesized_media_has_its_header_and_size() {
        let png = synthesize("image/png", 5000, "x");
        assert_eq!(png.len(), 5000);
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(
            synthesize("image/png", 10, "x"),
            synthesize("image/png", 10, "x")
        );
    }
}
