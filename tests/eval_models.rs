//! `eval --models`: two OpenAI-compatible servers (wiremock) on the same
//! items in one run, side by side, each resumable on its own.

mod common;

use coe_bot::chain::{Strategy, Therapy};
use coe_bot::eval::dataset::TieRule;
use coe_bot::eval::{run_eval, EvalOptions};
use coe_bot::store::Store;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Always names `strategy`; answers 500 to the items whose code word is in
/// `failing` (tests/fixtures/eval_small.csv starts each post with one).
struct Server {
    strategy: &'static str,
    failing: Vec<&'static str>,
}

impl Respond for Server {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        let text = body["messages"].to_string();
        if self.failing.iter().any(|w| text.contains(w)) {
            return ResponseTemplate::new(500);
        }
        completion(&chain_answer(self.strategy, "I hear you."))
    }
}

async fn serve(server: &MockServer, strategy: &'static str, failing: Vec<&'static str>) {
    server.reset().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Server { strategy, failing })
        .mount(server)
        .await;
}

fn models_file(dir: &Path, warm: &MockServer, cool: &MockServer) -> PathBuf {
    let path = dir.join("models.toml");
    let text = format!(
        "[[model]]\nname = \"warm\"\nbase_url = \"{}/v1\"\nmodel = \"warm-model\"\nconcurrency = 2\n\n\
         [[model]]\nname = \"cool\"\nbase_url = \"{}/v1\"\nmodel = \"cool-model\"\napi_key_env = \"COOL_TEST_KEY\"\n",
        warm.uri(),
        cool.uri()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn options(dir: &Path, models: Option<PathBuf>, resume: Option<String>) -> EvalOptions {
    EvalOptions {
        data: PathBuf::from("tests/fixtures/eval_small.csv"),
        therapies: vec![Therapy::Base, Therapy::Cbt],
        limit: None,
        sample_seed: Some(3),
        concurrency: 2,
        models_file: models,
        out: dir.join("out"),
        resume,
        ties: TieRule::Exclude,
        judge: None,
        show_progress: false,
    }
}

fn accuracy(report: &coe_bot::eval::report::Report, model: usize, therapy: usize) -> f64 {
    report.models[model].therapies[therapy].metrics.accuracy
}

/// One test, so setting the key's variable races no other test's reads of
/// the environment.
#[tokio::test]
async fn two_servers_side_by_side_and_resume_per_model() {
    unset_key_variable_stops_before_any_call().await;
    std::env::set_var("COOL_TEST_KEY", "sk-cool-test");
    let dir = tempfile::tempdir().unwrap();
    let (warm, cool) = (MockServer::start().await, MockServer::start().await);
    serve(&warm, "emotional_reaction", vec![]).await;
    // The cool server fails for two of the six items (one attempt each).
    serve(&cool, "interpretation", vec!["ECHO", "FOXTROT"]).await;
    let config = config(&warm, dir.path(), &[("LLM_MAX_ATTEMPTS", "1")]);
    let store = Store::open(&config.database_url).await.unwrap();
    let file = models_file(dir.path(), &warm, &cool);

    let first = run_eval(
        &options(dir.path(), Some(file), None),
        &config.llm,
        None,
        &store,
    )
    .await
    .unwrap();
    let names: Vec<&str> = first.models.iter().map(|m| m.info.name.as_str()).collect();
    assert_eq!(names, ["warm", "cool"]);
    assert_eq!(first.models[0].info.model, "warm-model");
    assert_eq!(
        (
            first.models[0].info.llm_errors,
            first.models[1].info.llm_errors
        ),
        (0, 4)
    );
    // Gold: 2 ER, 2 EX, 2 IP. Always-ER is right on 2 of 6; always-IP on
    // none of the 4 items its server answered (both IP items failed).
    assert!((accuracy(&first, 0, 0) - 2.0 / 6.0).abs() < 1e-9);
    assert_eq!(first.models[1].therapies[0].metrics.n, 4);
    assert_eq!(accuracy(&first, 1, 0), 0.0);
    // The key went to its own server only, from the variable named.
    let auth = |requests: Vec<wiremock::Request>| {
        requests
            .iter()
            .filter_map(|r| {
                r.headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string())
            })
            .collect::<Vec<_>>()
    };
    assert!(auth(warm.received_requests().await.unwrap()).is_empty());
    assert!(auth(cool.received_requests().await.unwrap())
        .iter()
        .all(|h| h == "Bearer sk-cool-test"));
    assert_eq!(llm_requests(&warm).await.len(), 12);

    // Resume with both healthy: only the cool server's four failed calls.
    serve(&warm, "emotional_reaction", vec![]).await;
    serve(&cool, "interpretation", vec![]).await;
    let resume = Some(first.run.run_id.clone());
    let resumed = run_eval(
        &options(dir.path(), None, resume),
        &config.llm,
        None,
        &store,
    )
    .await
    .unwrap();
    assert_eq!(llm_requests(&warm).await.len(), 0, "warm had nothing left");
    assert_eq!(
        llm_requests(&cool).await.len(),
        4,
        "no finished call repeated"
    );
    assert_eq!(resumed.models[1].info.llm_errors, 0);
    assert!((accuracy(&resumed, 1, 0) - 2.0 / 6.0).abs() < 1e-9);
    let ip = &resumed.models[1].therapies[0].metrics.per_strategy[Strategy::Interpretation.index()];
    assert_eq!(ip.predicted, 6);

    let out = dir.path().join("out");
    for name in ["warm", "cool"] {
        let items = std::fs::read_to_string(out.join(format!("items-{name}.csv"))).unwrap();
        assert_eq!(
            items.lines().count(),
            1 + 12,
            "{name}: header + 6 items × 2 therapies"
        );
    }
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["models"][1]["info"]["name"], "cool");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("base · cool") && html.contains("base · warm"));
    assert!(!html.contains("sk-cool-test"));
}

async fn unset_key_variable_stops_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let (warm, cool) = (MockServer::start().await, MockServer::start().await);
    serve(&warm, "exploration", vec![]).await;
    let config = config(&warm, dir.path(), &[]);
    let store = Store::open(&config.database_url).await.unwrap();
    let file = models_file(dir.path(), &warm, &cool);
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("COOL_TEST_KEY", "COE_SURELY_UNSET_KEY");
    std::fs::write(&file, text).unwrap();
    let error = run_eval(
        &options(dir.path(), Some(file), None),
        &config.llm,
        None,
        &store,
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("COE_SURELY_UNSET_KEY is not set"),
        "{error}"
    );
    assert!(llm_requests(&warm).await.is_empty());
}
