use super::*;
use crate::store::Store;
use sqlx::Connection;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Setup {
    store: Store,
    url: String,
    _dir: tempfile::TempDir,
}

async fn store() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("coe.db").display());
    let store = Store::open(&url).await.unwrap();
    Setup {
        store,
        url,
        _dir: dir,
    }
}

/// A model server whose `GET /v1/models` answers `status`.
async fn model_answering(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

fn health(gateway: bool, store: &Store, base: &str) -> Health {
    let base = Url::parse(base).unwrap();
    let store = store.clone();
    let probe: DatabaseProbe = Box::new(move || {
        let store = store.clone();
        Box::pin(async move { store.is_writable().await })
    });
    Health::new(Arc::new(AtomicBool::new(gateway)), probe, &base).unwrap()
}

#[tokio::test]
async fn everything_up_is_all_true() {
    let setup = store().await;
    let model = model_answering(200).await;
    let report = health(true, &setup.store, &format!("{}/v1", model.uri()))
        .check()
        .await;
    let all_true = HealthReport {
        gateway: true,
        database: true,
        model: true,
    };
    assert_eq!(report, all_true);
    assert!(report.all_ok());
}

#[tokio::test]
async fn the_gateway_flag_is_read_as_the_bot_sets_it() {
    let setup = store().await;
    let model = model_answering(200).await;
    let report = health(false, &setup.store, &format!("{}/v1", model.uri()))
        .check()
        .await;
    assert!(!report.gateway);
    assert!(!report.all_ok());
}

#[tokio::test]
async fn a_server_error_or_a_dead_port_is_unreachable_but_401_is_not() {
    let setup = store().await;
    let failing = model_answering(503).await;
    let report = health(true, &setup.store, &format!("{}/v1", failing.uri()))
        .check()
        .await;
    assert!(!report.model, "503: {report:?}");

    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let report = health(
        true,
        &setup.store,
        &format!("http://127.0.0.1:{dead_port}/v1"),
    )
    .check()
    .await;
    assert!(!report.model, "dead port: {report:?}");

    let needs_key = model_answering(401).await;
    let report = health(true, &setup.store, &format!("{}/v1/", needs_key.uri()))
        .check()
        .await;
    assert!(report.model, "401 is an answer: {report:?}");
}

#[tokio::test]
async fn repeated_checks_send_one_probe_to_the_model_server() {
    let setup = store().await;
    let model = model_answering(200).await;
    let health = health(true, &setup.store, &format!("{}/v1", model.uri()));
    let checks = (0..20).map(|_| health.check());
    futures::future::join_all(checks).await;
    health.check().await;
    let received = model.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "one probe per {CACHE_FOR:?}");
}

#[tokio::test]
async fn a_hung_model_server_fails_the_check_within_the_probe_timeout() {
    let setup = store().await;
    let model = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&model)
        .await;
    let health = health(true, &setup.store, &format!("{}/v1", model.uri()));
    let started = Instant::now();
    let report = health.check().await;
    assert!(!report.model);
    assert!(started.elapsed() < PROBE_TIMEOUT + Duration::from_secs(1));
}

#[tokio::test]
async fn a_locked_database_is_not_writable_and_the_check_does_not_wait_for_it() {
    let setup = store().await;
    let model = model_answering(200).await;
    let mut other = <sqlx::SqliteConnection as Connection>::connect(&setup.url)
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    let started = Instant::now();
    let report = health(true, &setup.store, &format!("{}/v1", model.uri()))
        .check()
        .await;
    assert!(!report.database, "{report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the store's own 5 s busy timeout must not apply: {:?}",
        started.elapsed()
    );
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let report = health(true, &setup.store, &format!("{}/v1", model.uri()))
        .check()
        .await;
    assert!(report.database, "writable again: {report:?}");
}

#[tokio::test]
async fn the_probe_leaves_no_lock_behind_for_the_writer() {
    let setup = store().await;
    let model = model_answering(200).await;
    health(true, &setup.store, &format!("{}/v1", model.uri()))
        .check()
        .await;
    let mut other = <sqlx::SqliteConnection as Connection>::connect(&setup.url)
        .await
        .unwrap();
    sqlx::raw_sql("PRAGMA busy_timeout = 0; BEGIN IMMEDIATE; ROLLBACK")
        .execute(&mut other)
        .await
        .expect("the write lock is free right after a probe");
}

#[tokio::test]
async fn a_closed_store_is_not_writable() {
    let setup = store().await;
    let model = model_answering(200).await;
    setup.store.close().await;
    let report = health(true, &setup.store, &format!("{}/v1", model.uri()))
        .check()
        .await;
    assert!(!report.database);
}

#[test]
fn the_models_url_sits_beside_the_chat_endpoint() {
    for base in ["http://127.0.0.1:8079/v1", "http://127.0.0.1:8079/v1/"] {
        let url = models_url(&Url::parse(base).unwrap());
        assert_eq!(url.as_str(), "http://127.0.0.1:8079/v1/models");
    }
}
