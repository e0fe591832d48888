//! The one client for calls automations make to tenant-controlled URLs: webhook bots, AI
//! Functions and a flow's HTTP steps. The SSRF guard (static check, then at connect time),
//! connect and total timeouts, a response size cap, and never a retry: none of these calls is
//! assumed idempotent, so a caller that wants a retry decides it itself.

use std::time::{Duration, Instant};

use zapini_shared::netguard::{self, UrlRefused};

/// Connect timeout of every outbound call.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default total timeout (a call may ask for less, never for more than [`MAX_TIMEOUT`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Default response size cap.
pub const DEFAULT_RESPONSE_LIMIT: usize = 256 * 1024;

/// One call.
#[derive(Debug, Clone)]
pub struct OutRequest {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Sent as is; set a `content-type` header with it.
    pub body: Option<Vec<u8>>,
    /// Total timeout; [`DEFAULT_TIMEOUT`] when `None`, capped at [`MAX_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// Response size cap; [`DEFAULT_RESPONSE_LIMIT`] when `None`.
    pub response_limit: Option<usize>,
}

impl OutRequest {
    pub fn new(method: reqwest::Method, url: impl Into<String>) -> Self {
        OutRequest {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            timeout: None,
            response_limit: None,
        }
    }

    /// A JSON body (and its content type).
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.headers
            .push(("content-type".into(), "application/json".into()));
        self.body = Some(serde_json::to_vec(value).unwrap_or_default());
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct OutResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub duration: Duration,
}

impl OutResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The start of the body as text, for logs and execution records.
    pub fn excerpt(&self, max_chars: usize) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(max_chars)
            .collect()
    }
}

/// Why a call failed. The messages are short and safe to show to the tenant (and to a model).
#[derive(Debug, Clone, thiserror::Error)]
pub enum OutError {
    #[error("the URL {0}")]
    Refused(#[from] UrlRefused),
    #[error("the call timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the call failed: {0}")]
    Failed(String),
}

/// The shared client (cheap to clone).
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    /// `allow_private` is the platform's `ZAPINI_ALLOW_PRIVATE_URLS` (tests, private installs).
    pub fn new(allow_private: bool) -> Self {
        let client = netguard::client_builder(allow_private, CONNECT_TIMEOUT, MAX_TIMEOUT)
            .user_agent(concat!("Zapini-Automation/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(4)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Outbound {
            client,
            allow_private,
        }
    }

    /// Checks a URL the way [`Outbound::call`] will (for validation when it is saved).
    pub fn check(&self, url: &str) -> Result<reqwest::Url, UrlRefused> {
        netguard::check_url(url, true, self.allow_private)
    }

    /// Makes one call: no retry, the body read up to its cap (a larger body is an error).
    pub async fn call(&self, req: OutRequest) -> Result<OutResponse, OutError> {
        let url = self.check(&req.url)?;
        let timeout = req.timeout.unwrap_or(DEFAULT_TIMEOUT).min(MAX_TIMEOUT);
        let limit = req.response_limit.unwrap_or(DEFAULT_RESPONSE_LIMIT);
        let mut builder = self.client.request(req.method, url).timeout(timeout);
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let resp = builder.send().await.map_err(map_error)?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if resp.content_length().is_some_and(|len| len > limit as u64) {
            return Err(OutError::TooLarge(limit));
        }
        let capped = tokio::time::timeout_at(deadline, netguard::read_capped(resp, limit))
            .await
            .map_err(|_| OutError::Timeout)?
            .map_err(map_error)?;
        if capped.truncated {
            return Err(OutError::TooLarge(limit));
        }
        Ok(OutResponse {
            status,
            content_type,
            body: capped.bytes,
            duration: started.elapsed(),
        })
    }
}

fn map_error(err: reqwest::Error) -> OutError {
    if err.is_timeout() {
        OutError::Timeout
    } else if err.is_connect() {
        // The resolver's refusal of a private address surfaces as a connect error.
        let mut source = std::error::Error::source(&err);
        let mut refused = false;
        while let Some(e) = source {
            refused |= e.is::<netguard::NotPublic>();
            source = e.source();
        }
        if refused {
            OutError::Refused(UrlRefused::Private)
        } else {
            OutError::Connect("the host did not accept the connection".into())
        }
    } else {
        OutError::Failed(err.to_string())
    }
}
