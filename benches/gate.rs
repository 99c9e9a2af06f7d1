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

use std::collections::BTreeMap;
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
use support::mock::{Mock, MockProcess};
use support::{median, ms, percentile, print_table, row, us, verdict as met};

/// Size of `model.safetensors` (scripts/embed-model.sh checks it).
const WEIGHTS_BYTES: u64 = 90_868_376;
const L: Duration = Duration::from_secs(2);
const BURSTS: usize = 3;

/// Typical posts of a peer-support channel: ordinary distress, questions, updates; no crisis.
const POSTS: [&str; 20] = [
    "I failed my chemistry midterm even though I studied every night for two weeks. I honestly \
     don't know what else I can do, and I'm scared to tell my parents because they're paying \
     for all of this.",
    "Does anyone else get really anxious before phone calls? I had to call the doctor's office \
     today and I rehearsed it for an hour.",
    "My dog died on Sunday. He was fourteen and had been with me since I was a kid. The \
     apartment feels so quiet now and I keep expecting to hear him at the door when I come home.",
    "Just wanted to say thanks to everyone who replied last week. I talked to my sister like you \
     suggested and it went way better than I expected.",
    "I got laid off this morning along with half my team. Rent is due in ten days and I have \
     maybe a month of savings. I keep refreshing job boards but my head is spinning and I can't \
     focus on a single application.",
    "I haven't slept more than four hours a night this whole week. My mind just races about \
     everything I said wrong during the day.",
    "My girlfriend and I broke up after three years. It was mutual, sort of, but I still feel \
     like someone pulled the floor out from under me. All our friends are shared, so every plan \
     reminds me of her, and I don't know whether to go out or stay home.",
    "Work burnout is real. I used to love my job as a nurse but lately I dread every shift, I \
     snap at my partner when I get home, and my days off just disappear into sleeping and \
     scrolling. I feel like I'm running on empty and nobody at work seems to notice. How do you \
     all recover when you're this drained?",
    "My roommate keeps having loud guests over until 3am on weeknights. I've asked nicely twice \
     and now things are tense between us. Any tips on how to bring it up again without it \
     turning into a fight?",
    "I'm thinking about coming out to my parents over the holidays. Part of me is excited to \
     finally stop hiding, but they're pretty religious and I'm terrified of how dinner will go.",
    "Had a panic attack in the middle of a meeting today. My heart was pounding and I had to \
     leave the room. I'm so embarrassed and I don't know how to face my coworkers tomorrow.",
    "Lately I just feel numb. Not sad exactly, just flat, like I'm watching my life through a \
     window.",
    "My mom was diagnosed with early-stage dementia last month. I'm the only one of my siblings \
     who lives nearby, so most of the appointments and paperwork fall on me. I love her and I \
     want to help, but I'm exhausted, and I feel guilty for even admitting that. Sometimes she \
     forgets what we talked about an hour ago and I have to explain everything again.",
    "Does it get easier? I started my first real job three months ago and I still feel like a \
     fraud who will be found out any day.",
    "I've been procrastinating on my thesis for weeks and now the deadline is close. Every time \
     I open the document I feel sick and close it again.",
    "New parent here. The baby is wonderful but I'm running on two hours of sleep and I cried in \
     the shower this morning for no reason. Is this normal?",
    "My best friend moved across the country last month. We text, but it's not the same, and \
     weekends feel really empty now.",
    "I had my first therapy session today. It was awkward and I barely said anything \
     meaningful, but I'm proud I actually went. Hoping next week is easier.",
    "I keep comparing my body to people on Instagram and it's making me miserable. I know the \
     photos are edited, but I still feel awful when I look in the mirror and I've stopped going \
     to the gym because I'm embarrassed.",
    "Money is really tight this month. My car broke down, the repair costs more than I make in \
     two weeks, and I need it to get to work. I'm trying to figure out who I could ask for help \
     without feeling ashamed about it.",
];

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
    println!(
        "mock LLM in child process {} at {}",
        mock.pid(),
        mock.mock.addr
    );
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

/// User + system CPU time of this process (all threads), from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of proc(5) (utime, stime), counted from field 3 here; clock ticks
    // of 10 ms (USER_HZ = 100 on Linux).
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
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
    // Warm-up: the first pass sizes the allocator's pools and compiles the lexicon.
    let started = Instant::now();
    gate.assess(POSTS[0]).await;
    let cold_ms = ms(started.elapsed());
    for post in POSTS {
        gate.assess(post).await;
    }
    let tiers: Vec<&'static str> = gate
        .assess_many(&POSTS)
        .await
        .iter()
        .map(|r| r.tier.as_str())
        .collect();

    // 1. One at a time.
    let mut latencies = Vec::with_capacity(calls);
    let mut per_post = vec![Vec::new(); POSTS.len()];
    let cpu_started = cpu_time();
    let wall_started = Instant::now();
    for i in 0..calls {
        let post = POSTS[i % POSTS.len()];
        let started = Instant::now();
        gate.assess(post).await;
        let latency = ms(started.elapsed());
        latencies.push(latency);
        per_post[i % POSTS.len()].push(latency);
    }
    let wall_sequential_s = wall_started.elapsed().as_secs_f64();
    let cpu_per_call_ms = ms(cpu_time() - cpu_started) / calls as f64;

    // 2. Bursts submitted at once.
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

    // 3. What the runs left resident.
    memory.after_runs = support::rss_mb();
    memory.peak_after_runs = support::peak_rss_mb();
    drop(gate);
    GateRuns {
        memory,
        cold_ms,
        latencies,
        per_post,
        tiers,
        cpu_per_call_ms,
        wall_sequential_s,
        burst,
        rates,
        burst_latencies,
    }
}

struct Conversations {
    n: usize,
    wall: Duration,
    latencies: Vec<f64>,
    outcomes: BTreeMap<&'static str, usize>,
    max_in_flight: u64,
    arrivals_ms: f64,
    requests: u64,
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

    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let pipeline = pipeline.clone();
            tokio::spawn(async move { respond(&pipeline, i).await })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    let mut outcomes = BTreeMap::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (outcome, latency) = match tokio::time::timeout(L * 30, task).await {
            Ok(done) => done.expect("conversation task"),
            Err(_) => panic!(
                "conversation {i} of {n} unfinished after {:?}; mock saw {:?}",
                started.elapsed(),
                mock.stats().await
            ),
        };
        *outcomes.entry(outcome.as_str()).or_insert(0) += 1;
        latencies.push(latency);
    }
    let wall = started.elapsed();
    let stats = mock.stats().await;
    let rss_after = support::rss_mb();
    pipeline.store().close().await;
    Conversations {
        n,
        wall,
        latencies,
        outcomes,
        max_in_flight: stats.max_in_flight,
        arrivals_ms: stats.arrivals_us as f64 / 1000.0,
        requests: stats.requests,
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
            let cpu_started = cpu_time();
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
                embed_cpu_ms: ms(cpu_time() - cpu_started) / ROUNDS as f64,
                knn_us: median(&knn),
            }
        })
        .collect()
}

fn report(runs: &GateRuns, conv: &Conversations, stages: &[Stage]) {
    let mut rows = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        rows.push(row(&[
            &(i + 1),
            &stage.words,
            &stage.units,
            &stage.tokens,
            &runs.tiers[i],
            &format!("{:.1}", median(&runs.per_post[i])),
            &format!("{:.0}", stage.patterns_us),
            &format!("{:.0}", stage.split_us),
            &format!("{:.1}", stage.embed_ms),
            &format!("{:.0}", stage.knn_us),
        ]));
    }
    print_table(
        "Figure 7, per post: gate p50 (1.) and its stages run in turn on one thread (medians)",
        &[
            "post",
            "words",
            "units",
            "tokens",
            "tier",
            "gate p50 ms",
            "patterns µs",
            "split µs",
            "tokenize + MiniLM ms",
            "kNN µs",
        ],
        &rows,
    );
    let sum = |f: &dyn Fn(&Stage) -> f64| stages.iter().map(f).sum::<f64>();
    let n = stages.len() as f64;
    let tokens = sum(&|s| s.tokens as f64) / n;
    let embed_ms = sum(&|s| s.embed_ms) / n;
    let embed_cpu_ms = sum(&|s| s.embed_cpu_ms) / n;
    let other_ms = sum(&|s| (s.patterns_us + s.split_us + s.knn_us) / 1000.0) / n;
    let flops = sum(&|s| s.tokens as f64 * FLOPS_PER_TOKEN) / n;
    println!(
        "mean per post: {:.1} words, {:.1} units, {tokens:.1} tokens; tokenize + MiniLM \
         {embed_ms:.1} ms wall, {embed_cpu_ms:.1} ms CPU ({:.1} GFLOP linear layers → {:.0} \
         GFLOPS per CPU second); patterns + split + kNN {other_ms:.2} ms",
        sum(&|s| s.words as f64) / n,
        sum(&|s| s.units as f64) / n,
        flops / 1e9,
        flops / 1e9 / (embed_cpu_ms / 1000.0),
    );
    println!(
        "sequential gate: {} calls in {:.1} s, {:.1} ms CPU per call (all threads); cold first \
         call {:.1} ms; Classifier::load {:.0} ms",
        runs.latencies.len(),
        runs.wall_sequential_s,
        runs.cpu_per_call_ms,
        runs.cold_ms,
        runs.memory.load_ms,
    );
    println!(
        "bursts of {}: {} messages/s; last burst's latency p50 / p99 {:.0} / {:.0} ms",
        runs.burst,
        runs.rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        median(&runs.burst_latencies),
        percentile(&runs.burst_latencies, 99.0),
    );
    println!(
        "{} conversations: outcomes {:?}, {} LLM requests, max {} in flight at the mock, \
         first→last arrival {:.0} ms, latency p50 / p99 {:.0} / {:.0} ms; RSS after {:.1} MB \
         (the pipeline's gate is a second model copy)",
        conv.n,
        conv.outcomes,
        conv.requests,
        conv.max_in_flight,
        conv.arrivals_ms,
        median(&conv.latencies),
        percentile(&conv.latencies, 99.0),
        conv.rss_after,
    );

    let p50 = median(&runs.latencies);
    let p99 = percentile(&runs.latencies, 99.0);
    let rate = median(&runs.rates);
    let weights_mb = WEIGHTS_BYTES as f64 / (1024.0 * 1024.0);
    let memory = &runs.memory;
    let growth = memory.after_runs - memory.before;
    let ratio = ms(conv.wall) / ms(L);
    print_table(
        "Figure 7 summary",
        &["measure", "value", "target", "verdict"],
        &[
            row(&[
                &format!(
                    "gate latency p50, one post at a time ({} calls)",
                    runs.latencies.len()
                ),
                &format!("{p50:.1} ms"),
                &"≤ 15 ms",
                &met(p50 <= 15.0),
            ]),
            row(&[
                &"gate latency p99, one post at a time",
                &format!(
                    "{p99:.1} ms (max {:.1})",
                    percentile(&runs.latencies, 100.0)
                ),
                &"≤ 60 ms",
                &met(p99 <= 60.0),
            ]),
            row(&[
                &format!(
                    "throughput, {} posts at once (median of {BURSTS})",
                    runs.burst
                ),
                &format!("{rate:.0} messages/s"),
                &"≥ 150/s",
                &met(rate >= 150.0),
            ]),
            row(&[
                &"RSS growth: before load → after the runs",
                &format!(
                    "{growth:.1} MB ({:.1} → {:.1} after load → {:.1}; peak {:.1})",
                    memory.before, memory.loaded, memory.after_runs, memory.peak_after_runs
                ),
                &format!(
                    "≤ {:.1} MB (weights {weights_mb:.1} + 25)",
                    weights_mb + 25.0
                ),
                &met(growth <= weights_mb + 25.0),
            ]),
            row(&[
                &format!(
                    "{} /coe-like calls at once, wall / L (L = 2 s, bound 256)",
                    conv.n
                ),
                &format!("{ratio:.3}"),
                &"≤ 1.2",
                &met(ratio <= 1.2),
            ]),
        ],
    );
}
