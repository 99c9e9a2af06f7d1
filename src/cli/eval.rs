//! `coe-bot eval` (the paper's analysis over EPITOME-format data) and
//! `coe-bot report` (the same kind of summary over what the bot recorded).

use crate::chain::{response_format, Therapy};
use crate::config::{embed_model_dir, Config};
use crate::embed::WEIGHTS_FILE;
use crate::eval::dataset::TieRule;
use crate::eval::report::terminal_table;
use crate::eval::{run_eval, EvalOptions, JudgeSetup};
use crate::safety::sanitize::SafeCsv;
use crate::store::{AssistSummary, AssistVerdict, Store, SummaryScope, TherapySummary};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// EPITOME's dataset/ folder, or one CSV with columns seeker_post,response_post,strategy.
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    data: Option<PathBuf>,
    /// Therapies to compare, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "base,cbt,dbt,pct,rt",
        conflicts_with = "resume"
    )]
    therapies: Vec<Therapy>,
    /// Evaluate only N items (a seeded sample with --sample-seed, else the first N).
    #[arg(long, conflicts_with = "resume")]
    limit: Option<usize>,
    /// Seed of the item sample and of the bootstrap intervals.
    #[arg(long, conflicts_with = "resume")]
    sample_seed: Option<u64>,
    /// Model requests in flight at once (for the LLM_* model; a models file sets its own).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Compare several OpenAI-compatible servers: a TOML file of [[model]] entries
    /// (name, base_url, model, api_key_env, concurrency).
    #[arg(long, conflicts_with = "resume")]
    models: Option<PathBuf>,
    /// Score replies by the strategy an embedding classifier finds in them too:
    /// auto (when the embedding model is present), embed, or off.
    #[arg(long, value_enum, default_value_t = JudgeChoice::Auto)]
    judge: JudgeChoice,
    /// Where report.json, report.html and items.csv go.
    #[arg(long, default_value = "eval-out")]
    out: PathBuf,
    /// Continue an interrupted run (its dataset, sample and therapies are reused).
    #[arg(long)]
    resume: Option<String>,
    /// Pairs whose strongest mechanisms tie: exclude, or order:ip,er,ex (first listed wins).
    #[arg(long, default_value = "exclude", conflicts_with = "resume")]
    ties: TieRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum JudgeChoice {
    Auto,
    Embed,
    Off,
}

/// The judge's set-up, if it is to run.
fn judge_setup(choice: JudgeChoice) -> anyhow::Result<Option<JudgeSetup>> {
    if choice == JudgeChoice::Off {
        return Ok(None);
    }
    let dir = embed_model_dir(&|name| std::env::var(name).ok())?;
    if dir.join(WEIGHTS_FILE).is_file() {
        let required = choice == JudgeChoice::Embed;
        return Ok(Some(JudgeSetup {
            model_dir: dir,
            required,
        }));
    }
    if choice == JudgeChoice::Embed {
        anyhow::bail!(
            "--judge embed needs the embedding model in {}: run scripts/embed-model.sh, or pass --judge off",
            dir.display()
        );
    }
    eprintln!(
        "coe-bot: the strategy judge is off: no embedding model in {} (run scripts/embed-model.sh to add it)",
        dir.display()
    );
    Ok(None)
}

pub async fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let judge = judge_setup(args.judge)?;
    let store = Store::open(&config.database_url).await?;
    let options = EvalOptions {
        data: args.data.unwrap_or_default(),
        therapies: args.therapies,
        limit: args.limit,
        sample_seed: args.sample_seed,
        concurrency: args.concurrency,
        models_file: args.models,
        judge,
        out: args.out,
        resume: args.resume,
        ties: args.ties,
        show_progress: std::io::stderr().is_terminal(),
    };
    let format = response_format(config.llm.json_mode);
    let report = run_eval(&options, &config.llm, format.as_ref(), &store).await;
    store.close().await;
    let report = report?;
    println!("{}", terminal_table(&report));
    println!(
        "Wrote {0}/report.json, {0}/report.html and the items CSV (run {1}).",
        options.out.display(),
        report.run.run_id
    );
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Only this guild's rows.
    #[arg(long)]
    guild: Option<u64>,
    /// Only rows since this date (YYYY-MM-DD) or time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Print JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print CSV: therapy, kind, label, count (supporters' verdicts as kind
    /// draft_verdict or feedback_verdict, label strategy/verdict).
    #[arg(long)]
    csv: bool,
}

pub async fn report(args: ReportArgs) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let since = args.since.as_deref().map(stored_time).transpose()?;
    let store = Store::open(&config.database_url).await?;
    let scope = SummaryScope {
        guild_id: args.guild,
        since,
    };
    let summaries = store.summarize(&scope).await;
    let assist = store.assist_summary(&scope).await;
    store.close().await;
    let (summaries, assist) = (summaries?, assist?);
    if args.json {
        let report = serde_json::json!({"therapies": summaries, "assist": assist});
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if args.csv {
        print!("{}", summaries_csv(&summaries, &assist)?);
    } else {
        print!("{}", summaries_table(&summaries));
        print!("{}", assist_table(&assist));
    }
    Ok(())
}

/// A `--since` value in the stored UTC format, so text comparison is
/// time comparison.
fn stored_time(since: &str) -> anyhow::Result<String> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d") {
        return Ok(date.format("%Y-%m-%dT00:00:00.000Z").to_string());
    }
    match chrono::DateTime::parse_from_rfc3339(since) {
        Ok(time) => Ok(time
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()),
        Err(_) => {
            anyhow::bail!("--since must be a date (2026-01-31) or an RFC 3339 time (got '{since}')")
        }
    }
}

fn summaries_csv(summaries: &[TherapySummary], assist: &[AssistSummary]) -> anyhow::Result<String> {
    let mut writer = SafeCsv::from_writer(Vec::new());
    writer.write_record(["therapy", "kind", "label", "count"])?;
    for summary in summaries {
        for (kind, counts) in [
            ("strategy", &summary.strategies),
            ("outcome", &summary.outcomes),
            ("verdict", &summary.verdicts),
        ] {
            for (label, count) in counts {
                writer.write_record([&summary.therapy, kind, label, &count.to_string()])?;
            }
        }
    }
    for row in assist {
        let kind = format!("{}_verdict", row.kind);
        for (verdict, count) in verdict_counts(row) {
            let label = format!("{}/{verdict}", row.strategy);
            writer.write_record([&row.therapy, &kind, &label, &count.to_string()])?;
        }
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

fn verdict_counts(row: &AssistSummary) -> [(&'static str, u64); 3] {
    [
        (AssistVerdict::Used.as_str(), row.used),
        (AssistVerdict::UsedWithEdits.as_str(), row.used_with_edits),
        (AssistVerdict::NotHelpful.as_str(), row.not_helpful),
    ]
}

/// Supporters' verdicts on the assist's cards: suggestion acceptance.
fn assist_table(rows: &[AssistSummary]) -> String {
    if rows.is_empty() {
        return "No supporter verdicts on drafts or feedback match.\n".into();
    }
    let mut table = comfy_table::Table::new();
    table.set_header([
        "supporter assist",
        "therapy",
        "strategy",
        "used",
        "used with edits",
        "not helpful",
        "acceptance",
    ]);
    for row in rows {
        table.add_row([
            row.kind.clone(),
            row.therapy.clone(),
            row.strategy.clone(),
            row.used.to_string(),
            row.used_with_edits.to_string(),
            row.not_helpful.to_string(),
            format!("{:.0}%", 100.0 * row.acceptance()),
        ]);
    }
    format!("{table}\n")
}

fn summaries_table(summaries: &[TherapySummary]) -> String {
    if summaries.is_empty() {
        return "No recorded interactions match.\n".into();
    }
    let mut table = comfy_table::Table::new();
    table.set_header([
        "therapy",
        "rows",
        "strategy mix (replied)",
        "outcomes",
        "reviews",
    ]);
    let list = |counts: &[(String, u64)]| {
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        counts
            .iter()
            .map(|(label, n)| {
                format!(
                    "{label} {n} ({:.0}%)",
                    100.0 * *n as f64 / total.max(1) as f64
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for s in summaries {
        table.add_row([
            s.therapy.clone(),
            s.total.to_string(),
            list(&s.strategies),
            list(&s.outcomes),
            list(&s.verdicts),
        ]);
    }
    format!("{table}\n")
}
