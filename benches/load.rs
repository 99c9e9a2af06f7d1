//! Figure 8 (issue 10): a burst of 200 members sending `/coe` at once through the fake
//! Discord to the real bot, with the default model settings (adaptive concurrency), against
//! two mock model servers answering after L = 2 s:
//!
//! a) unlimited capacity: first dispatch → last reply, as a multiple of L (target ≤ 1.2), with
//!    the crisis gate's patterns only (what concurrency costs) and with its embedding
//!    classifier too (what the gate's CPU adds on this machine, Figure 7);
//! b) a server that serves 4 at a time and answers 429 with `Retry-After: 1` beyond that:
//!    - first burst: every member gets the model's reply and none an apology; model requests
//!      per member in all (target ≤ 2.5);
//!    - a second burst right after it, with what the bot learned: share of its model requests
//!      refused (target < 10%).
//!
//! The capacity rounds use the patterns-only gate too, so they measure the model client.
//!
//! `cargo bench --bench load` (COE_BENCH_MEMBERS changes the burst size).

#[path = "../tests/support/mod.rs"]
mod fake;
mod slash;
mod support;

use std::time::{Duration, Instant};

use fake::FakeDiscord;
use slash::{followup_path, start_bot, Running};
use support::mock::{Mock, MockStats};
use support::{print_table, row, verdict};

const L: Duration = Duration::from_secs(2);
const CAPACITY: u64 = 4;
const RETRY_AFTER_S: u64 = 1;
const WAIT: Duration = Duration::from_secs(10);
/// The mock's chain answer carries this reply.
const MODEL_REPLY: &str = "I hear you.";

fn main() {
    support::start();
    let members = support::env_usize("COE_BENCH_MEMBERS", 200);
    support::runtime().block_on(run(members));
}

/// The bot with default model settings against `mock`, behind a fresh fake Discord.
struct Rig {
    running: Running,
    mock: Mock,
    next_id: u64,
}

impl Rig {
    async fn start(mock: Mock, classifier: bool) -> Rig {
        let classifier = if classifier { "on" } else { "off" };
        let extra = [("COE_CRISIS_CLASSIFIER", classifier)];
        Rig {
            running: start_bot(&mock.base_url(), &extra).await,
            mock,
            next_id: 1_000_000,
        }
    }

    /// One warm-up `/coe` at L = 0 (store migrated, classifier loaded, payload parsed).
    async fn warm_up(&mut self) {
        self.mock.set(Duration::ZERO, 0.0).await;
        let result = self.burst(1).await;
        assert_eq!(result.model_replies, 1, "warm-up /coe not answered");
        self.mock.set(L, 0.0).await;
    }

    /// `n` members send `/coe` at once; waits for every final reply.
    async fn burst(&mut self, n: usize) -> BurstResult {
        let ids: Vec<u64> = (0..n as u64).map(|i| self.next_id + i).collect();
        self.next_id += n as u64;
        self.mock.reset().await;
        let started = Instant::now();
        for &id in &ids {
            let event = self.running.coe.event(id);
            self.running
                .fake
                .dispatch_raw("INTERACTION_CREATE", event)
                .await;
        }
        let deadline = Instant::now() + Duration::from_secs(600);
        let (mut replies, mut last) = (Vec::new(), started);
        while Instant::now() < deadline {
            replies = final_replies(&self.running.fake, &ids);
            if replies.len() == ids.len() {
                last = replies.iter().map(|(at, _)| *at).max().unwrap_or(started);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let model_replies = replies
            .iter()
            .filter(|(_, text)| text.contains(MODEL_REPLY));
        let busy_notices = self.running.fake.requests().into_iter().filter(|r| {
            r.method == "PATCH"
                && ids.iter().any(|id| r.path.contains(&format!("/tok-{id}/")))
                && r.body["content"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("Many people"))
        });
        BurstResult {
            members: n,
            answered: replies.len(),
            model_replies: model_replies.count(),
            busy_notices: busy_notices.count(),
            wall: last.duration_since(started),
            mock: self.mock.stats().await,
            limit_after: self.bot_limit(),
        }
    }

    fn bot_limit(&self) -> String {
        self.running.pipeline.llm().load().limit.to_string()
    }

    async fn stop(self) {
        self.running.bot.shutdown(WAIT).await.expect("bot stops");
    }
}

/// The final reply of each interaction (the first followup), with when it arrived.
fn final_replies(fake: &FakeDiscord, ids: &[u64]) -> Vec<(Instant, String)> {
    let requests = fake.requests();
    ids.iter()
        .filter_map(|&id| {
            let path = followup_path(id);
            let reply = requests
                .iter()
                .find(|r| r.method == "POST" && r.path == path)?;
            let text = reply.body["content"].as_str().unwrap_or_default();
            Some((reply.at, text.to_string()))
        })
        .collect()
}

struct BurstResult {
    members: usize,
    answered: usize,
    model_replies: usize,
    busy_notices: usize,
    wall: Duration,
    mock: MockStats,
    limit_after: String,
}

impl BurstResult {
    fn per_member(&self) -> f64 {
        self.mock.requests as f64 / self.members as f64
    }

    fn refused_share(&self) -> f64 {
        self.mock.refused as f64 / self.mock.requests.max(1) as f64
    }

    fn row(&self, name: &str) -> Vec<String> {
        row(&[
            &name,
            &self.members,
            &self.model_replies,
            &(self.answered - self.model_replies),
            &self.busy_notices,
            &format!("{:.2}", self.wall.as_secs_f64() / L.as_secs_f64()),
            &self.mock.requests,
            &format!("{:.2}", self.per_member()),
            &format!("{:.1}%", 100.0 * self.refused_share()),
            &self.mock.max_in_flight,
            &self.limit_after,
        ])
    }
}

async fn scenario(
    capacity: u64,
    classifier: bool,
    bursts: usize,
    members: usize,
) -> Vec<BurstResult> {
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    mock.set_capacity(0, RETRY_AFTER_S).await;
    let mut rig = Rig::start(mock.clone(), classifier).await;
    rig.warm_up().await;
    mock.set_capacity(capacity, RETRY_AFTER_S).await;
    let mut results = Vec::new();
    for _ in 0..bursts {
        results.push(rig.burst(members).await);
    }
    rig.stop().await;
    results
}

async fn run(members: usize) {
    let unlimited = scenario(0, false, 1, members).await;
    let classified = scenario(0, true, 1, members).await;
    let limited = scenario(CAPACITY, false, 2, members).await;
    let (a, first, second) = (&unlimited[0], &limited[0], &limited[1]);
    print_table(
        &format!("Figure 8: {members} members send /coe at once, L = {L:?}, default settings"),
        &[
            "model server",
            "members",
            "model's reply",
            "apology or none",
            "told busy",
            "wall / L",
            "model requests",
            "per member",
            "refused",
            "max at server",
            "limit after",
        ],
        &[
            a.row("unlimited"),
            classified[0].row("unlimited, gate with its classifier"),
            first.row("4 at a time, 429 beyond: first burst"),
            second.row("4 at a time, 429 beyond: second burst"),
        ],
    );
    let wall = a.wall.as_secs_f64() / L.as_secs_f64();
    let every_member = |r: &BurstResult| r.model_replies == r.members;
    print_table(
        "Figure 8: targets",
        &["target", "measured", "verdict"],
        &[
            row(&[
                &"unlimited: wall ≤ 1.2 L",
                &format!("{wall:.2} L"),
                &verdict(wall <= 1.2),
            ]),
            row(&[
                &"… with the gate's classifier",
                &format!(
                    "{:.2} L",
                    classified[0].wall.as_secs_f64() / L.as_secs_f64()
                ),
                &verdict(classified[0].wall.as_secs_f64() <= 1.2 * L.as_secs_f64()),
            ]),
            row(&[
                &"4 at a time: every member gets the model's reply (both bursts)",
                &format!(
                    "{} + {} of {}",
                    first.model_replies, second.model_replies, members
                ),
                &verdict(every_member(first) && every_member(second)),
            ]),
            row(&[
                &"first burst: ≤ 2.5 model requests per member",
                &format!("{:.2}", first.per_member()),
                &verdict(first.per_member() <= 2.5),
            ]),
            row(&[
                &"second burst: < 10% of requests refused",
                &format!("{:.1}%", 100.0 * second.refused_share()),
                &verdict(second.refused_share() < 0.10),
            ]),
        ],
    );
}
