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
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake::{slash_command, Caller, ChannelSpec, FakeDiscord};
use serde_json::{json, Value};
use support::mock::Mock;
use support::{median, percentile, print_table, row, verdict};

const GUILD: u64 = 4_000;
const CHANNEL: u64 = 5_001;
const WAIT: Duration = Duration::from_secs(10);
const IN_FLIGHT: usize = 200;
const HOLD: Duration = Duration::from_secs(5);

fn main() {
    support::start();
    support::runtime().block_on(run());
}

/// Builds `/coe therapy:cbt message:…` invocations from what the bot registered.
struct Coe {
    command_id: u64,
    therapy: Value,
}

impl Coe {
    fn read(fake: &FakeDiscord) -> Coe {
        let commands = fake.registered_commands();
        let coe = commands
            .as_array()
            .and_then(|all| all.iter().find(|c| c["name"] == "coe"))
            .unwrap_or_else(|| panic!("/coe not registered: {commands:#}"))
            .clone();
        let option = coe["options"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["name"] == "therapy"))
            .expect("therapy option");
        let choice = option["choices"]
            .as_array()
            .and_then(|c| {
                c.iter()
                    .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with("CBT")))
            })
            .expect("CBT choice");
        Coe {
            command_id: fake.command_id("coe").expect("/coe id"),
            therapy: json!({"type": option["type"], "name": "therapy", "value": choice["value"]}),
        }
    }

    fn event(&self, id: u64) -> Value {
        let caller = Caller::member(7_000_000 + id, &format!("member{id}"));
        let message = support::POSTS[id as usize % support::POSTS.len()];
        let options = json!([self.therapy, {"type": 3, "name": "message", "value": message}]);
        slash_command(id, GUILD, CHANNEL, &caller, "coe", self.command_id, options)
    }
}

fn callback_path(id: u64) -> String {
    format!("/interactions/{id}/tok-{id}/callback")
}

fn followup_path(id: u64) -> String {
    format!("/webhooks/{}/tok-{id}", FakeDiscord::APPLICATION_ID)
}

/// When the fake received each interaction's first callback (with its status) and followup.
struct Seen {
    callbacks: HashMap<u64, (Instant, u16)>,
    followups: HashMap<u64, Instant>,
}

fn seen(fake: &FakeDiscord, ids: &[u64]) -> Seen {
    let mut by_path: HashMap<String, (Instant, u16)> = HashMap::new();
    for r in fake.requests().into_iter().filter(|r| r.method == "POST") {
        by_path.entry(r.path).or_insert((r.at, r.status));
    }
    let mut out = Seen {
        callbacks: HashMap::new(),
        followups: HashMap::new(),
    };
    for &id in ids {
        if let Some(found) = by_path.get(&callback_path(id)) {
            out.callbacks.insert(id, *found);
        }
        if let Some((at, _)) = by_path.get(&followup_path(id)) {
            out.followups.insert(id, *at);
        }
    }
    out
}

/// Waits until every interaction in `ids` has a followup; returns what the fake saw.
async fn wait_followups(fake: &FakeDiscord, ids: &[u64], timeout: Duration) -> Seen {
    let deadline = Instant::now() + timeout;
    loop {
        let s = seen(fake, ids);
        if s.followups.len() == ids.len() || Instant::now() >= deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
    let fake = FakeDiscord::start().await;
    fake.add_guild(GUILD);
    fake.add_channel(ChannelSpec::text(CHANNEL, GUILD, "general"));
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let proxy = fake.http_url();
    let extra = [
        ("DISCORD_TOKEN", "MTEwMDAwMDAw.fake.token-for-bench"),
        ("DISCORD_PROXY_URL", proxy.as_str()),
        ("COE_USER_MESSAGES_PER_MINUTE", "600"),
        ("COE_HELPLINE_REGION", "us"),
        ("LLM_MAX_CONCURRENCY", "1024"),
    ];
    let config = support::config(&mock.base_url(), &dir.path().join("discord.db"), &extra);
    let pipeline = support::pipeline(&config).await;
    let handle = coe_bot::discord::start(Arc::new(config), pipeline)
        .await
        .expect("bot starts");
    fake.wait_ready(WAIT).await;
    let commands = format!("/applications/{}/commands", FakeDiscord::APPLICATION_ID);
    fake.wait_for_call("PUT", &commands, WAIT).await;
    let coe = Coe::read(&fake);
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
    handle
        .shutdown(Duration::from_secs(5))
        .await
        .expect("clean shutdown");
}
