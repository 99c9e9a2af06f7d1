//! Helpers shared by the integration tests: a wiremock model server that
//! answers like an OpenAI-compatible one, and configuration for it.
#![allow(dead_code)]

pub mod databases;
pub mod hostile;

use coe_bot::config::Config;
use coe_bot::safety::classifier::Classifier;
use coe_bot::safety::gate::Gate;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::LazyLock;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The real crisis gate, its embedding model loaded once per test binary
/// from `COE_EMBED_MODEL_DIR` (the test command sets it up).
pub fn gate() -> Gate {
    static GATE: LazyLock<Gate> = LazyLock::new(|| {
        let dir = std::env::var("COE_EMBED_MODEL_DIR").unwrap_or_else(|_| {
            panic!("COE_EMBED_MODEL_DIR is unset: run the tests with scripts/test.sh")
        });
        Gate::new(Classifier::load(std::path::Path::new(&dir)).unwrap_or_else(|e| panic!("{e}")))
    });
    GATE.clone()
}

pub const HASH_KEY: &str = "test-hash-key-0123456789abcdef0123456789";

/// A chat completion whose content is `content`.
pub fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "cmpl-test", "object": "chat.completion", "model": "mock-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160}
    }))
}

/// The chain's JSON answer.
pub fn chain_answer(strategy: &str, reply: &str) -> String {
    json!({
        "emotion": "shame",
        "reasoning": ["Emotion: shame, strong.", "Thought: 'I am worthless' after an exam.", "Distortion: labelling."],
        "strategy": strategy,
        "reply": reply,
    })
    .to_string()
}

/// A model server that always gives the same chain answer.
pub async fn llm_answering(strategy: &str, reply: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(completion(&chain_answer(strategy, reply)))
        .mount(&server)
        .await;
    server
}

/// Configuration pointing at `llm` and a fresh SQLite file in `dir`.
pub fn config(llm: &MockServer, dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("COE_HASH_KEY".into(), HASH_KEY.into());
    vars.insert("LLM_BASE_URL".into(), format!("{}/v1", llm.uri()));
    vars.insert("LLM_MODEL".into(), "mock-model".into());
    vars.insert("LLM_RETRY_BASE_MS".into(), "5".into());
    vars.insert("LLM_TIMEOUT_SECS".into(), "5".into());
    vars.insert("DATABASE_URL".into(), db_url(dir));
    if let Ok(dir) = std::env::var("COE_EMBED_MODEL_DIR") {
        vars.insert("COE_EMBED_MODEL_DIR".into(), dir);
    }
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test config")
}

/// Every text value of every column of every table, for privacy checks.
pub async fn all_stored_text(store: &coe_bot::store::Store) -> Vec<String> {
    use coe_bot::store::Engine;
    use sqlx::{Column, Row, ValueRef};
    let list = match store.engine() {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Engine::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'"
        }
    };
    let tables: Vec<String> = sqlx::query_scalar(list)
        .fetch_all(store.pool())
        .await
        .unwrap();
    let mut values = Vec::new();
    // sqlx's own record of the migrations holds no member data.
    for table in tables.into_iter().filter(|t| t != "_sqlx_migrations") {
        let sql = format!("SELECT * FROM \"{table}\"");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(store.pool())
            .await
            .unwrap()
        {
            for (i, column) in row.columns().iter().enumerate() {
                if row.try_get_raw(i).unwrap().is_null() {
                    continue;
                }
                let text = row
                    .try_get::<String, _>(i)
                    .or_else(|_| row.try_get::<i64, _>(i).map(|n| n.to_string()))
                    .or_else(|_| row.try_get::<f64, _>(i).map(|x| x.to_string()))
                    .unwrap_or_else(|_| {
                        String::from_utf8_lossy(&row.get::<Vec<u8>, _>(i)).into_owned()
                    });
                values.push(format!("{table}.{}={text}", column.name()));
            }
        }
    }
    values
}

/// The JSON bodies the model server received.
pub async fn llm_requests(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| r.body_json().expect("JSON request"))
        .collect()
}

/// Runs the binary in `dir` (so no developer `.env` is read) with only
/// the given variables set.
pub fn run_binary(
    dir: &std::path::Path,
    vars: &[(&str, impl AsRef<str>)],
    args: &[&str],
    stdin: &str,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coe-bot"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("RUST_BACKTRACE", "1")
        // The crisis classifier's model, which `chat` and `run` need.
        .env(
            "COE_EMBED_MODEL_DIR",
            std::env::var("COE_EMBED_MODEL_DIR").unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        command.env(k, v.as_ref());
    }
    let mut child = command.spawn().expect("binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The SQLite URL of a database file in `dir`.
pub fn db_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("coe.db").display())
}
