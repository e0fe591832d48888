//! Media calls to a node in domain terms: the prost request for downloading a message's media
//! is built here, so the media code outside `grpc` never sees a prost type.

use zapini_proto::v1;

use super::client::{NodeClient, NodeDownload};
use crate::error::AppResult;

/// A stored message's media, as much as the node needs to download it again from WhatsApp.
/// Empty strings and a zero size mean unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct MediaToDownload<'a> {
    pub chat_jid: &'a str,
    /// WhatsApp's message id.
    pub message_id: &'a str,
    pub from_me: bool,
    pub mime_type: &'a str,
    pub caption: &'a str,
    pub filename: &'a str,
    pub size: u64,
    /// Where the engine finds the bytes: its private download handle or the source link.
    pub url: &'a str,
    pub sha256: &'a str,
}

impl NodeClient {
    /// Streams a message's media from the node (the engine downloads it from WhatsApp).
    pub async fn download_message_media(
        &self,
        media: MediaToDownload<'_>,
    ) -> AppResult<NodeDownload> {
        self.download_media(v1::DownloadMediaRequest {
            chat_jid: media.chat_jid.to_owned(),
            message_id: media.message_id.to_owned(),
            from_me: media.from_me,
            media: Some(v1::Media {
                mime_type: media.mime_type.to_owned(),
                caption: media.caption.to_owned(),
                filename: media.filename.to_owned(),
                size: media.size,
                url: media.url.to_owned(),
                sha256: media.sha256.to_owned(),
                duration_secs: 0,
            }),
        })
        .await
    }
}
