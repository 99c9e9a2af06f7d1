//! `coe-bot migrate` and `coe-bot doctor` as an operator runs them, on
//! both engines: one line per check with its fix, a non-zero exit when a
//! check fails, and no password in what is printed.

mod common;

use common::databases::TestDb;
use common::*;
use std::process::Output;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "MTEwMDAwMDAw.fake.token-for-tests";

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The line of check `name`, which must be there.
fn check<'a>(printed: &'a str, name: &str) -> &'a str {
    printed
        .lines()
        .find(|line| line.contains(name))
        .unwrap_or_else(|| panic!("no {name} line in:\n{printed}"))
}

async fn model_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []})))
        .mount(&server)
        .await;
    server
}

async fn migrate_then_doctor(db: TestDb) {
    let llm = model_server().await;
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("COE_HASH_KEY", HASH_KEY.to_string()),
        ("LLM_BASE_URL", format!("{}/v1", llm.uri())),
        ("DATABASE_URL", db.url.clone()),
        ("DISCORD_TOKEN", TOKEN.to_string()),
    ];
    // Before migrating, the doctor names the fix and changes nothing.
    let before = run_binary(dir.path(), &vars, &["doctor"], "");
    let printed = text(&before);
    assert!(!before.status.success(), "{printed}");
    assert!(check(&printed, "database").starts_with("FAIL"), "{printed}");
    assert!(
        check(&printed, "database").contains("coe-bot migrate"),
        "{printed}"
    );
    assert!(
        check(&printed, "model server").starts_with("ok"),
        "{printed}"
    );
    assert!(
        check(&printed, "crisis classifier").starts_with("ok"),
        "{printed}"
    );

    let migrated = run_binary(dir.path(), &vars, &["migrate"], "");
    assert!(migrated.status.success(), "{}", text(&migrated));
    assert!(text(&migrated).contains("migration(s) applied"));
    let again = run_binary(dir.path(), &vars, &["migrate"], "");
    assert!(
        text(&again).contains(": 0 migration(s) applied"),
        "{}",
        text(&again)
    );

    let after = run_binary(dir.path(), &vars, &["doctor"], "");
    let printed = text(&after);
    assert!(after.status.success(), "{printed}");
    for name in ["configuration", "discord token", "database", "model server"] {
        assert!(check(&printed, name).starts_with("ok"), "{printed}");
    }
    assert!(
        !printed.contains(":coe@"),
        "a password was printed:\n{printed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_names_each_failure_with_its_fix() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("COE_HASH_KEY", HASH_KEY.to_string()),
        // Nothing listens on port 9 of this machine.
        ("LLM_BASE_URL", "http://127.0.0.1:9/v1".to_string()),
        ("DATABASE_URL", db_url(dir.path())),
        ("COE_CRISIS_CLASSIFIER", "off".to_string()),
    ];
    let output = run_binary(dir.path(), &vars, &["doctor"], "");
    let printed = text(&output);
    assert!(!output.status.success(), "{printed}");
    let token = check(&printed, "discord token");
    assert!(
        token.starts_with("FAIL") && token.contains("Developer Portal"),
        "{printed}"
    );
    let model = check(&printed, "model server");
    assert!(
        model.starts_with("FAIL") && model.contains("LLM_BASE_URL"),
        "{printed}"
    );
    let classifier = check(&printed, "crisis classifier");
    assert!(
        classifier.starts_with("FAIL") && classifier.contains("embed-model.sh"),
        "{printed}"
    );
    assert!(!printed.contains("panicked"), "{printed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_database_url_is_one_line_naming_the_forms() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("COE_HASH_KEY", HASH_KEY.to_string()),
        ("DATABASE_URL", "mysql://coe:hunter2@db/coe".to_string()),
    ];
    let output = run_binary(dir.path(), &vars, &["migrate"], "");
    let printed = text(&output);
    assert!(!output.status.success());
    assert!(
        printed.contains("postgres://") && !printed.contains("hunter2"),
        "{printed}"
    );
}

on_both_engines!(migrate_then_doctor);
