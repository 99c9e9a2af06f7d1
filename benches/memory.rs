//! Figure 9 (issue 10, memory): the resident memory of the real `coe-bot run` process while
//! it holds 200 model requests in flight, not counting the crisis classifier's weights
//! (target ≤ 45 MB; a minimal serenity + poise bot holding as many takes about 30 MB).
//!
//! The bot runs as a child process (tests/support/child.rs) against the fake Discord and the
//! bench's mock model server, both in this process, so only the bot's memory is read
//! (/proc/<pid>/status). With the classifier off, then on:
//! 1. idle: after READY and command registration, before any `/coe`;
//! 2. held: after one warm-up `/coe`, the mock holds each request for minutes, 200 `/coe`
//!    are dispatched, and the figures are read once the mock holds all 200. The peak is that
//!    of this phase (VmHWM is reset after the warm-up through /proc/<pid>/clear_refs), so the
//!    start-up peak (the weights' file map and their copy, both resident while loading) is
//!    not in it.
//!
//! With the classifier on, the size of its weights file (model.safetensors) is subtracted: the
//! weights are the one cost the target leaves out. "file" is the file-backed part of the RSS:
//! mostly the bot's own code pages, which a dev build has several times more of than a
//! release build.
//!
//! `cargo test --locked --bench memory` (dev build; `cargo bench --bench memory` for release).
//! `COE_BENCH_CLASSIFIER=off` or `on` measures one configuration. `COE_BENCH_CHILD_ENV=
//! "K=V,K=V"` adds to the bot's environment: `MALLOC_ARENA_MAX=2`, `TOKIO_WORKER_THREADS=8`,
//! or heaptrack's `LD_PRELOAD=/usr/lib/heaptrack/libheaptrack_preload.so` and
//! `DUMP_HEAPTRACK_OUTPUT=<fifo read by heaptrack_interpret>` to profile the same run.

#[path = "../tests/support/mod.rs"]
mod fake;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use fake::child::{BotProcess, Harness};
use fake::FakeDiscord;
use support::mock::Mock;
use support::{print_table, row, verdict};
use wiremock::MockServer;

const IN_FLIGHT: u64 = 200;
/// How long the mock holds each request: longer than the slowest way to 200 held (a dev build
/// with the classifier needs about a minute), so none is answered before the reading.
const HOLD: Duration = Duration::from_secs(300);
const WAIT_HELD: Duration = Duration::from_secs(240);
const WARM_UP_ATTEMPTS: u64 = 3;
const WARM_UP_WAIT: Duration = Duration::from_secs(20);
const TARGET_MB: f64 = 45.0;

fn main() {
    support::start();
    // Like every bench: the verdict is printed (met / MISSED), the run succeeds.
    let met = support::runtime().block_on(run());
    println!(
        "peak RSS with {IN_FLIGHT} in flight within {TARGET_MB} MB: {}",
        verdict(met)
    );
}

/// What /proc/<pid>/status says of the bot, in kB.
#[derive(Clone, Copy)]
struct Resident {
    rss_kb: u64,
    file_kb: u64,
    peak_kb: u64,
    threads: u64,
}

impl Resident {
    fn read(pid: u32) -> Resident {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        };
        Resident {
            rss_kb: field("VmRSS"),
            file_kb: field("RssFile") + field("RssShmem"),
            peak_kb: field("VmHWM"),
            threads: field("Threads"),
        }
    }
}

/// Resets the bot's VmHWM to its current RSS (proc(5): clear_refs, value 5), so the next
/// reading is the peak of what follows, not of start-up.
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .unwrap_or_else(|e| panic!("reset the peak RSS of {pid}: {e}"));
}

/// One configuration's readings.
struct Readings {
    idle: Resident,
    held: Resident,
    held_after: Duration,
}

/// `COE_BENCH_CHILD_ENV`, split into pairs.
fn child_env() -> Vec<(String, String)> {
    let raw = std::env::var("COE_BENCH_CHILD_ENV").unwrap_or_default();
    raw.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

async fn measure(classifier: bool) -> Readings {
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    let setting = if classifier { "on" } else { "off" };
    let mut env = vec![
        ("LLM_BASE_URL".to_string(), mock.base_url()),
        ("LLM_CONCURRENCY".to_string(), "fixed:256".to_string()),
        ("LLM_TIMEOUT_SECS".to_string(), "600".to_string()),
        ("COE_CRISIS_CLASSIFIER".to_string(), setting.to_string()),
        ("COE_SHUTDOWN_GRACE_SECS".to_string(), "1".to_string()),
    ];
    env.extend(child_env());
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // The harness wants a wiremock model server; the bot is pointed at the bench's mock
    // instead (LLM_BASE_URL above), which can hold 200 requests for a set time.
    let harness = Harness::new(MockServer::start().await, &extra).await;
    let mut bot = harness.spawn(&format!("classifier-{setting}")).await;
    let idle = Resident::read(bot.pid);
    warm_up(&harness, &bot).await;
    reset_peak(bot.pid);
    mock.set(HOLD, 0.0).await;
    let started = Instant::now();
    for i in 0..IN_FLIGHT {
        let post = support::POSTS[i as usize % support::POSTS.len()];
        harness.coe(8_000_000 + i, post).await;
    }
    wait_held(&mock, &bot).await;
    let held_after = started.elapsed();
    let held = Resident::read(bot.pid);
    stop(&mut bot).await;
    Readings {
        idle,
        held,
        held_after,
    }
}

/// `/coe` until one is answered, so what the first command builds lazily is in place before
/// the burst, whose deferrals must come within Discord's 3 s. A debug build under a profiler
/// may miss that on the first one.
async fn warm_up(harness: &Harness, bot: &BotProcess) {
    for attempt in 0..WARM_UP_ATTEMPTS {
        let id = harness.coe(7_999_000 + attempt, support::POSTS[0]).await;
        let followup = format!("/webhooks/{}/tok-{id}", FakeDiscord::APPLICATION_ID);
        let deadline = Instant::now() + WARM_UP_WAIT;
        while Instant::now() < deadline {
            let requests = harness.fake.requests();
            if requests
                .iter()
                .any(|r| r.is("POST", &followup) && r.status == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("no warm-up /coe answered\n{}", bot.log_tail());
}

/// Waits until the mock holds every request of the burst.
async fn wait_held(mock: &Mock, bot: &BotProcess) {
    let deadline = Instant::now() + WAIT_HELD;
    loop {
        let held = mock.stats().await.in_flight;
        if held >= IN_FLIGHT {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "only {held} of {IN_FLIGHT} model requests reached the mock\n{}",
                bot.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SIGTERM, so a profiler preloaded into the bot writes its data out; SIGKILL after that.
async fn stop(bot: &mut BotProcess) {
    bot.signal("TERM");
    if bot.wait_exit(Duration::from_secs(10)).await.is_none() {
        bot.kill_9();
    }
}

/// The size of the classifier's weights file, in kB.
fn weights_kb() -> u64 {
    let dir = std::env::var("COE_EMBED_MODEL_DIR")
        .expect("COE_EMBED_MODEL_DIR (export \"$(scripts/embed-model.sh)\")");
    let path = Path::new(&dir).join(coe_bot::embed::WEIGHTS_FILE);
    let metadata = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    metadata.len() / 1024
}

fn mb(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

/// The table row of one moment; the peak without the weights.
fn moment_row(bot: &str, moment: &str, r: Resident, weights_kb: u64) -> (Vec<String>, u64) {
    let peak = r.peak_kb.saturating_sub(weights_kb);
    let cells = row(&[
        &bot,
        &moment,
        &mb(r.rss_kb),
        &mb(r.file_kb),
        &r.threads,
        &mb(r.peak_kb),
        &mb(weights_kb),
        &mb(peak),
    ]);
    (cells, peak)
}

async fn run() -> bool {
    let only = std::env::var("COE_BENCH_CLASSIFIER").unwrap_or_default();
    let mut rows = Vec::new();
    let mut met = true;
    for (classifier, setting) in [(false, "off"), (true, "on")] {
        if !only.is_empty() && only != setting {
            continue;
        }
        let readings = measure(classifier).await;
        let weights = if classifier { weights_kb() } else { 0 };
        let bot = format!("classifier {setting}");
        let (mut idle, _) = moment_row(
            &bot,
            "idle after READY (peak: start-up)",
            readings.idle,
            weights,
        );
        idle.push(String::new());
        let held_at = format!(
            "{IN_FLIGHT} held ({:.1} s to hold them)",
            readings.held_after.as_secs_f64()
        );
        let (mut held, peak_kb) = moment_row(&bot, &held_at, readings.held, weights);
        let within = peak_kb as f64 / 1024.0 <= TARGET_MB;
        held.push(verdict(within).to_string());
        met &= within;
        rows.extend([idle, held]);
    }
    print_table(
        &format!("Figure 9: resident memory of `coe-bot run` (MB), {IN_FLIGHT} /coe at the model"),
        &[
            "bot",
            "moment",
            "RSS",
            "of it file-backed",
            "threads",
            "peak",
            "weights",
            "peak − weights",
            "≤ 45 MB",
        ],
        &rows,
    );
    let added = child_env();
    if !added.is_empty() {
        println!("bot environment added: {added:?}");
    }
    met
}
