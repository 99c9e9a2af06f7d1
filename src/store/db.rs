//! The store's handle: a pool on SQLite or PostgreSQL (`engine`), migrated
//! on open, with the group-commit writer beside it.

use super::engine::{self, Engine};
pub use super::error::StoreError;
use super::writer::Writer;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Connection};
use std::str::FromStr;
use std::time::Duration;

/// The health probe gives up this soon on a lock instead of queueing
/// behind a long transaction (the bot's own commits take milliseconds).
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);

/// Handle to the database; cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Store {
    pub(super) pool: AnyPool,
    pub(super) engine: Engine,
    pub(super) writer: Writer,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::open_unmigrated(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens (creating if needed) without migrating: `coe-bot doctor`
    /// looks before it changes anything.
    pub async fn open_unmigrated(url: &str) -> Result<Store, StoreError> {
        let (pool, engine) = engine::connect(url).await?;
        let writer = Writer::spawn(pool.clone(), engine);
        Ok(Store {
            pool,
            engine,
            writer,
        })
    }

    /// Applies the migrations not applied yet; returns how many (another
    /// process starting at the same time may apply some of them). Several
    /// processes starting at once are safe: sqlx takes PostgreSQL's
    /// advisory lock around them (SQLite's write lock serializes them).
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let pending = self.pending_migrations().await?;
        self.engine.migrator().run(&self.pool).await?;
        Ok(pending)
    }

    /// Migrations this version has that the database has not applied. A
    /// database migrated by a newer coe-bot is an error: this version would
    /// refuse to start on it.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let known: Vec<i64> = self.engine.migrator().iter().map(|m| m.version).collect();
        let applied = self.applied_migrations().await?;
        if let Some(&version) = applied.iter().find(|v| !known.contains(v)) {
            return Err(StoreError::NewerSchema(version));
        }
        Ok(known.iter().filter(|v| !applied.contains(v)).count())
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let versions =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_all(&self.pool)
                .await;
        match versions {
            Ok(versions) => Ok(versions),
            // A database never migrated has no such table yet.
            Err(error) if engine::is_missing_table(&error) => Ok(Vec::new()),
            Err(error) => Err(error.into()),
        }
    }

    /// A write transaction ([`engine::begin_write`]).
    pub(super) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        engine::begin_write(&self.pool, self.engine).await
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether a write could be committed now, within a quarter second.
    /// SQLite: takes and releases the write lock on a connection of its
    /// own, so the probe never holds one of the pool's connections (nor the
    /// group-commit writer's) while it waits. PostgreSQL: the server is
    /// reachable and not a read-only standby.
    pub async fn is_writable(&self) -> bool {
        if self.pool.is_closed() {
            return false;
        }
        let probe = async {
            match self.engine {
                Engine::Sqlite => self.probe_sqlite_lock().await,
                Engine::Postgres => {
                    let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(!standby)
                }
            }
        };
        match tokio::time::timeout(PROBE_TIMEOUT * 4, probe).await {
            Ok(Ok(writable)) => writable,
            Ok(Err(error)) => {
                tracing::debug!(%error, "database write probe failed");
                false
            }
            Err(_) => false,
        }
    }

    async fn probe_sqlite_lock(&self) -> Result<bool, sqlx::Error> {
        let url = self.pool.connect_options().database_url.to_string();
        let mut connection = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(false)
            .busy_timeout(PROBE_TIMEOUT)
            .connect()
            .await?;
        sqlx::raw_sql("BEGIN IMMEDIATE; ROLLBACK")
            .execute(&mut connection)
            .await?;
        connection.close().await?;
        Ok(true)
    }

    /// Waits for in-flight queries and closes every connection, so a
    /// SQLite WAL is checkpointed and the file is left clean.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
