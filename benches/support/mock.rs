//! A loopback mock of an OpenAI-compatible model server for the benchmarks: axum on
//! 127.0.0.1:0, answering `POST /v1/chat/completions` with a fixed chain answer after a
//! latency L, failing a chosen share of requests with HTTP 500. With a capacity C it serves
//! at most C requests at once and answers the rest at once with 429 and `Retry-After`, as a
//! llama.cpp or Ollama server with C slots behind a rate-limiting proxy does.
//!
//! Control endpoints (so a mock in another process is driven the same way):
//! `POST /config?latency_ms=L&fail_rate=F&capacity=C&retry_after_s=R` (capacity 0 =
//! unlimited), `POST /reset`, `GET /stats`.
//!
//! [`MockProcess::spawn`] runs the mock in a child process (the bench binary re-executed with
//! `--mock-server`), so its memory is not part of the bench's peak RSS. The child exits when
//! its standard input closes, i.e. when the bench ends however it ends.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

/// The chain answer every successful request gets.
pub const COMPLETION: &str = r#"{"id":"x","object":"chat.completion","model":"mock","choices":[{"index":0,"message":{"role":"assistant","content":"{\"emotion\":\"sad\",\"reasoning\":[\"a\"],\"strategy\":\"exploration\",\"reply\":\"I hear you.\"}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120}}"#;

const FAILURE: &str = r#"{"error":{"message":"injected failure","type":"server_error"}}"#;

/// What the mock saw since the last reset.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct MockStats {
    pub requests: u64,
    pub failures: u64,
    /// Requests refused with 429 because the capacity was full.
    #[serde(default)]
    pub refused: u64,
    pub in_flight: u64,
    pub max_in_flight: u64,
    /// Microseconds from the first request's arrival to the last response's departure.
    pub active_us: u64,
    /// Microseconds from the first request's arrival to the last one's.
    pub arrivals_us: u64,
}

#[derive(Default)]
struct Shared {
    latency_us: AtomicU64,
    fail_ppm: AtomicU64,
    capacity: AtomicU64,
    retry_after_s: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
    refused: AtomicU64,
    serving: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    /// Microseconds since `epoch` plus one (0 = not yet).
    first_us: AtomicU64,
    last_arrival_us: AtomicU64,
    last_us: AtomicU64,
    last_body: Mutex<Option<Bytes>>,
    epoch: Mutex<Option<Instant>>,
}

impl Shared {
    fn now_us(&self) -> u64 {
        let mut epoch = self.epoch.lock().unwrap();
        epoch.get_or_insert_with(Instant::now).elapsed().as_micros() as u64 + 1
    }
}

async fn complete(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst);
    let arrived = shared.now_us();
    let _ = shared
        .first_us
        .compare_exchange(0, arrived, Ordering::SeqCst, Ordering::SeqCst);
    shared.last_arrival_us.fetch_max(arrived, Ordering::SeqCst);
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if n.is_multiple_of(64) {
        *shared.last_body.lock().unwrap() = Some(body);
    }
    let capacity = shared.capacity.load(Ordering::SeqCst);
    if capacity > 0 && shared.serving.fetch_add(1, Ordering::SeqCst) >= capacity {
        shared.serving.fetch_sub(1, Ordering::SeqCst);
        shared.refused.fetch_add(1, Ordering::SeqCst);
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        let retry_after = shared.retry_after_s.load(Ordering::SeqCst).to_string();
        let headers = [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::RETRY_AFTER, retry_after),
        ];
        return (StatusCode::TOO_MANY_REQUESTS, headers, FAILURE).into_response();
    }
    let latency = shared.latency_us.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(Duration::from_micros(latency)).await;
    }
    let fail_ppm = shared.fail_ppm.load(Ordering::Relaxed);
    let fail = fail_ppm > 0 && rand::random::<u32>() % 1_000_000 < fail_ppm as u32;
    let response = if fail {
        shared.failures.fetch_add(1, Ordering::SeqCst);
        let json = [(header::CONTENT_TYPE, "application/json")];
        (StatusCode::INTERNAL_SERVER_ERROR, json, FAILURE).into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], COMPLETION).into_response()
    };
    if capacity > 0 {
        shared.serving.fetch_sub(1, Ordering::SeqCst);
    }
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    let left = shared.now_us();
    shared.last_us.fetch_max(left, Ordering::SeqCst);
    response
}

async fn configure(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> StatusCode {
    if let Some(ms) = query.get("latency_ms").and_then(|v| v.parse::<f64>().ok()) {
        let us = (ms * 1000.0) as u64;
        shared.latency_us.store(us, Ordering::SeqCst);
    }
    if let Some(rate) = query.get("fail_rate").and_then(|v| v.parse::<f64>().ok()) {
        let ppm = (rate.clamp(0.0, 1.0) * 1e6) as u64;
        shared.fail_ppm.store(ppm, Ordering::SeqCst);
    }
    if let Some(capacity) = query.get("capacity").and_then(|v| v.parse::<u64>().ok()) {
        shared.capacity.store(capacity, Ordering::SeqCst);
    }
    if let Some(seconds) = query
        .get("retry_after_s")
        .and_then(|v| v.parse::<u64>().ok())
    {
        shared.retry_after_s.store(seconds, Ordering::SeqCst);
    }
    StatusCode::NO_CONTENT
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    for counter in [
        &shared.requests,
        &shared.failures,
        &shared.refused,
        &shared.max_in_flight,
    ] {
        counter.store(0, Ordering::SeqCst);
    }
    for stamp in [&shared.first_us, &shared.last_arrival_us, &shared.last_us] {
        stamp.store(0, Ordering::SeqCst);
    }
    StatusCode::NO_CONTENT
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let first = shared.first_us.load(Ordering::SeqCst);
    let since_first = |stamp: &AtomicU64| match first {
        0 => 0,
        _ => stamp.load(Ordering::SeqCst).saturating_sub(first),
    };
    let body = serde_json::json!({
        "requests": shared.requests.load(Ordering::SeqCst),
        "failures": shared.failures.load(Ordering::SeqCst),
        "refused": shared.refused.load(Ordering::SeqCst),
        "in_flight": shared.in_flight.load(Ordering::SeqCst),
        "max_in_flight": shared.max_in_flight.load(Ordering::SeqCst),
        "active_us": since_first(&shared.last_us),
        "arrivals_us": since_first(&shared.last_arrival_us),
    });
    axum::Json(body).into_response()
}

async fn last_body(State(shared): State<Arc<Shared>>) -> Response {
    match shared.last_body.lock().unwrap().clone() {
        Some(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Handle to a running mock (in this process or another), driven over HTTP.
#[derive(Clone)]
pub struct Mock {
    pub addr: SocketAddr,
    control: reqwest::Client,
}

impl Mock {
    /// Starts a mock on the current tokio runtime.
    pub async fn start(latency: Duration, fail_rate: f64) -> Mock {
        // A listen backlog of 4,096 (the std/mio default is 128): a burst of 1,000 new
        // connections must not lose SYNs to a full accept queue (a 1 s retransmit each),
        // which would measure the mock, not the bot. COE_BENCH_MOCK_BACKLOG overrides it.
        let backlog = std::env::var("COE_BENCH_MOCK_BACKLOG")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4_096);
        let socket = tokio::net::TcpSocket::new_v4().expect("mock socket");
        socket
            .bind(([127, 0, 0, 1], 0).into())
            .expect("bind mock LLM");
        let listener = socket.listen(backlog).expect("listen");
        let addr = listener.local_addr().expect("mock address");
        let shared = Arc::new(Shared::default());
        shared
            .latency_us
            .store(latency.as_micros() as u64, Ordering::SeqCst);
        shared
            .fail_ppm
            .store((fail_rate * 1e6) as u64, Ordering::SeqCst);
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/config", post(configure))
            .route("/reset", post(reset))
            .route("/stats", get(stats))
            .route("/last_body", get(last_body))
            .with_state(shared);
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("mock LLM server");
        });
        Mock::at(addr)
    }

    /// A handle to a mock already listening at `addr`.
    pub fn at(addr: SocketAddr) -> Mock {
        let control = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("control client");
        Mock { addr, control }
    }

    /// `LLM_BASE_URL` for this mock.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn completions_url(&self) -> String {
        format!("http://{}/v1/chat/completions", self.addr)
    }

    pub async fn set(&self, latency: Duration, fail_rate: f64) {
        let ms = latency.as_secs_f64() * 1000.0;
        let url = format!(
            "http://{}/config?latency_ms={ms}&fail_rate={fail_rate}",
            self.addr
        );
        self.control.post(url).send().await.expect("configure mock");
    }

    /// Serve at most `capacity` at once (0 = unlimited); refuse the rest with 429 and
    /// `Retry-After: retry_after_s`.
    pub async fn set_capacity(&self, capacity: u64, retry_after_s: u64) {
        let url = format!(
            "http://{}/config?capacity={capacity}&retry_after_s={retry_after_s}",
            self.addr
        );
        self.control.post(url).send().await.expect("configure mock");
    }

    pub async fn reset(&self) {
        let url = format!("http://{}/reset", self.addr);
        self.control.post(url).send().await.expect("reset mock");
    }

    pub async fn stats(&self) -> MockStats {
        let url = format!("http://{}/stats", self.addr);
        let response = self.control.get(url).send().await.expect("mock stats");
        response.json().await.expect("mock stats JSON")
    }

    /// A request body the mock received recently (one in 64 is kept), to replay it.
    pub async fn recent_body(&self) -> Option<Bytes> {
        let url = format!("http://{}/last_body", self.addr);
        let response = self.control.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.bytes().await.ok()
    }
}

/// A mock running in a child process; killed when dropped.
pub struct MockProcess {
    child: Child,
    pub mock: Mock,
}

impl MockProcess {
    /// Starts the mock and says where it listens (every bench prints it).
    pub fn spawn(latency: Duration, fail_rate: f64) -> MockProcess {
        let exe = std::env::current_exe().expect("own executable");
        let mut child = Command::new(exe)
            .args([
                "--mock-server".to_string(),
                (latency.as_secs_f64() * 1000.0).to_string(),
                fail_rate.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn mock server process");
        let stdout = child.stdout.take().expect("child stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read mock address");
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("mock process said {line:?}"));
        let process = MockProcess {
            child,
            mock: Mock::at(addr),
        };
        println!("mock LLM in child process {} at {addr}", process.pid());
        process
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In a bench's `main`, first thing: when started as `--mock-server L_MS FAIL_RATE`, serve
/// until standard input closes, then exit. Otherwise return.
pub fn serve_if_asked() {
    let args: Vec<String> = std::env::args().collect();
    let Some(at) = args.iter().position(|a| a == "--mock-server") else {
        return;
    };
    let number = |i: usize| args.get(at + i).and_then(|v| v.parse::<f64>().ok());
    let latency = Duration::from_secs_f64(number(1).unwrap_or(0.0) / 1000.0);
    let fail_rate = number(2).unwrap_or(0.0);
    let runtime = tokio::runtime::Runtime::new().expect("mock runtime");
    runtime.block_on(async {
        let mock = Mock::start(latency, fail_rate).await;
        println!("listening {}", mock.addr);
        let mut stdin = tokio::io::stdin();
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut stdin, &mut sink).await;
    });
    std::process::exit(0);
}
