//! Figure 4 (issue 6): the Discord path, through the fake Discord of the end-to-end tests
//! (tests/support) and the real bot (`coe_bot::discord::start`), with the bench's mock LLM.
//!
//! a) Deferral latency under load: 200 `/coe` interactions are dispatched and held in flight
//!    (mock latency 5 s); then probe interactions are dispatched one every 10 ms. For each,
//!    the time from handing INTERACTION_CREATE to the gateway to the fake receiving the
//!    deferred callback (target p99 < 100 ms).
//! b) Throughput: with mock latency 0, a burst of `/coe` interactions; messages/s from the
//!    first dispatch to the last followup the fake received.
//! The fake Discord, the mock and the bot share this process and its 2 cores, so the
//! figures include the fake's own cost.
//!
//! `cargo bench --bench discord` (COE_BENCH_PROBES=200, COE_BENCH_BURST=3000).

#[path = "../tests/support/mod.rs"]
mod fake;
mod slash;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use slash::{start_bot, wait_followups, Seen};
use support::mock::Mock;
use support::{median, percentile, print_table, row, verdict};
const WAIT: Duration = Duration::from_secs(10);
const IN_FLIGHT: usize = 200;
const HOLD: Duration = Duration::from_secs(5);

fn main() {
    support::start();
    support::runtime().block_on(run());
}

/// Callback latencies (ms) of `ids` dispatched at `sent`; and how many were not 204.
fn callback_latencies(s: &Seen, sent: &HashMap<u64, Instant>) -> (Vec<f64>, usize) {
    let mut latencies = Vec::new();
    let mut refused = 0;
    for (id, at) in sent {
        match s.callbacks.get(id) {
            Some((cb, status)) => {
                latencies.push(support::ms(cb.duration_since(*at)));
                refused += usize::from(*status != 204);
            }
            None => refused += 1,
        }
    }
    (latencies, refused)
}

fn latency_row(name: &str, n: usize, l: &[f64], refused: usize) -> Vec<String> {
    row(&[
        &name,
        &n,
        &format!("{:.1}", median(l)),
        &format!("{:.1}", percentile(l, 99.0)),
        &format!("{:.1}", percentile(l, 100.0)),
        &refused,
    ])
}

async fn run() {
    let probes = support::env_usize("COE_BENCH_PROBES", 200);
    let burst = support::env_usize("COE_BENCH_BURST", 3_000);
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    let extra = [
        ("COE_USER_MESSAGES_PER_MINUTE", "600"),
        ("LLM_MAX_CONCURRENCY", "1024"),
    ];
    // Kept whole to the end: it owns the database's folder.
    let running = start_bot(&mock.base_url(), &extra).await;
    let (fake, coe) = (running.fake.clone(), &running.coe);
    let mut next_id = 1_000_000u64;

    // Warm-up: one checked dispatch (serenity parses the payload), then a few more.
    let warm: Vec<u64> = (0..20).map(|i| next_id + i).collect();
    next_id += 20;
    fake.dispatch("INTERACTION_CREATE", coe.event(warm[0]))
        .await;
    for &id in &warm[1..] {
        fake.dispatch_raw("INTERACTION_CREATE", coe.event(id)).await;
    }
    let warmed = wait_followups(&fake, &warm, WAIT).await;
    assert_eq!(
        warmed.followups.len(),
        warm.len(),
        "warm-up /coe not answered"
    );

    // a) 200 held in flight, then probes one every 10 ms.
    mock.set(HOLD, 0.0).await;
    let mut sent_bg = HashMap::new();
    let background: Vec<u64> = (0..IN_FLIGHT as u64).map(|i| next_id + i).collect();
    next_id += IN_FLIGHT as u64;
    for &id in &background {
        let event = coe.event(id);
        sent_bg.insert(id, Instant::now());
        fake.dispatch_raw("INTERACTION_CREATE", event).await;
    }
    let deadline = Instant::now() + WAIT;
    while (mock.stats().await.in_flight as usize) < IN_FLIGHT && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let in_flight_before = mock.stats().await.in_flight;
    let probe_ids: Vec<u64> = (0..probes as u64).map(|i| next_id + i).collect();
    next_id += probes as u64;
    let mut sent_probe = HashMap::new();
    for &id in &probe_ids {
        let event = coe.event(id);
        sent_probe.insert(id, Instant::now());
        fake.dispatch_raw("INTERACTION_CREATE", event).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let in_flight_after = mock.stats().await.in_flight;
    mock.set(Duration::ZERO, 0.0).await;
    let all: Vec<u64> = background.iter().chain(&probe_ids).copied().collect();
    let held = wait_followups(&fake, &all, Duration::from_secs(60)).await;
    let (probe_lat, probe_refused) = callback_latencies(&held, &sent_probe);
    let (bg_lat, bg_refused) = callback_latencies(&held, &sent_bg);

    // b) Throughput: a burst with L = 0.
    let burst_ids: Vec<u64> = (0..burst as u64).map(|i| next_id + i).collect();
    let mut sent_burst = HashMap::new();
    let started = Instant::now();
    for &id in &burst_ids {
        let event = coe.event(id);
        sent_burst.insert(id, Instant::now());
        fake.dispatch_raw("INTERACTION_CREATE", event).await;
    }
    let dispatched = started.elapsed();
    let done = wait_followups(&fake, &burst_ids, Duration::from_secs(120)).await;
    let last = done.followups.values().max().copied().unwrap_or(started);
    let rate = done.followups.len() as f64 / last.duration_since(started).as_secs_f64();
    let (burst_lat, burst_refused) = callback_latencies(&done, &sent_burst);

    print_table(
        "Figure 4a: INTERACTION_CREATE → deferred callback (ms)",
        &["interactions", "n", "p50", "p99", "max", "callback not 204"],
        &[
            latency_row(&format!("{IN_FLIGHT} dispatched at once (background)"), bg_lat.len(), &bg_lat, bg_refused),
            latency_row(
                &format!("probes, 1 per 10 ms, with {in_flight_before}→{in_flight_after} LLM calls in flight"),
                probe_lat.len(),
                &probe_lat,
                probe_refused,
            ),
            latency_row(&format!("burst of {burst} at once, L = 0"), burst_lat.len(), &burst_lat, burst_refused),
        ],
    );
    let followups_held = held.followups.len();
    print_table(
        "Figure 4b: throughput (mock L = 0)",
        &[
            "burst",
            "dispatch took",
            "followups received",
            "first dispatch → last followup",
            "messages/s",
        ],
        &[row(&[
            &burst,
            &format!("{:.0} ms", support::ms(dispatched)),
            &done.followups.len(),
            &format!("{:.0} ms", support::ms(last.duration_since(started))),
            &format!("{rate:.0}"),
        ])],
    );
    let p99 = percentile(&probe_lat, 99.0);
    print_table(
        "Figure 4 summary",
        &["measure", "value", "target", "verdict"],
        &[
            row(&[
                &format!("deferral p99 with ≥ {IN_FLIGHT} in flight"),
                &format!("{p99:.1} ms (p50 {:.1} ms)", median(&probe_lat)),
                &"< 100 ms",
                &verdict(
                    p99 < 100.0 && probe_refused == 0 && in_flight_before as usize >= IN_FLIGHT,
                ),
            ]),
            row(&[
                &"messages/s sustained (burst, L = 0)",
                &format!("{rate:.0}"),
                &"(reported)",
                &"",
            ]),
            row(&[
                &"all held interactions answered",
                &format!("{followups_held} / {}", all.len()),
                &"all",
                &verdict(followups_held == all.len()),
            ]),
        ],
    );
    running
        .bot
        .shutdown(Duration::from_secs(5))
        .await
        .expect("clean shutdown");
}
