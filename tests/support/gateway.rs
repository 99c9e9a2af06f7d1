//! The gateway side of the fake: HELLO, heartbeat ACKs, IDENTIFY → READY + GUILD_CREATEs,
//! RESUME → RESUMED. Frames are text JSON because serenity only inflates binary frames.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::models;
use super::state::Shared;

pub(super) async fn upgrade(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> Response {
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
            Some(6) => {
                let mut st = shared.lock();
                st.gateway.current = Some((conn, tx.clone()));
                st.send_dispatch("RESUMED", json!({}));
            }
            // Presence updates, member requests and voice state are not modelled.
            _ => {}
        }
    }

    let mut st = shared.lock();
    if st
        .gateway
        .current
        .as_ref()
        .is_some_and(|(current, _)| *current == conn)
    {
        st.gateway.current = None;
    }
    drop(st);
    writer.abort();
}

/// Answers IDENTIFY with READY then one GUILD_CREATE per guild, all under one lock so a test's
/// dispatch can never overtake them.
fn identify(shared: &Shared, conn: u64, tx: &mpsc::UnboundedSender<String>, d: &Value) {
    let mut st = shared.lock();
    st.gateway.identifies.push(d.clone());
    st.gateway.current = Some((conn, tx.clone()));
    // A new session starts its sequence numbers again, as on Discord.
    st.gateway.seq = 0;
    let shard = d.get("shard").cloned().unwrap_or_else(|| json!([0, 1]));
    let session_id = format!("fake-session-{conn}");
    let ready = models::ready(st.port, &st.guilds, &session_id, shard);
    st.send_dispatch("READY", ready);
    for guild_id in st.guilds.clone() {
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
        let guild = models::guild_create(guild_id, tier, channels.collect(), threads.collect());
        st.send_dispatch("GUILD_CREATE", guild);
    }
    st.gateway.ready_count += 1;
}
