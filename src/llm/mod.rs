//! OpenAI-compatible chat client on reqwest: an adaptive concurrency limit
//! learned from the server ([`limiter`]), one deadline per request that
//! covers queueing and retries, retries of refusals (429/503, honouring
//! `Retry-After` outside a slot) until that deadline and of failures up to
//! a few attempts, typed errors and token usage.

mod error;
mod headers;
pub mod limiter;
mod settings;
mod wire;

pub use error::LlmError;
pub use limiter::{Concurrency, Load};
pub use settings::{shown_url, JsonMode, LlmConfig, Secret};
pub use wire::{ChatMessage, Role};

use limiter::{Limiter, Signal, Ticket};
use rand::Rng;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;
use wire::{CompletionRequest, CompletionResponse};

/// How one call waits for the model.
#[derive(Clone, Copy, Default)]
pub struct Call<'a> {
    /// Take a free place now or fail with [`LlmError::Busy`]: for messages
    /// that have a fixed answer and must not wait behind others.
    pub urgent: bool,
    /// Runs (at most once per call) when the request joins a queue longer
    /// than `max_queue`, so the member can be told.
    pub on_busy: Option<&'a (dyn Fn() + Sync)>,
    /// When the member's answer is due: shared by every call made for one
    /// message (the chain, its repair, the crisis screen). `None`: the
    /// configured deadline from now.
    pub deadline: Option<Instant>,
}

/// One successful completion.
#[derive(Debug, Clone)]
pub struct Completion {
    pub content: String,
    /// The model that answered, as the server names it (else the configured one).
    pub model: String,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub attempts: u32,
}

#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    endpoint: Url,
    config: Arc<LlmConfig>,
    limiter: Limiter,
    /// No new request before this: the server said its budget is spent.
    hold_until: Arc<Mutex<Option<Instant>>>,
}

impl LlmClient {
    pub fn new(config: &LlmConfig) -> Result<LlmClient, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("coe-bot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::InvalidResponse(format!("HTTP client set-up failed: {e}")))?;
        Ok(LlmClient {
            http,
            endpoint: chat_endpoint(&config.base_url),
            config: Arc::new(config.clone()),
            limiter: Limiter::new(config.concurrency),
            hold_until: Arc::default(),
        })
    }

    /// The limit and what is in flight and queued now.
    pub fn load(&self) -> Load {
        self.limiter.load()
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// Host of the endpoint, safe to record (no path, no key).
    pub fn host(&self) -> String {
        self.endpoint.host_str().unwrap_or_default().to_string()
    }

    /// Sends one chat request, as [`LlmClient::complete_with`] with the
    /// default call.
    pub async fn complete(
        &self,
        messages: &[ChatMessage],
        response_format: Option<&Value>,
    ) -> Result<Completion, LlmError> {
        self.complete_with(messages, response_format, Call::default())
            .await
    }

    /// Sends one chat request within the configured deadline: refusals
    /// are retried until it, other transient failures up to
    /// `max_attempts`.
    #[tracing::instrument(skip_all, fields(model = %self.config.model))]
    pub async fn complete_with(
        &self,
        messages: &[ChatMessage],
        response_format: Option<&Value>,
        call: Call<'_>,
    ) -> Result<Completion, LlmError> {
        let request = CompletionRequest {
            model: &self.config.model,
            messages,
            temperature: self.config.temperature,
            top_p: self.config.top_p,
            max_tokens: self.config.max_tokens,
            response_format,
            seed: self.config.seed,
        };
        let deadline = call
            .deadline
            .unwrap_or_else(|| Instant::now() + self.config.deadline);
        let ticket = self.limiter.ticket();
        let (mut attempts, mut failures, mut refusals) = (0, 0, 0);
        let mut told = false;
        loop {
            let permit = self.place(&ticket, deadline, call, &mut told).await?;
            attempts += 1;
            let started = Instant::now();
            let budget = self.config.timeout.min(deadline - started);
            let sent = self.send_once(&request, budget).await;
            let outcome = sent.as_ref().map_or_else(LlmError::kind, |_| "ok");
            crate::telemetry::model_latency(started.elapsed(), outcome);
            let error = match sent {
                Ok(mut completion) => {
                    permit.finish(Signal::Answered(started.elapsed()));
                    self.report_load();
                    completion.attempts = attempts;
                    return Ok(completion);
                }
                Err(error) => error,
            };
            let cut_short = budget < self.config.timeout;
            if cut_short && matches!(error, LlmError::Timeout(_)) {
                // The deadline, not the server, ended this attempt.
                permit.finish(Signal::Ignored);
                self.report_load();
                return Err(LlmError::Deadline(self.config.deadline));
            }
            permit.finish(error.signal());
            self.report_load();
            if call.urgent && error.is_refusal() {
                // A fixed answer exists; the member must not wait for a
                // busy server.
                return Err(LlmError::Busy);
            }
            let wait = if error.is_refusal() {
                refusals += 1;
                match &error {
                    LlmError::RateLimited {
                        retry_after: Some(wait),
                    } => *wait,
                    _ => backoff(self.config.retry_base, refusals),
                }
            } else if error.is_transient() && failures + 1 < self.config.max_attempts {
                failures += 1;
                backoff(self.config.retry_base, failures)
            } else {
                tracing::warn!(attempts, %error, "LLM request failed");
                return Err(error);
            };
            if Instant::now() + wait >= deadline {
                tracing::warn!(attempts, %error, ?wait, "LLM request out of time");
                return Err(LlmError::Deadline(self.config.deadline));
            }
            tracing::info!(attempts, %error, ?wait, "retrying LLM request");
            tokio::time::sleep(wait).await;
        }
    }

    /// A place in flight for this request, after any hold the server asked
    /// for; queued in ticket order until the deadline.
    async fn place(
        &self,
        ticket: &Ticket,
        deadline: Instant,
        call: Call<'_>,
        told: &mut bool,
    ) -> Result<limiter::Permit, LlmError> {
        let hold = *self.hold_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = hold.filter(|until| *until > Instant::now()) {
            if call.urgent {
                return Err(LlmError::Busy);
            }
            if until >= deadline {
                return Err(LlmError::Deadline(self.config.deadline));
            }
            tokio::time::sleep_until(until).await;
        }
        if call.urgent {
            return self.limiter.try_acquire().ok_or(LlmError::Busy);
        }
        let max_queue = self.config.max_queue;
        let on_wait = |queued: usize| {
            crate::telemetry::model_queued(queued);
            if queued > max_queue && !*told {
                *told = true;
                if let Some(notify) = call.on_busy {
                    notify();
                }
            }
        };
        let placed = tokio::time::timeout_at(deadline, self.limiter.acquire(ticket, on_wait)).await;
        self.report_load();
        placed.map_err(|_| LlmError::Deadline(self.config.deadline))
    }

    fn report_load(&self) {
        let load = self.limiter.load();
        crate::telemetry::model_in_flight(load.in_flight);
        crate::telemetry::model_queued(load.queued);
        crate::telemetry::model_limit(load.limit);
    }

    async fn send_once(
        &self,
        request: &CompletionRequest<'_>,
        timeout: Duration,
    ) -> Result<Completion, LlmError> {
        let mut builder = self
            .http
            .post(self.endpoint.clone())
            .timeout(timeout)
            .json(request);
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(Secret::expose(key));
        }
        let response = builder.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if let Some(hold) = headers::exhausted_for(response.headers()) {
            let until = Instant::now() + hold;
            let mut held = self.hold_until.lock().unwrap_or_else(|e| e.into_inner());
            *held = Some(held.map_or(until, |h| h.max(until)));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(LlmError::RateLimited {
                retry_after: headers::retry_after(response.headers()),
            });
        }
        if status.is_server_error() {
            return Err(LlmError::Server {
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(LlmError::Rejected {
                status: status.as_u16(),
            });
        }
        let body = read_capped(response, MAX_BODY_BYTES)
            .await
            .map_err(|e| self.transport_error(e))?
            .ok_or_else(|| {
                LlmError::InvalidResponse(format!("body over {MAX_BODY_BYTES} bytes"))
            })?;
        let parsed: CompletionResponse = serde_json::from_slice(&body).map_err(|e| {
            // serde's message can quote the body (model text): shape only.
            let at = format!("line {}, column {}", e.line(), e.column());
            LlmError::InvalidResponse(format!("unreadable JSON ({:?} at {at})", e.classify()))
        })?;
        let content = parsed
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| LlmError::InvalidResponse("no message content".into()))?;
        let usage = parsed.usage.unwrap_or_default();
        Ok(Completion {
            content,
            // The server's name for the model is stored and exported: only
            // a plain model id is taken from it (a hostile server could
            // send a formula or a mention); else the configured name.
            model: parsed
                .model
                .filter(|name| is_model_id(name))
                .unwrap_or_else(|| self.config.model.clone()),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            attempts: 1,
        })
    }

    fn transport_error(&self, error: reqwest::Error) -> LlmError {
        if error.is_timeout() {
            LlmError::Timeout(self.config.timeout)
        } else if error.is_connect() {
            LlmError::Connect {
                host: self.host(),
                detail: root_cause(&error),
            }
        } else if error.is_body() || error.is_decode() {
            LlmError::InvalidResponse(root_cause(&error))
        } else {
            LlmError::Connect {
                host: self.host(),
                detail: root_cause(&error),
            }
        }
    }
}

/// A chat completion is a few kilobytes; a body far larger is a broken or
/// hostile server and is not read into memory.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The body, or `None` when it grows past `max` bytes.
async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// `{base}/chat/completions`, whether or not the base ends in a slash.
fn chat_endpoint(base: &Url) -> Url {
    let mut url = base.clone();
    let path = format!("{}/chat/completions", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// Exponential backoff with full jitter in [d/2, d]: spreads retries of many
/// conversations so they do not hit a recovering server together.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1 << (attempt - 1).min(16));
    let capped = exp.min(Duration::from_secs(30));
    let jitter = rand::thread_rng().gen_range(0.5..=1.0);
    capped.mul_f64(jitter)
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A model id as servers name them (`gpt-4o-2024-08-06`,
/// `meta-llama/Llama-3.1-8B-Instruct:q4`): a letter or digit first, then
/// letters, digits and `._:/+-`, at most 128 characters.
fn is_model_id(name: &str) -> bool {
    name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/+-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_model_ids_are_taken_from_the_server() {
        for id in ["gpt-4o-2024-08-06", "meta-llama/Llama-3.1-8B:q4", "smollm2"] {
            assert!(is_model_id(id), "{id}");
        }
        for hostile in [
            "=HYPERLINK(\"x\")",
            "-2+3",
            "@everyone",
            "<@1>",
            "a b",
            "",
            "m\u{202E}",
        ] {
            assert!(!is_model_id(hostile), "{hostile}");
        }
        assert!(!is_model_id(&"m".repeat(129)));
    }

    #[test]
    fn endpoint_joins_base_with_or_without_slash() {
        for base in ["http://h:1/v1", "http://h:1/v1/"] {
            let url = chat_endpoint(&Url::parse(base).unwrap());
            assert_eq!(url.as_str(), "http://h:1/v1/chat/completions");
        }
    }

    #[test]
    fn backoff_grows_and_stays_jittered() {
        let base = Duration::from_millis(100);
        for attempt in 1..6 {
            let d = backoff(base, attempt);
            let full = base * (1 << (attempt - 1));
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }
}
