//! Persistence: connection set-up for SQLite or PostgreSQL, the migrations, and the scoped
//! finders every tenant-owned query starts from. Only services use this module; HTTP and gRPC
//! handlers never see sea-orm.

pub mod entities;
pub mod listing;
pub mod migrations;

use std::time::Duration;

use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, Select,
};
use sea_orm_migration::MigratorTrait;

use crate::config::{Config, DatabaseTarget};
use crate::domain::TenantId;

/// A SQLite database's files: the database, its write-ahead log and shared-memory index.
pub fn sqlite_files(db: &std::path::Path) -> [std::path::PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    [db.to_owned(), with("-wal"), with("-shm")]
}

/// Opens the configured database, creating the SQLite file (and data directory) if needed.
/// The file is created `0600` before SQLite opens it, and SQLite gives its `-wal` and `-shm`
/// files the database file's mode.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    if let DatabaseTarget::Sqlite(path) = &config.database {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            zapini_shared::private_fs::create_dir_all(parent).map_err(|e| {
                DbErr::Custom(format!(
                    "cannot create data directory {}: {e}",
                    parent.display()
                ))
            })?;
        }
        zapini_shared::private_fs::touch(path).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create the database {}: {e}",
                path.display()
            ))
        })?;
    }
    let mut opts = ConnectOptions::new(config.database_url());
    opts.connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    match &config.database {
        // SQLite serialises writers; a handful of connections is plenty and WAL lets readers
        // proceed while one writes.
        DatabaseTarget::Sqlite(_) => {
            opts.max_connections(8).min_connections(1);
            // Per-connection settings must be set on every pooled connection, not once: a
            // connection left at `synchronous=FULL` fsyncs every commit.
            opts.map_sqlx_sqlite_opts(|o| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
            });
        }
        DatabaseTarget::Postgres(_) => {
            // Kept open: a burst of requests would otherwise open connections one by one
            // (a backend start each) just when the database is busiest.
            opts.max_connections(32).min_connections(4);
        }
    }
    Database::connect(opts).await
}

/// The webhook dispatcher's own connections. On PostgreSQL they commit without waiting for
/// the WAL flush (`synchronous_commit=off`, set as a startup parameter so every statement,
/// in a transaction or not, gets it): the dispatcher only writes bookkeeping (leases,
/// outcomes), and if a server crash loses its last few commits the affected deliveries are
/// sent again, which at-least-once delivery allows.
///
/// They also plan without bitmap scans (`enable_bitmapscan=off`). The claim reads the outbox
/// through partial indexes on `status = 'pending'`, and every delivery leaves an entry there
/// when it stops being pending, until a vacuum removes it: tens of thousands after a burst.
/// A bitmap scan visits every such entry's heap page on every claim (4–5 ms per claim after a
/// 20,000-delivery backlog, each time); a plain index scan marks the entries it finds dead
/// (`LP_DEAD`) and later scans skip them (0.04 ms). Ingest, which acknowledges events to
/// their source, keeps the main pool and synchronous commits. On SQLite there is one writer
/// and one file: `None`, use the main connection.
pub async fn connect_dispatcher(config: &Config) -> Result<Option<DatabaseConnection>, DbErr> {
    if !matches!(config.database, DatabaseTarget::Postgres(_)) {
        return Ok(None);
    }
    let mut opts = ConnectOptions::new(config.database_url());
    opts.connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .max_connections(8)
        .min_connections(2);
    opts.map_sqlx_postgres_opts(|o| {
        o.options([("synchronous_commit", "off"), ("enable_bitmapscan", "off")])
    });
    Database::connect(opts).await.map(Some)
}

/// Creates database `name` on the PostgreSQL server of `server_url` (test harnesses and
/// operators' set-up scripts).
pub async fn create_database(server_url: &str, name: &str) -> Result<(), DbErr> {
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DbErr::Custom(format!("invalid database name {name}")));
    }
    let admin = Database::connect(server_url).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await.ok();
    Ok(())
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    migrations::Migrator::up(db, None).await
}

/// Queries over tenant-owned tables begin here, so a forgotten tenant filter cannot happen.
pub trait TenantScoped: EntityTrait {
    fn scoped(tenant: TenantId) -> Select<Self>;
}

impl TenantScoped for entities::instance::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::instance::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::instance_token::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::instance_token::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::user::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::user::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::conversation::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::conversation::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::contact::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::contact::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::media::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::media::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::message::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::message::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::tag::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::tag::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::automation_flow::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::automation_flow::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::automation_integration::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::automation_integration::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::automation_session::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::automation_session::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::ai_function::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::ai_function::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::ai_function_execution::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::ai_function_execution::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::webhook_endpoint::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::webhook_endpoint::Column::TenantId.eq(tenant.0))
    }
}

impl TenantScoped for entities::webhook_delivery::Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(entities::webhook_delivery::Column::TenantId.eq(tenant.0))
    }
}

/// Serializes this process's write transactions on SQLite. SQLite has one writer at a time;
/// connections that collide wait in its busy handler, which sleeps in steps of up to 100 ms.
/// Queueing on an async mutex instead hands the lock over as soon as it is free. On
/// PostgreSQL the gate is open (row locks do the work).
#[derive(Clone, Debug, Default)]
pub struct WriteGate(Option<std::sync::Arc<tokio::sync::Mutex<()>>>);

/// Held for the life of a write transaction (drop it after the commit).
pub type WritePermit = Option<tokio::sync::OwnedMutexGuard<()>>;

impl WriteGate {
    pub fn for_backend(backend: sea_orm::DbBackend) -> Self {
        match backend {
            sea_orm::DbBackend::Sqlite => WriteGate(Some(Default::default())),
            _ => WriteGate(None),
        }
    }

    pub async fn enter(&self) -> WritePermit {
        match &self.0 {
            Some(m) => Some(m.clone().lock_owned().await),
            None => None,
        }
    }
}

/// Starts a transaction that will write, behind the gate. On SQLite it also takes the write
/// lock up front (`BEGIN IMMEDIATE`): a deferred transaction that reads first and then writes
/// is refused with `SQLITE_BUSY` at once, without waiting, when another connection is
/// writing. On PostgreSQL it is a plain `BEGIN`.
pub async fn begin_write(
    db: &DatabaseConnection,
    gate: &WriteGate,
) -> Result<(sea_orm::DatabaseTransaction, WritePermit), DbErr> {
    use sea_orm::TransactionTrait;
    let permit = gate.enter().await;
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok((txn, permit))
}

/// The most bytes one multi-row statement should carry, SQL text and values together, on
/// `backend` (see [`size_bounded_chunks`]): 256 KiB on PostgreSQL; no bound on SQLite, which
/// has no socket. (It was 12 KiB while sqlx left `TCP_NODELAY` off; with the option set,
/// `bench-webhooks` on PostgreSQL gives the same live p50/p99 with no bound at all, so what is
/// left is a cap on one statement's size in memory.)
pub fn statement_bytes(backend: sea_orm::DbBackend) -> usize {
    match backend {
        sea_orm::DbBackend::Sqlite => usize::MAX,
        _ => 256 * 1024,
    }
}

/// Rows per statement for statements whose size grows with their rows: `sqlite` on SQLite,
/// `postgres` on PostgreSQL (kept under [`statement_bytes`], see [`size_bounded_chunks`]).
pub fn rows_per_statement(backend: sea_orm::DbBackend, sqlite: usize, postgres: usize) -> usize {
    match backend {
        sea_orm::DbBackend::Sqlite => sqlite,
        _ => postgres,
    }
}

/// Splits rows for multi-row statements: at most `max_rows` per statement, and at most
/// `max_bytes` (from [`statement_bytes`]) as `size` estimates each row (a larger row goes
/// alone).
///
/// Why bytes: a statement bigger than the socket's send buffer goes out in several writes;
/// without `TCP_NODELAY` (sqlx 0.9.0 left it off) the last one waited 40 ms for the server's
/// delayed ACK. sqlx 0.9.1 sets the option (the test below checks every pooled socket), so
/// the bound only keeps one statement's size in memory reasonable.
pub fn size_bounded_chunks<T>(
    rows: Vec<T>,
    max_rows: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes: usize = 0;
    // Without a byte bound (SQLite) the estimate is not worth computing.
    let bounded = max_bytes != usize::MAX;
    for row in rows {
        let n = if bounded { size(&row) } else { 0 };
        if !current.is_empty() && (current.len() >= max_rows || bytes.saturating_add(n) > max_bytes)
        {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes = bytes.saturating_add(n);
        current.push(row);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    #[test]
    fn chunks_respect_rows_and_bytes() {
        let pg = statement_bytes(sea_orm::DbBackend::Postgres);
        let rows: Vec<usize> = vec![pg / 3; 10];
        let chunks = size_bounded_chunks(rows.clone(), 400, pg, |n| *n);
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            [3, 3, 3, 1]
        );
        let small: Vec<usize> = vec![1; 10];
        let chunks = size_bounded_chunks(small, 4, pg, |n| *n);
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
        // A row bigger than the budget goes alone; nothing is lost or reordered.
        let mixed = vec![1, pg + 1, 2, 3];
        let chunks = size_bounded_chunks(mixed, 400, pg, |n| *n);
        assert_eq!(chunks, vec![vec![1], vec![pg + 1], vec![2, 3]]);
        assert!(size_bounded_chunks(Vec::<usize>::new(), 4, pg, |n| *n).is_empty());
        // SQLite: rows only.
        let sqlite = statement_bytes(sea_orm::DbBackend::Sqlite);
        assert_eq!(size_bounded_chunks(rows, 400, sqlite, |n| *n).len(), 1);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod nodelay_tests {
    use std::str::FromStr;

    use sea_orm::ConnectionTrait;
    use secrecy::SecretString;

    use crate::config::{Config, DatabaseTarget};

    /// Every connection the PostgreSQL pools open has `TCP_NODELAY` (sqlx 0.9.0 left it off;
    /// 0.9.1 sets it). Runs where `DATABASE_URL` names PostgreSQL (CI's second pass).
    #[tokio::test]
    async fn postgres_pool_connections_have_nodelay() {
        let Ok(url) = std::env::var("DATABASE_URL") else {
            return;
        };
        if !url.starts_with("postgres") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_data_dir(dir.path());
        config.database = DatabaseTarget::Postgres(SecretString::from(url.clone()));
        let main = super::connect(&config).await.unwrap();
        let dispatcher = super::connect_dispatcher(&config).await.unwrap().unwrap();
        // Queries at once, so each pool opens more connections than its first.
        let mut queries = tokio::task::JoinSet::new();
        for db in [
            &main,
            &main,
            &main,
            &main,
            &main,
            &main,
            &dispatcher,
            &dispatcher,
            &dispatcher,
        ] {
            let db = db.clone();
            queries.spawn(async move { db.execute_unprepared("SELECT pg_sleep(0.1)").await });
        }
        while let Some(done) = queries.join_next().await {
            done.unwrap().unwrap();
        }
        let opened = main.get_postgres_connection_pool().size()
            + dispatcher.get_postgres_connection_pool().size();
        assert!(opened >= 9, "the pools opened {opened} connections");
        let port = sea_orm::sqlx::postgres::PgConnectOptions::from_str(&url)
            .unwrap()
            .get_port();
        let with_nodelay = nodelay_of_sockets_to(port)
            .into_iter()
            .filter(|on| *on)
            .count();
        assert!(
            with_nodelay >= opened as usize,
            "{with_nodelay} sockets to the database have TCP_NODELAY, the pools hold {opened}"
        );
        main.close().await.unwrap();
        dispatcher.close().await.unwrap();
    }

    /// `TCP_NODELAY` of each socket of this process connected to `port`, read through a
    /// duplicate of its descriptor (`pidfd_getfd` on our own process: a socket option belongs
    /// to the socket, so the duplicate shows the pool's setting).
    fn nodelay_of_sockets_to(port: u16) -> Vec<bool> {
        use rustix::io::Errno;
        use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};

        let pidfd = pidfd_open(getpid(), PidfdFlags::empty()).expect("pidfd_open");
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
            let is_socket = std::fs::read_link(entry.path()).is_ok_and(|target| {
                target
                    .as_os_str()
                    .as_encoded_bytes()
                    .starts_with(b"socket:")
            });
            let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if !is_socket {
                continue;
            }
            let dup = match pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()) {
                Ok(dup) => dup,
                // Closed since the listing.
                Err(Errno::BADF) => continue,
                Err(e) => panic!("pidfd_getfd: {e}"),
            };
            let peer = rustix::net::getpeername(&dup)
                .ok()
                .flatten()
                .and_then(|a| std::net::SocketAddr::try_from(a).ok());
            if peer.is_some_and(|p| p.port() == port) {
                out.push(rustix::net::sockopt::tcp_nodelay(&dup).unwrap_or(false));
            }
        }
        out
    }
}
