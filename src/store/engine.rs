//! The two database engines behind the one store, chosen by the URL's
//! scheme: `sqlite:` (the embedded default) or `postgres:` (several bot
//! processes sharing one database).
//!
//! The store talks to both through `sqlx::Any`, so every repository method
//! is written once. The price is that SQL must be valid on both engines:
//! numbered `$1` placeholders (SQLite reads them too), `ON CONFLICT` instead
//! of `INSERT OR …`, times computed here and bound as text in the one
//! format both store (`time::stored_time`), integers as BIGINT and flags as
//! 0/1 integers. A trait with one implementation per engine would have
//! doubled every query for no gain in what the store can do.

use super::error::StoreError;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor};
use std::str::FromStr;

/// Connections per process. SQLite has one writer anyway (the group-commit
/// task); PostgreSQL's default `max_connections` of 100 leaves room for
/// a dozen processes.
const MAX_CONNECTIONS: u32 = 8;

/// What every SQLite connection sets. NORMAL is durable across process
/// crashes in WAL mode; only an OS crash or power loss can drop the last
/// transactions. 1 MiB of page cache per connection instead of SQLite's
/// 2 MiB: with 8 connections the caches were most of the memory a long
/// eval grew by (BENCHMARKS.md, Figure 6).
const SQLITE_PRAGMAS: &str = "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
     PRAGMA cache_size = -1024; PRAGMA foreign_keys = ON;";

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a `DATABASE_URL` names, if it names one.
    pub fn of_url(url: &str) -> Option<Engine> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Engine::Sqlite),
            "postgres" | "postgresql" => Some(Engine::Postgres),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }

    pub(super) fn migrator(self) -> &'static Migrator {
        match self {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// A transaction that writes. On SQLite it takes the write lock at BEGIN
/// (`BEGIN IMMEDIATE`): a transaction that reads first and then writes
/// cannot wait for the lock (SQLite fails it at once as "database is
/// locked" rather than risk a deadlock), while one that starts with the
/// lock waits its busy timeout like any writer.
pub(super) async fn begin_write(
    pool: &AnyPool,
    engine: Engine,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    match engine {
        Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Engine::Postgres => pool.begin().await,
    }
}

/// The URL as it may be shown in messages and logs: scheme, host, port and
/// path only. No user name or password, and no query (which may carry a
/// `password=`); an unparsable one is not echoed if it may hold them.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            let shown = crate::llm::shown_url(&parsed);
            // A password with a `/` in it parses as part of the path.
            if shown.contains('@') {
                HIDDEN.into()
            } else {
                shown
            }
        }
        Err(_) if url.contains('@') => HIDDEN.into(),
        Err(_) => url.to_string(),
    }
}

const HIDDEN: &str = "a value with credentials, not shown";

/// The error of a query on a table that does not exist (yet).
pub(super) fn is_missing_table(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => {
            e.code().as_deref() == Some("42P01") || e.message().contains("no such table")
        }
        _ => false,
    }
}

/// A pool on `url`, the database created first when it does not exist.
pub(super) async fn connect(url: &str) -> Result<(AnyPool, Engine), StoreError> {
    sqlx::any::install_default_drivers();
    let open_error = |source| StoreError::Open {
        url: shown_url(url),
        source,
    };
    let engine = Engine::of_url(url).ok_or_else(|| StoreError::Scheme(shown_url(url)))?;
    if engine == Engine::Sqlite {
        create_sqlite_file(url).await.map_err(open_error)?;
    }
    let pool = match pool(url, engine).await {
        Err(error) if engine == Engine::Postgres && is_missing_database(&error) => {
            create_postgres_database(url).await.map_err(open_error)?;
            pool(url, engine).await
        }
        other => other,
    }
    .map_err(open_error)?;
    Ok((pool, engine))
}

async fn pool(url: &str, engine: Engine) -> Result<AnyPool, sqlx::Error> {
    let options = AnyPoolOptions::new().max_connections(MAX_CONNECTIONS);
    match engine {
        Engine::Sqlite => {
            options
                // A local file does not drop connections; the default ping on
                // every acquire is a round trip to sqlx's worker thread.
                .test_before_acquire(false)
                .after_connect(|conn, _| Box::pin(async move { sqlite_pragmas(conn).await }))
                .connect(url)
                .await
        }
        Engine::Postgres => options.connect(url).await,
    }
}

async fn sqlite_pragmas(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    conn.execute(sqlx::raw_sql(SQLITE_PRAGMAS)).await.map(drop)
}

/// Creates the file if needed and switches it to WAL (which the file keeps),
/// so readers never wait for the writer. `sqlx::Any` opens SQLite from the
/// URL alone, which cannot say either.
async fn create_sqlite_file(url: &str) -> Result<(), sqlx::Error> {
    let conn = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .connect()
        .await?;
    conn.close().await
}

/// PostgreSQL's "database does not exist" (SQLSTATE 3D000).
fn is_missing_database(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some("3D000"))
}

async fn create_postgres_database(url: &str) -> Result<(), sqlx::Error> {
    use sqlx::migrate::MigrateDatabase;
    tracing::info!(url = %shown_url(url), "creating the database");
    match sqlx::Any::create_database(url).await {
        // Another process created it first.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_carry_no_credentials() {
        for (url, shown) in [
            (
                "postgres://coe:hunter2@db.internal:5432/coe",
                "postgres://db.internal:5432/coe",
            ),
            (
                "postgres://coe@db/coe?password=hunter2&sslmode=require",
                "postgres://db/coe",
            ),
            ("postgres://coe:12/hunter2@db/coe", HIDDEN),
            (
                "sqlite:///var/lib/coe/coe.db",
                "sqlite:///var/lib/coe/coe.db",
            ),
        ] {
            assert_eq!(shown_url(url), shown, "{url}");
        }
        assert_eq!(Engine::of_url("POSTGRESQL://x/y"), Some(Engine::Postgres));
        assert_eq!(Engine::of_url("mysql://x/y"), None);
    }
}
