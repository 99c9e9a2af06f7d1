//! The real reqwest client and chain runner against wiremock as the model
//! server: success, retries, timeouts, garbage, and JSON modes.

use coe_bot::chain::response_format;
use coe_bot::chain::{run_chain, Care, ChainError, Strategy, Therapy};
use coe_bot::llm::{Call, ChatMessage, LlmClient, LlmError, Role};
use coe_bot::llm::{Concurrency, JsonMode, LlmConfig, Secret};
use serde_json::json;
use std::time::{Duration, Instant};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(server: &MockServer) -> LlmConfig {
    LlmConfig {
        base_url: format!("{}/v1", server.uri()).parse().unwrap(),
        model: "test-model".into(),
        api_key: None,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        temperature: 0.9,
        top_p: 1.0,
        json_mode: JsonMode::Off,
        max_attempts: 3,
        max_tokens: 300,
        concurrency: Concurrency::Fixed(4),
        max_queue: 100,
        deadline: Duration::from_secs(5),
        retry_base: Duration::from_millis(10),
        seed: None,
    }
}

fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "cmpl-1", "object": "chat.completion", "model": "served-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59}
    }))
}

fn hello() -> Vec<ChatMessage> {
    vec![ChatMessage::new(Role::User, "hello")]
}

#[tokio::test]
async fn success_returns_content_and_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"model": "test-model", "temperature": 0.9, "top_p": 1.0}),
        ))
        .respond_with(completion("hi there"))
        .expect(1)
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let done = client.complete(&hello(), None).await.unwrap();
    assert_eq!(done.content, "hi there");
    assert_eq!(done.model, "served-model");
    assert_eq!(
        (done.prompt_tokens, done.completion_tokens),
        (Some(42), Some(17))
    );
    assert_eq!(done.attempts, 1);
    let body: serde_json::Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert!(body.get("response_format").is_none(), "off mode sends none");
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(completion("after the wait"))
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let started = Instant::now();
    let done = client.complete(&hello(), None).await.unwrap();
    assert_eq!(done.content, "after the wait");
    assert_eq!(done.attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_fails_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let started = Instant::now();
    let error = client.complete(&hello(), None).await.unwrap_err();
    assert!(matches!(error, LlmError::Deadline(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn refusals_are_retried_until_they_pass_not_a_fixed_number_of_times() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(4)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(completion("at last"))
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let done = client.complete(&hello(), None).await.unwrap();
    assert_eq!((done.content.as_str(), done.attempts), ("at last", 7));
}

#[tokio::test]
async fn server_errors_give_a_typed_error_after_bounded_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let error = client.complete(&hello(), None).await.unwrap_err();
    assert!(
        matches!(error, LlmError::Server { status: 500 }),
        "{error:?}"
    );
}

/// A client with one place, held by a request the server answers after
/// `hold`; returns the client and the holding task.
async fn one_place_taken(
    server: &MockServer,
    hold: Duration,
    tune: impl FnOnce(&mut LlmConfig),
) -> (LlmClient, tokio::task::JoinHandle<()>) {
    Mock::given(method("POST"))
        .respond_with(completion("slow").set_delay(hold))
        .mount(server)
        .await;
    let mut cfg = config(server);
    cfg.concurrency = Concurrency::Fixed(1);
    tune(&mut cfg);
    let client = LlmClient::new(&cfg).unwrap();
    let holder = tokio::spawn({
        let client = client.clone();
        async move {
            // Its own fate depends on the test's deadline; the test reads the other's.
            let _ = client.complete(&hello(), None).await;
        }
    });
    while client.load().in_flight == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (client, holder)
}

#[tokio::test]
async fn a_queued_request_fails_by_its_deadline_not_after_the_one_before_it() {
    // The place is held for 3 s; the deadline is 1 s. Queued 300 ms after
    // the holder, the request gets the holder's place when that one runs
    // out of time and has 300 ms left: it fails by its own deadline.
    let server = MockServer::start().await;
    let (client, holder) = one_place_taken(&server, Duration::from_secs(3), |cfg| {
        cfg.deadline = Duration::from_secs(1);
        cfg.timeout = Duration::from_secs(4);
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let error = client.complete(&hello(), None).await.unwrap_err();
    let waited = started.elapsed();
    // Cut short by the deadline, not timed out by the server (which must
    // not shrink the limit).
    assert!(matches!(error, LlmError::Deadline(_)), "{error:?}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_millis(1_300),
        "{waited:?}"
    );
    assert_eq!(client.load().queued, 0, "the late request left the line");
    assert_eq!(client.load().in_flight, 0);
    holder.await.unwrap();
}

#[tokio::test]
async fn an_urgent_request_never_queues_and_a_long_queue_tells_the_member_once() {
    let server = MockServer::start().await;
    let (client, holder) = one_place_taken(&server, Duration::from_secs(1), |cfg| {
        cfg.max_queue = 1;
    })
    .await;
    let urgent = coe_bot::llm::Call {
        urgent: true,
        ..Default::default()
    };
    let error = client
        .complete_with(&hello(), None, urgent)
        .await
        .unwrap_err();
    assert!(matches!(error, LlmError::Busy), "{error:?}");

    // First in line: within the queue, not told. Second: beyond it, told once.
    let told = std::sync::atomic::AtomicUsize::new(0);
    let count = || {
        told.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    let call = coe_bot::llm::Call {
        on_busy: Some(&count),
        ..Default::default()
    };
    let messages = hello();
    let (first, second) = tokio::join!(client.complete_with(&messages, None, call), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        client.complete_with(&messages, None, call).await
    });
    first.unwrap();
    second.unwrap();
    assert_eq!(told.load(std::sync::atomic::Ordering::SeqCst), 1);
    holder.await.unwrap();
}

#[tokio::test]
async fn a_spent_request_budget_holds_new_requests_until_its_reset() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            completion("last of the budget")
                .insert_header("x-ratelimit-remaining-requests", "0")
                .insert_header("x-ratelimit-reset-requests", "800ms"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(completion("new budget"))
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    client.complete(&hello(), None).await.unwrap();
    let started = Instant::now();
    let done = client.complete(&hello(), None).await.unwrap();
    assert_eq!(done.content, "new budget");
    assert!(started.elapsed() >= Duration::from_millis(750));
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(422).set_body_string("input: <member_message> my secret"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let error = client.complete(&hello(), None).await.unwrap_err();
    assert!(
        matches!(error, LlmError::Rejected { status: 422 }),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains("secret"),
        "the echoed body is never shown: {error}"
    );
}

#[tokio::test]
async fn a_hanging_server_times_out_without_retrying() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion("too late").set_delay(Duration::from_secs(3)))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.timeout = Duration::from_millis(300);
    let client = LlmClient::new(&cfg).unwrap();
    let error = client.complete(&hello(), None).await.unwrap_err();
    assert!(matches!(error, LlmError::Timeout(_)), "{error:?}");
}

#[tokio::test]
async fn garbage_bodies_are_invalid_responses() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy error</html>"))
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let error = client.complete(&hello(), None).await.unwrap_err();
    assert!(matches!(error, LlmError::InvalidResponse(_)), "{error:?}");
}

#[tokio::test]
async fn unreachable_server_is_a_connect_error_after_retries() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = MockServer::start().await;
    let mut cfg = config(&server);
    cfg.base_url = format!("http://127.0.0.1:{port}/v1").parse().unwrap();
    let client = LlmClient::new(&cfg).unwrap();
    let error = client.complete(&hello(), None).await.unwrap_err();
    assert!(matches!(error, LlmError::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains("127.0.0.1"));
}

#[tokio::test]
async fn api_key_and_response_format_are_sent_when_configured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer sk-test"))
        .and(body_partial_json(
            json!({"response_format": {"type": "json_schema"}}),
        ))
        .respond_with(completion("{}"))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.api_key = Some(Secret::new("sk-test"));
    let client = LlmClient::new(&cfg).unwrap();
    let format = response_format(JsonMode::JsonSchema);
    client.complete(&hello(), format.as_ref()).await.unwrap();
    let body: serde_json::Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    let strategies =
        &body["response_format"]["json_schema"]["schema"]["properties"]["strategy"]["enum"];
    assert_eq!(
        strategies,
        &json!(["emotional_reaction", "exploration", "interpretation"])
    );
}

#[tokio::test]
async fn chain_reads_a_wrong_strategy_as_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(
            r#"{"emotion": "sad", "reasoning": [], "strategy": "advice", "reply": "Try a walk."}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let run = run_chain(
        &client,
        Call::default(),
        None,
        Therapy::Base,
        Care::Usual,
        &[],
        "I feel low",
    )
    .await;
    let output = run.result.unwrap();
    assert_eq!(output.strategy, None);
    assert_eq!(output.reply, "Try a walk.");
}

#[tokio::test]
async fn chain_repairs_an_unreadable_answer_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion("Sure, I can help with that!"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(completion(r#"{"emotion": "shame", "reasoning": ["a"], "strategy": "interpretation", "reply": "It sounds heavy."}"#))
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let run = run_chain(
        &client,
        Call::default(),
        None,
        Therapy::Cbt,
        Care::Usual,
        &[],
        "I failed",
    )
    .await;
    let output = run.result.unwrap();
    assert_eq!(output.strategy, Some(Strategy::Interpretation));
    assert_eq!(
        run.prompt_tokens,
        Some(84),
        "tokens of both calls are counted"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let repair: serde_json::Value = requests[1].body_json().unwrap();
    let messages = repair["messages"].as_array().unwrap();
    assert_eq!(
        messages[messages.len() - 2]["content"],
        "Sure, I can help with that!"
    );
}

#[tokio::test]
async fn chain_gives_up_after_one_repair() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion("still not json"))
        .expect(2)
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let run = run_chain(
        &client,
        Call::default(),
        None,
        Therapy::Dbt,
        Care::Usual,
        &[],
        "I failed",
    )
    .await;
    assert!(
        matches!(run.result, Err(ChainError::Parse(_))),
        "{:?}",
        run.result
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_without_reading_them_whole() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(3 * 1024 * 1024)))
        .mount(&server)
        .await;
    let client = LlmClient::new(&config(&server)).unwrap();
    let error = client.complete(&hello(), None).await.unwrap_err();
    assert!(error.to_string().contains("body over"), "{error}");
}

#[tokio::test]
async fn retry_waits_do_not_hold_a_concurrency_slot() {
    // One slot; a rate-limited request waits 1 s before its retry. A
    // second request must get through during that wait.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::body_string_contains("slow"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(completion("ok"))
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.concurrency = Concurrency::Fixed(1);
    let client = LlmClient::new(&cfg).unwrap();
    let slow = vec![ChatMessage::new(Role::User, "slow")];
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.complete(&slow, None).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    client.complete(&hello(), None).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(waiting.await.unwrap().unwrap().attempts, 2);
}
