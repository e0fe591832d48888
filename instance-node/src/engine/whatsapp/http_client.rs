//! The crate's `HttpClient` (version lookup, media upload and download) on the node's own
//! reqwest client, so the build carries one HTTP stack and one TLS stack.
//!
//! Media hosts and paths come from the server and from received messages, so this client is
//! built like every client for outside-controlled URLs ([`netguard::client_builder`]): the
//! connect-time SSRF guard, no environment proxy, timeouts, and responses read through a size
//! cap (`ZAPINI_WA_MEDIA_MAX_MB`) instead of whole.

use std::time::Duration;

use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse};
use zapini_shared::netguard;

use super::MediaLimits;

/// Media transfers are bounded (100 MB documents at worst); this covers slow links.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

pub(super) struct ReqwestHttp {
    client: reqwest::Client,
    max_bytes: usize,
}

impl ReqwestHttp {
    pub(super) fn new(limits: MediaLimits) -> anyhow::Result<ReqwestHttp> {
        let client =
            netguard::client_builder(limits.allow_private, CONNECT_TIMEOUT, REQUEST_TIMEOUT)
                .build()?;
        Ok(ReqwestHttp::with_client(client, limits.max_bytes))
    }

    /// Over a given client (tests: one that trusts a local HTTPS server's certificate).
    pub(super) fn with_client(client: reqwest::Client, max_bytes: u64) -> ReqwestHttp {
        ReqwestHttp {
            client,
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
        }
    }
}

/// A response over the size cap.
#[derive(Debug, thiserror::Error)]
#[error("the response is larger than the {} MB limit (ZAPINI_WA_MEDIA_MAX_MB)", .0 >> 20)]
pub(super) struct TooLarge(pub(super) usize);

#[whatsapp_rust::async_trait]
impl HttpClient for ReqwestHttp {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let response = builder.send().await?;
        let status_code = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(TooLarge(self.max_bytes).into());
        }
        let capped = netguard::read_capped(response, self.max_bytes).await?;
        if capped.truncated {
            return Err(TooLarge(self.max_bytes).into());
        }
        Ok(HttpResponse {
            status_code,
            body: capped.bytes,
        })
    }
}
