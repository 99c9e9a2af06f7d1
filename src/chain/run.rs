//! One run of the chain: the LLM call, parsing, and one repair attempt.

use super::{
    build_messages, parse_output, repair_messages, Care, ChainOutput, ParseError, Therapy, Turn,
};
use crate::llm::{Call, LlmClient, LlmError};
use serde_json::Value;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error("unreadable answer after one repair: {0}")]
    Parse(ParseError),
}

/// The chain's result with what it cost, successful or not.
#[derive(Debug)]
pub struct ChainRun {
    pub result: Result<ChainOutput, ChainError>,
    pub model: String,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub elapsed: Duration,
}

/// Asks the model once; if the answer cannot be read, shows it its answer
/// and asks once more for the JSON object.
pub async fn run_chain(
    llm: &LlmClient,
    call: Call<'_>,
    response_format: Option<&Value>,
    therapy: Therapy,
    care: Care,
    history: &[Turn],
    message: &str,
) -> ChainRun {
    let started = Instant::now();
    let mut run = ChainRun {
        result: Err(ChainError::Parse(ParseError::NoJson)),
        model: llm.config().model.clone(),
        prompt_tokens: None,
        completion_tokens: None,
        elapsed: Duration::ZERO,
    };
    let mut messages = build_messages(therapy, care, history, message);
    for attempt in 0..2 {
        let completion = match llm.complete_with(&messages, response_format, call).await {
            Ok(completion) => completion,
            Err(error) => {
                run.result = Err(error.into());
                break;
            }
        };
        run.model = completion.model;
        run.prompt_tokens = sum(run.prompt_tokens, completion.prompt_tokens);
        run.completion_tokens = sum(run.completion_tokens, completion.completion_tokens);
        match parse_output(&completion.content) {
            Ok(output) => {
                run.result = Ok(output);
                break;
            }
            Err(error) => {
                tracing::warn!(attempt, %error, "unreadable chain answer");
                run.result = Err(ChainError::Parse(error));
                messages = repair_messages(messages, &completion.content);
            }
        }
    }
    run.elapsed = started.elapsed();
    run
}

fn sum(total: Option<u32>, more: Option<u32>) -> Option<u32> {
    match (total, more) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}
