//! `coe-bot assist draft|feedback`: the supporter assist in a terminal,
//! the same cards a supporter gets in Discord (without the buttons).

use crate::assist::card::{draft_card, feedback_card, guidance_card};
use crate::assist::{
    self, Assisted, Draft, DraftAsk, Edit, Feedback, FeedbackAsk, MemberMessage, MODEL_UNAVAILABLE,
};
use crate::chain::{Emotion, Strategy, Therapy};
use crate::config::Config;
use crate::pipeline::Pipeline;
use anyhow::bail;
use serde_json::{json, Value};

/// What a terminal says where Discord would alert the moderators.
const NO_MODERATORS: &str =
    "In Discord, the server's moderators would be alerted now; here, tell someone who can help.";

#[derive(Debug, clap::Subcommand)]
pub enum AssistCommand {
    /// A draft reply to a member's message, for a supporter to make their own.
    Draft(DraftArgs),
    /// Feedback on a supporter's own draft: strategies, suggestions, a light edit.
    Feedback(FeedbackArgs),
}

#[derive(Debug, clap::Args)]
pub struct DraftArgs {
    /// Therapy model the draft reasons with (default: COE_DEFAULT_THERAPY).
    #[arg(long, short)]
    therapy: Option<Therapy>,
    /// Empathy strategy to use: emotional_reaction, exploration or interpretation.
    #[arg(long, short, value_parser = strategy)]
    strategy: Option<Strategy>,
    /// Print one JSON object instead of the card.
    #[arg(long)]
    json: bool,
    /// The member's message.
    #[arg(required = true)]
    message: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct FeedbackArgs {
    /// Therapy model that frames the feedback (default: COE_DEFAULT_THERAPY).
    #[arg(long, short)]
    therapy: Option<Therapy>,
    /// The member's message the draft answers.
    #[arg(long, short)]
    message: String,
    /// The supporter's draft reply.
    #[arg(long, short)]
    draft: String,
    /// Print one JSON object instead of the card.
    #[arg(long)]
    json: bool,
}

fn strategy(label: &str) -> Result<Strategy, String> {
    Strategy::parse_label(label).ok_or_else(|| {
        format!(
            "unknown strategy '{label}'; choose emotional_reaction, exploration or interpretation"
        )
    })
}

pub async fn run(
    command: AssistCommand,
    (config, pipeline): (Config, Pipeline),
) -> anyhow::Result<()> {
    let region = config.helpline_region.clone();
    let printed = match command {
        AssistCommand::Draft(args) => {
            let message = args.message.join(" ");
            let ask = DraftAsk {
                therapy: args.therapy.unwrap_or(config.default_therapy),
                strategy: args.strategy,
                member: terminal_member(&message, &region),
            };
            let answer = assist::draft(&pipeline, &ask).await;
            show(&answer, args.json, draft_card, draft_json)
        }
        AssistCommand::Feedback(args) => {
            let ask = FeedbackAsk {
                therapy: args.therapy.unwrap_or(config.default_therapy),
                member: terminal_member(&args.message, &region),
                draft: &args.draft,
            };
            let answer = assist::feedback(&pipeline, &ask).await;
            show(&answer, args.json, feedback_card, feedback_json)
        }
    };
    pipeline.store().close().await;
    printed
}

/// A message typed in the terminal: no conversation before it, not yet read by the gate.
fn terminal_member<'a>(text: &'a str, helpline_region: &'a str) -> MemberMessage<'a> {
    MemberMessage {
        text,
        history: &[],
        risk: None,
        helpline_region,
    }
}

/// Prints the answer; no model is an error (so scripts notice), as in `chat`.
fn show<T>(
    answer: &Assisted<T>,
    json: bool,
    card: fn(&T) -> String,
    as_json: fn(&T) -> Value,
) -> anyhow::Result<()> {
    if let Assisted::Declined(MODEL_UNAVAILABLE) = answer {
        bail!("{MODEL_UNAVAILABLE} (start a local model with scripts/local-llm.sh, or set LLM_BASE_URL)");
    }
    let (text, object) = match answer {
        Assisted::Ready(ready) => (card(ready), as_json(ready)),
        Assisted::AtRisk { risk, guidance } => (
            guidance_card(guidance, NO_MODERATORS),
            json!({"status": "at_risk", "tier": risk.tier, "kind": risk.kind, "guidance": guidance}),
        ),
        Assisted::Declined(reason) => (
            reason.to_string(),
            json!({"status": "declined", "reason": reason}),
        ),
    };
    if json {
        println!("{object}");
    } else {
        println!("{text}");
    }
    Ok(())
}

fn draft_json(draft: &Draft) -> Value {
    json!({
        "status": "ready",
        "therapy": draft.therapy,
        "asked": draft.asked,
        "strategy": draft.strategy,
        "emotion": draft.emotion.as_ref().map(Emotion::as_str),
        "reasoning": draft.reasoning,
        "aim": draft.aim,
        "draft": draft.text,
        "prompt_version": draft.prompt_version,
    })
}

fn feedback_json(feedback: &Feedback) -> Value {
    let edit = match &feedback.edit {
        Edit::Marked(edit) => {
            json!({"state": "marked", "marked": edit.marked, "kept_ratio": edit.kept_ratio})
        }
        Edit::Unchanged => json!({"state": "unchanged"}),
        Edit::Rewrite => json!({"state": "rewrite"}),
        Edit::DraftAtRisk => json!({"state": "draft_at_risk"}),
        Edit::Withheld => json!({"state": "withheld"}),
    };
    json!({
        "status": "ready",
        "therapy": feedback.therapy,
        "strategies_used": feedback.strategies_used,
        "suggestions": feedback.suggestions,
        "adds": feedback.adds,
        "edit": edit,
        "prompt_version": feedback.prompt_version,
    })
}
