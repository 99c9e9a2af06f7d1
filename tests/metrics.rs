//! `COE_METRICS_ADDR` end to end: the real bot against the fake Discord, its `/metrics`
//! scraped and parsed as Prometheus text while it answers, and `/healthz` following the
//! gateway, the database and the model server.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use prometheus_parse::{LineInfo, Sample, Scrape, Value};
use serde_json::{json, Value as Json};
use support::bot::common::{chain_answer, completion};
use support::bot::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REPLY: &str = "That sounds like a lot to carry. What part of it weighs on you most?";

/// Port 0: the system picks a free one and the handle reports it.
const METRICS_ON: [(&str, &str); 1] = [("COE_METRICS_ADDR", "127.0.0.1:0")];

/// A model server of its own (not from wiremock's pool), so dropping it closes its port.
async fn model_server() -> MockServer {
    let server = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(&chain_answer("exploration", REPLY)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .mount(&server)
        .await;
    server
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .build()
        .expect("HTTP client")
}

/// `/metrics`, parsed; every line must be a comment or a sample the parser understood.
async fn scrape(addr: SocketAddr) -> Scrape {
    let response = http()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.expect("metrics body");
    for line in text.lines() {
        assert!(
            !matches!(LineInfo::parse(line), LineInfo::Ignored),
            "not Prometheus text format: {line:?}\n{text}"
        );
    }
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("parses")
}

fn samples<'a>(scrape: &'a Scrape, metric: &'a str) -> impl Iterator<Item = &'a Sample> {
    scrape.samples.iter().filter(move |s| s.metric == metric)
}

/// The value of `metric` with exactly `labels` (0 when absent: nothing counted yet).
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    samples(scrape, metric)
        .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map_or(0.0, |s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            ref other => panic!("{metric} is not a single value: {other:?}"),
        })
}

/// Sum of `metric` over every label set.
fn total(scrape: &Scrape, metric: &str) -> f64 {
    samples(scrape, metric)
        .map(|s| match s.value {
            Value::Counter(v) => v,
            ref other => panic!("{metric} is not a counter: {other:?}"),
        })
        .sum()
}

async fn healthz(addr: SocketAddr) -> (u16, Json) {
    let response = http()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON health"))
}

/// Polls `/healthz` until it answers `status` with `body` (checks are cached for a few seconds,
/// the gateway flag is polled every second).
async fn wait_for_health(addr: SocketAddr, status: u16, body: Json) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = healthz(addr).await;
        if got == (status, body.clone()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz stayed {got:?}, expected {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn metrics_addr(bot: &TestBot) -> SocketAddr {
    bot.handle()
        .metrics_addr()
        .expect("COE_METRICS_ADDR set, so the endpoint is served")
}

#[tokio::test(flavor = "multi_thread")]
async fn scrape_counts_the_message_its_gate_tier_its_model_latency_and_its_row() {
    bounded("metrics scrape", scrape_during_a_reply()).await;
}

async fn scrape_during_a_reply() {
    let bot = TestBot::start(model_server().await, &METRICS_ON).await;
    let addr = metrics_addr(&bot);
    let before = scrape(addr).await;

    let id = bot
        .coe(&alice(), "cbt", "Work has been a lot this week.", false)
        .await;
    assert_eq!(content(&bot.followup(id, 0).await), with_footer(REPLY));
    let after = scrape(addr).await;

    let replied = [("source", "slash"), ("outcome", "replied")];
    let messages = value(&after, "coe_messages_total", &replied)
        - value(&before, "coe_messages_total", &replied);
    assert_eq!(messages, 1.0, "one /coe answered");
    let verdicts = total(&after, "coe_gate_tier_total") - total(&before, "coe_gate_tier_total");
    assert_eq!(verdicts, 1.0, "the gate judged the message once");

    let ok = [("outcome", "ok")];
    let requests = value(&after, "coe_model_request_seconds_count", &ok)
        - value(&before, "coe_model_request_seconds_count", &ok);
    assert!(requests >= 1.0, "the chain's model request was timed");
    let histogram = samples(&after, "coe_model_request_seconds")
        .find(|s| s.labels.get("outcome") == Some("ok"))
        .expect("latency histogram");
    let Value::Histogram(buckets) = &histogram.value else {
        panic!("not a histogram: {histogram:?}");
    };
    let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
    assert_eq!(bounds.first(), Some(&0.1), "{bounds:?}");
    assert!(bounds.contains(&120.0), "{bounds:?}");
    let all = buckets
        .iter()
        .find(|b| b.less_than.is_infinite())
        .expect("+Inf bucket");
    assert_eq!(
        all.count,
        value(&after, "coe_model_request_seconds_count", &ok),
        "+Inf counts every sample"
    );
    let batches = value(&after, "coe_store_batch_rows_count", &[])
        - value(&before, "coe_store_batch_rows_count", &[]);
    assert!(
        batches >= 1.0,
        "the reply's row went through the group-commit writer"
    );
    assert!(after.docs.contains_key("coe_messages_total"), "HELP lines");
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_follows_the_gateway_the_database_and_the_model_server() {
    bounded("healthz", health_through_a_run()).await;
}

async fn health_through_a_run() {
    let mut bot = TestBot::start(model_server().await, &METRICS_ON).await;
    let addr = metrics_addr(&bot);
    let up = json!({"gateway": true, "database": true, "model": true});
    wait_for_health(addr, 200, up).await;

    // The model server goes away: its port is closed.
    drop(std::mem::replace(&mut bot.llm, MockServer::start().await));
    let model_down = json!({"gateway": true, "database": true, "model": false});
    wait_for_health(addr, 503, model_down).await;

    // Shut down: the gateway is closed and the database with it.
    bot.finish().await;
    let down = json!({"gateway": false, "database": false, "model": false});
    wait_for_health(addr, 503, down).await;
}
