//! The test's own look at the bot's database: queries, row counts, and a second connection
//! that holds the file's write lock.

use sqlx::{Connection, SqliteConnection};

use super::bot::TestBot;
use super::payloads::Caller;

impl TestBot {
    pub async fn rows(&self, sql: &str) -> Vec<sqlx::any::AnyRow> {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(self.store.pool())
            .await
            .expect("query")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(self.store.pool())
            .await
            .expect("count")
    }

    /// Rows recorded for `caller`.
    pub async fn rows_of(&self, caller: &Caller) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM interactions WHERE user_key = $1")
            .bind(self.user_key(caller))
            .fetch_one(self.store.pool())
            .await
            .expect("count rows")
    }

    /// A second connection holding SQLite's exclusive lock (`BEGIN EXCLUSIVE`) until it is
    /// dropped. In WAL mode (the bot's) readers go on; every write waits for the busy timeout
    /// and then fails.
    pub async fn lock_database(&self) -> SqliteConnection {
        let mut connection = SqliteConnection::connect(&self.database_url)
            .await
            .expect("a second connection");
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut connection)
            .await
            .expect("the exclusive lock");
        connection
    }
}
