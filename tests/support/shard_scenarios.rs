//! The parts of the two-process shard test (tests/discord_shards.rs) that read the shared
//! database: `/coe-privacy forget` and `optout` made through one process and honoured by the
//! other, and a `kill -9` with messages in flight after which every answered message has its
//! row. Every read goes through the store's `AnyPool`, so they hold on SQLite and PostgreSQL.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::bot::content;
use crate::support::child::{BotProcess, Harness};
use crate::support::fake_discord::shard_of;

use super::{answered_once_by_their_shard, SUPPORT_CHANNELS, TOTAL, WAIT};

/// What the model answers every message with (see `harness`).
const REPLY: &str = "I'm listening.";
/// Messages sent to shard 0's guilds just before its process is killed.
const BURST: usize = 20;
/// Replies delivered before the kill: the rest of the burst is still in flight.
const KILL_AFTER: usize = 3;

/// The first support channel of a guild on `shard`.
fn support_of(shard: u64) -> (u64, u64) {
    let found = SUPPORT_CHANNELS.into_iter();
    let mut found = found.filter(|(guild, _)| shard_of(*guild, TOTAL) == shard);
    found.next().expect("a guild on every shard")
}

/// A member who posted in a guild of each shard (so each process wrote one of their rows) asks
/// one process to forget them: both rows go.
pub async fn forget_reaches_both_processes(harness: &Harness, bots: &[&BotProcess]) {
    let member = 7_200_000;
    let mut sent = Vec::new();
    for place in [support_of(0), support_of(1)] {
        let text = "I keep replaying an argument with my sister.";
        sent.push((place.0, place.1, harness.say_in(place, member, text).await));
    }
    answered_once_by_their_shard(harness, &sent, bots).await;
    assert_eq!(
        harness.rows_of(member).await,
        2,
        "one row from each process"
    );

    let answer = harness
        .subcommand(support_of(1), member, ("coe-privacy", "forget"))
        .await;
    assert_eq!(
        content(&answer),
        "Deleted 2 rows linked to you. This cannot be undone.",
        "{:#}",
        answer.body
    );
    assert_eq!(
        harness.rows_of(member).await,
        0,
        "shard 1's process deleted shard 0's row too"
    );
}

/// A member opts out through shard 0's process; their next message, in a guild of shard 1, is
/// left alone by that process: no reply, no thread, no model call, no row. Another member's
/// message there, sent just after, is answered.
pub async fn opt_out_holds_in_the_other_process(harness: &Harness, bots: &[&BotProcess]) {
    let (member, other) = (7_300_000, 7_300_001);
    let answer = harness
        .subcommand(support_of(0), member, ("coe-privacy", "optout"))
        .await;
    assert!(content(&answer).starts_with("Done."), "{:#}", answer.body);

    let place = support_of(1);
    let secret = "Nobody should see my pineapple notebook.";
    let ignored = harness.say_in(place, member, secret).await;
    let marker = harness.say_in(place, other, "Long day, again.").await;
    answered_once_by_their_shard(harness, &[(place.0, place.1, marker)], bots).await;
    let got = harness.fake.shards_that_got("MESSAGE_CREATE", ignored);
    assert_eq!(got, vec![1], "the opted-out message reached shard 1 only");
    assert!(harness.replies_to(place.1, ignored).is_empty(), "no reply");
    let about = format!("/messages/{ignored}/");
    let requests = harness.fake.requests();
    assert!(
        requests.iter().all(|r| !r.path.contains(&about)),
        "no thread"
    );
    let model_calls = harness.llm.received_requests().await.unwrap_or_default();
    let saw = |body: &[u8]| String::from_utf8_lossy(body).contains("pineapple");
    assert!(
        !model_calls.iter().any(|r| saw(&r.body)),
        "the model never saw it"
    );
    assert_eq!(harness.rows_of(member).await, 0, "nothing recorded");
    assert_eq!(harness.rows_of(other).await, 1);
}

/// A burst of messages from new members to shard 0's guilds; `victim` (shard 0's process) is
/// killed as soon as a few replies were delivered. Every member whose reply the fake saw has
/// exactly one row (the pipeline records before it replies), no member has two.
pub async fn kill_with_messages_in_flight(harness: &Harness, victim: &mut BotProcess) {
    let places: Vec<(u64, u64)> = SUPPORT_CHANNELS
        .into_iter()
        .filter(|(guild, _)| shard_of(*guild, TOTAL) == 0)
        .collect();
    let mut sent = Vec::new();
    for n in 0..BURST {
        let (place, member) = (places[n % places.len()], 7_400_000 + n as u64);
        let text = "Everything piled up this week and I feel stuck.";
        let id = harness.say_in(place, member, text).await;
        sent.push((place.1, id, member));
    }
    let deadline = Instant::now() + WAIT;
    while acknowledged(harness, &sent).len() < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "fewer than {KILL_AFTER} replies within {WAIT:?}\n{}",
            victim.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    victim.kill_9();
    assert!(
        harness.fake.wait_shard_gone(0, WAIT).await,
        "shard 0's connection outlived its process"
    );
    // The process is gone: what the fake recorded now is final for these messages.
    let acknowledged = acknowledged(harness, &sent);
    let rows = rows_per_member(harness).await;
    for (_, message, member) in &acknowledged {
        let count = rows.get(&harness.user_key(*member)).copied().unwrap_or(0);
        assert_eq!(
            count, 1,
            "message {message} was answered; member {member} has {count} rows"
        );
    }
    let burst_rows = sent.iter().filter(|(_, _, member)| {
        let count = rows.get(&harness.user_key(*member)).copied().unwrap_or(0);
        assert!(
            count <= 1,
            "member {member} has {count} rows for one message"
        );
        count == 1
    });
    println!(
        "kill -9 with messages in flight: {BURST} sent, {} answered, {} recorded",
        acknowledged.len(),
        burst_rows.count()
    );
}

/// (channel, message, member) of the messages whose model reply the fake delivered.
fn acknowledged(harness: &Harness, sent: &[(u64, u64, u64)]) -> Vec<(u64, u64, u64)> {
    let answered = |(channel, message, _): &&(u64, u64, u64)| {
        let replies = harness.replies_to(*channel, *message);
        replies.iter().any(|r| content(r).contains(REPLY))
    };
    sent.iter().filter(answered).copied().collect()
}

/// Rows of `interactions` per user key.
async fn rows_per_member(harness: &Harness) -> HashMap<String, usize> {
    let store = harness.open_store().await;
    let keys: Vec<String> = sqlx::query_scalar("SELECT user_key FROM interactions")
        .fetch_all(store.pool())
        .await
        .expect("read the user keys");
    store.pool().close().await;
    let mut rows = HashMap::new();
    for key in keys {
        *rows.entry(key).or_default() += 1;
    }
    rows
}
