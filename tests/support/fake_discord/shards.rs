//! Several shards on one fake: the recommended count of `GET /gateway/bot`, the shard each
//! connection identified as, and which shard every dispatch went to.

use std::time::Duration;

use super::FakeDiscord;

/// One dispatch the fake sent, and the gateway connection that got it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The connection's number (1 for the first WebSocket the fake accepted).
    pub connection: u64,
    /// `[shard id, total]` of that connection's session.
    pub shard: [u64; 2],
    pub event: String,
    pub guild_id: Option<u64>,
    /// The payload's `id` (the message's, the interaction's, the guild's for GUILD_CREATE).
    pub id: Option<u64>,
}

impl FakeDiscord {
    /// The `shards` that `GET /gateway/bot` recommends (1 unless set).
    pub fn set_recommended_shards(&self, shards: u64) {
        self.shared.lock().recommended_shards = shards.max(1);
    }

    /// `[shard id, total]` of every IDENTIFY, in order.
    pub fn identified_shards(&self) -> Vec<[u64; 2]> {
        let st = self.shared.lock();
        st.gateway.identified.iter().map(|(_, s)| *s).collect()
    }

    /// (connection, `[shard id, total]`) of every IDENTIFY, in order.
    pub fn identified_connections(&self) -> Vec<(u64, [u64; 2])> {
        self.shared.lock().gateway.identified.clone()
    }

    /// The shard ids with a live session now.
    pub fn connected_shards(&self) -> Vec<u64> {
        self.shared
            .lock()
            .gateway
            .sessions
            .keys()
            .copied()
            .collect()
    }

    /// Every dispatch sent so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().gateway.deliveries.clone()
    }

    /// The shard ids that received `event` with payload id `id` (a message's, an interaction's),
    /// in order: exactly one for an event sent once.
    pub fn shards_that_got(&self, event: &str, id: u64) -> Vec<u64> {
        let st = self.shared.lock();
        let deliveries = st.gateway.deliveries.iter();
        let got = deliveries.filter(|d| d.event == event && d.id == Some(id));
        got.map(|d| d.shard[0]).collect()
    }

    /// Waits until shard `shard` has a session (true) or `timeout` passed (false).
    pub async fn wait_shard_connected(&self, shard: u64, timeout: Duration) -> bool {
        let connected = |st: &super::State| st.gateway.sessions.get(&shard).map(drop);
        self.poll(timeout, connected).await.is_some()
    }

    /// Waits until shard `shard` has no session (true) or `timeout` passed (false).
    pub async fn wait_shard_gone(&self, shard: u64, timeout: Duration) -> bool {
        let gone = |st: &super::State| (!st.gateway.sessions.contains_key(&shard)).then_some(());
        self.poll(timeout, gone).await.is_some()
    }
}
