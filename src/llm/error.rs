//! Why a model request failed, and what each failure says about the
//! server's load.

use super::limiter::Signal;
use std::time::Duration;

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
    /// An urgent request found every place taken; it has an answer
    /// without the model and must not queue.
    #[error("every model request place is taken")]
    Busy,
    #[error("no answer within the deadline of {0:?} (queueing and retries included)")]
    Deadline(Duration),
}

impl LlmError {
    /// A metric label for how a request failed.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Connect { .. } => "connect",
            LlmError::Timeout(_) => "timeout",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Server { .. } => "server_error",
            LlmError::Rejected { .. } => "rejected",
            LlmError::InvalidResponse(_) => "invalid_response",
            LlmError::Busy => "busy",
            LlmError::Deadline(_) => "deadline",
        }
    }

    /// The server is up but busy: worth waiting for until the deadline.
    pub(super) fn is_refusal(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. } | LlmError::Server { status: 503 }
        )
    }

    /// A failure that may pass: worth a few more attempts. Not a timeout:
    /// the member has already waited a whole attempt for it.
    pub(super) fn is_transient(&self) -> bool {
        matches!(self, LlmError::Connect { .. } | LlmError::Server { .. })
    }

    pub(super) fn signal(&self) -> Signal {
        match self {
            _ if self.is_refusal() => Signal::Refused,
            LlmError::Timeout(_) => Signal::TimedOut,
            _ => Signal::Ignored,
        }
    }
}
