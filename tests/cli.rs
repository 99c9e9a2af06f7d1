//! The `coe-bot` binary as a user runs it: errors are one line with a
//! non-zero exit (no panic, no backtrace); `chat` works against wiremock.

mod common;

use common::*;
use serde_json::Value;
use std::process::Output;

fn assert_one_line_error(output: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "should fail: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line, got:\n{stderr}");
    assert!(
        stderr.contains(expected),
        "expected '{expected}' in: {stderr}"
    );
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
}

/// Variables for a run against the wiremock `llm` with a database in `dir`.
fn mock_env(
    llm: &wiremock::MockServer,
    dir: &std::path::Path,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("COE_HASH_KEY", HASH_KEY.to_string()),
        ("LLM_BASE_URL", format!("{}/v1", llm.uri())),
        ("DATABASE_URL", db_url(dir)),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    vars
}

#[test]
fn missing_and_invalid_config_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(dir.path(), &[] as &[(&str, &str)], &["chat", "hello"], "");
    assert_one_line_error(&out, "COE_HASH_KEY is not set");
    let out = run_binary(
        dir.path(),
        &[("COE_HASH_KEY", "short")],
        &["chat", "hello"],
        "",
    );
    assert_one_line_error(&out, "openssl rand -hex 32");
    let out = run_binary(
        dir.path(),
        &[("COE_HASH_KEY", HASH_KEY), ("LLM_TEMPERATURE", "warm")],
        &["chat", "hello"],
        "",
    );
    assert_one_line_error(&out, "LLM_TEMPERATURE");
}

#[tokio::test]
async fn missing_classifier_files_stop_chat_unless_explicitly_off() {
    let llm = llm_answering("exploration", "That sounds hard.").await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-model-here");
    let missing = missing.to_str().unwrap();
    let vars = mock_env(&llm, dir.path(), &[("COE_EMBED_MODEL_DIR", missing)]);
    let out = run_binary(dir.path(), &vars, &["chat", "I feel low"], "");
    assert_one_line_error(&out, "scripts/embed-model.sh");
    assert!(
        llm_requests(&llm).await.is_empty(),
        "refused before any work"
    );

    let vars = mock_env(
        &llm,
        dir.path(),
        &[
            ("COE_EMBED_MODEL_DIR", missing),
            ("COE_CRISIS_CLASSIFIER", "off"),
        ],
    );
    let out = run_binary(dir.path(), &vars, &["chat", "I feel low"], "");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("classifier is off"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("That sounds hard."));
}

#[test]
fn unreachable_model_server_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let db = db_url(dir.path());
    let vars = [
        ("COE_HASH_KEY", HASH_KEY),
        ("LLM_BASE_URL", url.as_str()),
        ("LLM_RETRY_BASE_MS", "1"),
        ("DATABASE_URL", db.as_str()),
    ];
    let out = run_binary(dir.path(), &vars, &["chat", "I feel low"], "");
    assert_one_line_error(&out, "could not be reached");
}

#[test]
fn unwritable_database_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("COE_HASH_KEY", HASH_KEY),
        ("DATABASE_URL", "sqlite:///nonexistent-dir/deeper/coe.db"),
    ];
    let out = run_binary(dir.path(), &vars, &["chat", "I feel low"], "");
    assert_one_line_error(&out, "cannot open the database");
}

#[test]
fn therapies_lists_all_five_with_versions() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_binary(dir.path(), &[] as &[(&str, &str)], &["therapies"], "");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for therapy in coe_bot::chain::Therapy::ALL {
        let line = text
            .lines()
            .find(|l| l.starts_with(therapy.as_str()))
            .unwrap();
        assert!(line.contains(therapy.prompt_version()), "{line}");
        assert!(
            line.contains(coe_bot::chain::draft_prompt_version(therapy)),
            "{line}"
        );
        assert!(
            line.contains(coe_bot::chain::feedback_prompt_version(therapy)),
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_gives_each_tier_its_texts_and_reports_the_tier() {
    let llm = llm_answering("exploration", "That sounds so heavy.").await;
    let dir = tempfile::tempdir().unwrap();
    let vars = mock_env(&llm, dir.path(), &[("COE_HELPLINE_REGION", "us")]);
    let run = |text: &str| {
        let out = run_binary(dir.path(), &vars, &["chat", "--json", text], "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let concern = run("honestly everyone would be better off without me, i only make things worse");
    assert_eq!(concern["risk"]["tier"], "concern");
    let reply = concern["reply"].as_str().unwrap();
    assert!(reply.starts_with("That sounds so heavy."), "{reply}");
    assert!(reply.contains("thoughts of ending your life") && reply.contains("988"));
    let mention =
        run("i used to cut myself when i was in school, but i've been clean for two years now");
    assert_eq!(mention["risk"]["tier"], "mention");
    let reply = mention["reply"].as_str().unwrap();
    assert!(reply.contains("people are there to talk to"), "{reply}");
    let crisis = run("i have been saving up my pills and tonight i am going to take them all");
    assert_eq!(crisis["risk"]["tier"], "crisis");
    assert_eq!(crisis["outcome"], "crisis");
    assert_eq!(
        llm_requests(&llm).await.len(),
        2,
        "no model call for the crisis"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_json_prints_the_whole_result_and_records_one_row() {
    let llm = llm_answering("interpretation", "That sounds really painful.").await;
    let dir = tempfile::tempdir().unwrap();
    let vars = mock_env(&llm, dir.path(), &[]);
    let out = run_binary(
        dir.path(),
        &vars,
        &[
            "chat",
            "--therapy",
            "cbt",
            "--json",
            "I failed my exam and I feel worthless",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "therapy",
        "emotion",
        "reasoning",
        "strategy",
        "reply",
        "model",
        "prompt_version",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
    ] {
        assert!(result.get(key).is_some(), "{key} missing in {result}");
    }
    assert_eq!(result["therapy"], "cbt");
    assert_eq!(result["strategy"], "interpretation");
    assert_eq!(result["reply"], "That sounds really painful.");
    assert_eq!(
        result["prompt_version"],
        coe_bot::chain::Therapy::Cbt.prompt_version()
    );

    let store = coe_bot::store::Store::open(&db_url(dir.path()))
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions WHERE source = 'cli'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_text_shows_reasoning_on_request() {
    let llm = llm_answering("exploration", "What happened?").await;
    let dir = tempfile::tempdir().unwrap();
    let vars = mock_env(&llm, dir.path(), &[]);
    let out = run_binary(
        dir.path(),
        &vars,
        &["chat", "--show-reasoning", "rough day"],
        "",
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Reasoning (cbt):") && text.contains("Distortion: labelling."),
        "{text}"
    );
    assert!(
        text.contains("strategy: exploration · emotion: shame"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_without_a_message_is_a_conversation() {
    let llm = llm_answering("exploration", "Tell me more.").await;
    let dir = tempfile::tempdir().unwrap();
    let vars = mock_env(&llm, dir.path(), &[]);
    let out = run_binary(
        dir.path(),
        &vars,
        &["chat", "--json"],
        "My cat is ill.\n\nI'm scared.\n",
    );
    assert!(out.status.success());
    let replies: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(replies.len(), 2, "blank lines are skipped");
    let second = &llm_requests(&llm).await[1];
    let messages = second["messages"].as_array().unwrap();
    assert!(messages[1]["content"]
        .as_str()
        .unwrap()
        .contains("My cat is ill."));
    assert_eq!(messages[2]["content"], "Tell me more.");
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_answers_a_crisis_with_helplines_and_exit_zero() {
    let llm = llm_answering("exploration", "never used").await;
    let dir = tempfile::tempdir().unwrap();
    let vars = mock_env(&llm, dir.path(), &[("COE_HELPLINE_REGION", "uk")]);
    let out = run_binary(
        dir.path(),
        &vars,
        &["chat", "I want to end it all tonight"],
        "",
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("116 123"), "{text}");
    assert!(llm_requests(&llm).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn report_summarizes_recorded_rows_without_user_keys() {
    use coe_bot::chain::{Strategy, Therapy};
    use coe_bot::store::{
        AssistKind, AssistVerdict, NewAssistVerdict, NewInteraction, Outcome, Source, Store,
    };
    let dir = tempfile::tempdir().unwrap();
    let db = db_url(dir.path());
    let store = Store::open(&db).await.unwrap();
    for (guild, strategy) in [
        (1, Some(Strategy::Exploration)),
        (1, None),
        (2, Some(Strategy::Interpretation)),
    ] {
        let row = NewInteraction {
            started_at: chrono::Utc::now(),
            guild_id: Some(guild),
            source: Source::Channel,
            user_key: "secret-user-key-abc".into(),
            therapy: Therapy::Dbt,
            prompt_version: Therapy::Dbt.prompt_version().into(),
            model: "m".into(),
            emotion: None,
            strategy,
            reasoning: None,
            outcome: Outcome::Replied,
            risk: Default::default(),
            latency_ms: 5,
            prompt_tokens: None,
            completion_tokens: None,
        };
        store.record_interaction(&row).await.unwrap();
    }
    let verdict = NewAssistVerdict {
        card_id: 77,
        guild_id: Some(1),
        supporter_key: "secret-supporter-key",
        kind: AssistKind::Feedback,
        therapy: Therapy::Dbt,
        strategy: Some(Strategy::Exploration),
        verdict: AssistVerdict::UsedWithEdits,
    };
    store.record_assist_verdict(&verdict).await.unwrap();
    store.close().await;
    let vars = [("COE_HASH_KEY", HASH_KEY), ("DATABASE_URL", db.as_str())];

    let out = run_binary(dir.path(), &vars, &["report", "--guild", "1", "--json"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("secret-user-key"));
    assert!(!text.contains("secret-supporter-key"));
    let report: Value = serde_json::from_str(&text).unwrap();
    let assist = &report["assist"][0];
    assert_eq!(
        (&assist["kind"], &assist["strategy"]),
        (&"feedback".into(), &"exploration".into())
    );
    assert_eq!(assist["used_with_edits"], 1);
    let summaries = &report["therapies"];
    assert_eq!(summaries[0]["therapy"], "dbt");
    assert_eq!(summaries[0]["total"], 2);
    assert_eq!(
        summaries[0]["strategies"],
        serde_json::json!([["exploration", 1], ["unknown", 1]])
    );

    let out = run_binary(
        dir.path(),
        &vars,
        &["report", "--csv", "--since", "2020-01-01"],
        "",
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("therapy,kind,label,count\n"), "{csv}");
    assert!(csv.contains("dbt,outcome,replied,3"), "{csv}");
    assert!(
        csv.contains("dbt,feedback_verdict,exploration/used_with_edits,1"),
        "{csv}"
    );
    assert!(!csv.contains("secret-user-key"));

    let out = run_binary(dir.path(), &vars, &["report", "--since", "yesterday"], "");
    assert_one_line_error(&out, "--since must be a date");
    let out = run_binary(dir.path(), &vars, &["report", "--since", "2999-01-01"], "");
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("No recorded interactions match."));
}
