//! Bearer-token checks for the Instance API, cached so the hot path never waits on the
//! control plane: a token is asked about once (`AuthorizeToken`, single-flight per token),
//! then served from a bounded moka cache — allowed answers for up to 60 s (never past the
//! token's expiry), denials for 5 s. `TokenRevoked` pushes evict an entry at once.
//!
//! Only the SHA-256 of a token (or of a user token's secret part) leaves this module.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::signing::sha256_hex;

use crate::grpc::client::{ControlPlaneApi, TokenVerdict};

const ALLOWED_TTL: Duration = Duration::from_secs(60);
const DENIED_TTL: Duration = Duration::from_secs(5);
const CAPACITY: u64 = 10_000;

#[derive(Debug)]
struct Cached {
    verdict: TokenVerdict,
    ttl: Duration,
}

struct VerdictExpiry;

impl Expiry<String, Arc<Cached>> for VerdictExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Cached>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// A presented token, parsed.
struct Presented {
    hash: String,
    user_token_id: i64,
}

fn parse_token(token: &str) -> Option<Presented> {
    if token.starts_with("sk_") {
        return Some(Presented {
            hash: sha256_hex(token.as_bytes()),
            user_token_id: 0,
        });
    }
    // A user token: `{id}|{secret}`.
    let (id, secret) = token.split_once('|')?;
    let id: i64 = id.parse().ok().filter(|id| *id > 0)?;
    if secret.is_empty() {
        return None;
    }
    Some(Presented {
        hash: sha256_hex(secret.as_bytes()),
        user_token_id: id,
    })
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The node's token cache.
#[derive(Clone)]
pub struct TokenCache {
    cache: Cache<String, Arc<Cached>>,
    api: ControlPlaneApi,
    instance_uuid: Arc<str>,
}

fn unauthenticated() -> ErrorBody {
    ErrorBody::new(ErrorCode::Unauthenticated, "Invalid token.")
}

impl TokenCache {
    pub fn new(api: ControlPlaneApi, instance_uuid: &str) -> TokenCache {
        TokenCache {
            cache: Cache::builder()
                .max_capacity(CAPACITY)
                .expire_after(VerdictExpiry)
                .build(),
            api,
            instance_uuid: instance_uuid.into(),
        }
    }

    /// Checks an `Authorization` header value. Errors are ready-made envelope bodies:
    /// 401 (missing/invalid), 403 (another instance's token), 503 (cannot ask).
    pub async fn check_header(&self, header: Option<&str>) -> Result<(), ErrorBody> {
        let Some(header) = header else {
            return Err(ErrorBody::new(
                ErrorCode::Unauthenticated,
                "Missing bearer token: send Authorization: Bearer {token}.",
            ));
        };
        let token = match header.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => "",
        };
        if token.is_empty() {
            return Err(ErrorBody::new(
                ErrorCode::Unauthenticated,
                "Missing bearer token: send Authorization: Bearer {token}.",
            ));
        }
        let Some(presented) = parse_token(token) else {
            return Err(unauthenticated());
        };
        let api = self.api.clone();
        let instance = self.instance_uuid.to_string();
        let Presented {
            hash,
            user_token_id,
        } = presented;
        let key = hash.clone();
        let cached = self
            .cache
            .try_get_with(key, async move {
                let verdict = api
                    .authorize_token(hash, instance, user_token_id)
                    .await?;
                let ttl = if verdict.allowed {
                    match verdict.expires_at {
                        Some(at) => {
                            let left = u64::try_from(at - now_unix()).unwrap_or(0);
                            ALLOWED_TTL.min(Duration::from_secs(left))
                        }
                        None => ALLOWED_TTL,
                    }
                } else {
                    DENIED_TTL
                };
                Ok::<_, crate::grpc::client::Unreachable>(Arc::new(Cached { verdict, ttl }))
            })
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "cannot check a token with the control plane");
                ErrorBody::new(
                    ErrorCode::ServiceUnavailable,
                    "The token cannot be verified right now: the control plane is unreachable. Retry shortly.",
                )
            })?;
        let v = &cached.verdict;
        if v.allowed {
            if v.expires_at.is_some_and(|at| at <= now_unix()) {
                return Err(ErrorBody::new(
                    ErrorCode::TokenExpired,
                    ErrorCode::TokenExpired.default_message(),
                ));
            }
            return Ok(());
        }
        match &v.token_instance_uuid {
            Some(other) if !other.eq_ignore_ascii_case(&self.instance_uuid) => Err(ErrorBody::new(
                ErrorCode::InstanceForbidden,
                "This token belongs to another instance.",
            )),
            _ => Err(unauthenticated()),
        }
    }

    /// Drops a revoked token's entry (`TokenRevoked` push).
    pub async fn evict(&self, token_hash: &str) {
        self.cache.invalidate(token_hash).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_formats() {
        let p = parse_token("sk_abc").unwrap();
        assert_eq!(p.hash, sha256_hex(b"sk_abc"));
        assert_eq!(p.user_token_id, 0);
        let p = parse_token("12|secret").unwrap();
        assert_eq!(p.hash, sha256_hex(b"secret"));
        assert_eq!(p.user_token_id, 12);
        assert!(parse_token("12|").is_none());
        assert!(parse_token("x|secret").is_none());
        assert!(parse_token("garbage").is_none());
    }
}
