//! Figure 2 (issue 6): 1,000 conversations started at once with mock latency L = 2 s.
//!
//! Reports wall time / L (target ≤ 1.1), the peak resident set of this process (target
//! ≤ 60 MB; the mock runs in a child process so its memory is not counted), and the largest
//! number of requests the mock saw in flight at once, which must equal
//! min(1,000, LLM_MAX_CONCURRENCY). A second round with a lower bound shows the bound is
//! respected (wall ≈ ⌈1000 / bound⌉ × L).
//!
//! `cargo bench --bench concurrency` (COE_BENCH_CONVERSATIONS changes the count).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use coe_bot::chain::Therapy;
use coe_bot::pipeline::Pipeline;
use coe_bot::store::{Outcome, Source};
use support::mock::{Mock, MockProcess};
use support::{median, percentile, print_table, row, verdict};

const L: Duration = Duration::from_secs(2);
const BOUND_HIGH: &str = "1024";
const BOUND_LOW: &str = "250";

fn main() {
    support::start();
    let conversations = support::env_usize("COE_BENCH_CONVERSATIONS", 1_000);
    let mock = MockProcess::spawn(Duration::ZERO, 0.0);
    support::runtime().block_on(run(mock.mock.clone(), conversations));
}

async fn message(pipeline: &Pipeline, i: usize, record: bool) -> (Outcome, f64) {
    let request = support::request(
        i,
        Source::Channel,
        Therapy::ALL[i % Therapy::ALL.len()],
        record,
    );
    let started = Instant::now();
    let response = pipeline.respond(&request).await;
    (response.outcome, support::ms(started.elapsed()))
}

struct Round {
    bound: &'static str,
    record: bool,
    burst: support::Burst,
    rows: i64,
    rss_before: f64,
    peak_after: f64,
}

async fn round(mock: &Mock, dir: &Path, bound: &'static str, n: usize, record: bool) -> Round {
    let db = dir.join(format!("concurrency-{bound}-{record}.db"));
    let extra = [("LLM_MAX_CONCURRENCY", bound), ("LLM_TIMEOUT_SECS", "120")];
    let config = support::config(&mock.base_url(), &db, &extra);
    let pipeline = support::pipeline(&config).await;
    // Warm-up with L = 0: store migrated, lazily built regexes ready, one connection.
    mock.set(Duration::ZERO, 0.0).await;
    message(&pipeline, 0, record).await;
    mock.set(L, 0.0).await;
    mock.reset().await;

    let rss_before = support::rss_mb();
    let burst = support::run_all(mock, n, L * 30, |i| {
        let pipeline = pipeline.clone();
        async move { message(&pipeline, i, record).await }
    })
    .await;
    let peak_after = support::peak_rss_mb();
    let rows = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(pipeline.store().pool())
        .await
        .expect("count rows");
    pipeline.store().close().await;
    Round {
        bound,
        record,
        burst,
        rows,
        rss_before,
        peak_after,
    }
}

async fn run(mock: Mock, n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let high = round(&mock, dir.path(), BOUND_HIGH, n, true).await;
    let low = round(&mock, dir.path(), BOUND_LOW, n, true).await;
    // The same burst without the store write: how much of the tail is recording.
    let unrecorded = round(&mock, dir.path(), BOUND_HIGH, n, false).await;
    let l_ms = support::ms(L);

    let mut rows = Vec::new();
    for r in [&high, &low, &unrecorded] {
        let bound: usize = r.bound.parse().expect("number");
        let waves = n.div_ceil(bound.min(n));
        rows.push(row(&[
            &format!(
                "{}{}",
                r.bound,
                if r.record { "" } else { " (record = false)" }
            ),
            &n,
            &format!("{:.3}", support::ms(r.burst.wall) / l_ms),
            &waves,
            &format!("{} / {}", r.burst.max_in_flight, bound.min(n)),
            &format!("{:.0}", r.burst.arrivals_ms),
            &format!(
                "{:.0} / {:.0}",
                median(&r.burst.latencies),
                percentile(&r.burst.latencies, 99.0)
            ),
            &format!("{:?}", r.burst.outcomes),
            &format!("{} / {}", r.burst.requests, r.rows),
        ]));
    }
    print_table(
        &format!(
            "Figure 2: {n} conversations at once, mock L = {l_ms} ms (mock in a child process)"
        ),
        &[
            "LLM_MAX_CONCURRENCY",
            "conversations",
            "wall / L",
            "expected (waves)",
            "max in flight at mock / bound",
            "first→last arrival at mock, ms",
            "latency ms p50 / p99",
            "outcomes",
            "LLM requests / rows",
        ],
        &rows,
    );
    let ratio = support::ms(high.burst.wall) / l_ms;
    let peak = high.peak_after;
    let bounded = low.burst.max_in_flight as usize <= BOUND_LOW.parse::<usize>().unwrap_or(0);
    print_table(
        "Figure 2 summary",
        &["measure", "value", "target", "verdict"],
        &[
            row(&[
                &format!("wall / L, LLM_MAX_CONCURRENCY = {BOUND_HIGH}"),
                &format!("{ratio:.3}"),
                &"≤ 1.1",
                &verdict(ratio <= 1.1),
            ]),
            row(&[
                &"peak RSS of the bot process (VmHWM)",
                &format!("{peak:.1} MB (before the burst {:.1} MB)", high.rss_before),
                &"≤ 60 MB",
                &verdict(peak <= 60.0),
            ]),
            row(&[
                &format!("bound respected at LLM_MAX_CONCURRENCY = {BOUND_LOW}"),
                &format!("max {} in flight", low.burst.max_in_flight),
                &format!("≤ {BOUND_LOW}"),
                &verdict(bounded),
            ]),
        ],
    );
}
