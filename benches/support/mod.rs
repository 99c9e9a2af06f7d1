//! Helpers shared by the benchmarks (`benches/*.rs`): the mock model server, configuration,
//! synthetic data, statistics, peak memory and result tables.
//!
//! Each bench binary uses a different part of this module, so dead code is expected here.
#![allow(dead_code)]

pub mod mock;
#[path = "../../tests/support/synthetic_epitome.rs"]
pub mod synthetic_epitome;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use coe_bot::chain::Therapy;
use coe_bot::config::Config;
use coe_bot::llm::LlmClient;
use coe_bot::pipeline::{Member, Pipeline, Request};
use coe_bot::store::Store;
use coe_bot::store::{Outcome, Source};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

pub const HASH_KEY: &str = "bench-hash-key-0123456789abcdef0123456789";

/// Seeker posts of ordinary distress that the crisis gate must not flag, so every message
/// goes through the whole chain.
pub const POSTS: [&str; 4] = [
    "I failed my driving test for the third time today. Everyone around me seems to manage \
     these things so easily and I keep thinking I am just not good enough at anything.",
    "My best friend has been ignoring my messages for two weeks. I don't know what I did \
     wrong and I keep replaying our last conversation in my head every night.",
    "Work has been overwhelming lately. My manager keeps adding tasks and I feel guilty \
     whenever I take a break, even on weekends.",
    "I moved to a new city for university and I feel lonely. Everyone already has their \
     groups and I am too shy to ask to join them.",
];

/// Configuration for a bench: the model at `llm_base_url`, a SQLite file `db`, no retries
/// delays; `extra` adds or overrides variables.
pub fn config(llm_base_url: &str, db: &Path, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("COE_HASH_KEY".into(), HASH_KEY.into());
    vars.insert("LLM_BASE_URL".into(), llm_base_url.into());
    vars.insert("LLM_MODEL".into(), "mock".into());
    vars.insert("LLM_RETRY_BASE_MS".into(), "0".into());
    vars.insert("LLM_TIMEOUT_SECS".into(), "60".into());
    vars.insert("DATABASE_URL".into(), format!("sqlite://{}", db.display()));
    if let Ok(dir) = std::env::var("COE_EMBED_MODEL_DIR") {
        vars.insert("COE_EMBED_MODEL_DIR".into(), dir);
    }
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid bench configuration")
}

/// Opens (and migrates) the store and builds the pipeline the bot would use.
pub async fn pipeline(config: &Config) -> Pipeline {
    let store = Store::open(&config.database_url).await.expect("open store");
    let llm = LlmClient::new(&config.llm).expect("LLM client");
    let gate =
        coe_bot::cli::open_gate(config).expect("crisis classifier (run scripts/embed-model.sh)");
    Pipeline::new(config, llm, store, gate)
}

/// A plain HTTP client for the "bare" baselines, without proxies (loopback only).
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// Reqwest honours HTTP(S)_PROXY even for 127.0.0.1; the bench talks to loopback only.
pub fn bypass_proxies() {
    std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
    std::env::set_var("no_proxy", "127.0.0.1,localhost");
}

/// A `/proc/self/status` field in kB (`VmHWM` is the peak resident set).
pub fn proc_status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub fn peak_rss_mb() -> f64 {
    proc_status_kb("VmHWM") as f64 / 1024.0
}

pub fn rss_mb() -> f64 {
    proc_status_kb("VmRSS") as f64 / 1024.0
}

/// User + system CPU time (all threads) from `/proc/self/stat`.
pub struct CpuTimes {
    pub own: Duration,
    /// Of the children that have exited and been waited for (`getrusage(RUSAGE_CHILDREN)`).
    pub children: Duration,
}

pub fn cpu_times() -> CpuTimes {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may hold spaces; the fields after it start at field 3 of proc(5).
    let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let field = |n: usize| fields.get(n - 3).copied().unwrap_or(0);
    // utime, stime, cutime, cstime are fields 14–17, in ticks of 10 ms (USER_HZ = 100).
    let ticks = |a: usize, b: usize| Duration::from_millis((field(a) + field(b)) * 10);
    CpuTimes {
        own: ticks(14, 15),
        children: ticks(16, 17),
    }
}

/// Nearest-rank percentile of `samples` (sorted here), `p` in 0..=100.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(samples: &[f64]) -> f64 {
    percentile(samples, 50.0)
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// "met" or "MISSED" for a target check.
pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// Prints a titled table of rows.
pub fn print_table(title: &str, header: &[&str], rows: &[Vec<String>]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for row in rows {
        table.add_row(row);
    }
    println!("\n{title}\n{table}");
}

/// A table row from anything printable.
pub fn row(cells: &[&dyn std::fmt::Display]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// The multi-threaded runtime every bench runs on (worker threads = cores, as in the bot).
/// Logs go to stderr when RUST_LOG is set (none by default: logging is not what is measured).
pub fn runtime() -> tokio::runtime::Runtime {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// One line about the machine, printed above the tables.
pub fn machine_line() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split(':')
                .nth(1)
                .map(str::trim)
        })
        .unwrap_or("unknown CPU")
        .to_string();
    format!("machine: {cores} cores, {cpu}")
}

/// Every bench's start: serve as the mock when re-executed as one, keep
/// loopback traffic off any proxy, and say which machine this is.
pub fn start() {
    mock::serve_if_asked();
    bypass_proxies();
    println!("{}", machine_line());
}

/// A count from the environment, for changing a bench's load.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Message `i` of a synthetic load: a distinct member, one of [`POSTS`].
pub fn request(i: usize, source: Source, therapy: Therapy, record: bool) -> Request<'static> {
    Request {
        source,
        guild_id: Some(1),
        member: Member::Discord(100_000 + i as u64),
        therapy,
        message: POSTS[i % POSTS.len()],
        history: &[],
        record,
        helpline_region: "us",
        risk: None,
    }
}

/// What a burst of conversations did: its wall time, each conversation's
/// latency in ms (in order), how many ended how, and what the mock saw.
pub struct Burst {
    pub wall: Duration,
    pub latencies: Vec<f64>,
    pub outcomes: BTreeMap<&'static str, usize>,
    pub max_in_flight: u64,
    pub arrivals_ms: f64,
    pub requests: u64,
}

/// Spawns conversations `0..n` at once and waits for each (at most `limit`
/// each), then reads the mock's counters for the burst.
pub async fn run_all<F, Fut>(mock: &mock::Mock, n: usize, limit: Duration, conversation: F) -> Burst
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = (Outcome, f64)> + Send + 'static,
{
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(conversation(i))).collect();
    let mut latencies = Vec::with_capacity(n);
    let mut outcomes = BTreeMap::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (outcome, latency) = match tokio::time::timeout(limit, task).await {
            Ok(done) => done.expect("conversation task"),
            Err(_) => panic!(
                "conversation {i} of {n} unfinished after {:?}",
                started.elapsed()
            ),
        };
        *outcomes.entry(outcome.as_str()).or_insert(0) += 1;
        latencies.push(latency);
    }
    let wall = started.elapsed();
    let stats = mock.stats().await;
    Burst {
        wall,
        latencies,
        outcomes,
        max_in_flight: stats.max_in_flight,
        arrivals_ms: stats.arrivals_us as f64 / 1000.0,
        requests: stats.requests,
    }
}
