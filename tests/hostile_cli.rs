//! A hostile model server through the terminal and research front doors (issue 11): what
//! `coe-bot chat` prints holds no mention, hidden character, control character or payload
//! link; the stored emotion is a label and the stored model a plain id; `coe-bot report --csv`
//! and every file `eval` writes hold no formula, and its HTML page no live tag, even when the
//! dataset path and the model name are payloads too.

mod common;

use coe_bot::chain::Therapy;
use coe_bot::eval::dataset::TieRule;
use coe_bot::eval::{run_eval, EvalOptions};
use coe_bot::store::Store;
use common::hostile::*;
use common::{db_url, llm_requests, run_binary, HASH_KEY};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Runs the binary in `dir` and expects it to succeed.
fn coe(dir: &Path, vars: &[(&str, String)], args: &[&str]) -> Output {
    let output = run_binary(dir, vars, args, "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "coe-bot {args:?} failed: {stderr}");
    output
}

/// Variables for a run against the wiremock `llm` with a database in `dir`.
fn mock_env(llm: &wiremock::MockServer, dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("COE_HASH_KEY", HASH_KEY.to_string()),
        ("LLM_BASE_URL", format!("{}/v1", llm.uri())),
        ("LLM_RETRY_BASE_MS", "5".to_string()),
        ("DATABASE_URL", db_url(dir)),
    ]
}

/// Terminal text: no mention, mass mention, hidden or direction-flipping character, control
/// character (newline and tab aside) or payload link.
fn assert_terminal_safe(what: &str, text: &str) {
    for banned in ["<@", "@everyone", "\u{200B}", "\u{202E}"] {
        assert!(!text.contains(banned), "{what}: {banned:?} in {text:?}");
    }
    let lower = text.to_lowercase();
    for marker in LINK_MARKERS {
        assert!(!lower.contains(marker), "{what}: {marker:?} in {text:?}");
    }
    let control = text
        .chars()
        .find(|c| c.is_control() && !['\n', '\t'].contains(c));
    assert!(control.is_none(), "{what}: control {control:?} in {text:?}");
}

/// The rule of a stored model name (src/llm/mod.rs `is_model_id`).
fn assert_plain_model_id(model: &str) {
    let plain = model.len() <= 128
        && model.starts_with(|c: char| c.is_ascii_alphanumeric())
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/+-".contains(c));
    assert!(plain, "stored model {model:?} is not a plain id");
}

/// Every string of a `chat --json` line, and the line itself.
fn assert_json_line_safe(what: &str, stdout: &str) {
    assert_terminal_safe(what, stdout);
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert!(
        answer["reply"].as_str().is_some_and(|r| !r.is_empty()),
        "{what}: no reply in {answer}"
    );
    if let Some(emotion) = answer["emotion"].as_str() {
        assert_label(emotion);
    }
    for text in strings_of(&answer) {
        assert_terminal_safe(what, &text);
    }
}

/// Every stored emotion is a label and every stored model a plain id; one row per chat.
async fn check_interactions(dir: &Path, chats: usize) {
    let store = Store::open(&db_url(dir)).await.unwrap();
    let rows: Vec<(Option<String>, String)> =
        sqlx::query_as("SELECT emotion, model FROM interactions")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), chats, "one row per chat");
    for (emotion, model) in &rows {
        if let Some(emotion) = emotion {
            assert_label(emotion);
        }
        assert_plain_model_id(model);
    }
    store.close().await;
}

const MESSAGES: [&str; 5] = [
    "Work has been a lot this week.",
    "I can't sleep before exams.",
    "My sister and I argued again.",
    "I feel a bit lonely since I moved.",
    "Nobody answered my messages today.",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_model_cannot_reach_the_terminal_the_database_or_a_report_csv() {
    let server = hostile_model().await;
    let dir = tempfile::tempdir().unwrap();
    let vars = mock_env(&server, dir.path());
    let stdout = |args: &[&str]| String::from_utf8(coe(dir.path(), &vars, args).stdout).unwrap();
    for message in MESSAGES {
        let text = stdout(&["chat", message]);
        assert!(!text.trim().is_empty(), "chat printed nothing");
        assert_terminal_safe(&format!("chat {message:?}"), &text);
    }
    // Checked last, so every other destination is checked whatever these print.
    let reasoning = stdout(&["chat", "--show-reasoning", "Exams are close."]);
    let json = stdout(&["chat", "--json", "Work is a lot."]);
    let asked = llm_requests(&server).await.len();
    assert!(
        asked > MESSAGES.len(),
        "the hostile model was asked {asked} times"
    );

    check_interactions(dir.path(), MESSAGES.len() + 2).await;
    let records = assert_csv_safe(
        "report --csv",
        &coe(dir.path(), &vars, &["report", "--csv"]).stdout,
    );
    assert!(records.len() >= 2, "report --csv has no data rows");

    assert!(
        reasoning.contains("Reasoning"),
        "no reasoning shown: {reasoning}"
    );
    assert_terminal_safe("chat --show-reasoning", &reasoning);
    assert_json_line_safe("chat --json", &json);
}

/// A copy of the small fixture under a directory whose path is every HTML payload.
fn hostile_dataset(dir: &Path) -> PathBuf {
    let hostile = dir
        .join("<script>alert(1)</script>")
        .join(r#""><img src=x onerror=alert(1)>"#)
        .join("javascript:alert(document.cookie)")
        .join(r#"=HYPERLINK("http:"#);
    std::fs::create_dir_all(&hostile).unwrap();
    let data = hostile.join("eval_small.csv");
    std::fs::copy("tests/fixtures/eval_small.csv", &data).unwrap();
    data
}

fn options(data: PathBuf, out: PathBuf) -> EvalOptions {
    EvalOptions {
        data,
        therapies: vec![Therapy::Base, Therapy::Cbt],
        limit: None,
        sample_seed: Some(7),
        concurrency: 3,
        out,
        resume: None,
        ties: TieRule::Exclude,
        models_file: None,
        judge: None,
        show_progress: false,
    }
}

/// The model name the run reports: every HTML payload, and a formula.
const HOSTILE_MODEL_NAME: &str =
    r#"<script>alert(1)</script>"><img src=x onerror=alert(1)>javascript:alert(1)=1+1"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_model_cannot_reach_eval_files_pages_or_rows() {
    let server = hostile_model().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let extra = [("LLM_MODEL", HOSTILE_MODEL_NAME), ("LLM_MAX_ATTEMPTS", "1")];
    let config = common::config(&server, dir.path(), &extra);
    let store = Store::open(&config.database_url).await.unwrap();
    let data = hostile_dataset(dir.path());
    let report = run_eval(&options(data, out.clone()), &config.llm, None, &store)
        .await
        .unwrap();
    let asked = llm_requests(&server).await.len();
    assert!(asked >= 12, "the hostile model was asked {asked} times");
    assert!(
        report.run.dataset_path.contains("<script>"),
        "the path carries payloads"
    );
    assert_eq!(report.models[0].info.model, HOSTILE_MODEL_NAME);

    check_items_csvs(&out);
    check_pages(&out);
    check_eval_rows(&store).await;
}

/// Every items CSV: no formula, data rows, a reply on every replied row, labels only.
fn check_items_csvs(out: &Path) {
    let csvs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("items") && name.ends_with(".csv")
        })
        .collect();
    assert!(!csvs.is_empty(), "eval wrote no items CSV");
    for path in csvs {
        let what = path.display().to_string();
        let records = assert_csv_safe(&what, &std::fs::read(&path).unwrap());
        assert!(records.len() > 1, "{what} has no data rows");
        let column = |name: &str| {
            let header = &records[0];
            header
                .iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("{what}: no {name}"))
        };
        let (outcome, reply, emotion) = (column("outcome"), column("reply"), column("emotion"));
        let mut replied = 0;
        for record in &records[1..] {
            if &record[outcome] == "replied" {
                replied += 1;
                assert!(
                    !record[reply].is_empty(),
                    "{what}: a replied row has no reply"
                );
            }
            if !record[emotion].is_empty() {
                assert_label(&record[emotion]);
            }
        }
        assert!(replied > 0, "{what}: no replied row");
    }
}

/// The HTML page holds no live tag or raw payload; report.json parses.
fn check_pages(out: &Path) {
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.len() > 1000 && html.contains("<svg"),
        "the page is empty"
    );
    assert_html_safe("report.html", &html);
    // The payloads of the model name and the dataset path reached the page, escaped.
    for escaped in [
        "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
        "&lt;script&gt;alert(1)&lt;/script&gt;/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;/javascript:",
    ] {
        assert!(html.contains(escaped), "report.html lacks {escaped:?}");
    }
    for payload in PAYLOADS
        .iter()
        .filter(|p| p.contains('<') || p.contains('>'))
    {
        assert!(!html.contains(payload), "report.html holds {payload:?} raw");
    }
    for raw in ["<script>", "<img src=x", r#""><img"#, "</script>"] {
        assert!(!html.contains(raw), "report.html holds {raw:?} raw");
    }
    assert!(
        !html.contains("=\"javascript:"),
        "report.html links to javascript:"
    );
    let json = std::fs::read_to_string(out.join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).expect("report.json parses");
    assert!(report["models"].as_array().is_some_and(|m| !m.is_empty()));
}

/// Stored eval rows: the emotion is a label, the reply holds no payload link or mention.
async fn check_eval_rows(store: &Store) {
    let rows: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT emotion, reply FROM eval_items")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert!(rows.len() >= 12, "eval stored {} rows", rows.len());
    for (emotion, reply) in &rows {
        if let Some(emotion) = emotion {
            assert_label(emotion);
        }
        let reply = reply.as_deref().unwrap_or_default();
        assert!(
            !reply.contains("evil.example"),
            "stored reply links: {reply:?}"
        );
        assert!(!reply.contains("<@"), "stored reply mentions: {reply:?}");
    }
}
