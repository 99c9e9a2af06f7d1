//! `coe-bot gate train|validate`: refit the classifier's head from the
//! project's own training text, and measure the whole gate on labelled real
//! posts (EPITOME's seeker side, labels in `data/gate/`).

mod validate;

use crate::embed::{Embedder, DIM};
use crate::safety::classifier::head::Label;
use crate::safety::classifier::train::{fit, Example, Fit};
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Refit data/gate/head.json from data/gate/train/*.tsv (deterministic).
    Train(TrainArgs),
    /// Measure the gate on labelled EPITOME posts (skips when the data is absent).
    Validate(validate::ValidateArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Folder of `label<TAB>text` files.
    #[arg(long, default_value = "data/gate/train")]
    pub data: PathBuf,
    /// Where the fitted head is written.
    #[arg(long, default_value = "data/gate/head.json")]
    pub out: PathBuf,
    /// The embedding model (scripts/embed-model.sh prints it).
    #[arg(long, env = "COE_EMBED_MODEL_DIR")]
    pub model_dir: PathBuf,
}

pub async fn run(command: GateCommand) -> anyhow::Result<()> {
    match command {
        GateCommand::Train(args) => train(args),
        GateCommand::Validate(args) => validate::run(args).await,
    }
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let (items, sha256) = read_training_text(&args.data)?;
    let embedder = Embedder::load(&args.model_dir)?;
    let texts: Vec<&str> = items.iter().map(|(_, t)| t.as_str()).collect();
    let mut examples = Vec::with_capacity(items.len());
    for (chunk, labels) in texts.chunks(64).zip(items.chunks(64)) {
        for (embedding, (label, _)) in embedder.embed(chunk)?.into_iter().zip(labels) {
            examples.push(Example {
                label: *label,
                embedding,
            });
        }
    }
    let head = fit(&examples, DIM, Fit::default(), sha256);
    let correct = examples
        .iter()
        .filter(|e| argmax(&head.probabilities(&e.embedding)) == e.label.index())
        .count();
    std::fs::write(&args.out, serde_json::to_string(&rounded(head))? + "\n")
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "fitted on {} units; training accuracy {:.3}; wrote {}",
        examples.len(),
        correct as f64 / examples.len() as f64,
        args.out.display()
    );
    Ok(())
}

/// Every `label<TAB>text` line of every `.tsv` in `dir` (sorted by file
/// name), and the SHA-256 of those files, recorded in the head.
pub fn read_training_text(dir: &Path) -> anyhow::Result<(Vec<(Label, String)>, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    let mut items = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        hasher.update(text.as_bytes());
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((label, unit)) = line.split_once('\t') else {
                bail!("{}:{}: expected label<TAB>text", file.display(), n + 1);
            };
            let Some(label) = Label::parse(label) else {
                bail!("{}:{}: unknown label '{label}'", file.display(), n + 1);
            };
            items.push((label, unit.trim().to_string()));
        }
    }
    if items.is_empty() {
        bail!("no training text in {}", dir.display());
    }
    Ok((items, hex::encode(hasher.finalize())))
}

fn argmax(p: &[f32]) -> usize {
    (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0)
}

/// Five decimals are plenty for the head and keep the file small to diff.
fn rounded(mut head: crate::safety::classifier::head::Head) -> crate::safety::classifier::head::Head {
    let round = |x: &mut f32| *x = (*x * 1e5).round() / 1e5;
    head.weights.iter_mut().flatten().for_each(round);
    head.bias.iter_mut().for_each(round);
    head
}
