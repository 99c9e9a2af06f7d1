//! Supporter assist: Chain-of-Empathy drafts for the human peer supporters
//! of a server, and feedback on their own drafts (HAILEY, Sharma et al.
//! 2023: a few small edits that keep the supporter's voice, never a
//! replacement). Shared by Discord and `coe-bot assist`.
//!
//! The gate reads the member's message before any model call: at `concern`
//! or `crisis` the supporter gets safe-messaging guidance, never model
//! words. Nothing here is stored or logged with text; everything the model
//! writes passes the one sanitizer and the gate before a supporter sees it.

pub mod card;

use crate::chain::{
    draft_messages, draft_prompt_version, draft_response_format, feedback_messages,
    feedback_prompt_version, feedback_response_format, is_light_edit, mark_changes, parse_draft,
    parse_feedback, run_task, ChainError, Emotion, MarkedEdit, Strategy, TaskRun, Therapy,
};
use crate::llm::{Call, ChatMessage, LlmClient};
use crate::pipeline::{truncate_chars, Pipeline, MAX_INPUT_CHARS};
use crate::safety::helplines::supporter_guidance;
use crate::safety::risk::{Risk, Tier};
use crate::safety::sanitize::{leaks_prompt, sanitize_reply};
use crate::store::AssistKind;

pub const EMPTY_MESSAGE: &str =
    "That message has no words I can read, so there is nothing to draft a reply to.";
pub const EMPTY_DRAFT: &str = "I couldn't find any words in your draft. Write the reply you have in mind, and I'll suggest a few small changes.";
pub const MODEL_UNAVAILABLE: &str = "I can't reach the model right now, so I have nothing to suggest. Please try again in a little while; your own words are what matter most.";
pub const UNREADABLE: &str =
    "The model's answer came back garbled this time, so I left it out. Please try again.";
pub const UNSAFE_OUTPUT: &str = "I didn't like what the model wrote this time, so I left it out. Please try again, or answer in your own words.";

/// What a supporter asks a draft for.
#[derive(Debug, Clone, Copy)]
pub struct DraftAsk<'a> {
    pub therapy: Therapy,
    /// The strategy asked for; `None` lets the model choose.
    pub strategy: Option<Strategy>,
    /// The member's message.
    pub message: &'a str,
    pub helpline_region: &'a str,
}

/// What a supporter asks feedback on: their draft, and the message it answers.
#[derive(Debug, Clone, Copy)]
pub struct FeedbackAsk<'a> {
    pub therapy: Therapy,
    pub message: &'a str,
    pub draft: &'a str,
    pub helpline_region: &'a str,
}

/// The answer to an ask.
#[derive(Debug, Clone)]
pub enum Assisted<T> {
    Ready(T),
    /// The member's message is at `concern` or `crisis`: guidance for the
    /// supporter, no model call. The caller alerts the moderators.
    AtRisk {
        risk: Risk,
        guidance: String,
    },
    /// A kind sentence for the supporter: empty input, no model, or model
    /// text that was withheld.
    Declined(&'static str),
}

/// A draft for the supporter to edit and post themselves.
#[derive(Debug, Clone)]
pub struct Draft {
    pub therapy: Therapy,
    /// What the supporter asked for, when they asked.
    pub asked: Option<Strategy>,
    /// What the model says it used.
    pub strategy: Option<Strategy>,
    pub emotion: Option<Emotion>,
    pub reasoning: Vec<String>,
    pub aim: Option<String>,
    pub text: String,
    pub prompt_version: &'static str,
}

/// Feedback on a supporter's own draft.
#[derive(Debug, Clone)]
pub struct Feedback {
    pub therapy: Therapy,
    pub strategies_used: Vec<Strategy>,
    pub suggestions: Vec<String>,
    /// The strategy the edit strengthens.
    pub adds: Option<Strategy>,
    pub edit: Edit,
    pub prompt_version: &'static str,
}

/// The lightly edited version of the supporter's draft, or why there is none.
#[derive(Debug, Clone)]
pub enum Edit {
    Marked(MarkedEdit),
    /// The model offered no edit, or one equal to the draft.
    Unchanged,
    /// The model rewrote rather than edited: not the supporter's voice.
    Rewrite,
    /// The supporter's draft itself reads as crisis talk (method detail, a
    /// plan), so no edit of it is offered.
    DraftAtRisk,
    /// The gate or the sanitizer would not pass the model's edit.
    Withheld,
}

/// A draft of a reply to the member's message.
pub async fn draft(pipeline: &Pipeline, ask: &DraftAsk<'_>) -> Assisted<Draft> {
    let answer = draft_inner(pipeline, ask).await;
    count(AssistKind::Draft, &answer);
    answer
}

async fn draft_inner(pipeline: &Pipeline, ask: &DraftAsk<'_>) -> Assisted<Draft> {
    let message = ask.message.trim();
    if message.is_empty() {
        return Assisted::Declined(EMPTY_MESSAGE);
    }
    if let Some(at_risk) = screen_member(pipeline, message, ask.helpline_region).await {
        return at_risk;
    }
    let (message, _) = truncate_chars(message, MAX_INPUT_CHARS);
    let llm = pipeline.llm();
    let messages = draft_messages(ask.therapy, ask.strategy, message);
    let format = draft_response_format(llm.config().json_mode);
    let run = run_task(llm, call(llm), &messages, format.as_ref(), parse_draft).await;
    let output = match accepted(run) {
        Ok(output) => output,
        Err(reason) => return Assisted::Declined(reason),
    };
    let text = sanitize_reply(&output.draft);
    let reasoning = sanitize_all(&output.reasoning);
    let aim = output.aim.as_deref().map(sanitize_reply);
    let shown: Vec<&str> = [text.as_str()]
        .into_iter()
        .chain(reasoning.iter().map(String::as_str))
        .chain(aim.as_deref())
        .collect();
    if text.is_empty() || !passes(pipeline, &messages, &shown).await {
        return Assisted::Declined(UNSAFE_OUTPUT);
    }
    Assisted::Ready(Draft {
        therapy: ask.therapy,
        asked: ask.strategy,
        strategy: output.strategy,
        emotion: output.emotion,
        reasoning,
        aim: aim.filter(|a| !a.is_empty()),
        text,
        prompt_version: draft_prompt_version(ask.therapy),
    })
}

/// Feedback on the supporter's draft of a reply to the member's message.
pub async fn feedback(pipeline: &Pipeline, ask: &FeedbackAsk<'_>) -> Assisted<Feedback> {
    let answer = feedback_inner(pipeline, ask).await;
    count(AssistKind::Feedback, &answer);
    answer
}

async fn feedback_inner(pipeline: &Pipeline, ask: &FeedbackAsk<'_>) -> Assisted<Feedback> {
    let message = ask.message.trim();
    // Pings and links go before the model or the diff ever see the draft.
    let own = sanitize_reply(ask.draft.trim());
    if message.is_empty() {
        return Assisted::Declined(EMPTY_MESSAGE);
    }
    if own.is_empty() {
        return Assisted::Declined(EMPTY_DRAFT);
    }
    if let Some(at_risk) = screen_member(pipeline, message, ask.helpline_region).await {
        return at_risk;
    }
    let draft_at_risk = pipeline.gate().assess(&own).await.tier == Tier::Crisis;
    let (message, _) = truncate_chars(message, MAX_INPUT_CHARS);
    let (own, _) = truncate_chars(&own, MAX_INPUT_CHARS);
    let llm = pipeline.llm();
    let messages = feedback_messages(ask.therapy, message, own);
    let format = feedback_response_format(llm.config().json_mode);
    let run = run_task(llm, call(llm), &messages, format.as_ref(), parse_feedback).await;
    let output = match accepted(run) {
        Ok(output) => output,
        Err(reason) => return Assisted::Declined(reason),
    };
    let mut suggestions = Vec::new();
    for suggestion in sanitize_all(&output.suggestions) {
        if passes(pipeline, &messages, &[&suggestion]).await {
            suggestions.push(suggestion);
        }
    }
    let edit = match output.edited.as_deref().map(sanitize_reply) {
        _ if draft_at_risk => Edit::DraftAtRisk,
        None => Edit::Unchanged,
        Some(edited) if edited.is_empty() => Edit::Unchanged,
        Some(edited) if !passes(pipeline, &messages, &[&edited]).await => Edit::Withheld,
        Some(edited) => judge_edit(own, &edited),
    };
    if suggestions.is_empty()
        && !matches!(edit, Edit::Marked(_))
        && output.strategies_used.is_empty()
    {
        return Assisted::Declined(UNSAFE_OUTPUT);
    }
    Assisted::Ready(Feedback {
        therapy: ask.therapy,
        strategies_used: output.strategies_used,
        suggestions,
        adds: output.adds,
        edit,
        prompt_version: feedback_prompt_version(ask.therapy),
    })
}

/// A light edit is shown with its changes marked; a rewrite is not shown.
fn judge_edit(own: &str, edited: &str) -> Edit {
    let marked = mark_changes(own, edited);
    if !marked.changed {
        Edit::Unchanged
    } else if is_light_edit(&marked) {
        Edit::Marked(marked)
    } else {
        Edit::Rewrite
    }
}

/// The member's message at `concern` or above: the supporter's guidance.
async fn screen_member<T>(
    pipeline: &Pipeline,
    message: &str,
    helpline_region: &str,
) -> Option<Assisted<T>> {
    let risk = pipeline.gate().assess(message).await;
    risk.tier.shows_helplines().then(|| Assisted::AtRisk {
        risk,
        guidance: supporter_guidance(helpline_region),
    })
}

/// Whether model texts may be shown: no crisis talk, no prompt echo.
async fn passes(pipeline: &Pipeline, messages: &[ChatMessage], texts: &[&str]) -> bool {
    let system = &messages[0].content;
    if texts.iter().any(|text| leaks_prompt(text, system)) {
        tracing::warn!("assist output reproduced its prompt; withheld");
        return false;
    }
    let risks = pipeline.gate().assess_many(texts).await;
    let safe = risks.iter().all(|risk| risk.tier < Tier::Crisis);
    if !safe {
        tracing::warn!("assist output read as crisis talk; withheld");
    }
    safe
}

fn sanitize_all(texts: &[String]) -> Vec<String> {
    texts
        .iter()
        .map(|text| sanitize_reply(text))
        .filter(|text| !text.is_empty())
        .collect()
}

/// One deadline, and no jumping the queue: a supporter can wait.
fn call(llm: &LlmClient) -> Call<'static> {
    Call {
        urgent: false,
        on_busy: None,
        deadline: Some(tokio::time::Instant::now() + llm.config().deadline),
    }
}

/// The parsed answer, or the supporter's sentence for why there is none
/// (the error, which never quotes text, goes to the operator's log).
fn accepted<T>(run: TaskRun<T>) -> Result<T, &'static str> {
    match run.result {
        Ok(output) => Ok(output),
        Err(ChainError::Llm(error)) => {
            tracing::error!(%error, "model unavailable for a supporter assist");
            Err(MODEL_UNAVAILABLE)
        }
        Err(ChainError::Parse(error)) => {
            tracing::warn!(%error, "unreadable supporter assist answer");
            Err(UNREADABLE)
        }
    }
}

fn count<T>(kind: AssistKind, answer: &Assisted<T>) {
    let outcome = match answer {
        Assisted::Ready(_) => "ready",
        Assisted::AtRisk { .. } => "at_risk",
        Assisted::Declined(_) => "declined",
    };
    crate::telemetry::assist_card(kind.as_str(), outcome);
}
