//! `eval` with the strategy judge, end to end: the real embedding model,
//! a small EPITOME-format folder written for this test (responses worded
//! after their strategy), and wiremock as a model whose replies show one
//! strategy while claiming another.

mod common;

#[path = "support/synthetic_epitome.rs"]
mod synthetic_epitome;

use coe_bot::chain::{Strategy, Therapy};
use coe_bot::eval::dataset::{TieRule, EPITOME_FILES};
use coe_bot::eval::judge::Training;
use coe_bot::eval::{run_eval, EvalOptions, JudgeSetup};
use coe_bot::store::Store;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const REACTIONS: [&str; 4] = [
    "I'm so sorry, that sounds really painful and lonely.",
    "Oh no, that must hurt so much. I'm sorry you're going through it.",
    "That sounds awful, I feel for you, it's so unfair.",
    "I'm really sorry, that is heartbreaking to read.",
];
const EXPLORATIONS: [&str; 4] = [
    "What happened after that? How are you feeling about it now?",
    "When did this start, and what do you think set it off?",
    "Can you tell me more about what went on that day?",
    "How long have you felt like this? What would help right now?",
];
const INTERPRETATIONS: [&str; 4] = [
    "I went through the same thing last year and I understand how draining it is.",
    "It sounds like you feel you have to carry everything alone, I've felt that too.",
    "I understand, I had something similar happen and it made me feel worthless.",
    "That reminds me of my own breakup, I know how much it can shake you.",
];

/// `n` pairs per strategy, one seeker post each, in EPITOME's three files.
fn write_folder(dir: &Path, n: usize) {
    let strategies = [&REACTIONS, &EXPLORATIONS, &INTERPRETATIONS];
    for (file, name) in EPITOME_FILES.iter().enumerate() {
        let mut writer = csv::Writer::from_path(dir.join(name)).unwrap();
        writer.write_record(synthetic_epitome::HEADER).unwrap();
        for i in 0..3 * n {
            let strategy = i % 3;
            let texts = strategies[strategy];
            let response = format!("{} ({i})", texts[(i / 3) % texts.len()]);
            let level = if strategy == file { "2" } else { "0" };
            let post = format!("Post {i}: my week has been hard and I feel alone with it.");
            let record = [
                format!("sp{i}"),
                format!("rp{i}"),
                post,
                response,
                level.into(),
                String::new(),
            ];
            writer.write_record(&record).unwrap();
        }
        writer.flush().unwrap();
    }
}

/// Base replies ask questions and say so; CBT replies commiserate but
/// claim an interpretation.
struct Replies;

impl Respond for Replies {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        let system = body["messages"][0]["content"].as_str().unwrap_or_default();
        let cbt = system.to_lowercase().contains("cognitive");
        let answer = if cbt {
            chain_answer(
                "interpretation",
                "I'm so sorry, that sounds really painful and lonely.",
            )
        } else {
            chain_answer(
                "exploration",
                "What happened after that? How are you feeling now?",
            )
        };
        completion(&answer)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_judge_scores_what_the_reply_shows_not_what_it_claims() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dataset");
    std::fs::create_dir(&data).unwrap();
    write_folder(&data, 40);
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Replies)
        .mount(&server)
        .await;
    let config = config(&server, dir.path(), &[]);
    let store = Store::open(&config.database_url).await.unwrap();
    let model_dir = PathBuf::from(std::env::var("COE_EMBED_MODEL_DIR").unwrap());
    // The judge caches its embeddings beside the model, keyed by this
    // fixture's digest, so the cache never mixes with EPITOME's.
    let options = EvalOptions {
        data: data.clone(),
        therapies: vec![Therapy::Base, Therapy::Cbt],
        limit: Some(12),
        sample_seed: Some(5),
        concurrency: 4,
        models_file: None,
        out: dir.path().join("out"),
        resume: None,
        ties: TieRule::Exclude,
        judge: Some(JudgeSetup {
            model_dir,
            required: true,
        }),
        show_progress: false,
    };
    let report = run_eval(&options, &config.llm, None, &store).await.unwrap();

    let judge = report.judge.as_ref().expect("judge quality reported");
    // 120 pairs; half or so are in the reserved half and stay out.
    assert!(judge.reserved_excluded > 20 && judge.reserved_excluded < 100);
    assert_eq!(
        judge.training,
        Training::CrossFit,
        "too few pairs for a disjoint judge"
    );
    assert!(
        judge.held_out.accuracy > 0.9,
        "separable wording: {}",
        judge.held_out.accuracy
    );
    assert!(judge.baseline.accuracy < 0.5);

    let base = &report.models[0].therapies[0];
    let cbt = &report.models[0].therapies[1];
    assert_eq!((base.therapy, cbt.therapy), (Therapy::Base, Therapy::Cbt));
    let base_judged = base.judged.as_ref().unwrap();
    let cbt_judged = cbt.judged.as_ref().unwrap();
    assert_eq!(
        base_judged
            .metrics
            .predicted_mix
            .share(Some(Strategy::Exploration)),
        1.0
    );
    assert_eq!(
        cbt_judged
            .metrics
            .predicted_mix
            .share(Some(Strategy::EmotionalReaction)),
        1.0
    );
    // Claimed and judged agree on every base reply and on no CBT reply.
    assert_eq!(
        (base_judged.agreement.n, base_judged.agreement.observed),
        (12, 1.0)
    );
    assert_eq!(cbt_judged.agreement.observed, 0.0);

    let items = std::fs::read_to_string(dir.path().join("out/items.csv")).unwrap();
    let header = items.lines().next().unwrap();
    assert!(header.ends_with("judged_strategy"), "{header}");
    assert!(items.contains(",emotional_reaction\n") || items.contains(",emotional_reaction\r\n"));
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains("Scores by the judge") && html.contains("majority class"));
}
