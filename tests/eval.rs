//! `eval` end to end on a small fixture written for the project, with
//! wiremock playing a model whose strategies are known, so every number
//! in report.json can be checked by hand.

mod common;

use coe_bot::chain::{Strategy, Therapy};
use coe_bot::eval::dataset::TieRule;
use coe_bot::eval::{run_eval, EvalOptions};
use coe_bot::store::Store;
use common::*;
use serde_json::Value;
use std::path::PathBuf;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers by the code word at the start of the member's message:
/// ALPHA → ER (right), BRAVO → EX (wrong), CHARLIE, DELTA → EX (right),
/// ECHO → IP (right), FOXTROT → unreadable (a parse error after repair).
/// Words in `failing` get HTTP 500 instead.
struct KnownModel {
    failing: Vec<&'static str>,
}

impl Respond for KnownModel {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        let messages = body["messages"].as_array().unwrap();
        let text = messages
            .iter()
            .find(|m| m["role"] == "user")
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default();
        if self.failing.iter().any(|w| text.contains(w)) {
            return ResponseTemplate::new(500);
        }
        let strategy = [
            ("ALPHA", "emotional_reaction"),
            ("BRAVO", "exploration"),
            ("CHARLIE", "exploration"),
            ("DELTA", "exploration"),
            ("ECHO", "interpretation"),
        ]
        .iter()
        .find(|(word, _)| text.contains(word))
        .map(|(_, s)| *s);
        match strategy {
            Some(s) => completion(&chain_answer(s, "I hear you.")),
            None => completion("no JSON here"),
        }
    }
}

async fn model(failing: Vec<&'static str>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(KnownModel { failing })
        .mount(&server)
        .await;
    server
}

fn options(out: PathBuf, resume: Option<String>) -> EvalOptions {
    EvalOptions {
        data: PathBuf::from("tests/fixtures/eval_small.csv"),
        therapies: vec![Therapy::Base, Therapy::Cbt],
        limit: None,
        sample_seed: Some(7),
        concurrency: 3,
        out,
        resume,
        ties: TieRule::Exclude,
        models_file: None,
        judge: None,
        show_progress: false,
    }
}

/// A first run against a model server that fails (one attempt) for the
/// items whose code words are in `failing`.
async fn run_during_outage(
    failing: Vec<&'static str>,
    dir: &tempfile::TempDir,
    out: &std::path::Path,
) -> (MockServer, Store, coe_bot::eval::report::Report) {
    let outage = model(failing).await;
    let config = config(&outage, dir.path(), &[("LLM_MAX_ATTEMPTS", "1")]);
    let store = Store::open(&config.database_url).await.unwrap();
    let first = run_eval(&options(out.to_path_buf(), None), &config.llm, None, &store)
        .await
        .unwrap();
    (outage, store, first)
}

fn close(actual: &Value, expected: f64) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {actual}"));
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

/// Every figure of the fixture, worked by hand. Confusion (rows gold,
/// columns ER, EX, IP, unknown): ER [1,1,0,0], EX [0,2,0,0], IP [0,0,1,1].
fn check_report(report: &Value) {
    let model = &report["models"][0];
    assert_eq!(report["models"].as_array().unwrap().len(), 1);
    assert_eq!(model["therapies"].as_array().unwrap().len(), 2);
    for result in model["therapies"].as_array().unwrap() {
        let m = &result["metrics"];
        assert_eq!(m["n"], 6);
        assert_eq!(m["correct"], 4);
        assert_eq!(m["unknown"], 1);
        close(&m["accuracy"], 4.0 / 6.0);
        let (er, ex, ip) = (
            &m["per_strategy"][0],
            &m["per_strategy"][1],
            &m["per_strategy"][2],
        );
        close(&er["precision"], 1.0);
        close(&er["recall"], 0.5);
        close(&er["f1"], 2.0 / 3.0);
        close(&ex["precision"], 2.0 / 3.0);
        close(&ex["recall"], 1.0);
        close(&ex["f1"], 0.8);
        close(&ip["precision"], 1.0);
        close(&ip["recall"], 0.5);
        close(&ip["f1"], 2.0 / 3.0);
        close(&m["macro_f1"], (2.0 / 3.0 + 0.8 + 2.0 / 3.0) / 3.0);
        close(&m["balanced_accuracy"], 2.0 / 3.0);
        close(&m["predicted_mix"]["exploration"], 0.5);
        close(&m["predicted_mix"]["unknown"], 1.0 / 6.0);
        close(&m["gold_mix"]["interpretation"], 1.0 / 3.0);
        assert_eq!(
            m["confusion"]["counts"],
            serde_json::json!([[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 1]])
        );
        let ci = &result["intervals"];
        assert!(ci["accuracy"][0].as_f64().unwrap() <= 4.0 / 6.0);
        assert!(ci["accuracy"][1].as_f64().unwrap() >= 4.0 / 6.0);
    }
    let run = &report["run"];
    assert_eq!(model["info"]["parse_errors"], 2);
    assert_eq!(model["info"]["model"], "mock-model");
    assert_eq!(run["load_stats"]["items"], 6);
    assert_eq!(run["prompt_versions"]["cbt"], Therapy::Cbt.prompt_version());
    assert_eq!(run["dataset_sha256"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn eval_reports_hand_checked_metrics_and_resumes_after_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");

    // First run: the model server fails for two items (an outage).
    let (outage, store, first) = run_during_outage(vec!["ECHO", "FOXTROT"], &dir, &out).await;
    assert_eq!(first.models[0].info.llm_errors, 4);
    assert_eq!(
        llm_requests(&outage).await.len(),
        12,
        "4 good items + 2 failing, per therapy"
    );

    // Resume against a healthy server: only the failed items are asked again.
    let healthy = model(vec![]).await;
    let config = common::config(&healthy, dir.path(), &[]);
    let resumed = run_eval(
        &options(out.clone(), Some(first.run.run_id.clone())),
        &config.llm,
        None,
        &store,
    )
    .await
    .unwrap();
    // ECHO once and FOXTROT twice (one repair), for each of 2 therapies.
    assert_eq!(
        llm_requests(&healthy).await.len(),
        6,
        "no repeated calls for finished items"
    );
    assert_eq!(resumed.run.run_id, first.run.run_id);
    assert_eq!(resumed.models[0].info.llm_errors, 0);

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    check_report(&report);

    let items = std::fs::read_to_string(out.join("items.csv")).unwrap();
    assert_eq!(
        items.lines().count(),
        1 + 12,
        "header + one row per item and therapy"
    );
    assert!(items.contains("I hear you."));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script"));
}

#[tokio::test]
async fn an_uninterrupted_run_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let server = model(vec![]).await;
    let config = config(&server, dir.path(), &[]);
    let store = Store::open(&config.database_url).await.unwrap();
    let report = run_eval(&options(out.clone(), None), &config.llm, None, &store)
        .await
        .unwrap();
    assert_eq!(llm_requests(&server).await.len(), 14);
    let json: Value = serde_json::to_value(&report).unwrap();
    check_report(&json);
    assert_eq!(
        report.models[0].therapies[0].metrics.per_strategy[0].strategy,
        Strategy::EmotionalReaction
    );
}

#[tokio::test]
async fn resuming_an_unknown_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = model(vec![]).await;
    let config = config(&server, dir.path(), &[]);
    let store = Store::open(&config.database_url).await.unwrap();
    let error = run_eval(
        &options(dir.path().join("o"), Some("nope".into())),
        &config.llm,
        None,
        &store,
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("no run nope"), "{error}");
}

#[tokio::test]
async fn resuming_with_another_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (outage, store, first) = run_during_outage(vec!["ECHO"], &dir, &out).await;
    let other = common::config(&outage, dir.path(), &[("LLM_MODEL", "another-model")]);
    let error = run_eval(
        &options(out, Some(first.run.run_id)),
        &other.llm,
        None,
        &store,
    )
    .await
    .unwrap_err();
    assert!(
        error.to_string().contains("model default used mock-model"),
        "{error}"
    );
}
