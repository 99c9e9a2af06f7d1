//! Figure 6 (issue 5, Performance): `run_eval` throughput against what a loopback mock model
//! server (L = 0, in its own process) can answer at the same concurrency K, and the peak
//! memory of an eval over 300 vs 3,000 items (synthetic CSV; never the EPITOME data).
//!
//! Order in one run: eval 300 × 5 therapies, bare reqwest load at K, eval 3,000 × 5, bare load
//! again; the ratio uses the mean of the two bare figures. Each eval runs in a child process
//! (this binary with `--eval-child`), so its VmHWM is its own. Target: eval items/s ÷ mock
//! requests/s ≥ 0.8; memory flat.
//!
//! `cargo bench --bench eval_throughput` (COE_BENCH_K=16, COE_BENCH_ROWS=3000,
//! COE_BENCH_SMALL_ROWS=300, COE_BENCH_LARGE_ROWS=15000 (0 skips that memory-only run),
//! COE_BENCH_BARE_SECS=5).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use coe_bot::chain::{response_format, Therapy};
use coe_bot::eval::dataset::TieRule;
use coe_bot::eval::{run_eval, EvalOptions};
use coe_bot::store::Store;
use serde_json::{json, Value};
use support::mock::{Mock, MockProcess};
use support::{print_table, row, verdict};

fn main() {
    support::mock::serve_if_asked();
    support::bypass_proxies();
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--eval-child") {
        let addr = args[at + 1].parse().expect("mock address");
        let data = PathBuf::from(&args[at + 2]);
        let k = args[at + 3].parse().expect("concurrency");
        let result = support::runtime().block_on(eval_child(Mock::at(addr), &data, k));
        println!("RESULT {result}");
        return;
    }
    println!("{}", support::machine_line());
    let mock = MockProcess::spawn(Duration::ZERO, 0.0);
    support::runtime().block_on(run(mock.mock.clone()));
}

/// One eval run (in the child process): all five therapies over `data` at concurrency `k`.
async fn eval_child(mock: Mock, data: &Path, k: usize) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let k_text = k.to_string();
    let extra = [("LLM_MAX_CONCURRENCY", k_text.as_str())];
    let config = support::config(&mock.base_url(), &dir.path().join("eval.db"), &extra);
    let store = Store::open(&config.database_url).await.expect("store");
    let options = EvalOptions {
        data: data.to_path_buf(),
        therapies: Therapy::ALL.to_vec(),
        limit: None,
        sample_seed: None,
        concurrency: k,
        out: dir.path().join("out"),
        resume: None,
        ties: TieRule::default(),
        models_file: None,
        judge: None,
        show_progress: false,
    };
    let format = response_format(config.llm.json_mode);
    let rss_before = support::rss_mb();
    let started = Instant::now();
    run_eval(&options, &config.llm, format.as_ref(), &store)
        .await
        .expect("eval run");
    let secs = started.elapsed().as_secs_f64();
    let items: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM eval_items WHERE outcome = 'replied'")
            .fetch_one(store.pool())
            .await
            .expect("count items");
    json!({"items": items, "secs": secs, "peak_mb": support::peak_rss_mb(), "rss_before_mb": rss_before})
}

struct EvalRun {
    rows: usize,
    items: f64,
    secs: f64,
    llm_phase_rate: f64,
    peak_mb: f64,
    rss_before_mb: f64,
}

async fn eval_in_child(mock: &Mock, data: &Path, rows: usize, k: usize) -> EvalRun {
    mock.reset().await;
    let exe = std::env::current_exe().expect("own executable");
    let addr = mock.addr.to_string();
    let path = data.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args(["--eval-child", &addr, &path, &k.to_string()])
            .output()
            .expect("run eval child")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "eval child failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let result: Value = serde_json::from_str(line).expect("child JSON");
    let stats = mock.stats().await;
    let number = |k: &str| result[k].as_f64().unwrap_or(f64::NAN);
    EvalRun {
        rows,
        items: number("items"),
        secs: number("secs"),
        llm_phase_rate: stats.requests as f64 / (stats.active_us as f64 / 1e6),
        peak_mb: number("peak_mb"),
        rss_before_mb: number("rss_before_mb"),
    }
}

/// Requests/s the mock answers with `k` bare reqwest loops posting `body` for `secs`.
async fn bare_load(mock: &Mock, body: &Bytes, k: usize, secs: f64) -> f64 {
    let client = support::bare_client();
    let url = mock.completions_url();
    let run = |until: Instant, count: Arc<AtomicU64>| {
        let tasks: Vec<_> = (0..k)
            .map(|_| {
                let (client, url, body, count) =
                    (client.clone(), url.clone(), body.clone(), count.clone());
                tokio::spawn(async move {
                    while Instant::now() < until {
                        let response = client.post(&url).header("content-type", "application/json");
                        let response = response
                            .body(body.clone())
                            .send()
                            .await
                            .expect("bare request");
                        let bytes = response.bytes().await.expect("bare body");
                        assert!(bytes.len() > 100);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        futures::future::join_all(tasks)
    };
    // Warm-up: open the k connections.
    run(Instant::now() + Duration::from_millis(500), Arc::default()).await;
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    run(started + Duration::from_secs_f64(secs), count.clone()).await;
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn run(mock: Mock) {
    let k = support::env_usize("COE_BENCH_K", 16);
    let rows = support::env_usize("COE_BENCH_ROWS", 3_000);
    let small_rows = support::env_usize("COE_BENCH_SMALL_ROWS", 300);
    let bare_secs = support::env_usize("COE_BENCH_BARE_SECS", 5) as f64;
    let dir = tempfile::tempdir().expect("temp dir");
    let (small_csv, big_csv) = (dir.path().join("small.csv"), dir.path().join("big.csv"));
    support::synthetic_epitome::write_simple_csv(&small_csv, small_rows);
    support::synthetic_epitome::write_simple_csv(&big_csv, rows);

    let small = eval_in_child(&mock, &small_csv, small_rows, k).await;
    let body = mock.recent_body().await.expect("an eval request body");
    let bare_before = bare_load(&mock, &body, k, bare_secs).await;
    let big = eval_in_child(&mock, &big_csv, rows, k).await;
    let bare_after = bare_load(&mock, &body, k, bare_secs).await;
    let bare = (bare_before + bare_after) / 2.0;
    // Memory only: a 5× larger dataset shows whether the growth levels off.
    let large_rows = support::env_usize("COE_BENCH_LARGE_ROWS", 15_000);
    let large = if large_rows > 0 {
        let large_csv = dir.path().join("large.csv");
        support::synthetic_epitome::write_simple_csv(&large_csv, large_rows);
        Some(eval_in_child(&mock, &large_csv, large_rows, k).await)
    } else {
        None
    };

    let mut table = Vec::new();
    for (name, rate) in [("before", bare_before), ("after", bare_after)] {
        table.push(row(&[
            &format!("bare reqwest loop at K = {k} ({name})"),
            &"",
            &format!("{bare_secs:.0}"),
            &format!("{rate:.0} req/s"),
            &"",
            &"",
        ]));
    }
    for run in [Some(&small), Some(&big), large.as_ref()]
        .into_iter()
        .flatten()
    {
        table.push(row(&[
            &format!("run_eval {} rows × 5 therapies, K = {k}", run.rows),
            &run.items,
            &format!("{:.2}", run.secs),
            &format!("{:.0} items/s", run.items / run.secs),
            &format!("{:.0} req/s", run.llm_phase_rate),
            &format!("{:.1} (before run {:.1})", run.peak_mb, run.rss_before_mb),
        ]));
    }
    print_table(
        "Figure 6: eval throughput against the mock's capacity (mock L = 0, own process)",
        &[
            "run",
            "items",
            "wall s",
            "rate (end-to-end)",
            "rate at the mock (first→last request)",
            "peak RSS MB",
        ],
        &table,
    );
    let ratio = big.items / big.secs / bare;
    let phase_ratio = big.llm_phase_rate / bare;
    let growth = big.peak_mb - small.peak_mb;
    print_table(
        "Figure 6 summary",
        &["measure", "value", "target", "verdict"],
        &[
            row(&[
                &format!("eval items/s ÷ mock req/s at K = {k} (whole run_eval)"),
                &format!("{ratio:.2}"),
                &"≥ 0.8",
                &verdict(ratio >= 0.8),
            ]),
            row(&[
                &"same, item phase only (mock's first→last request)",
                &format!("{phase_ratio:.2}"),
                &"(reported)",
                &"",
            ]),
            row(&[
                &format!("peak RSS, {small_rows} → {rows} rows"),
                &format!(
                    "{:.1} → {:.1} MB (+{growth:.1} MB)",
                    small.peak_mb, big.peak_mb
                ),
                &"flat (≤ +10%)",
                &verdict(growth <= 0.1 * small.peak_mb),
            ]),
            match &large {
                Some(large) => row(&[
                    &format!("peak RSS, {rows} → {} rows (memory only)", large.rows),
                    &format!(
                        "{:.1} → {:.1} MB (+{:.1} MB)",
                        big.peak_mb,
                        large.peak_mb,
                        large.peak_mb - big.peak_mb
                    ),
                    &"flat (≤ +10%)",
                    &verdict(large.peak_mb - big.peak_mb <= 0.1 * big.peak_mb),
                ]),
                None => row(&[&"larger dataset skipped", &"", &"", &""]),
            },
        ],
    );
}
