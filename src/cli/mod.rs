//! Command-line front door: argument parsing and the commands' plumbing.
//! Errors reach the user once, as one line, from `main`.

mod assist;
mod chat;
mod doctor;
mod eval;
mod gate;
mod run;

use crate::chain::{draft_prompt_version, feedback_prompt_version, Therapy};
use crate::config::Config;
use crate::llm::LlmClient;
use crate::pipeline::Pipeline;
use crate::safety::classifier::Classifier;
use crate::safety::gate::Gate;
use crate::store::Store;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "coe-bot",
    version,
    about = "Chain of Empathy peer-support companion for Discord communities (an AI, not a therapist or crisis service)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Talk to the pipeline in the terminal: one message, or a conversation (Ctrl-D to leave).
    Chat(chat::ChatArgs),
    /// Help for human supporters: a draft reply to a member's message, or
    /// feedback on the supporter's own draft (as Discord's Apps menu gives).
    #[command(subcommand)]
    Assist(assist::AssistCommand),
    /// List the therapy models with their prompt versions.
    Therapies,
    /// Run the Discord bot (needs DISCORD_TOKEN); stops cleanly on Ctrl-C / SIGTERM.
    Run,
    /// Delete reasoning text older than COE_RETENTION_DAYS now.
    Purge,
    /// Apply the database migrations and exit (`run` applies them too).
    Migrate,
    /// Check the configuration, the database, the model server and the
    /// classifier files; one line per check, with the fix.
    Doctor,
    /// Reproduce the Chain of Empathy analysis on EPITOME-format data.
    Eval(eval::EvalArgs),
    /// Summarize what the bot recorded: strategy mix, outcomes, verdicts per therapy.
    Report(eval::ReportArgs),
    /// The crisis gate: measure it on labelled real posts.
    #[command(subcommand)]
    Gate(gate::GateCommand),
}

impl Command {
    /// Log level when RUST_LOG is unset: terminal commands report their own
    /// errors, so logs would only repeat them.
    pub fn default_log_filter(&self) -> &'static str {
        match self {
            Command::Chat(_)
            | Command::Assist(_)
            | Command::Therapies
            | Command::Purge
            | Command::Migrate
            | Command::Doctor
            | Command::Report(_)
            | Command::Gate(_) => "off",
            Command::Eval(_) => "error",
            Command::Run => "info,serenity=warn,poise=warn",
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Therapies => {
            print!("{}", therapies_table());
            Ok(())
        }
        Command::Chat(args) => chat::run(args, open_pipeline().await?).await,
        Command::Assist(command) => assist::run(command, open_pipeline().await?).await,
        Command::Run => run::run_bot(open_pipeline().await?).await,
        Command::Purge => run::purge(Config::from_env()?).await,
        Command::Migrate => doctor::migrate(Config::from_env()?).await,
        Command::Doctor => doctor::doctor().await,
        Command::Eval(args) => eval::eval(args).await,
        Command::Report(args) => eval::report(args).await,
        Command::Gate(command) => gate::run(command),
    }
}

/// Configuration, store and model client: what every pipeline command needs.
async fn open_pipeline() -> anyhow::Result<(Config, Pipeline)> {
    let config = Config::from_env()?;
    let store = Store::open(&config.database_url).await?;
    let llm = LlmClient::new(&config.llm)?;
    let pipeline = Pipeline::new(&config, llm, store, open_gate(&config)?);
    Ok((config, pipeline))
}

/// The gate with its classifier, unless the operator turned it off.
pub fn open_gate(config: &Config) -> anyhow::Result<Gate> {
    match &config.crisis_classifier {
        Some(dir) => Ok(Gate::new(Classifier::load(dir)?)),
        None => {
            tracing::warn!(
                "COE_CRISIS_CLASSIFIER=off: the crisis gate runs on patterns alone and misses \
                 wording nobody wrote down; run scripts/embed-model.sh and remove the setting"
            );
            eprintln!(
                "coe-bot: warning: the crisis classifier is off (COE_CRISIS_CLASSIFIER=off); \
                 the gate uses patterns only"
            );
            Ok(Gate::patterns_only())
        }
    }
}

fn therapies_table() -> String {
    let mut out = String::new();
    for therapy in Therapy::ALL {
        out.push_str(&format!(
            "{:<5} {:<24} v{}  {}  (supporter draft v{}, feedback v{})\n",
            therapy.as_str(),
            therapy.title(),
            therapy.prompt_version(),
            therapy.description(),
            draft_prompt_version(therapy),
            feedback_prompt_version(therapy)
        ));
    }
    out
}
