//! Figure 7: the crisis gate's cost (patterns, then the MiniLM classifier) in front of every
//! message.
//!
//! In one run, with the model of `scripts/embed-model.sh` (COE_EMBED_MODEL_DIR):
//! 1. One typical post at a time through `Gate::assess` ([`POSTS`]: 20 support-channel posts
//!    of 15–80 words, round robin, after a warm-up): latency p50 (target ≤ 15 ms) and p99
//!    (target ≤ 60 ms), and the process CPU time per post.
//! 2. 600 posts submitted at once as tokio tasks, which the embedding thread gathers into
//!    batches: messages/s (target ≥ 150), the median of 3 bursts.
//! 3. Resident set before `Classifier::load`, after it and after 1–2: growth against the size
//!    of the weights file (target ≤ weights + 25 MB).
//! 4. 200 simultaneous `/coe`-like `Pipeline::respond` calls (the real pipeline and its own
//!    gate) against the mock LLM in a child process, L = 2 s, LLM_MAX_CONCURRENCY=256:
//!    wall / L (target ≤ 1.2).
//!
//! Then, for the cause, the same posts stage by stage on the main thread (patterns, sentence
//! split, tokenizer + MiniLM forward pass, nearest neighbours over the bank) with a second copy
//! of the model, loaded after the memory figures were taken.
//!
//! `cargo bench --bench gate` (COE_BENCH_GATE_CALLS, COE_BENCH_GATE_BURST,
//! COE_BENCH_GATE_CONVERSATIONS change the counts).

mod support;

#[path = "support/gate_posts.rs"]
mod gate_posts;
#[path = "support/gate_report.rs"]
mod gate_report;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use coe_bot::chain::Therapy;
use coe_bot::embed::Embedder;
use coe_bot::pipeline::Pipeline;
use coe_bot::safety::classifier::bank::Bank;
use coe_bot::safety::classifier::{units::units, verdict, Classifier};
use coe_bot::safety::crisis;
use coe_bot::safety::gate::Gate;
use coe_bot::store::{Outcome, Source};
use gate_posts::POSTS;
use gate_report::report;
use support::mock::{Mock, MockProcess};
use support::{median, ms, us};

/// Size of `model.safetensors` (scripts/embed-model.sh checks it).
const WEIGHTS_BYTES: u64 = 90_868_376;
const L: Duration = Duration::from_secs(2);
const BURSTS: usize = 3;

fn main() {
    support::start();
    println!("load average at start (1, 5, 15 min): {}", load_average());
    let dir = PathBuf::from(
        std::env::var("COE_EMBED_MODEL_DIR")
            .expect("COE_EMBED_MODEL_DIR (export \"$(scripts/embed-model.sh)\")"),
    );
    for post in POSTS {
        let words = post.split_whitespace().count();
        assert!((15..=80).contains(&words), "{words} words: {post}");
    }
    let calls = support::env_usize("COE_BENCH_GATE_CALLS", 400).max(200);
    let burst = support::env_usize("COE_BENCH_GATE_BURST", 600);
    let conversations = support::env_usize("COE_BENCH_GATE_CONVERSATIONS", 200);
    let mock = MockProcess::spawn(Duration::ZERO, 0.0);
    let runtime = support::runtime();

    let rss_before = support::rss_mb();
    let started = Instant::now();
    let classifier =
        Classifier::load(&dir).expect("crisis classifier (run scripts/embed-model.sh)");
    let load_ms = ms(started.elapsed());
    let rss_loaded = support::rss_mb();
    let memory = Memory {
        before: rss_before,
        loaded: rss_loaded,
        load_ms,
        ..Memory::default()
    };
    let gate = Gate::new(classifier);
    let results = runtime.block_on(run(gate, memory, calls, burst));
    let conversation = runtime.block_on(pipeline_round(&mock.mock, conversations));
    drop(runtime);
    let stages = stages(&dir);
    report(&results, &conversation, &stages);
    println!("load average at end (1, 5, 15 min): {}", load_average());
}

/// The first three fields of /proc/loadavg.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Default)]
struct Memory {
    before: f64,
    loaded: f64,
    load_ms: f64,
    after_runs: f64,
    peak_after_runs: f64,
}

struct GateRuns {
    memory: Memory,
    cold_ms: f64,
    latencies: Vec<f64>,
    per_post: Vec<Vec<f64>>,
    tiers: Vec<&'static str>,
    cpu_per_call_ms: f64,
    wall_sequential_s: f64,
    burst: usize,
    rates: Vec<f64>,
    burst_latencies: Vec<f64>,
}

async fn run(gate: Gate, mut memory: Memory, calls: usize, burst: usize) -> GateRuns {
    let (cold_ms, tiers) = warm_up(&gate).await;
    let sequential = one_at_a_time(&gate, calls).await;
    let (rates, burst_latencies) = bursts(&gate, burst).await;

    // 3. What the runs left resident.
    memory.after_runs = support::rss_mb();
    memory.peak_after_runs = support::peak_rss_mb();
    drop(gate);
    GateRuns {
        memory,
        cold_ms,
        latencies: sequential.latencies,
        per_post: sequential.per_post,
        tiers,
        cpu_per_call_ms: sequential.cpu_per_call_ms,
        wall_sequential_s: sequential.wall_s,
        burst,
        rates,
        burst_latencies,
    }
}

/// Warm-up: the first pass sizes the allocator's pools and compiles the lexicon. Returns the
/// cold first call's latency and each post's tier.
async fn warm_up(gate: &Gate) -> (f64, Vec<&'static str>) {
    let started = Instant::now();
    gate.assess(POSTS[0]).await;
    let cold_ms = ms(started.elapsed());
    for post in POSTS {
        gate.assess(post).await;
    }
    let tiers = gate
        .assess_many(&POSTS)
        .await
        .iter()
        .map(|r| r.tier.as_str())
        .collect();
    (cold_ms, tiers)
}

struct Sequential {
    latencies: Vec<f64>,
    per_post: Vec<Vec<f64>>,
    cpu_per_call_ms: f64,
    wall_s: f64,
}

/// 1. One at a time.
async fn one_at_a_time(gate: &Gate, calls: usize) -> Sequential {
    let mut latencies = Vec::with_capacity(calls);
    let mut per_post = vec![Vec::new(); POSTS.len()];
    let cpu_started = support::cpu_times().own;
    let wall_started = Instant::now();
    for i in 0..calls {
        let post = POSTS[i % POSTS.len()];
        let started = Instant::now();
        gate.assess(post).await;
        let latency = ms(started.elapsed());
        latencies.push(latency);
        per_post[i % POSTS.len()].push(latency);
    }
    let wall_s = wall_started.elapsed().as_secs_f64();
    let cpu_per_call_ms = ms(support::cpu_times().own - cpu_started) / calls as f64;
    Sequential {
        latencies,
        per_post,
        cpu_per_call_ms,
        wall_s,
    }
}

/// 2. Bursts submitted at once: each burst's messages/s and the last burst's latencies.
async fn bursts(gate: &Gate, burst: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rates = Vec::new();
    let mut burst_latencies = Vec::new();
    for _ in 0..BURSTS {
        let started = Instant::now();
        let tasks: Vec<_> = (0..burst)
            .map(|i| {
                let gate = gate.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    gate.assess(POSTS[i % POSTS.len()]).await;
                    ms(started.elapsed())
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(burst);
        for task in tasks {
            latencies.push(task.await.expect("gate task"));
        }
        rates.push(burst as f64 / started.elapsed().as_secs_f64());
        burst_latencies = latencies;
    }
    (rates, burst_latencies)
}

struct Conversations {
    n: usize,
    burst: support::Burst,
    rss_after: f64,
}

async fn respond(pipeline: &Pipeline, i: usize) -> (Outcome, f64) {
    let mut request =
        support::request(i, Source::Slash, Therapy::ALL[i % Therapy::ALL.len()], true);
    request.message = POSTS[i % POSTS.len()];
    let started = Instant::now();
    let response = pipeline.respond(&request).await;
    (response.outcome, ms(started.elapsed()))
}

/// 4. `n` `/coe`-like calls at once through the real pipeline (which loads its own gate).
async fn pipeline_round(mock: &Mock, n: usize) -> Conversations {
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = [("LLM_MAX_CONCURRENCY", "256"), ("LLM_TIMEOUT_SECS", "120")];
    let config = support::config(&mock.base_url(), &dir.path().join("gate.db"), &extra);
    let pipeline = support::pipeline(&config).await;
    // Warm-up with L = 0: store migrated, the gate's first pass done, one connection.
    mock.set(Duration::ZERO, 0.0).await;
    for i in 0..POSTS.len() {
        respond(&pipeline, i).await;
    }
    mock.set(L, 0.0).await;
    mock.reset().await;

    let burst = support::run_all(mock, n, L * 30, |i| {
        let pipeline = pipeline.clone();
        async move { respond(&pipeline, i).await }
    })
    .await;
    let rss_after = support::rss_mb();
    pipeline.store().close().await;
    Conversations {
        n,
        burst,
        rss_after,
    }
}

/// Per post, the gate's stages run one after another on this thread (medians over rounds).
struct Stage {
    words: usize,
    units: usize,
    tokens: usize,
    patterns_us: f64,
    split_us: f64,
    embed_ms: f64,
    embed_cpu_ms: f64,
    knn_us: f64,
}

/// Linear-layer FLOPs of all-MiniLM-L6-v2 per token: 6 layers of Q, K, V, output
/// (4 × 384²) and the feed-forward pair (2 × 384 × 1536) multiply-adds, 2 FLOPs each.
const FLOPS_PER_TOKEN: f64 = 6.0 * 2.0 * (4.0 * 384.0 * 384.0 + 2.0 * 384.0 * 1536.0);

fn stages(dir: &Path) -> Vec<Stage> {
    const ROUNDS: usize = 9;
    let embedder = Embedder::load(dir).expect("embedding model");
    let bank = Bank::load_or_build(&embedder, dir).expect("classifier bank");
    let mut tokenizer =
        tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).expect("tokenizer");
    tokenizer.with_padding(None);
    let thresholds = Classifier::committed_thresholds();
    POSTS
        .iter()
        .map(|post| {
            let pieces = units(post);
            let tokens = pieces
                .iter()
                .map(|u| tokenizer.encode(u.as_str(), true).map_or(0, |e| e.len()))
                .sum();
            let texts: Vec<&str> = pieces.iter().map(String::as_str).collect();
            embedder.embed(&texts).expect("warm-up embed");
            let (mut patterns, mut split, mut embed, mut knn) = (vec![], vec![], vec![], vec![]);
            let cpu_started = support::cpu_times().own;
            for _ in 0..ROUNDS {
                let t = Instant::now();
                std::hint::black_box(crisis::assess(post));
                patterns.push(us(t.elapsed()));
                let t = Instant::now();
                std::hint::black_box(units(post));
                split.push(us(t.elapsed()));
                let t = Instant::now();
                let vectors = embedder.embed(&texts).expect("embed");
                embed.push(ms(t.elapsed()));
                let t = Instant::now();
                let probabilities: Vec<[f32; 5]> =
                    vectors.iter().map(|v| bank.probabilities(v)).collect();
                std::hint::black_box(verdict(&thresholds, &probabilities));
                knn.push(us(t.elapsed()));
            }
            Stage {
                words: post.split_whitespace().count(),
                units: pieces.len(),
                tokens,
                patterns_us: median(&patterns),
                split_us: median(&split),
                embed_ms: median(&embed),
                // Over all stages, but the others are microseconds.
                embed_cpu_ms: ms(support::cpu_times().own - cpu_started) / ROUNDS as f64,
                knn_us: median(&knn),
            }
        })
        .collect()
}
