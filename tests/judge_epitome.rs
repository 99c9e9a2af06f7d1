//! The strategy judge on the user's own copy of EPITOME: its cross-validated
//! quality must clearly beat the majority class, and fitting it must stay
//! within the budget. Ignored unless `COE_EPITOME_DIR` points at
//! EPITOME's `dataset/` folder (the data is not ours to ship).
//!
//! `COE_EPITOME_DIR=… cargo test --release --test judge_epitome -- --ignored --nocapture`

use coe_bot::embed::Embedder;
use coe_bot::eval::dataset::{scan, TieRule};
use coe_bot::eval::judge::{Examples, Judge};
use coe_bot::eval::metrics::DEFAULT_RESAMPLES;
use indicatif::ProgressBar;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

#[test]
#[ignore = "needs EPITOME: set COE_EPITOME_DIR to its dataset/ folder"]
fn the_judge_beats_the_majority_class_on_epitome() {
    let data = PathBuf::from(std::env::var("COE_EPITOME_DIR").unwrap());
    let model = PathBuf::from(std::env::var("COE_EMBED_MODEL_DIR").unwrap());
    let index = scan(&data, &TieRule::Exclude, None, None).unwrap();
    let embedder = Embedder::load(&model).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let examples = Examples::load(
        &index,
        true,
        &embedder,
        (cache.path(), "test"),
        &ProgressBar::hidden(),
    )
    .unwrap();
    let embedded = started.elapsed();
    let (_, q) = Judge::train(&examples, &HashSet::new(), 2311, DEFAULT_RESAMPLES).unwrap();
    let total = started.elapsed();
    let m = &q.held_out;
    println!(
        "judge: {} pairs {:?} ({} reserved left out); embed {:.1} s, embed+fit+CV {:.1} s",
        q.pool,
        q.pool_per_strategy,
        q.reserved_excluded,
        embedded.as_secs_f64(),
        total.as_secs_f64()
    );
    println!(
        "held out: accuracy {:.3} {:?}, macro-F1 {:.3} {:?}, F1 ER/EX/IP {:.3}/{:.3}/{:.3}",
        m.accuracy,
        q.held_out_ci.accuracy,
        m.macro_f1,
        q.held_out_ci.macro_f1,
        m.per_strategy[0].f1,
        m.per_strategy[1].f1,
        m.per_strategy[2].f1
    );
    println!(
        "majority baseline: accuracy {:.3}, macro-F1 {:.3}",
        q.baseline.accuracy, q.baseline.macro_f1
    );
    assert!(
        m.macro_f1 > q.baseline.macro_f1 + 0.2,
        "the judge learned little"
    );
    assert!(q.reserved_excluded > 0, "the reserved half must stay out");
}
