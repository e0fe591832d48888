//! The limits a flow definition is held to when saved (sizes, counts, ranges), and the
//! compiled-size cap of its regex rules. Constants only.

/// Largest definition, serialized.
pub const MAX_DEFINITION_BYTES: usize = 256 * 1024;
pub const MAX_STEPS: usize = 200;
/// Longest text of any message a step sends.
pub const MAX_TEXT_CHARS: usize = 4096;
pub const MAX_OPTIONS: usize = 20;
pub const MAX_RULES: usize = 50;
pub const MAX_RETRIES: u32 = 10;
pub const MAX_TIMEOUT_MINUTES: u32 = 7 * 24 * 60;
pub const MAX_WAIT_SECONDS: u32 = 86_400;
pub const MAX_HTTP_TIMEOUT_SECONDS: u64 = 30;
pub(super) const MAX_ID_CHARS: usize = 64;
pub(super) const MAX_OFFSET_MINUTES: i32 = 14 * 60;
/// A regex rule's compiled size cap: patterns stay small and linear-time.
pub(super) const REGEX_SIZE_LIMIT: usize = 256 * 1024;
