//! Figure 1 (issue 6): the pipeline's own overhead around the model call.
//!
//! One message at a time through `Pipeline::respond` (crisis gate, prompt, LLM call, parse,
//! sanitize, store) against a loopback mock with latency L, interleaved with a bare reqwest
//! POST of the same request body to the same mock, so both see the same machine state.
//! - L = 500 ms: end-to-end time / L (target ≤ 1.01).
//! - L = 0: the pipeline's cost per message = pipeline time − bare call time, paired per
//!   message (target: median ≤ 1 ms); with a breakdown (no store write; the store write alone).
//!
//! `cargo bench --bench overhead` (COE_BENCH_FAST_RUNS, COE_BENCH_SLOW_RUNS change the counts).

mod support;

use std::time::{Duration, Instant};

use axum::body::Bytes;
use coe_bot::chain::{Emotion, Therapy};
use coe_bot::pipeline::{Member, Pipeline};
use coe_bot::store::{NewInteraction, Outcome, Source};
use support::mock::Mock;
use support::{median, percentile, print_table, row, us, verdict};

const SLOW_L: Duration = Duration::from_millis(500);

fn main() {
    support::start();
    support::runtime().block_on(run());
}

async fn respond(pipeline: &Pipeline, i: usize, record: bool) -> Duration {
    let request = support::request(i, Source::Slash, Therapy::Cbt, record);
    let started = Instant::now();
    let response = pipeline.respond(&request).await;
    let elapsed = started.elapsed();
    assert_eq!(response.outcome, Outcome::Replied, "{:?}", response.failure);
    elapsed
}

async fn bare(client: &reqwest::Client, mock: &Mock, body: &Bytes) -> Duration {
    let started = Instant::now();
    let response = client
        .post(mock.completions_url())
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("bare request");
    let bytes = response.bytes().await.expect("bare body");
    let elapsed = started.elapsed();
    assert!(bytes.len() > 100);
    elapsed
}

fn stats_row(name: &str, samples_us: &[f64]) -> Vec<String> {
    row(&[
        &name,
        &samples_us.len(),
        &format!("{:.1}", median(samples_us)),
        &format!("{:.1}", percentile(samples_us, 99.0)),
        &format!("{:.1}", percentile(samples_us, 100.0)),
    ])
}

async fn run() {
    let slow_runs = support::env_usize("COE_BENCH_SLOW_RUNS", 10);
    let fast_runs = support::env_usize("COE_BENCH_FAST_RUNS", 2_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    let db = dir.path().join("overhead.db");
    let config = support::config(
        &mock.base_url(),
        &db,
        &[("LLM_MAX_CONCURRENCY", "64"), ("LLM_MAX_ATTEMPTS", "5")],
    );
    let pipeline = support::pipeline(&config).await;
    let client = support::bare_client();

    // Warm-up: connections, prepared statements, lazily built regexes.
    for i in 0..100 {
        respond(&pipeline, i, true).await;
    }
    let body = mock
        .recent_body()
        .await
        .expect("the mock kept a request body");
    for _ in 0..100 {
        bare(&client, &mock, &body).await;
    }

    // L = 500 ms: end-to-end / L.
    mock.set(SLOW_L, 0.0).await;
    let (mut slow_pipe, mut slow_bare) = (Vec::new(), Vec::new());
    for i in 0..slow_runs {
        slow_pipe.push(support::ms(respond(&pipeline, i, true).await));
        slow_bare.push(support::ms(bare(&client, &mock, &body).await));
    }
    let l_ms = support::ms(SLOW_L);
    let ratio = median(&slow_pipe) / l_ms;
    let ratio_max = percentile(&slow_pipe, 100.0) / l_ms;
    print_table(
        &format!("Figure 1a: one message with mock latency L = {l_ms} ms ({slow_runs} runs)"),
        &["measure", "median", "max", "target", "verdict"],
        &[
            row(&[
                &"pipeline end-to-end / L",
                &format!("{ratio:.4}"),
                &format!("{ratio_max:.4}"),
                &"≤ 1.01",
                &verdict(ratio <= 1.01),
            ]),
            row(&[
                &"bare reqwest call / L",
                &format!("{:.4}", median(&slow_bare) / l_ms),
                &format!("{:.4}", percentile(&slow_bare, 100.0) / l_ms),
                &"",
                &"",
            ]),
        ],
    );

    // L = 0: the pipeline's own cost, paired with a bare call of the same body.
    mock.set(Duration::ZERO, 0.0).await;
    let (mut pipe, mut plain, mut cost) = (Vec::new(), Vec::new(), Vec::new());
    let (mut unrecorded, mut cost_unrecorded) = (Vec::new(), Vec::new());
    for i in 0..fast_runs {
        let p = us(respond(&pipeline, i, true).await);
        let b = us(bare(&client, &mock, &body).await);
        let u = us(respond(&pipeline, i, false).await);
        pipe.push(p);
        plain.push(b);
        unrecorded.push(u);
        cost.push(p - b);
        cost_unrecorded.push(u - b);
    }
    let store_only = store_writes(&pipeline, fast_runs).await;
    let with_failures = failing(&pipeline, &mock, fast_runs / 4).await;
    let cost_median_ms = median(&cost) / 1000.0;
    print_table(
        &format!("Figure 1b: per-message times with L = 0 ({fast_runs} paired runs, µs)"),
        &["what", "n", "median µs", "p99 µs", "max µs"],
        &[
            stats_row("pipeline (record = true)", &pipe),
            stats_row("bare reqwest call, same body", &plain),
            stats_row("pipeline cost = pipeline − bare", &cost),
            stats_row("pipeline (record = false)", &unrecorded),
            stats_row("cost without the store write", &cost_unrecorded),
            stats_row("Store::record_interaction alone", &store_only),
            stats_row("pipeline, 10% HTTP 500 (retried)", &with_failures),
        ],
    );
    print_table(
        "Figure 1 summary",
        &["measure", "value", "target", "verdict"],
        &[
            row(&[
                &"end-to-end / L at L = 500 ms (median)",
                &format!("{ratio:.4}"),
                &"≤ 1.01",
                &verdict(ratio <= 1.01),
            ]),
            row(&[
                &"pipeline cost per message, median",
                &format!("{cost_median_ms:.3} ms"),
                &"≤ 1 ms",
                &verdict(cost_median_ms <= 1.0),
            ]),
            row(&[
                &"pipeline cost per message, p99",
                &format!("{:.3} ms", percentile(&cost, 99.0) / 1000.0),
                &"(reported)",
                &"",
            ]),
        ],
    );
}

/// The store write on its own, with the row the pipeline writes for a CBT reply.
async fn store_writes(pipeline: &Pipeline, runs: usize) -> Vec<f64> {
    let row = NewInteraction {
        started_at: chrono::Utc::now(),
        guild_id: Some(1),
        source: Source::Slash,
        user_key: pipeline.user_key(&Member::Discord(42)),
        therapy: Therapy::Cbt,
        prompt_version: Therapy::Cbt.prompt_version().to_string(),
        model: "mock".into(),
        emotion: Emotion::from_model("sad"),
        strategy: None,
        reasoning: Some(vec!["a".into()]),
        outcome: Outcome::Replied,
        risk: Default::default(),
        latency_ms: 1,
        prompt_tokens: Some(100),
        completion_tokens: Some(20),
    };
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        pipeline
            .store()
            .record_interaction(&row)
            .await
            .expect("row");
        samples.push(us(started.elapsed()));
    }
    samples
}

/// Messages while the mock fails 10% of requests with HTTP 500 (retried at once).
async fn failing(pipeline: &Pipeline, mock: &Mock, runs: usize) -> Vec<f64> {
    mock.set(Duration::ZERO, 0.10).await;
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        samples.push(us(respond(pipeline, i, true).await));
    }
    mock.set(Duration::ZERO, 0.0).await;
    samples
}
