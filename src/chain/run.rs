//! One run of the chain: the LLM call, parsing, and one repair attempt.

use super::{
    build_messages, parse_output, repair_messages, Care, ChainOutput, ParseError, Therapy, Turn,
};
use crate::llm::{Call, ChatMessage, LlmClient, LlmError};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Repair requests after an unreadable answer.
const MAX_REPAIRS: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error("unreadable answer: {0}")]
    Parse(ParseError),
}

/// One task's result with what it cost, successful or not.
#[derive(Debug)]
pub struct TaskRun<T> {
    pub result: Result<T, ChainError>,
    pub model: String,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub elapsed: Duration,
}

/// The reply chain's run.
pub type ChainRun = TaskRun<ChainOutput>;

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
    let mut model = llm.config().model.clone();
    let (mut prompt_tokens, mut completion_tokens) = (None, None);
    let mut messages = build_messages(therapy, care, history, message);
    let mut attempt = 0;
    let result = loop {
        let completion = match llm.complete_with(&messages, response_format, call).await {
            Ok(completion) => completion,
            Err(error) => break Err(error.into()),
        };
        model = completion.model;
        prompt_tokens = sum(prompt_tokens, completion.prompt_tokens);
        completion_tokens = sum(completion_tokens, completion.completion_tokens);
        match parse_output(&completion.content) {
            Ok(output) => break Ok(output),
            // The error gives the answer's shape only, never its words.
            Err(error) => {
                tracing::warn!(attempt, %error, "unreadable chain answer");
                if attempt == MAX_REPAIRS {
                    break Err(ChainError::Parse(error));
                }
                attempt += 1;
                messages = repair_messages(messages, &completion.content);
            }
        }
    };
    ChainRun {
        result,
        model,
        prompt_tokens,
        completion_tokens,
        elapsed: started.elapsed(),
    }
}

/// One model call and one parse, no repair round: for the supporter's
/// tasks, where asking again is one click away.
pub async fn run_task<T>(
    llm: &LlmClient,
    call: Call<'_>,
    messages: &[ChatMessage],
    response_format: Option<&Value>,
    parse: fn(&str) -> Result<T, ParseError>,
) -> TaskRun<T> {
    let started = Instant::now();
    let completion = llm.complete_with(messages, response_format, call).await;
    let (result, model, prompt_tokens, completion_tokens) = match completion {
        Ok(done) => {
            // The caller logs a failure, with what it means for its task.
            let parsed = parse(&done.content).map_err(ChainError::Parse);
            (
                parsed,
                done.model,
                done.prompt_tokens,
                done.completion_tokens,
            )
        }
        Err(error) => (Err(error.into()), llm.config().model.clone(), None, None),
    };
    TaskRun {
        result,
        model,
        prompt_tokens,
        completion_tokens,
        elapsed: started.elapsed(),
    }
}

fn sum(total: Option<u32>, more: Option<u32>) -> Option<u32> {
    match (total, more) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}
