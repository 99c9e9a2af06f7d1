//! `coe-bot eval` streams its items: the binary's peak RSS over 20,000
//! items stays within 10% of its peak over 3,000 (synthetic EPITOME-format
//! data written for the project; wiremock answers at once). The judge is
//! off here: its memory is bounded by construction (at most
//! `MAX_CANDIDATES` training pairs), and embedding thousands of responses
//! would not fit CI's time. The 100,000-item figure is in BENCHMARKS.md.

mod common;

#[path = "support/synthetic_epitome.rs"]
mod synthetic_epitome;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use wiremock::{Mock, MockServer};

/// Runs one eval over `pairs` synthetic pairs in a child process and
/// returns (items evaluated, its peak RSS in MB, as the kernel counted it).
// The child is reaped by `wait_with_peak` (wait4), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn eval_peak(dir: &Path, llm: &MockServer, pairs: usize) -> (usize, f64) {
    let data = dir.join(format!("data-{pairs}"));
    std::fs::create_dir_all(&data).unwrap();
    synthetic_epitome::write_epitome(&data, pairs);
    let child = Command::new(env!("CARGO_BIN_EXE_coe-bot"))
        .args(["eval", "--data"])
        .arg(&data)
        .args([
            "--therapies",
            "base",
            "--judge",
            "off",
            "--concurrency",
            "16",
        ])
        .arg("--out")
        .arg(dir.join(format!("out-{pairs}")))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("COE_HASH_KEY", HASH_KEY)
        .env("LLM_BASE_URL", format!("{}/v1", llm.uri()))
        .env("LLM_MODEL", "mock-model")
        .env(
            "DATABASE_URL",
            format!(
                "sqlite://{}",
                dir.join(format!("eval-{pairs}.db")).display()
            ),
        )
        .env("COE_CRISIS_CLASSIFIER", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("coe-bot runs");
    let (success, peak_kb) = wait_with_peak(child.id());
    assert!(success, "eval over {pairs} pairs failed");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("out-{pairs}/report.json"))).unwrap(),
    )
    .unwrap();
    let items = report["run"]["load_stats"]["items"].as_u64().unwrap() as usize;
    assert_eq!(report["models"][0]["therapies"][0]["metrics"]["n"], items);
    (items, peak_kb as f64 / 1024.0)
}

/// Waits for the child and reads its exact peak RSS (`ru_maxrss`, in kB
/// on Linux) from the kernel, so a peak just before it exits is not missed.
fn wait_with_peak(pid: u32) -> (bool, i64) {
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers
    // point at live locals.
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid as libc::pid_t, "wait4 failed");
    (
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        usage.ru_maxrss,
    )
}

#[test]
fn peak_memory_does_not_grow_with_the_dataset() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let llm = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::method("POST"))
            .respond_with(completion(&chain_answer("exploration", "I hear you.")))
            .mount(&server)
            .await;
        server
    });
    let dir = tempfile::tempdir().unwrap();
    // ~69% of synthetic pairs carry a gold label (ties and all-zero aside).
    let (small_items, small) = eval_peak(dir.path(), &llm, 4_400);
    let (large_items, large) = eval_peak(dir.path(), &llm, 29_200);
    println!("peak RSS: {small:.1} MB over {small_items} items, {large:.1} MB over {large_items}");
    assert!(small_items >= 3_000 && large_items >= 20_000);
    assert!(
        large <= small * 1.10,
        "peak RSS grew from {small:.1} MB ({small_items} items) to {large:.1} MB ({large_items})"
    );
}
