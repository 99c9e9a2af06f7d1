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
    parse_feedback, run_task, ChainError, Emotion, MarkedEdit, ParseError, Strategy, TaskRun,
    Therapy, Turn,
};
use crate::llm::{Call, ChatMessage, LlmClient};
use crate::pipeline::{Pipeline, MAX_INPUT_CHARS};
use crate::safety::helplines::supporter_guidance;
use crate::safety::risk::{Risk, Tier};
use crate::safety::sanitize::{leaks_prompt, sanitize_reply};
use crate::store::AssistKind;
use crate::text::truncate_chars;
use serde_json::Value;

pub const EMPTY_MESSAGE: &str =
    "That message has no words I can read, so there is nothing to draft a reply to.";
pub const EMPTY_DRAFT: &str = "I couldn't find any words in your draft. Write the reply you have in mind, and I'll suggest a few small changes.";
pub const MODEL_UNAVAILABLE: &str = "I can't reach the model right now, so I have nothing to suggest. Please try again in a little while; your own words are what matter most.";
pub const UNREADABLE: &str =
    "The model's answer came back garbled this time, so I left it out. Please try again.";
pub const UNSAFE_OUTPUT: &str = "I didn't like what the model wrote this time, so I left it out. Please try again, or answer in your own words.";

/// The member's message an ask is about, with what the gate needs to
/// read it as the reply pipeline does.
#[derive(Debug, Clone, Copy)]
pub struct MemberMessage<'a> {
    pub text: &'a str,
    /// Earlier turns of the member's conversation (a support thread).
    pub history: &'a [Turn],
    /// The gate's verdict when the front door already asked for it.
    pub risk: Option<Risk>,
    pub helpline_region: &'a str,
}

/// What a supporter asks a draft for.
#[derive(Debug, Clone, Copy)]
pub struct DraftAsk<'a> {
    pub therapy: Therapy,
    /// The strategy asked for; `None` lets the model choose.
    pub strategy: Option<Strategy>,
    pub member: MemberMessage<'a>,
}

/// What a supporter asks feedback on: their draft, and the message it answers.
#[derive(Debug, Clone, Copy)]
pub struct FeedbackAsk<'a> {
    pub therapy: Therapy,
    pub member: MemberMessage<'a>,
    pub draft: &'a str,
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
    let member = &ask.member;
    let text = match member.read(pipeline).await {
        Ok(text) => text,
        Err(answer) => return answer,
    };
    let (message, _) = truncate_chars(text, MAX_INPUT_CHARS);
    let messages = draft_messages(ask.therapy, ask.strategy, message);
    let format = draft_response_format(pipeline.llm().config().json_mode);
    let output = match member
        .ask_model(pipeline, &messages, format, parse_draft)
        .await
    {
        Ok(output) => output,
        Err(answer) => return answer,
    };
    let text = sanitize_reply(&output.draft);
    let reasoning = sanitize_all(&output.reasoning);
    let aim = output.aim.as_deref().map(sanitize_reply);
    let shown: Vec<&str> = [text.as_str()]
        .into_iter()
        .chain(reasoning.iter().map(String::as_str))
        .chain(aim.as_deref())
        .collect();
    let risks = pipeline.gate().assess_other(&shown).await;
    if text.is_empty() || may_show(&messages, &shown, &risks).contains(&false) {
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
    // The member first: a person at risk is not kept waiting on the draft.
    let member = &ask.member;
    let text = match member.read(pipeline).await {
        Ok(text) => text,
        Err(answer) => return answer,
    };
    // Pings and links go before the model or the diff ever see the draft.
    let own = sanitize_reply(ask.draft.trim());
    if own.is_empty() {
        return Assisted::Declined(EMPTY_DRAFT);
    }
    let (message, _) = truncate_chars(text, MAX_INPUT_CHARS);
    let (own, _) = truncate_chars(&own, MAX_INPUT_CHARS);
    let messages = feedback_messages(ask.therapy, message, own);
    let format = feedback_response_format(pipeline.llm().config().json_mode);
    let output = match member
        .ask_model(pipeline, &messages, format, parse_feedback)
        .await
    {
        Ok(output) => output,
        Err(answer) => return answer,
    };
    let mut suggestions = sanitize_all(&output.suggestions);
    let edited = output.edited.as_deref().map(sanitize_reply);
    // One screening for all: the supporter's draft, each suggestion, the edit.
    let texts: Vec<&str> = [own]
        .into_iter()
        .chain(suggestions.iter().map(String::as_str))
        .chain(edited.as_deref())
        .collect();
    let risks = pipeline.gate().assess_other(&texts).await;
    let draft_at_risk = risks[0].tier == Tier::Crisis;
    let safe = may_show(&messages, &texts[1..], &risks[1..]);
    let edit_safe = edited.is_none() || safe.last() == Some(&true);
    let mut safe = safe.into_iter();
    suggestions.retain(|_| safe.next().unwrap_or(false));
    let edit = match edited {
        _ if draft_at_risk => Edit::DraftAtRisk,
        None => Edit::Unchanged,
        Some(edited) if edited.is_empty() => Edit::Unchanged,
        Some(_) if !edit_safe => Edit::Withheld,
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

impl<'a> MemberMessage<'a> {
    /// The member's message (trimmed), read before anything else: an empty
    /// one, or one at `concern` or above (the gate, or an answer to the
    /// bot's check-in), ends the ask here, the latter with the supporter's
    /// guidance instead of any model call.
    async fn read<T>(&self, pipeline: &Pipeline) -> Result<&'a str, Assisted<T>> {
        let text = self.text.trim();
        if text.is_empty() {
            return Err(Assisted::Declined(EMPTY_MESSAGE));
        }
        let risk = pipeline.member_risk(text, self.history, self.risk).await;
        match self.guidance(risk) {
            Some(at_risk) => Err(at_risk),
            None => Ok(text),
        }
    }

    fn guidance<T>(&self, risk: Risk) -> Option<Assisted<T>> {
        risk.tier.shows_helplines().then(|| Assisted::AtRisk {
            risk,
            guidance: supporter_guidance(self.helpline_region),
        })
    }

    /// One model call for the task, with the model screen on the member's
    /// message beside it (as for replies): what the screen alone sees as
    /// risk still gets guidance, and the model's words are dropped.
    async fn ask_model<T, U>(
        &self,
        pipeline: &Pipeline,
        messages: &[ChatMessage],
        format: Option<Value>,
        parse: fn(&str) -> Result<T, ParseError>,
    ) -> Result<T, Assisted<U>> {
        let llm = pipeline.llm();
        let call = call(llm);
        let (screened, run) = tokio::join!(
            pipeline.screen(call, self.text),
            run_task(llm, call, messages, format.as_ref(), parse)
        );
        if let Some(at_risk) = self.guidance(screened) {
            return Err(at_risk);
        }
        accepted(run).map_err(Assisted::Declined)
    }
}

/// Per model text, whether it may be shown: no prompt echo, and no crisis
/// talk by the gate's verdicts `risks` (one per text).
fn may_show(messages: &[ChatMessage], texts: &[&str], risks: &[Risk]) -> Vec<bool> {
    let system = &messages[0].content;
    let verdicts: Vec<bool> = texts
        .iter()
        .zip(risks)
        .map(|(text, risk)| !leaks_prompt(text, system) && risk.tier < Tier::Crisis)
        .collect();
    if verdicts.contains(&false) {
        tracing::warn!("assist output echoed its prompt or read as crisis talk; withheld");
    }
    verdicts
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
