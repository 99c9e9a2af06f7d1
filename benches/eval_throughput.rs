//! Figure 6 (issue 14, Performance): what `run_eval` costs besides waiting for the model, and
//! whether its peak memory grows with the dataset. Data: synthetic EPITOME-format folders
//! (`write_epitome`), never the EPITOME data. Judge off (its one-off fit is measured apart).
//!
//! 1. Cost: the mock model in its own process at L = 200 ms; one eval of COE_BENCH_ITEMS items
//!    × COE_BENCH_THERAPIES therapies at concurrency K. The eval child's CPU time (user +
//!    system, all threads, spawn to exit) per call (one item under one therapy) ÷ L: target
//!    ≤ 2%. Also (wall − ideal) ÷ ideal, ideal = calls × L ÷ K.
//! 2. Memory: the mock at L = 0; peak RSS (VmHWM) of evals over COE_BENCH_SMALL_ITEMS and
//!    COE_BENCH_LARGE_ITEMS items: target flat within 10%.
//!
//! Each eval runs in a child process (this binary with `--eval-child`), so its CPU time and
//! VmHWM are its own, not the mock's or the bench's.
//!
//! `cargo bench --bench eval_throughput` (COE_BENCH_K=16, COE_BENCH_ITEMS=600,
//! COE_BENCH_THERAPIES=5, COE_BENCH_SMALL_ITEMS=3000, COE_BENCH_LARGE_ITEMS=100000).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use coe_bot::chain::{response_format, Therapy};
use coe_bot::eval::dataset::TieRule;
use coe_bot::eval::{run_eval, EvalOptions};
use coe_bot::store::Store;
use serde_json::{json, Value};
use support::mock::{Mock, MockProcess};
use support::{ms, print_table, row, verdict};

/// The model latency of the cost run.
const L: Duration = Duration::from_millis(200);

/// What one eval child runs: the first `items` labelled items under `therapies` therapies.
#[derive(Clone, Copy)]
struct Spec {
    items: usize,
    therapies: usize,
    k: usize,
}

fn main() {
    support::mock::serve_if_asked();
    support::bypass_proxies();
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--eval-child") {
        let arg = |i: usize| args[at + i].as_str();
        let number = |i: usize| arg(i).parse().expect("a count");
        let spec = Spec {
            items: number(3),
            therapies: number(4),
            k: number(5),
        };
        let mock = Mock::at(arg(1).parse().expect("mock address"));
        let result = support::runtime().block_on(eval_child(mock, Path::new(arg(2)), spec));
        println!("RESULT {result}");
        return;
    }
    println!("{}", support::machine_line());
    let mock = MockProcess::spawn(L, 0.0);
    support::runtime().block_on(run(mock.mock.clone()));
}

/// One eval run, in the child process.
async fn eval_child(mock: Mock, data: &Path, spec: Spec) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let k_text = spec.k.to_string();
    // The eval reads the crisis lexicon only, never the gate's classifier.
    let extra = [
        ("LLM_MAX_CONCURRENCY", k_text.as_str()),
        ("COE_CRISIS_CLASSIFIER", "off"),
    ];
    let config = support::config(&mock.base_url(), &dir.path().join("eval.db"), &extra);
    let store = Store::open(&config.database_url).await.expect("store");
    let options = EvalOptions {
        data: data.to_path_buf(),
        therapies: Therapy::ALL[..spec.therapies].to_vec(),
        limit: Some(spec.items),
        sample_seed: None,
        concurrency: spec.k,
        out: dir.path().join("out"),
        resume: None,
        ties: TieRule::default(),
        models_file: None,
        judge: None,
        show_progress: false,
    };
    let format = response_format(config.llm.json_mode);
    run_eval(&options, &config.llm, format.as_ref(), &store)
        .await
        .expect("eval run");
    let calls: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM eval_items WHERE outcome = 'replied'")
            .fetch_one(store.pool())
            .await
            .expect("count calls");
    json!({"calls": calls, "peak_mb": support::peak_rss_mb()})
}

/// A synthetic EPITOME folder with at least `items` labelled pairs.
fn write_data(dir: &Path, items: usize) -> PathBuf {
    let data = dir.join(format!("data-{items}"));
    std::fs::create_dir_all(&data).expect("data dir");
    // About 69% of synthetic pairs carry a gold label; the eval's limit takes exactly `items`.
    let pairs = (items as f64 / 0.68).ceil() as usize + 16;
    support::synthetic_epitome::write_epitome(&data, pairs);
    data
}

struct EvalRun {
    spec: Spec,
    latency: Duration,
    calls: usize,
    wall: Duration,
    cpu: Duration,
    peak_mb: f64,
    max_in_flight: u64,
}

impl EvalRun {
    /// Every call at the mock's latency, K at a time, and nothing else.
    fn ideal(&self) -> Duration {
        self.latency * self.calls as u32 / self.spec.k as u32
    }
}

async fn eval_in_child(mock: &Mock, latency: Duration, data: &Path, spec: Spec) -> EvalRun {
    mock.set(latency, 0.0).await;
    mock.reset().await;
    let exe = std::env::current_exe().expect("own executable");
    let args = [
        "--eval-child".to_string(),
        mock.addr.to_string(),
        data.display().to_string(),
        spec.items.to_string(),
        spec.therapies.to_string(),
        spec.k.to_string(),
    ];
    // The child's CPU time is what this process gains in waited-for children's time.
    let cpu_before = support::cpu_times().children;
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(exe)
            .args(args)
            .output()
            .expect("run eval child")
    })
    .await
    .expect("join");
    let wall = started.elapsed();
    let cpu = support::cpu_times().children - cpu_before;
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
    let calls = result["calls"].as_u64().unwrap_or(0) as usize;
    assert_eq!(calls, spec.items * spec.therapies, "every call replied");
    EvalRun {
        spec,
        latency,
        calls,
        wall,
        cpu,
        peak_mb: result["peak_mb"].as_f64().unwrap_or(f64::NAN),
        max_in_flight: mock.stats().await.max_in_flight,
    }
}

async fn run(mock: Mock) {
    let k = support::env_usize("COE_BENCH_K", 16);
    let therapies =
        support::env_usize("COE_BENCH_THERAPIES", Therapy::ALL.len()).clamp(1, Therapy::ALL.len());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut runs = Vec::new();
    for (name, default, latency) in [
        ("COE_BENCH_ITEMS", 600, L),
        ("COE_BENCH_SMALL_ITEMS", 3_000, Duration::ZERO),
        ("COE_BENCH_LARGE_ITEMS", 100_000, Duration::ZERO),
    ] {
        let items = support::env_usize(name, default);
        let data = write_data(dir.path(), items);
        let spec = Spec {
            items,
            therapies,
            k,
        };
        runs.push(eval_in_child(&mock, latency, &data, spec).await);
        std::fs::remove_dir_all(&data).expect("remove data");
    }
    report(&runs[0], &runs[1], &runs[2]);
}

fn report(cost: &EvalRun, small: &EvalRun, large: &EvalRun) {
    let mut table = Vec::new();
    for run in [cost, small, large] {
        table.push(row(&[
            &format!(
                "{} items × {} therapies, L = {:.0} ms",
                run.spec.items,
                run.spec.therapies,
                ms(run.latency)
            ),
            &run.calls,
            &format!("{:.2}", run.wall.as_secs_f64()),
            &if run.latency.is_zero() {
                "–".to_string()
            } else {
                format!("{:.2}", run.ideal().as_secs_f64())
            },
            &format!("{:.2}", run.cpu.as_secs_f64()),
            &format!("{:.3}", ms(run.cpu) / run.calls as f64),
            &run.max_in_flight,
            &format!("{:.1}", run.peak_mb),
        ]));
    }
    let k = cost.spec.k;
    print_table(
        &format!("Figure 6: run_eval in a child process, K = {k}, judge off"),
        &[
            "run",
            "calls",
            "wall s",
            "ideal wall s (calls × L ÷ K)",
            "child CPU s",
            "CPU ms per call",
            "max in flight at mock",
            "peak RSS MB",
        ],
        &table,
    );
    let cpu_ratio = ms(cost.cpu) / cost.calls as f64 / ms(cost.latency);
    let ideal = cost.ideal().as_secs_f64();
    let wall_ratio = (cost.wall.as_secs_f64() - ideal) / ideal;
    let growth = large.peak_mb / small.peak_mb - 1.0;
    print_table(
        "Figure 6 summary",
        &["measure", "value", "target", "verdict"],
        &[
            row(&[
                &format!("eval CPU per call ÷ L (L = 200 ms, K = {k})"),
                &format!("{:.3}%", cpu_ratio * 100.0),
                &"≤ 2%",
                &verdict(cpu_ratio <= 0.02),
            ]),
            row(&[
                &"wall overhead, (wall − ideal) ÷ ideal",
                &format!("{:.2}%", wall_ratio * 100.0),
                &"(reported)",
                &"",
            ]),
            row(&[
                &format!(
                    "peak RSS, {} → {} items",
                    small.spec.items, large.spec.items
                ),
                &format!(
                    "{:.1} → {:.1} MB ({:+.1}%)",
                    small.peak_mb,
                    large.peak_mb,
                    growth * 100.0
                ),
                &"flat (≤ +10%)",
                &verdict(growth <= 0.10),
            ]),
        ],
    );
}
