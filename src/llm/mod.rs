//! OpenAI-compatible chat client on reqwest: timeouts, bounded retries with
//! exponential backoff and jitter (connect errors, 429 with `Retry-After`,
//! 5xx), bounded concurrency, typed errors and token usage.

mod wire;

pub use wire::{ChatMessage, Role};

use crate::config::{LlmConfig, Secret};
use rand::Rng;
use reqwest::{header, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Semaphore;
use url::Url;
use wire::{CompletionRequest, CompletionResponse};

/// Why a completion could not be had, after any retries.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model server could not be reached at {host}: {detail}")]
    Connect { host: String, detail: String },
    #[error("the model server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the model server is rate limiting (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the model server failed with HTTP {status}")]
    Server { status: u16 },
    /// The body is not kept: servers echo the request (member text) in
    /// their validation errors, and this error is logged.
    #[error("the model server refused the request with HTTP {status} (see its log for why)")]
    Rejected { status: u16 },
    #[error("the model server sent a response that is not a chat completion: {0}")]
    InvalidResponse(String),
}

impl LlmError {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::Connect { .. } | LlmError::RateLimited { .. } | LlmError::Server { .. }
        )
    }
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
    permits: Arc<Semaphore>,
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
            permits: Arc::new(Semaphore::new(config.max_concurrency)),
        })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// Host of the endpoint, safe to record (no path, no key).
    pub fn host(&self) -> String {
        self.endpoint.host_str().unwrap_or_default().to_string()
    }

    /// Sends one chat request, retrying transient failures up to the
    /// configured number of attempts.
    #[tracing::instrument(skip_all, fields(model = %self.config.model))]
    pub async fn complete(
        &self,
        messages: &[ChatMessage],
        response_format: Option<&Value>,
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
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Bounded concurrency: a burst of users queues here instead of
            // overloading the model server. A slot is held per attempt, not
            // through retry waits, so rate-limited requests do not stall
            // everyone else. The semaphore is never closed.
            let permit = self
                .permits
                .acquire()
                .await
                .expect("semaphore never closed");
            let sent = self.send_once(&request).await;
            drop(permit);
            let error = match sent {
                Ok(mut completion) => {
                    completion.attempts = attempt;
                    return Ok(completion);
                }
                Err(error) => error,
            };
            if !error.is_retryable() || attempt >= self.config.max_attempts {
                tracing::warn!(attempt, %error, "LLM request failed");
                return Err(error);
            }
            let wait = match &error {
                LlmError::RateLimited {
                    retry_after: Some(wait),
                } if *wait > self.config.max_retry_wait => {
                    tracing::warn!(?wait, "LLM asks to wait longer than we will");
                    return Err(error);
                }
                LlmError::RateLimited {
                    retry_after: Some(wait),
                } => *wait,
                _ => backoff(self.config.retry_base, attempt),
            };
            tracing::info!(attempt, %error, ?wait, "retrying LLM request");
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(&self, request: &CompletionRequest<'_>) -> Result<Completion, LlmError> {
        let mut builder = self.http.post(self.endpoint.clone()).json(request);
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(Secret::expose(key));
        }
        let response = builder.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(LlmError::RateLimited {
                retry_after: retry_after(response.headers()),
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
        let parsed: CompletionResponse =
            serde_json::from_slice(&body).map_err(|e| LlmError::InvalidResponse(e.to_string()))?;
        let content = parsed
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| LlmError::InvalidResponse("no message content".into()))?;
        let usage = parsed.usage.unwrap_or_default();
        Ok(Completion {
            content,
            model: parsed.model.unwrap_or_else(|| self.config.model.clone()),
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

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        // try_: a huge value ("1e30") must not panic; it is refused later.
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = header::HeaderMap::new();
        headers.insert(header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        headers.insert(header::RETRY_AFTER, later.parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
        headers.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, "1e30".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, "-3".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
