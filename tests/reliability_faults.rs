//! Fault injection: 1,000 messages through the real pipeline (reqwest client, SQLite file) while
//! the model server fails 30% of them in every way we know of. Each message carries a marker
//! that tells the mock what to do, so the expected outcome of every single message is known.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use coe_bot::chain::Therapy;
use coe_bot::llm::LlmClient;
use coe_bot::pipeline::{Member, Pipeline, Request, LLM_ERROR_REPLY, PARSE_ERROR_REPLY};
use coe_bot::safety::gate::Gate;
use coe_bot::store::{Source, Store};
use futures::StreamExt;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

const MESSAGES: usize = 1_000;
/// Concurrent conversations: enough that the 1 s hangs and Retry-After waits overlap.
const IN_FLIGHT: usize = 50;
/// Member ids start here; message `i` comes from member `FIRST_MEMBER + i`.
const FIRST_MEMBER: u64 = 700_000_000_000;
/// The mock's hang: past the client's 1 s timeout, short enough to keep the test fast.
const HANG: Duration = Duration::from_millis(1_500);

/// What the mock does with one message. With LLM_MAX_ATTEMPTS=2 the client retries a 500
/// once; refusals (429, 503) are retried until the request's deadline, however many there are;
/// timeouts and unreadable bodies are not retried; unreadable chain answers get one repair
/// request from the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    None,
    /// 429 with `Retry-After: 0`, then a good answer on the retry.
    RateLimitedOnce,
    /// 429 with `Retry-After: 1` twice (more than LLM_MAX_ATTEMPTS), then a good answer.
    RateLimited,
    /// 500, then a good answer.
    ServerErrorOnce,
    /// 500 on both attempts.
    ServerError,
    /// 503 twice, then a good answer.
    Unavailable,
    /// No answer before the client's timeout.
    Hang,
    /// HTTP 200 whose JSON body stops half-way.
    TruncatedBody,
    /// A completion whose content is not the chain's JSON, on the first try and on the repair.
    InvalidChain,
    /// Invalid chain JSON, then valid JSON on the repair request.
    InvalidChainOnce,
}

/// The order faults are handed out in: `Hang` appears once in 10, so 30 messages hang.
const FAULT_CYCLE: [Fault; 10] = [
    Fault::RateLimitedOnce,
    Fault::ServerError,
    Fault::InvalidChain,
    Fault::TruncatedBody,
    Fault::RateLimited,
    Fault::ServerErrorOnce,
    Fault::Hang,
    Fault::InvalidChainOnce,
    Fault::Unavailable,
    Fault::InvalidChain,
];

/// Message `i` is faulty when `i % 10 < 3` (30%); faulty messages walk through `FAULT_CYCLE`.
fn fault_of(i: usize) -> Fault {
    if i % 10 >= 3 {
        return Fault::None;
    }
    let nth_fault = (i / 10) * 3 + i % 10;
    FAULT_CYCLE[nth_fault % FAULT_CYCLE.len()]
}

/// (outcome, model requests) the pipeline must produce for `fault`.
fn expected(fault: Fault) -> (&'static str, usize) {
    match fault {
        Fault::None => ("replied", 1),
        Fault::RateLimitedOnce | Fault::ServerErrorOnce | Fault::InvalidChainOnce => ("replied", 2),
        Fault::RateLimited | Fault::Unavailable => ("replied", 3),
        Fault::ServerError => ("llm_error", 2),
        Fault::Hang | Fault::TruncatedBody => ("llm_error", 1),
        Fault::InvalidChain => ("parse_error", 2),
    }
}

fn marker(i: usize) -> String {
    format!("reliability-case-{i:04}")
}

fn good_reply(i: usize) -> String {
    // The case number in the reply proves no answer reached the wrong conversation.
    format!("Thank you for telling me about your week, {}.", marker(i))
}

/// The model server: reads the case marker from the member's message and answers as
/// `fault_of` says, counting the requests per case to tell a first try from a retry.
struct FaultyModel {
    seen: Mutex<HashMap<usize, usize>>,
}

impl Respond for FaultyModel {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let Some(case) = case_of(request) else {
            return ResponseTemplate::new(400).set_body_string("no case marker");
        };
        let nth = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let count = seen.entry(case).or_default();
            *count += 1;
            *count
        };
        let good = || common::completion(&common::chain_answer("exploration", &good_reply(case)));
        let first = nth == 1;
        match fault_of(case) {
            Fault::None => good(),
            Fault::RateLimitedOnce if first => {
                ResponseTemplate::new(429).insert_header("Retry-After", "0")
            }
            Fault::RateLimited if nth <= 2 => {
                ResponseTemplate::new(429).insert_header("Retry-After", "1")
            }
            Fault::ServerErrorOnce if first => ResponseTemplate::new(500),
            Fault::ServerError => ResponseTemplate::new(500),
            Fault::Unavailable if nth <= 2 => ResponseTemplate::new(503),
            Fault::Hang => good().set_delay(HANG),
            Fault::TruncatedBody => ResponseTemplate::new(200).set_body_raw(
                r#"{"id":"cmpl-test","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis"#,
                "application/json",
            ),
            Fault::InvalidChain => common::completion("I hear you. {\"reply\": "),
            Fault::InvalidChainOnce if first => common::completion("Sure! I think you feel sad."),
            Fault::RateLimitedOnce
            | Fault::ServerErrorOnce
            | Fault::InvalidChainOnce
            | Fault::RateLimited
            | Fault::Unavailable => good(),
        }
    }
}

/// The case number in the last member message of a chat request (a repair request repeats the
/// original message, so retries and repairs find the same case).
fn case_of(request: &wiremock::Request) -> Option<usize> {
    let body: Value = request.body_json().ok()?;
    let messages = body["messages"].as_array()?;
    messages.iter().find_map(|m| {
        let text = m["content"].as_str()?;
        let at = text.find("reliability-case-")? + "reliability-case-".len();
        text.get(at..at + 4)?.parse().ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_under_injected_faults_all_get_an_answer() {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(FaultyModel {
            seen: Mutex::new(HashMap::new()),
        })
        .mount(&llm)
        .await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = common::config(
        &llm,
        dir.path(),
        &[
            ("LLM_MAX_ATTEMPTS", "2"),
            ("LLM_RETRY_BASE_MS", "1"),
            ("LLM_TIMEOUT_SECS", "1"),
            // Fixed: this test is about each fault's answer, not about the limit the
            // refusals would teach an adaptive one.
            ("LLM_CONCURRENCY", "fixed:64"),
        ],
    );
    let store = Store::open(&config.database_url).await.expect("open store");
    // Patterns only: this test is about the model server's faults, timed
    // against a 1 s client timeout; the classifier's CPU work for 1,000
    // messages on a small machine would only make those timings noisy.
    let pipeline = Pipeline::new(
        &config,
        LlmClient::new(&config.llm).unwrap(),
        store,
        Gate::patterns_only(),
    );

    let started = Instant::now();
    // Each message runs in its own task so a panic is caught as a JoinError, not a test abort.
    let results: Vec<(usize, Result<Answered, String>)> = futures::stream::iter(0..MESSAGES)
        .map(|i| {
            let pipeline = pipeline.clone();
            let task = tokio::spawn(async move { answer(&pipeline, i).await });
            async move { (i, task.await.map_err(|e| e.to_string())) }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let panics: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(panics.is_empty(), "tasks panicked: {panics:?}");
    let mut wanted_outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut wanted_requests = 0;
    let mut per_fault: BTreeMap<Fault, usize> = BTreeMap::new();
    for (i, result) in &results {
        let (outcome, reply) = result.as_ref().expect("checked above");
        let fault = fault_of(*i);
        let (want, requests) = expected(fault);
        *wanted_outcomes.entry(want).or_default() += 1;
        *per_fault.entry(fault).or_default() += 1;
        wanted_requests += requests;
        assert_eq!(outcome, want, "message {i} ({fault:?})");
        let want_reply = match want {
            "replied" => good_reply(*i),
            "llm_error" => LLM_ERROR_REPLY.to_string(),
            _ => PARSE_ERROR_REPLY.to_string(),
        };
        assert_eq!(reply, &want_reply, "reply to message {i} ({fault:?})");
    }

    // The database agrees, row by row: one row per member, with that message's outcome.
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT user_key, outcome FROM interactions")
        .fetch_all(pipeline.store().pool())
        .await
        .expect("read rows");
    assert_eq!(rows.len(), MESSAGES, "exactly one row per message");
    let by_key: HashMap<String, String> = rows.into_iter().collect();
    assert_eq!(by_key.len(), MESSAGES, "one row per member");
    for i in 0..MESSAGES {
        let key = pipeline.user_key(&Member::Discord(FIRST_MEMBER + i as u64));
        assert_eq!(
            by_key.get(&key).map(String::as_str),
            Some(expected(fault_of(i)).0),
            "row of message {i} ({:?})",
            fault_of(i)
        );
    }
    let mut stored: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in by_key.values() {
        *stored.entry(outcome.as_str()).or_default() += 1;
    }
    assert_eq!(stored, wanted_outcomes, "outcome counts in the database");

    // Retries and repairs happened exactly as configured: no more, no fewer model calls.
    let received = llm.received_requests().await.unwrap_or_default().len();
    assert_eq!(received, wanted_requests, "model requests");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(pipeline.store().pool())
        .await
        .expect("integrity check");
    assert_eq!(integrity, "ok");
    pipeline.store().close().await;
    eprintln!(
        "fault injection: {MESSAGES} messages, {IN_FLIGHT} in flight, {elapsed:?}; \
         faults {per_fault:?}; outcomes {stored:?}; {received} model requests"
    );
}

/// (outcome, reply) of one message.
type Answered = (String, String);

/// One message through the pipeline.
async fn answer(pipeline: &Pipeline, i: usize) -> Answered {
    let text = format!(
        "This week at work was long and I feel worn out and a bit lonely. {}",
        marker(i)
    );
    let request = Request {
        source: Source::Channel,
        guild_id: Some(42),
        member: Member::Discord(FIRST_MEMBER + i as u64),
        therapy: Therapy::Cbt,
        message: &text,
        history: &[],
        record: true,
        helpline_region: "us",
        risk: None,
    };
    let response = pipeline.respond(&request).await;
    assert!(
        response.interaction_id.is_some(),
        "message {i}: row not recorded"
    );
    assert!(
        !response.reply.trim().is_empty(),
        "message {i}: empty reply"
    );
    (response.outcome.as_str().to_string(), response.reply)
}
