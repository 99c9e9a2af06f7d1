//! Figure 5 (issue 6): the cost of reasoning on a real model. Per therapy, through the
//! pipeline against the local SmolLM2 server (scripts/local-llm.sh): prompt tokens,
//! completion tokens and latency, medians over the runs, as ratios to `base`.
//! Runs are interleaved (base, cbt, dbt, pct, rt, base, …) so drift hits every therapy alike;
//! run i uses seeker post i (the same posts for every therapy), LLM_JSON_MODE=json_object,
//! LLM_SEED=7. Skips, saying why, when the server is not reachable.
//!
//! `cargo bench --bench real_model` (LLM_BASE_URL, LLM_MODEL, COE_BENCH_RUNS=5).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use coe_bot::chain::Therapy;
use coe_bot::pipeline::{Member, Request};
use coe_bot::store::Source;
use support::{median, print_table, row};

#[derive(Default)]
struct Samples {
    prompt: Vec<f64>,
    completion: Vec<f64>,
    latency_ms: Vec<f64>,
    outcomes: BTreeMap<&'static str, usize>,
}

fn main() {
    support::start();
    support::runtime().block_on(run());
}

async fn reachable(base: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{}/models", base.trim_end_matches('/'));
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered HTTP {}", response.status()))
    }
}

async fn run() {
    let base = std::env::var("LLM_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8079/v1".into());
    let model = std::env::var("LLM_MODEL").unwrap_or_else(|_| "smollm2".into());
    let runs: usize = std::env::var("COE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    if let Err(why) = reachable(&base).await {
        println!("Figure 5 SKIPPED: the model server is not reachable ({why}).");
        println!("Start it with scripts/local-llm.sh, or set LLM_BASE_URL.");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = [
        ("LLM_MODEL", model.as_str()),
        ("LLM_JSON_MODE", "json_object"),
        ("LLM_SEED", "7"),
        ("LLM_TIMEOUT_SECS", "300"),
        ("LLM_MAX_CONCURRENCY", "1"),
    ];
    let config = support::config(&base, &dir.path().join("real.db"), &extra);
    let pipeline = support::pipeline(&config).await;
    println!("model {model} at {base}; {runs} runs per therapy");

    let mut samples: BTreeMap<Therapy, Samples> = BTreeMap::new();
    for run in 0..runs {
        for therapy in Therapy::ALL {
            let request = Request {
                source: Source::Cli,
                guild_id: None,
                member: Member::Local("bench".into()),
                therapy,
                message: support::POSTS[run % support::POSTS.len()],
                history: &[],
                record: true,
                helpline_region: "us",
                risk: None,
            };
            let started = Instant::now();
            let response = pipeline.respond(&request).await;
            let elapsed = support::ms(started.elapsed());
            let s = samples.entry(therapy).or_default();
            *s.outcomes.entry(response.outcome.as_str()).or_insert(0) += 1;
            s.latency_ms.push(elapsed);
            if let (Some(p), Some(c)) = (response.prompt_tokens, response.completion_tokens) {
                s.prompt.push(f64::from(p));
                s.completion.push(f64::from(c));
            }
            println!(
                "  run {run} {therapy}: {:?} {elapsed:.0} ms, tokens {:?}/{:?}",
                response.outcome, response.prompt_tokens, response.completion_tokens
            );
        }
    }

    let base_s = &samples[&Therapy::Base];
    let (bp, bc, bl) = (
        median(&base_s.prompt),
        median(&base_s.completion),
        median(&base_s.latency_ms),
    );
    let mut table = Vec::new();
    for (therapy, s) in &samples {
        let (p, c, l) = (
            median(&s.prompt),
            median(&s.completion),
            median(&s.latency_ms),
        );
        table.push(row(&[
            therapy,
            &format!("{p:.0}"),
            &format!("{c:.0}"),
            &format!("{l:.0}"),
            &format!("{:.2}", p / bp),
            &format!("{:.2}", c / bc),
            &format!("{:.2}", l / bl),
            &format!("{:?}", s.outcomes),
        ]));
    }
    print_table(
        &format!("Figure 5: per therapy on {model}, medians of {runs} runs (ratios to base)"),
        &[
            "therapy",
            "prompt tok",
            "completion tok",
            "latency ms",
            "prompt ÷ base",
            "completion ÷ base",
            "latency ÷ base",
            "outcomes",
        ],
        &table,
    );
}
