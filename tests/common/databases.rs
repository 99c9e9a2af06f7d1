//! A fresh, empty database for each test, on either engine: a SQLite file
//! in a temporary directory, or a new PostgreSQL database on the server
//! `COE_TEST_POSTGRES_URL` names (`scripts/postgres.sh` starts one and
//! prints it; `.ci/run` sets it). The store creates the database on open.

use coe_bot::store::Store;
use std::sync::atomic::{AtomicU32, Ordering};

pub const POSTGRES_VAR: &str = "COE_TEST_POSTGRES_URL";

pub struct TestDb {
    pub url: String,
    /// Keeps the SQLite file's directory until the test ends.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        TestDb {
            url: format!("sqlite://{}", dir.path().join("coe.db").display()),
            _dir: Some(dir),
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
        url.set_path(&format!("coe_test_{}_{nanos}_{n}", std::process::id()));
        Some(TestDb {
            url: url.to_string(),
            _dir: None,
        })
    }

    /// The store on this database, created and migrated.
    pub async fn store(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", coe_bot::store::shown_url(&self.url)))
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
