//! The crate's `HttpClient` (version lookup, media upload and download) on the node's own
//! reqwest client, so the build carries one HTTP stack and one TLS stack.

use std::time::Duration;

use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse};

/// Media transfers are bounded (100 MB documents at worst); this covers slow links.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

pub(super) struct ReqwestHttp {
    client: reqwest::Client,
}

impl ReqwestHttp {
    pub(super) fn new() -> anyhow::Result<ReqwestHttp> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(ReqwestHttp { client })
    }

    /// Over a given client (tests: one that trusts a local HTTPS server's certificate).
    #[cfg(test)]
    pub(super) fn with_client(client: reqwest::Client) -> ReqwestHttp {
        ReqwestHttp { client }
    }
}

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
        let body = response.bytes().await?.to_vec();
        Ok(HttpResponse { status_code, body })
    }
}
