//! The SQLite pool: created and migrated on first use, WAL for concurrent
//! readers, a busy timeout so a briefly locked file waits instead of failing.

use super::writer::Writer;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// The health probe gives up this soon on a lock instead of queueing
/// behind a long transaction (the bot's own commits take milliseconds).
const PROBE_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error("database write failed: {0}")]
    Write(String),
}

/// Handle to the database; cheap to clone (a pool inside).
#[derive(Clone, Debug)]
pub struct Store {
    pub(super) pool: SqlitePool,
    pub(super) writer: Writer,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            url: url.to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across process crashes in WAL mode; only an
            // OS crash or power loss can drop the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            // 1 MiB of page cache per connection instead of SQLite's 2 MiB:
            // with 8 connections the caches were most of the memory a long
            // eval grew by (BENCHMARKS.md, Figure 6).
            .pragma("cache_size", "-1024")
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A local file does not drop connections; the default ping on
            // every acquire is a round trip to sqlx's worker thread.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let writer = Writer::spawn(pool.clone());
        Ok(Store { pool, writer })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Takes and releases SQLite's write lock on a connection of its own, so
    /// the probe never holds one of the pool's connections (nor the
    /// group-commit writer's) while it waits.
    pub async fn is_writable(&self) -> bool {
        let pool = &self.pool;
        if pool.is_closed() {
            return false;
        }
        let options = (*pool.connect_options())
            .clone()
            .create_if_missing(false)
            .busy_timeout(PROBE_BUSY_TIMEOUT);
        let probe = async {
            let mut connection = options.connect().await?;
            sqlx::raw_sql("BEGIN IMMEDIATE; ROLLBACK")
                .execute(&mut connection)
                .await?;
            connection.close().await
        };
        match probe.await {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(%error, "database write probe failed");
                false
            }
        }
    }

    /// Waits for in-flight queries and closes every connection, so the WAL
    /// is checkpointed and the file is left clean.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
