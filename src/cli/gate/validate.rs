//! Measures the whole gate on real posts labelled for the project
//! (`data/gate/epitome_labels_*.csv`, `sp_id,tier` only). Only posts whose
//! `sha256(sp_id)` starts with 0–7 are ever read here; 8–f are reserved for
//! independent evaluation. Threshold sweeps are refused outside the tune
//! slice (0–3), so the holdout (4–7) stays an honest estimate.

use crate::config::embed_model_dir;
use crate::embed::Embedder;
use crate::eval::slices::{is_reserved, slice_digit};
use crate::safety::classifier::bank::Bank;
use crate::safety::classifier::head::{Label, Thresholds};
use crate::safety::classifier::{units::units, verdict, Classifier};
use crate::safety::crisis;
use crate::safety::risk::Tier;
use anyhow::{bail, Context as _};
use clap::Args;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// EPITOME's `dataset/` folder; absent: the command says so and succeeds.
    #[arg(long, env = "COE_EPITOME_DIR")]
    pub epitome: Option<PathBuf>,
    /// Label files to report on, each reported on its own.
    #[arg(long, num_args = 1.., default_values = ["data/gate/epitome_labels_tune.csv", "data/gate/epitome_labels_holdout.csv"])]
    pub labels: Vec<PathBuf>,
    /// The embedding model (default: where scripts/embed-model.sh puts it).
    #[arg(long, env = "COE_EMBED_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Grid-search the thresholds (tune slice only).
    #[arg(long)]
    pub sweep: bool,
    /// List the posts the gate gets wrong, by sp_id (tune slice only).
    #[arg(long)]
    pub errors: bool,
}

/// One labelled post, scored once: the patterns' tier and every unit's
/// probabilities, so thresholds can be tried without re-embedding.
struct Scored {
    sp_id: String,
    label: Label,
    patterns: Tier,
    units: Vec<[f32; 5]>,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<()> {
    let Some(dir) = args.epitome.filter(|d| d.join(SEEKER_FILE).is_file()) else {
        println!(
            "EPITOME not found (set --epitome or COE_EPITOME_DIR to its dataset/ folder); skipping"
        );
        return Ok(());
    };
    let posts = seeker_posts(&dir)?;
    let model_dir = match args.model_dir {
        Some(dir) => dir,
        None => embed_model_dir(&|name| std::env::var(name).ok().filter(|v| !v.is_empty()))?,
    };
    let embedder = Embedder::load(&model_dir)?;
    let bank = Bank::load_or_build(&embedder, &model_dir)?;
    for file in &args.labels {
        let labels = read_labels(file)?;
        let tune_only = labels.keys().all(|id| slice_digit(id) < 4);
        if (args.sweep || args.errors) && !tune_only {
            bail!(
                "{}: sweeps and error lists are for the tune slice only",
                file.display()
            );
        }
        let scored = score(&labels, &posts, &embedder, &bank)?;
        println!("== {} ({} posts)", file.display(), scored.len());
        if args.sweep {
            sweep(&scored);
        } else if args.errors {
            list_errors(&scored, &Classifier::committed_thresholds());
        } else {
            report(&scored, &Classifier::committed_thresholds());
        }
    }
    Ok(())
}

const SEEKER_FILE: &str = "emotional-reactions-reddit.csv";

/// Seeker posts by `sp_id`, of the 0–7 half only.
fn seeker_posts(dir: &Path) -> anyhow::Result<HashMap<String, String>> {
    let path = dir.join(SEEKER_FILE);
    let mut reader = csv::Reader::from_path(&path).with_context(|| path.display().to_string())?;
    let mut posts = HashMap::new();
    for record in reader.records() {
        let record = record?;
        let (Some(id), Some(post)) = (record.get(0), record.get(2)) else {
            continue;
        };
        if !is_reserved(id) {
            posts.insert(id.to_string(), post.to_string());
        }
    }
    Ok(posts)
}

fn read_labels(path: &Path) -> anyhow::Result<HashMap<String, Label>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| path.display().to_string())?;
    let mut labels = HashMap::new();
    for record in reader.records() {
        let record = record?;
        let (Some(id), Some(tier)) = (record.get(0), record.get(1)) else {
            bail!("{}: expected sp_id,tier rows", path.display());
        };
        if is_reserved(id) {
            bail!("{}: {id} is in the reserved half", path.display());
        }
        let label = Label::parse(tier).with_context(|| format!("{id}: unknown tier {tier}"))?;
        labels.insert(id.to_string(), label);
    }
    Ok(labels)
}

fn score(
    labels: &HashMap<String, Label>,
    posts: &HashMap<String, String>,
    embedder: &Embedder,
    bank: &Bank,
) -> anyhow::Result<Vec<Scored>> {
    let mut ids: Vec<&String> = labels.keys().collect();
    ids.sort();
    let mut scored = Vec::with_capacity(ids.len());
    for id in ids {
        let post = posts
            .get(id)
            .with_context(|| format!("{id} is not in EPITOME"))?;
        let pieces = units(post);
        let texts: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let embeddings = if texts.is_empty() {
            Vec::new()
        } else {
            embedder.embed(&texts)?
        };
        scored.push(Scored {
            sp_id: id.clone(),
            label: labels[id],
            patterns: crisis::assess(post).tier,
            units: embeddings.iter().map(|e| bank.probabilities(e)).collect(),
        });
    }
    Ok(scored)
}

/// The four rates the issue sets targets for, per layer and combined.
#[derive(Debug, Clone, Copy)]
struct Rates {
    crisis_fixed_reply: f64,
    concern_helplines: f64,
    calm_fixed_reply: f64,
    distress_helplines: f64,
}

fn rates(scored: &[Scored], tier_of: impl Fn(&Scored) -> Tier) -> Rates {
    let rate = |labels: &[Label], hit: &dyn Fn(Tier) -> bool| {
        let of: Vec<&Scored> = scored
            .iter()
            .filter(|s| labels.contains(&s.label))
            .collect();
        of.iter().filter(|s| hit(tier_of(s))).count() as f64 / of.len().max(1) as f64
    };
    let crisis = |t: Tier| t == Tier::Crisis;
    let helplines = |t: Tier| t.shows_helplines();
    Rates {
        crisis_fixed_reply: rate(&[Label::Crisis], &crisis),
        concern_helplines: rate(&[Label::Concern], &helplines),
        calm_fixed_reply: rate(&[Label::None, Label::Mention, Label::Distress], &crisis),
        distress_helplines: rate(&[Label::Distress], &helplines),
    }
}

fn report(scored: &[Scored], thresholds: &Thresholds) {
    let learned = |s: &Scored| verdict(thresholds, &s.units).tier;
    let counts = Label::ALL.map(|l| scored.iter().filter(|s| s.label == l).count());
    println!(
        "labels: crisis {} · concern {} · mention {} · distress {} · none {}",
        counts[0], counts[1], counts[2], counts[3], counts[4]
    );
    println!("layer        crisis→fixed reply  concern→helplines  none/mention→fixed reply  distress→helplines");
    for (name, r) in [
        ("patterns", rates(scored, |s| s.patterns)),
        ("classifier", rates(scored, learned)),
        ("gate", rates(scored, |s| s.patterns.max(learned(s)))),
    ] {
        println!(
            "{name:<12} {:>18.3} {:>18.3} {:>25.3} {:>19.3}",
            r.crisis_fixed_reply, r.concern_helplines, r.calm_fixed_reply, r.distress_helplines
        );
    }
    println!(
        "targets      ≥ 0.980            ≥ 0.900            ≤ 0.050                   ≤ 0.100"
    );
}

/// Tries a grid of thresholds; prints the best that keep both false-alarm
/// limits, by crisis recall, then concern recall.
fn sweep(scored: &[Scored]) {
    let steps: Vec<f32> = (12..40).map(|i| i as f32 * 0.025).collect();
    let mut rows = Vec::new();
    for &crisis in &steps {
        for &concern in &steps {
            let t = Thresholds {
                crisis,
                concern,
                mention: 0.9,
            };
            let r = rates(scored, |s| s.patterns.max(verdict(&t, &s.units).tier));
            rows.push((t, r));
        }
    }
    rows.retain(|(_, r)| r.calm_fixed_reply <= 0.05 && r.distress_helplines <= 0.10);
    rows.sort_by(|a, b| {
        (b.1.crisis_fixed_reply, b.1.concern_helplines)
            .partial_cmp(&(a.1.crisis_fixed_reply, a.1.concern_helplines))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    println!("crisis  concern   crisis→fixed  concern→helplines  calm→fixed  distress→helplines");
    for (t, r) in rows.iter().take(15) {
        println!(
            "{:>6.2} {:>8.2} {:>14.3} {:>18.3} {:>11.3} {:>19.3}",
            t.crisis,
            t.concern,
            r.crisis_fixed_reply,
            r.concern_helplines,
            r.calm_fixed_reply,
            r.distress_helplines
        );
    }
}

/// Misses and false alarms with what each layer said (ids, never text).
fn list_errors(scored: &[Scored], thresholds: &Thresholds) {
    for s in scored {
        let learned = verdict(thresholds, &s.units);
        let gate = s.patterns.max(learned.tier);
        let wrong = match s.label {
            Label::Crisis => gate != Tier::Crisis,
            Label::Concern => !gate.shows_helplines(),
            Label::Distress => gate.shows_helplines(),
            Label::None | Label::Mention => gate == Tier::Crisis,
        };
        if wrong {
            println!(
                "{}\t{}\tpatterns={}\tclassifier={}\tscore={:.2}",
                s.sp_id,
                s.label.as_str(),
                s.patterns,
                learned.tier,
                learned.score.unwrap_or(0.0)
            );
        }
    }
}
