//! Black-box API tests: the real server on port 0, a fresh database each.

mod auth;
mod health;
mod helpers;
mod instances;
mod ratelimit;
mod robustness;
mod tenancy;
mod tls;
mod tokens;
