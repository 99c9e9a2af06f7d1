//! `coe-bot chat`: the pipeline in a terminal.

use crate::chain::{Emotion, Therapy, Turn, MAX_HISTORY_TURNS};
use crate::config::Config;
use crate::pipeline::{Member, Pipeline, Request, Response};
use crate::safety::sanitize::sanitize_reply;
use crate::store::{Outcome, Source};
use anyhow::bail;
use serde_json::json;
use std::io::IsTerminal;
use tokio::io::{AsyncBufReadExt, BufReader};

pub const DISCLOSURE: &str =
    "coe-bot is an AI peer-support companion, not a therapist or a crisis service.";

/// Turns a conversation keeps (member and bot, oldest dropped first): more
/// than the model is shown, so the pipeline's history checks see whole
/// exchanges, but a long session's memory and per-message work stay flat.
const MAX_CHAT_TURNS: usize = 20;
// Whole exchanges are dropped, and the model still gets all it reads.
const _: () = assert!(MAX_CHAT_TURNS.is_multiple_of(2) && MAX_CHAT_TURNS >= MAX_HISTORY_TURNS);

#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Therapy model the chain reasons with (default: COE_DEFAULT_THERAPY).
    #[arg(long, short)]
    therapy: Option<Therapy>,
    /// Also print the therapy's reasoning steps.
    #[arg(long)]
    show_reasoning: bool,
    /// Print one JSON object per reply instead of text.
    #[arg(long)]
    json: bool,
    /// The message; without it, chat reads a conversation from standard input.
    message: Vec<String>,
}

pub async fn run(args: ChatArgs, (config, pipeline): (Config, Pipeline)) -> anyhow::Result<()> {
    let session = Session {
        therapy: args.therapy.unwrap_or(config.default_therapy),
        member: Member::Local(std::env::var("USER").unwrap_or_else(|_| "terminal".into())),
        region: config.helpline_region.clone(),
        pipeline,
    };
    let therapy = session.therapy;
    let pipeline = &session.pipeline;

    if !args.message.is_empty() {
        let response = session.say(&args.message.join(" "), &[]).await;
        if response.outcome == Outcome::LlmError {
            // A one-shot call fails loudly so scripts notice; the
            // conversation mode below apologizes and carries on.
            let cause = response.failure.as_deref().unwrap_or("unknown error");
            bail!("{cause} (start a local model with scripts/local-llm.sh, or set LLM_BASE_URL)");
        }
        print_response(&response, &args);
        pipeline.store().close().await;
        return Ok(());
    }

    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!(
            "{DISCLOSURE}\nTherapy: {therapy}. Write a message and press Enter; Ctrl-D to leave."
        );
    }
    let mut history: Vec<Turn> = Vec::new();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        if interactive {
            eprint!("you> ");
        }
        let Some(line) = lines.next_line().await? else {
            break;
        };
        if line.trim().is_empty() {
            continue;
        }
        let response = session.say(&line, &history).await;
        print_response(&response, &args);
        remember(&mut history, line, response.reply);
    }
    pipeline.store().close().await;
    Ok(())
}

/// One terminal conversation's fixed parts.
struct Session {
    pipeline: Pipeline,
    member: Member,
    therapy: Therapy,
    region: String,
}

impl Session {
    async fn say(&self, message: &str, history: &[Turn]) -> Response {
        let request = Request {
            source: Source::Cli,
            guild_id: None,
            member: self.member.clone(),
            therapy: self.therapy,
            message,
            history,
            record: true,
            helpline_region: &self.region,
            risk: None,
        };
        self.pipeline.respond(&request).await
    }
}

/// Adds one exchange to the conversation and forgets the oldest beyond
/// [`MAX_CHAT_TURNS`].
fn remember(history: &mut Vec<Turn>, message: String, reply: String) {
    history.push(Turn {
        from_member: true,
        text: message,
    });
    history.push(Turn {
        from_member: false,
        text: reply,
    });
    let excess = history.len().saturating_sub(MAX_CHAT_TURNS);
    history.drain(..excess);
}

fn print_response(response: &Response, args: &ChatArgs) {
    if args.json {
        let object = json!({
            "therapy": response.therapy,
            "emotion": response.emotion,
            "reasoning": response.reasoning.iter().map(|s| sanitize_reply(s)).collect::<Vec<_>>(),
            "strategy": response.strategy,
            "reply": response.reply,
            "model": response.model,
            "prompt_version": response.prompt_version,
            "latency_ms": response.latency_ms,
            "prompt_tokens": response.prompt_tokens,
            "completion_tokens": response.completion_tokens,
            "outcome": response.outcome,
            "risk": {
                "tier": response.risk.tier,
                "layer": response.risk.layer,
                "rule": response.risk.rule_id,
                "score": response.risk.score,
            },
        });
        println!("{object}");
        return;
    }
    if args.show_reasoning && !response.reasoning.is_empty() {
        println!("Reasoning ({}):", response.therapy);
        for (i, step) in response.reasoning.iter().enumerate() {
            // Model text, like the reply: no links, mentions or control characters.
            println!("  {}. {}", i + 1, sanitize_reply(step));
        }
        println!();
    }
    println!("{}\n", response.reply);
    let strategy = response.strategy.map_or("unknown", |s| s.as_str());
    let emotion = response.emotion.as_ref().map_or("unknown", Emotion::as_str);
    println!(
        "strategy: {strategy} · emotion: {emotion} · therapy: {} (prompt {}) · {} · risk {} · {} ms",
        response.therapy,
        response.prompt_version,
        response.outcome.as_str(),
        response.risk.tier,
        response.latency_ms
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_conversation_keeps_only_its_latest_exchanges() {
        let mut history = Vec::new();
        for i in 0..100 {
            remember(&mut history, format!("message {i}"), format!("reply {i}"));
        }
        assert_eq!(history.len(), MAX_CHAT_TURNS);
        let oldest = 100 - MAX_CHAT_TURNS / 2;
        assert!(history[0].from_member);
        assert_eq!(history[0].text, format!("message {oldest}"));
        assert_eq!(history[MAX_CHAT_TURNS - 1].text, "reply 99");
        assert!(history
            .chunks(2)
            .all(|pair| pair[0].from_member && !pair[1].from_member));
    }
}
