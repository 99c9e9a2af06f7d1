//! The real thing: `coe-bot chat --json` and `eval` against the local
//! SmolLM2 server of scripts/local-llm.sh. Structure only, not wording.
//! Run with: eval "$(scripts/local-llm.sh | sed 's/^/export /')" &&
//!   cargo test --test real_model -- --ignored --test-threads=1

use coe_bot::chain::{Strategy, Therapy};
use serde_json::Value;
use std::process::Command;

fn local_server() -> (String, String) {
    let url =
        std::env::var("LLM_BASE_URL").expect("LLM_BASE_URL: start scripts/local-llm.sh first");
    let model = std::env::var("LLM_MODEL").unwrap_or_else(|_| "smollm2".into());
    (url, model)
}

fn coe(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let (url, model) = local_server();
    Command::new(env!("CARGO_BIN_EXE_coe-bot"))
        .args(args)
        .current_dir(dir)
        .env("COE_HASH_KEY", "real-model-test-key-0123456789abcdef0123")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("coe.db").display()),
        )
        .env("LLM_BASE_URL", url)
        .env("LLM_MODEL", model)
        .env("LLM_JSON_MODE", "json_object")
        .env("LLM_TIMEOUT_SECS", "300")
        .env("LLM_SEED", "7")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("binary runs")
}

#[test]
#[ignore = "needs the local model server: scripts/local-llm.sh"]
fn chat_json_is_valid_for_every_therapy() {
    let dir = tempfile::tempdir().unwrap();
    for therapy in Therapy::ALL {
        let started = std::time::Instant::now();
        let out = coe(
            dir.path(),
            &[
                "chat",
                "--json",
                "--therapy",
                therapy.as_str(),
                "I failed my exam and I feel worthless",
            ],
        );
        assert!(
            out.status.success(),
            "{therapy}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        println!(
            "{therapy} ({:.1} s): {stdout}",
            started.elapsed().as_secs_f64()
        );
        let result: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
        assert_eq!(result["therapy"], therapy.as_str());
        assert_eq!(result["outcome"], "replied", "{result}");
        let strategy = result["strategy"].as_str().expect("a strategy");
        assert!(Strategy::parse_label(strategy).is_some(), "{strategy}");
        assert!(!result["reply"].as_str().unwrap().trim().is_empty());
        assert!(result["prompt_tokens"].as_u64().unwrap() > 0);
        assert!(result["completion_tokens"].as_u64().unwrap() > 0);
    }
}

#[test]
#[ignore = "needs the local model server: scripts/local-llm.sh"]
fn eval_on_five_items_writes_a_complete_report() {
    let dir = tempfile::tempdir().unwrap();
    let data =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval_small.csv");
    let out = dir.path().join("out");
    let out_arg = out.display().to_string();
    let data_arg = data.display().to_string();
    let result = coe(
        dir.path(),
        &[
            "eval",
            "--data",
            &data_arg,
            "--therapies",
            "base,cbt",
            "--limit",
            "5",
            "--sample-seed",
            "1",
            "--out",
            &out_arg,
        ],
    );
    let stdout = String::from_utf8_lossy(&result.stdout);
    println!("{stdout}");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let model = &report["models"][0];
    let therapies = model["therapies"].as_array().unwrap();
    assert_eq!(therapies.len(), 2);
    for result in therapies {
        let m = &result["metrics"];
        assert!(m["n"].as_u64().unwrap() + model["info"]["llm_errors"].as_u64().unwrap() >= 5);
        for key in ["accuracy", "macro_f1", "balanced_accuracy"] {
            let value = m[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&value), "{key} = {value}");
        }
        assert_eq!(m["per_strategy"].as_array().unwrap().len(), 3);
    }
    assert_eq!(model["info"]["model"], "smollm2");
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("<svg"));
    assert_eq!(
        std::fs::read_to_string(out.join("items.csv"))
            .unwrap()
            .lines()
            .count(),
        1 + 10
    );
}

#[test]
#[ignore = "needs the local model server: scripts/local-llm.sh"]
fn assist_draft_and_feedback_give_valid_cards() {
    let dir = tempfile::tempdir().unwrap();
    let message = "I failed my exam and I feel like such a disappointment to my parents";
    let draft_args = ["assist", "draft", "--therapy", "cbt", message];
    let draft = json_of(coe(dir.path(), &[&draft_args[..], &["--json"]].concat()));
    println!("draft: {draft}");
    assert_eq!(draft["status"], "ready", "{draft}");
    assert_eq!(draft["therapy"], "cbt");
    assert!(!draft["draft"].as_str().unwrap().trim().is_empty());
    let strategy = draft["strategy"].as_str().expect("a strategy");
    assert!(Strategy::parse_label(strategy).is_some(), "{strategy}");

    let own = "That sounds really hard. Exams are not everything.";
    let feedback_args = [
        "assist",
        "feedback",
        "--therapy",
        "pct",
        "--message",
        message,
        "--draft",
        own,
    ];
    let feedback = json_of(coe(dir.path(), &[&feedback_args[..], &["--json"]].concat()));
    println!("feedback: {feedback}");
    assert_eq!(feedback["status"], "ready", "{feedback}");
    for used in feedback["strategies_used"].as_array().unwrap() {
        assert!(
            Strategy::parse_label(used.as_str().unwrap()).is_some(),
            "{used}"
        );
    }
    assert!(feedback["suggestions"].as_array().unwrap().len() <= 2);
    let state = feedback["edit"]["state"].as_str().unwrap();
    assert!(
        [
            "marked",
            "unchanged",
            "rewrite",
            "draft_at_risk",
            "withheld"
        ]
        .contains(&state),
        "{state}"
    );

    // The cards as a supporter reads them (shown with --nocapture).
    for args in [&draft_args[..], &feedback_args[..]] {
        let out = coe(dir.path(), args);
        assert!(out.status.success());
        println!("{}\n{}", args[1], String::from_utf8_lossy(&out.stdout));
    }
}

/// The one JSON object a successful `--json` run printed.
fn json_of(out: std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}
