//! gRPC calls on the `ControlPlane` server: `zapini_grpc_requests_total` and
//! `zapini_grpc_request_duration_seconds` by method and status code, from a tower layer on
//! the tonic server.
//!
//! The code is the one of the response head: an error is answered there (trailers-only), a
//! success carries `OK` in its trailers. A stream (`Events`) is counted when it opens, with
//! the time its opening took; how it ends later is not. Calls are few (registrations, lease
//! renewals, token checks), so the per-call cost (one boxed future) does not matter.

use std::task::{Context, Poll};
use std::time::Instant;

use axum::http;
use futures::future::BoxFuture;

/// The calls of `zapini.node.v1.ControlPlane`; anything else is `other`.
const METHODS: &[&str] = &["Register", "RenewLease", "Events", "AuthorizeToken"];

fn method_label(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    METHODS
        .iter()
        .find(|m| **m == name)
        .copied()
        .unwrap_or("other")
}

fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The layer; `enabled` false makes it a pass-through.
#[derive(Clone, Copy)]
pub struct GrpcMetricsLayer {
    enabled: bool,
}

impl GrpcMetricsLayer {
    pub fn new(enabled: bool) -> Self {
        GrpcMetricsLayer { enabled }
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            enabled: self.enabled,
        }
    }
}

#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    enabled: bool,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let method = method_label(req.uri().path());
        let fut = self.inner.call(req);
        if !self.enabled {
            return Box::pin(fut);
        }
        let started = Instant::now();
        Box::pin(async move {
            let out = fut.await;
            let code = match &out {
                Ok(resp) => resp
                    .headers()
                    .get("grpc-status")
                    .map_or(tonic::Code::Ok, |v| tonic::Code::from_bytes(v.as_bytes())),
                Err(_) => tonic::Code::Unknown,
            };
            let code = code_label(code);
            metrics::counter!("zapini_grpc_requests_total", "method" => method, "code" => code)
                .increment(1);
            metrics::histogram!("zapini_grpc_request_duration_seconds", "method" => method, "code" => code)
                .record(started.elapsed().as_secs_f64());
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(
            method_label("/zapini.node.v1.ControlPlane/Register"),
            "Register"
        );
        assert_eq!(
            method_label("/zapini.node.v1.ControlPlane/Events"),
            "Events"
        );
        assert_eq!(method_label("/x.Y/Whatever"), "other");
        assert_eq!(
            code_label(tonic::Code::from_bytes(b"16")),
            "UNAUTHENTICATED"
        );
        assert_eq!(code_label(tonic::Code::from_bytes(b"0")), "OK");
    }
}
