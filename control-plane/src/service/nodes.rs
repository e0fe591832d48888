//! Node orchestration use-cases: registration with a lease, lease renewal, token checks for
//! nodes, the policy a node enforces, and the hub of live node streams the control plane
//! pushes revocations and policy changes down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::mpsc;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;
use zapini_shared::signing::constant_time_eq;

use super::Services;
use crate::db::entities::{
    instance, instance_daily_stat, instance_node, instance_token, node_event_cursor, user,
    user_token,
};
use crate::error::{AppError, AppResult};
use crate::grpc::client::NodeClient;

/// What the control plane pushes to a live node.
#[derive(Debug, Clone)]
pub enum NodePush {
    /// SHA-256 (hex) as the node cached it: of the whole `sk_` token, or of a user token's
    /// secret part.
    TokenRevoked(String),
    Policy(NodePolicy),
    /// One conversation's automation was paused or resumed.
    ChatPolicy {
        chat_jid: String,
        paused: bool,
    },
}

/// The limits a node enforces on its hot path.
#[derive(Debug, Clone)]
pub struct NodePolicy {
    pub daily_limit: u32,
    pub messages_sent_today: u32,
    pub day: String,
    pub automation_active: bool,
    pub paused_chats: Vec<String>,
}

/// A starter of node processes (the `process` launcher implements it).
pub trait NodeStarter: Send + Sync + 'static {
    fn start(&self, instance: Uuid, engine: &str);
    fn stop(&self, instance: Uuid);
    /// Stops the node of a deleted instance and, once it has exited, removes what it kept on
    /// disk (its WhatsApp session and event buffer).
    fn remove(&self, instance: Uuid);
}

type Streams = HashMap<Uuid, (u64, mpsc::Sender<NodePush>)>;

/// Live node streams and node clients of this control-plane process.
#[derive(Clone, Default)]
pub struct NodeHub {
    streams: Arc<Mutex<Streams>>,
    next_conn: Arc<std::sync::atomic::AtomicU64>,
    clients: Arc<Mutex<HashMap<(Uuid, String), NodeClient>>>,
    starter: Arc<OnceLock<Arc<dyn NodeStarter>>>,
}

impl NodeHub {
    /// Records a node's stream; returns its connection id for [`NodeHub::detach`].
    pub fn attach(&self, instance: Uuid, tx: mpsc::Sender<NodePush>) -> u64 {
        let id = self
            .next_conn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(instance, (id, tx));
        id
    }

    pub fn detach(&self, instance: Uuid, conn: u64) {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        if streams.get(&instance).is_some_and(|(id, _)| *id == conn) {
            streams.remove(&instance);
        }
    }

    /// Ends every node stream (control-plane shutdown): nodes reconnect and replay.
    pub fn close_all(&self) {
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Whether this process holds a live event stream from the instance's node.
    pub fn is_streaming(&self, instance: Uuid) -> bool {
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&instance)
    }

    /// How many nodes hold a live event stream to this process.
    pub fn streaming_count(&self) -> usize {
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Best effort: a node that is not streaming gets the change at its next registration.
    pub fn push(&self, instance: Uuid, msg: NodePush) {
        let tx = self
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&instance)
            .map(|(_, tx)| tx.clone());
        if let Some(tx) = tx
            && tx.try_send(msg).is_err()
        {
            tracing::warn!(%instance, "node push channel full or closed; change applies on reconnect");
        }
    }

    pub fn push_all(&self, instances: &[Uuid], msg: NodePush) {
        for i in instances {
            self.push(*i, msg.clone());
        }
    }

    pub fn set_starter(&self, starter: Arc<dyn NodeStarter>) {
        let _ = self.starter.set(starter);
    }

    pub fn starter(&self) -> Option<&Arc<dyn NodeStarter>> {
        self.starter.get()
    }
}

/// A node announcing itself.
#[derive(Debug, Clone)]
pub struct RegisterInput {
    pub instance_uuid: Uuid,
    pub node_id: String,
    pub http_url: String,
    pub grpc_url: String,
    pub engine: String,
    pub buffer_id: String,
}

#[derive(Debug, Clone)]
pub struct Registered {
    pub instance: instance::Model,
    pub lease_id: String,
    pub lease_ttl_secs: u32,
    pub policy: NodePolicy,
    pub acked_seq: u64,
}

/// The answer to a node's token check.
#[derive(Debug, Clone, Default)]
pub struct TokenDecision {
    pub allowed: bool,
    pub token_id: String,
    pub token_instance_uuid: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: String,
    pub kind: &'static str,
}

fn http_url_ok(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://")) && url.len() < 255
}

impl Services {
    /// The credential of the node serving `instance`: what that node presents on its calls,
    /// and what the control plane presents on calls to it (see [`zapini_shared::node_auth`]).
    pub fn node_credential(&self, instance: Uuid) -> String {
        use secrecy::ExposeSecret;
        zapini_shared::node_auth::node_credential(
            self.node_secret.expose_secret().as_bytes(),
            instance,
        )
    }

    /// A cached client for the node serving `instance` at `grpc_url`. The client carries that
    /// instance's node credential, so an address a node registered reaches only what that
    /// node may see: a node announcing another node's address gets calls the other refuses.
    pub fn node_client(&self, instance: Uuid, grpc_url: &str) -> AppResult<NodeClient> {
        let key = (instance, grpc_url.to_owned());
        let mut clients = self.hub.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let client = NodeClient::connect_lazy(
            grpc_url,
            &self.node_credential(instance),
            self.config.grpc_tls_ca.as_deref(),
        )?;
        if clients.len() > 10_000 {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }

    pub async fn instance_by_uuid(&self, uuid: Uuid) -> AppResult<instance::Model> {
        instance::Entity::find()
            .filter(instance::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::not_found(ErrorCode::InstanceNotFound, "Instance"))
    }

    /// The node serving an instance, when one holds a lease.
    pub async fn node_of(
        &self,
        instance: &instance::Model,
    ) -> AppResult<Option<instance_node::Model>> {
        let row = instance_node::Entity::find_by_id(instance.id)
            .one(&self.db)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let holder = self
            .leases
            .holder(&self.db, instance.id, instance.uuid)
            .await?;
        Ok((holder.as_deref() == Some(row.lease_id.as_str())).then_some(row))
    }

    /// A client for the instance's node, or a 503 saying it is not running.
    pub async fn require_node(&self, instance: &instance::Model) -> AppResult<NodeClient> {
        let row = self.node_of(instance).await?.ok_or_else(|| {
            AppError::new(
                ErrorCode::NodeUnavailable,
                "The instance node is not running; it starts with the instance and registers within seconds.",
            )
        })?;
        self.node_client(instance.uuid, &row.grpc_url)
    }

    /// [`Services::require_node`] through the routing cache (a few seconds, cleared when a
    /// node registers or leaves): for workers that send often, such as the automation turns.
    pub async fn require_node_cached(&self, instance: &instance::Model) -> AppResult<NodeClient> {
        let key = format!("grpc:{}", instance.id);
        let url = self
            .route_cache
            .get_or_load(&key, || async {
                Ok(self.node_of(instance).await?.map(|row| row.grpc_url))
            })
            .await?;
        match url {
            Some(url) => self.node_client(instance.uuid, &url),
            None => self.require_node(instance).await,
        }
    }

    pub(crate) async fn sent_today_count(&self, instance_id: i64) -> AppResult<i64> {
        Ok(
            instance_daily_stat::Entity::find_by_id((instance_id, Utc::now().date_naive()))
                .one(&self.db)
                .await?
                .map_or(0, |s| i64::from(s.sent)),
        )
    }

    pub async fn policy_for(&self, instance: &instance::Model) -> AppResult<NodePolicy> {
        let sent = self.sent_today_count(instance.id).await?;
        let (automation_active, paused_chats) = self.automation_policy(instance.id).await?;
        Ok(NodePolicy {
            daily_limit: u32::try_from(instance.daily_limit).unwrap_or(0),
            messages_sent_today: u32::try_from(sent).unwrap_or(u32::MAX),
            day: Utc::now().date_naive().to_string(),
            automation_active,
            paused_chats,
        })
    }

    /// Registers a node and gives it the instance's lease. Another node that holds an
    /// unexpired lease and still answers keeps it (`Conflict`); a holder that does not answer
    /// within a second is presumed dead and replaced.
    pub async fn register_node(&self, input: RegisterInput) -> AppResult<Registered> {
        let instance = self.instance_by_uuid(input.instance_uuid).await?;
        if !http_url_ok(&input.http_url) || !http_url_ok(&input.grpc_url) {
            return Err(AppError::validation(
                "http_url",
                "http_url and grpc_url must be http(s) URLs",
            ));
        }
        if input.buffer_id.is_empty() || input.buffer_id.len() > 64 {
            return Err(AppError::validation(
                "buffer_id",
                "buffer_id must be 1 to 64 characters",
            ));
        }
        let ttl = Duration::from_secs(u64::from(self.config.lease_ttl_secs));
        let existing = instance_node::Entity::find_by_id(instance.id)
            .one(&self.db)
            .await?;
        let holder = self
            .leases
            .holder(&self.db, instance.id, instance.uuid)
            .await?;
        if let (Some(holder), Some(row)) = (&holder, &existing)
            && *holder == row.lease_id
            && row.node_id != input.node_id
        {
            let alive = match self.node_client(instance.uuid, &row.grpc_url) {
                Ok(c) => c.status_within(Duration::from_secs(1)).await.is_ok(),
                Err(_) => false,
            };
            if alive {
                return Err(AppError::new(
                    ErrorCode::Conflict,
                    format!(
                        "Instance {} is served by another live node ({}).",
                        instance.uuid, row.node_id
                    ),
                ));
            }
            tracing::warn!(instance = %instance.uuid, old_node = %row.node_id, "lease holder does not answer; taking over");
        }
        let lease_id = Uuid::new_v4().simple().to_string();
        if !self
            .leases
            .acquire(
                &self.db,
                instance.id,
                instance.uuid,
                &lease_id,
                holder.as_deref(),
                ttl,
            )
            .await?
        {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "Another node took the lease at the same moment.",
            ));
        }
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(ttl).unwrap_or_default();
        match existing {
            Some(row) => {
                // Compare-and-set on the lease id we saw, so two racing nodes cannot both win.
                let res = instance_node::Entity::update_many()
                    .col_expr(
                        instance_node::Column::NodeId,
                        Expr::value(input.node_id.clone()),
                    )
                    .col_expr(
                        instance_node::Column::LeaseId,
                        Expr::value(lease_id.clone()),
                    )
                    .col_expr(
                        instance_node::Column::HttpUrl,
                        Expr::value(input.http_url.clone()),
                    )
                    .col_expr(
                        instance_node::Column::GrpcUrl,
                        Expr::value(input.grpc_url.clone()),
                    )
                    .col_expr(
                        instance_node::Column::Engine,
                        Expr::value(input.engine.clone()),
                    )
                    .col_expr(instance_node::Column::LeaseExpiresAt, Expr::value(expires))
                    .col_expr(instance_node::Column::UpdatedAt, Expr::value(now))
                    .filter(instance_node::Column::InstanceId.eq(instance.id))
                    .filter(instance_node::Column::LeaseId.eq(row.lease_id))
                    .exec(&self.db)
                    .await?;
                if res.rows_affected != 1 {
                    return Err(AppError::new(
                        ErrorCode::Conflict,
                        "Another node took the lease at the same moment.",
                    ));
                }
            }
            None => {
                let inserted = instance_node::Entity::insert(instance_node::ActiveModel {
                    instance_id: Set(instance.id),
                    node_id: Set(input.node_id.clone()),
                    lease_id: Set(lease_id.clone()),
                    http_url: Set(input.http_url.clone()),
                    grpc_url: Set(input.grpc_url.clone()),
                    engine: Set(input.engine.clone()),
                    lease_expires_at: Set(expires),
                    updated_at: Set(now),
                })
                .exec(&self.db)
                .await;
                if let Err(e) = inserted {
                    return Err(match AppError::from(e) {
                        AppError::Client(_) => AppError::new(
                            ErrorCode::Conflict,
                            "Another node took the lease at the same moment.",
                        ),
                        other => other,
                    });
                }
            }
        }
        self.route_cache.clear();
        let acked_seq =
            node_event_cursor::Entity::find_by_id((instance.id, input.buffer_id.clone()))
                .one(&self.db)
                .await?
                .map_or(0, |c| u64::try_from(c.acked_seq).unwrap_or(0));
        let policy = self.policy_for(&instance).await?;
        tracing::info!(instance = %instance.uuid, node = %input.node_id, http = %input.http_url, "node registered");
        Ok(Registered {
            instance,
            lease_id,
            lease_ttl_secs: self.config.lease_ttl_secs,
            policy,
            acked_seq,
        })
    }

    /// Extends a node's lease; `None` when the lease is gone (the node must re-register).
    pub async fn renew_lease(&self, instance_uuid: Uuid, lease_id: &str) -> AppResult<Option<u32>> {
        let instance = self.instance_by_uuid(instance_uuid).await?;
        let ttl = Duration::from_secs(u64::from(self.config.lease_ttl_secs));
        let ok = self
            .leases
            .renew(&self.db, instance.id, instance.uuid, lease_id, ttl)
            .await?;
        Ok(ok.then_some(self.config.lease_ttl_secs))
    }

    /// Checks that `lease_id` is the instance's current lease.
    pub async fn lease_is_current(
        &self,
        instance: &instance::Model,
        lease_id: &str,
    ) -> AppResult<bool> {
        Ok(self
            .leases
            .holder(&self.db, instance.id, instance.uuid)
            .await?
            .is_some_and(|h| h == lease_id))
    }

    /// Frees the lease of a node its launcher stopped, so a replacement need not wait.
    pub async fn release_lease(&self, instance_uuid: Uuid) -> AppResult<()> {
        let Ok(instance) = self.instance_by_uuid(instance_uuid).await else {
            return Ok(());
        };
        if let Some(row) = instance_node::Entity::find_by_id(instance.id)
            .one(&self.db)
            .await?
        {
            self.leases
                .release(&self.db, instance.id, instance.uuid, &row.lease_id)
                .await?;
        }
        self.route_cache.clear();
        Ok(())
    }

    /// A node asks whether a bearer token may use its instance.
    pub async fn authorize_for_node(
        &self,
        instance_uuid: Uuid,
        token_hash: &str,
        user_token_id: i64,
    ) -> AppResult<TokenDecision> {
        let instance = self.instance_by_uuid(instance_uuid).await?;
        let now = Utc::now();
        let denied = |reason: &str, kind: &'static str| TokenDecision {
            allowed: false,
            reason: reason.to_owned(),
            kind,
            ..TokenDecision::default()
        };
        let live = |revoked: Option<DateTime<Utc>>, expires: Option<DateTime<Utc>>| {
            revoked.is_none() && expires.is_none_or(|e| e > now)
        };
        if user_token_id > 0 {
            let Some(token) = user_token::Entity::find_by_id(user_token_id)
                .one(&self.db)
                .await?
            else {
                return Ok(denied("unknown token", "user"));
            };
            if !constant_time_eq(token_hash.as_bytes(), token.token_hash.as_bytes()) {
                return Ok(denied("unknown token", "user"));
            }
            if !live(token.revoked_at, token.expires_at) {
                return Ok(denied("token revoked or expired", "user"));
            }
            let Some(owner) = user::Entity::find_by_id(token.user_id)
                .one(&self.db)
                .await?
            else {
                return Ok(denied("unknown token", "user"));
            };
            if owner.tenant_id != instance.tenant_id {
                return Ok(denied("token of another account", "user"));
            }
            return Ok(TokenDecision {
                allowed: true,
                token_id: token.id.to_string(),
                token_instance_uuid: None,
                expires_at: token.expires_at,
                reason: String::new(),
                kind: "user",
            });
        }
        let Some(token) = instance_token::Entity::find()
            .filter(instance_token::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await?
        else {
            return Ok(denied("unknown token", "instance"));
        };
        if !live(token.revoked_at, token.expires_at) {
            return Ok(denied("token revoked or expired", "instance"));
        }
        let owner_uuid = if token.instance_id == instance.id {
            instance.uuid
        } else {
            instance::Entity::find_by_id(token.instance_id)
                .one(&self.db)
                .await?
                .map_or(Uuid::nil(), |i| i.uuid)
        };
        Ok(TokenDecision {
            allowed: token.instance_id == instance.id,
            token_id: token.uuid.to_string(),
            token_instance_uuid: Some(owner_uuid),
            expires_at: token.expires_at,
            reason: if token.instance_id == instance.id {
                String::new()
            } else {
                "token of another instance".to_owned()
            },
            kind: "instance",
        })
    }

    /// Counts one sent message for the instance today (atomic upsert).
    pub(crate) async fn bump_daily<C: sea_orm::ConnectionTrait>(
        conn: &C,
        instance_id: i64,
        day: chrono::NaiveDate,
        sent: i32,
        received: i32,
    ) -> AppResult<()> {
        instance_daily_stat::Entity::insert(instance_daily_stat::ActiveModel {
            instance_id: Set(instance_id),
            day: Set(day),
            sent: Set(sent),
            received: Set(received),
        })
        .on_conflict(
            OnConflict::columns([
                instance_daily_stat::Column::InstanceId,
                instance_daily_stat::Column::Day,
            ])
            .value(
                instance_daily_stat::Column::Sent,
                Expr::col((
                    instance_daily_stat::Entity,
                    instance_daily_stat::Column::Sent,
                ))
                .add(sent),
            )
            .value(
                instance_daily_stat::Column::Received,
                Expr::col((
                    instance_daily_stat::Entity,
                    instance_daily_stat::Column::Received,
                ))
                .add(received),
            )
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        Ok(())
    }
}
