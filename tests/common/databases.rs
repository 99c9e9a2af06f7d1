//! A fresh, empty database for each test, on either engine: a SQLite file
//! in a temporary directory, or a new PostgreSQL database on the server
//! `COE_TEST_POSTGRES_URL` names (`scripts/postgres.sh` starts one and
//! prints it; `.ci/run` sets it). The store creates the database on open;
//! the test drops it when it ends.

use coe_bot::store::Store;
use std::sync::atomic::{AtomicU32, Ordering};

pub const POSTGRES_VAR: &str = "COE_TEST_POSTGRES_URL";

pub struct TestDb {
    pub url: String,
    /// Keeps the SQLite file's directory until the test ends.
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database to drop when the test ends.
    postgres_name: Option<String>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        TestDb {
            url: format!("sqlite://{}", dir.path().join("coe.db").display()),
            _dir: Some(dir),
            postgres_name: None,
        }
    }

    /// A database name no other test (in this or an earlier run) has used,
    /// on the configured server; `None` when no server is configured.
    pub fn postgres() -> Option<TestDb> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Ok(server) = std::env::var(POSTGRES_VAR) else {
            eprintln!("{POSTGRES_VAR} is unset: the PostgreSQL run of this test is skipped");
            return None;
        };
        let mut url = url::Url::parse(&server).expect("COE_TEST_POSTGRES_URL is a URL");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("coe_test_{}_{nanos}_{n}", std::process::id());
        url.set_path(&name);
        Some(TestDb {
            url: url.to_string(),
            _dir: None,
            postgres_name: Some(name),
        })
    }

    /// The store on this database, created and migrated.
    pub async fn store(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", coe_bot::store::shown_url(&self.url)))
    }
}

impl Drop for TestDb {
    /// Drops the PostgreSQL database (closing whatever still uses it), so a
    /// server kept between runs does not fill up. On a thread of its own:
    /// `drop` cannot wait on the test's runtime.
    fn drop(&mut self) {
        let (Some(name), Ok(server)) = (self.postgres_name.take(), std::env::var(POSTGRES_VAR))
        else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                use sqlx::{Connection, Executor};
                let mut admin = sqlx::PgConnection::connect(&server).await?;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                admin.execute(sqlx::AssertSqlSafe(sql)).await?;
                admin.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop the test database: {error}");
        }
    }
}

/// One `#[tokio::test]` per engine for each named `async fn(TestDb)`:
/// `sqlite::name` always, `postgres::name` when a server is configured.
#[macro_export]
macro_rules! on_both_engines {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    super::$test($crate::common::databases::TestDb::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    if let Some(db) = $crate::common::databases::TestDb::postgres() {
                        super::$test(db).await
                    }
                }
            )*
        }
    };
}
