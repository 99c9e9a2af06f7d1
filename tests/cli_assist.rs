//! `coe-bot assist draft|feedback` as a supporter runs it, against wiremock: the cards, the gate
//! before any model call, unreadable model output, and no model at all.

mod common;

use common::*;
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

const MESSAGE: &str = "I failed my exam and I feel like such a disappointment to my parents.";

async fn model_answering(answer: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(answer))
        .mount(&server)
        .await;
    server
}

fn assist(llm_url: &str, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let vars = [
        ("COE_HASH_KEY", HASH_KEY.to_string()),
        ("LLM_BASE_URL", llm_url.to_string()),
        ("LLM_TIMEOUT_SECS", "5".into()),
        ("LLM_RETRY_BASE_MS", "5".into()),
        ("LLM_MAX_ATTEMPTS", "1".into()),
        ("DATABASE_URL", db_url(dir)),
    ];
    run_binary(dir, &vars, &[&["assist"], args].concat(), "")
}

fn stdout(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn a_draft_card_and_its_json() {
    let draft = json!({
        "emotion": "shame", "reasoning": ["Thought: one exam decides her worth."],
        "aim": "Validate, then invite more.", "strategy": "exploration",
        "draft": "That sounds so heavy. What has been the hardest part?",
    });
    let llm = model_answering(&draft.to_string()).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", llm.uri());
    let card = stdout(&assist(
        &url,
        dir.path(),
        &["draft", "--strategy", "exploration", MESSAGE],
    ));
    assert!(card.starts_with("**Draft reply** · exploration"), "{card}");
    assert!(card.contains("> That sounds so heavy. What has been the hardest part?"));
    assert!(card.contains("Thought: one exam decides her worth."));
    let object: Value = serde_json::from_str(&stdout(&assist(
        &url,
        dir.path(),
        &["draft", "--json", "--therapy", "dbt", MESSAGE],
    )))
    .unwrap();
    assert_eq!(object["status"], "ready");
    assert_eq!(
        (object["therapy"].as_str(), object["strategy"].as_str()),
        (Some("dbt"), Some("exploration"))
    );
    let bodies = llm_requests(&llm).await;
    assert!(bodies[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("exploration"));
    assert!(bodies[1].to_string().contains(MESSAGE));
}

#[tokio::test]
async fn a_member_at_risk_gets_guidance_and_the_model_is_not_asked() {
    let llm = model_answering("{}").await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", llm.uri());
    let crisis = "i have been saving up my pills and tonight i am going to take them all";
    let card = stdout(&assist(&url, dir.path(), &["draft", crisis]));
    assert!(
        card.starts_with("**Answering someone who may be at risk**"),
        "{card}"
    );
    assert!(card.contains("moderators would be alerted"));
    let out = assist(
        &url,
        dir.path(),
        &["feedback", "--json", "--message", crisis, "--draft", "hey"],
    );
    let object: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (object["status"].as_str(), object["tier"].as_str()),
        (Some("at_risk"), Some("crisis"))
    );
    assert!(llm_requests(&llm).await.is_empty());
}

#[tokio::test]
async fn feedback_marks_a_light_edit_and_keeps_pings_from_the_model() {
    let feedback = json!({
        "strategies_used": ["Emotional Reaction"], "suggestions": "Ask how they feel now.",
        "adds": "exploration", "edited": "I'm so sorry. How are you feeling now?",
    });
    let llm = model_answering(&feedback.to_string()).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", llm.uri());
    let args = [
        "feedback",
        "--message",
        MESSAGE,
        "--draft",
        "I'm so sorry. @everyone <@123>",
    ];
    let card = stdout(&assist(&url, dir.path(), &args));
    assert!(
        card.contains("Your reply already uses: emotional reaction."),
        "{card}"
    );
    assert!(
        card.contains("**How") && card.contains("- Ask how they feel now."),
        "{card}"
    );
    let sent = llm_requests(&llm).await[0].to_string();
    assert!(
        sent.contains("I'm so sorry.") && !sent.contains("@everyone") && !sent.contains("<@123>")
    );
}

#[tokio::test]
async fn unreadable_answers_and_a_missing_model_are_told_plainly() {
    let llm = model_answering("I am not JSON at all").await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", llm.uri());
    let card = stdout(&assist(&url, dir.path(), &["draft", MESSAGE]));
    assert!(card.contains("came back garbled"), "{card}");
    assert_eq!(
        llm_requests(&llm).await.len(),
        1,
        "one call, no repair round"
    );

    let out = assist("http://127.0.0.1:9/v1", dir.path(), &["draft", MESSAGE]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("scripts/local-llm.sh"), "{stderr}");
}
