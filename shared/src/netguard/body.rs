//! Reading a response body through a byte limit, so an endpoint that answers with gigabytes
//! (or never stops) costs at most the limit in memory.

/// A body read through [`read_capped`]: at most `limit` bytes, and whether there was more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capped {
    pub bytes: Vec<u8>,
    /// The body (or its declared `Content-Length`) went past the limit; `bytes` holds only
    /// what came before it.
    pub truncated: bool,
}

/// Reads `resp`'s body up to `limit` bytes. Past the limit it stops reading and drops the
/// response (the connection closes rather than returning to the pool with unread data).
/// Callers that must refuse an oversized body check [`Capped::truncated`] (and may refuse a
/// declared `Content-Length` before calling); those that only need the start (a webhook
/// receiver's answer) keep `bytes`.
pub async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Capped, reqwest::Error> {
    let declared = resp.content_length().unwrap_or(0);
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(limit).min(limit));
    while let Some(chunk) = resp.chunk().await? {
        let room = limit - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(Capped {
                bytes,
                truncated: true,
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Capped {
        bytes,
        truncated: false,
    })
}
