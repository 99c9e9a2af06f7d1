//! The tables and lines `benches/gate.rs` (Figure 7) prints: one function per table.
//! Declared from `benches/gate.rs` with `#[path]`, not from `support/mod.rs`.

use super::support::{median, ms, percentile, print_table, row, verdict as met};
use super::{Conversations, GateRuns, Stage, BURSTS, FLOPS_PER_TOKEN, L, WEIGHTS_BYTES};

pub fn report(runs: &GateRuns, conv: &Conversations, stages: &[Stage]) {
    per_post_table(runs, stages);
    means(stages);
    runs_lines(runs, conv);
    summary_table(runs, conv);
}

/// Per post: the gate's p50 in run 1 and its stages run in turn on one thread.
fn per_post_table(runs: &GateRuns, stages: &[Stage]) {
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
}

/// The stages' means over the posts, and the MiniLM pass's rate in GFLOPS.
fn means(stages: &[Stage]) {
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
}

/// Runs 1, 2 and 4 in detail.
fn runs_lines(runs: &GateRuns, conv: &Conversations) {
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
        conv.burst.outcomes,
        conv.burst.requests,
        conv.burst.max_in_flight,
        conv.burst.arrivals_ms,
        median(&conv.burst.latencies),
        percentile(&conv.burst.latencies, 99.0),
        conv.rss_after,
    );
}

/// The five targets, met or MISSED.
fn summary_table(runs: &GateRuns, conv: &Conversations) {
    let p50 = median(&runs.latencies);
    let p99 = percentile(&runs.latencies, 99.0);
    let rate = median(&runs.rates);
    let ratio = ms(conv.burst.wall) / ms(L);
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
            memory_row(runs),
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

/// The summary's memory row: growth from before `Classifier::load` to after runs 1–2.
fn memory_row(runs: &GateRuns) -> Vec<String> {
    let weights_mb = WEIGHTS_BYTES as f64 / (1024.0 * 1024.0);
    let memory = &runs.memory;
    let growth = memory.after_runs - memory.before;
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
    ])
}
