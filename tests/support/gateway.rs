//! The gateway side of the fake: HELLO, heartbeat ACKs, IDENTIFY → READY + GUILD_CREATEs,
//! RESUME → RESUMED. Each connection serves the shard it identified as; a guild's events go to
//! shard `(guild_id >> 22) % total`, as on Discord. Frames are text JSON because serenity only
//! inflates binary frames.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State as AxumState;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::models;
use super::state::{shard_of, Session, Shared, State};

pub(super) async fn upgrade(
    ws: WebSocketUpgrade,
    AxumState(shared): AxumState<Arc<Shared>>,
) -> Response {
    ws.on_upgrade(move |socket| serve(socket, shared))
}

async fn serve(socket: WebSocket, shared: Arc<Shared>) {
    let (mut sink, mut stream) = socket.split();
    // Test code dispatches from other tasks, so every frame goes through one queue whose order
    // is the order the sequence numbers were assigned in.
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    let conn = {
        let mut st = shared.lock();
        st.gateway.connections += 1;
        st.gateway.connections
    };
    let _ = tx.send(json!({"op": 10, "d": {"heartbeat_interval": 41250}}).to_string());

    while let Some(Ok(frame)) = stream.next().await {
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(payload) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        match payload["op"].as_u64() {
            Some(1) => {
                let _ = tx.send(json!({"op": 11}).to_string());
            }
            Some(2) => identify(&shared, conn, &tx, &payload["d"]),
            Some(6) => resume(&shared, conn, &tx, &payload["d"]),
            // Presence updates, member requests and voice state are not modelled.
            _ => {}
        }
    }

    let mut st = shared.lock();
    st.gateway
        .sessions
        .retain(|_, session| session.conn != conn);
    drop(st);
    writer.abort();
}

/// Answers IDENTIFY with READY then one GUILD_CREATE per guild of the shard, all under one lock
/// so a test's dispatch can never overtake them. The connection becomes its shard's session.
fn identify(shared: &Shared, conn: u64, tx: &mpsc::UnboundedSender<String>, d: &Value) {
    let mut st = shared.lock();
    let shard = match d["shard"].as_array().map(|s| s.as_slice()) {
        Some([id, total]) => [id.as_u64().unwrap_or(0), total.as_u64().unwrap_or(1)],
        _ => [0, 1],
    };
    st.gateway.identifies.push(d.clone());
    st.gateway.identified.push((conn, shard));
    // A new session starts its sequence numbers again, as on Discord.
    let session = Session {
        conn,
        tx: tx.clone(),
        shard,
        seq: 0,
    };
    st.gateway.sessions.insert(shard[0], session);
    let guilds = st.guilds.iter().copied();
    let guilds: Vec<u64> = guilds
        .filter(|g| shard_of(*g, shard[1]) == shard[0])
        .collect();
    let session_id = format!("fake-session-{conn}");
    let ready = models::ready(st.port, &guilds, &session_id, json!(shard));
    st.send_to_shard(shard[0], "READY", ready);
    for guild_id in guilds {
        let guild = guild_create(&st, guild_id);
        st.send_to_shard(shard[0], "GUILD_CREATE", guild);
    }
    st.gateway.ready_count += 1;
}

/// RESUME → RESUMED: the connection takes over the shard of the session it resumes (named by
/// the `session_id` READY gave), counting on from the client's `seq`.
fn resume(shared: &Shared, conn: u64, tx: &mpsc::UnboundedSender<String>, d: &Value) {
    let mut st = shared.lock();
    let resumed = d["session_id"]
        .as_str()
        .and_then(|s| s.strip_prefix("fake-session-"));
    let resumed = resumed.and_then(|c| c.parse::<u64>().ok());
    let shard = resumed.and_then(|c| st.gateway.shard_of_connection(c));
    let shard = shard.unwrap_or([0, 1]);
    let session = Session {
        conn,
        tx: tx.clone(),
        shard,
        seq: d["seq"].as_u64().unwrap_or(0),
    };
    st.gateway.sessions.insert(shard[0], session);
    st.send_to_shard(shard[0], "RESUMED", json!({}));
}

fn guild_create(st: &State, guild_id: u64) -> Value {
    let specs: Vec<_> = st
        .channels
        .values()
        .filter(|c| c.guild_id == guild_id)
        .collect();
    let channels = specs
        .iter()
        .filter(|c| !c.kind.is_thread())
        .map(|c| models::channel(c));
    let threads = specs
        .iter()
        .filter(|c| c.kind.is_thread())
        .map(|c| models::channel(c));
    let tier = st.premium_tier(guild_id);
    models::guild_create(guild_id, tier, channels.collect(), threads.collect())
}
