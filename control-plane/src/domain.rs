//! Typed identities that flow from the auth edge into services: who is calling, and on whose
//! behalf. Services take these instead of raw integers so a tenant id cannot be confused with
//! an instance id.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TenantId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct UserId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct InstanceId(pub i64);

/// An authenticated caller, produced by the auth middleware from the bearer token.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A user token (`{id}|{secret}`): the whole tenant.
    User {
        tenant: TenantId,
        user: UserId,
        token_id: i64,
        role: String,
    },
    /// An instance token (`sk_...`): one instance only.
    Instance {
        tenant: TenantId,
        instance: InstanceId,
        instance_uuid: uuid::Uuid,
        token_id: i64,
    },
}

impl Caller {
    pub fn tenant(&self) -> TenantId {
        match self {
            Caller::User { tenant, .. } | Caller::Instance { tenant, .. } => *tenant,
        }
    }

    /// The instance an `sk_` token is bound to; `None` for user tokens.
    pub fn bound_instance(&self) -> Option<InstanceId> {
        match self {
            Caller::User { .. } => None,
            Caller::Instance { instance, .. } => Some(*instance),
        }
    }

    /// Key for per-token rate limiting.
    pub fn rate_key(&self) -> String {
        match self {
            Caller::User { token_id, .. } => format!("u{token_id}"),
            Caller::Instance { token_id, .. } => format!("i{token_id}"),
        }
    }
}
