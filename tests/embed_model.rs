//! The embedder with the real all-MiniLM-L6-v2 files, checked against the
//! independent numpy forward pass of scripts/embed_reference.py
//! (tests/fixtures/embed_reference.json).
//!
//! Needs the model: eval "$(scripts/embed-model.sh | sed 's/^/export /')"
//! Speed and memory: cargo test --release --test embed_model -- --ignored --nocapture

use coe_bot::embed::{EmbedError, EmbedWorker, Embedder, DIM};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

fn model_dir() -> PathBuf {
    match std::env::var_os("COE_EMBED_MODEL_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "COE_EMBED_MODEL_DIR is not set: run scripts/embed-model.sh and export the line it prints"
        ),
    }
}

/// Held while a test loads a model, so the check that the weights file is
/// unmapped afterwards does not see another test's load in progress.
static LOADING: Mutex<()> = Mutex::new(());

fn load() -> Embedder {
    let _loading = LOADING.lock().unwrap_or_else(|e| e.into_inner());
    Embedder::load(&model_dir()).unwrap_or_else(|e| panic!("{e}"))
}

/// One model for the tests that only read it: loading takes a while in a
/// debug build.
fn shared() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(load)
}

fn reference() -> Vec<(String, Vec<f32>)> {
    let text = include_str!("fixtures/embed_reference.json");
    let fixture: Value = serde_json::from_str(text).unwrap();
    let items = fixture["items"].as_array().unwrap();
    items
        .iter()
        .map(|item| {
            let vector = item["vector"].as_array().unwrap();
            let vector = vector.iter().map(|x| x.as_f64().unwrap() as f32).collect();
            (item["text"].as_str().unwrap().to_string(), vector)
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn embed_one(text: &str) -> Vec<f32> {
    shared().embed(&[text]).unwrap().remove(0)
}

#[test]
fn vectors_match_the_numpy_reference() {
    let reference = reference();
    let texts: Vec<&str> = reference.iter().map(|(t, _)| t.as_str()).collect();
    let vectors = shared().embed(&texts).unwrap();
    assert_eq!(vectors.len(), reference.len());
    for ((text, expected), got) in reference.iter().zip(&vectors) {
        assert_eq!(got.len(), DIM);
        let norm = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{text:?}: norm {norm}");
        let cos = cosine(expected, got);
        assert!(cos >= 0.999, "{text:?}: cosine {cos} to the reference");
    }
}

#[test]
fn sanity_cosines_keep_their_order() {
    let die = embed_one("I want to die");
    let kill = cosine(&die, &embed_one("I want to kill myself"));
    let homework = cosine(&die, &embed_one("this homework is killing me"));
    let pizza = cosine(&die, &embed_one("I love pizza"));
    assert!((kill - 0.82).abs() < 0.02, "kill myself: {kill}");
    assert!((homework - 0.19).abs() < 0.02, "homework: {homework}");
    assert!((pizza - 0.24).abs() < 0.02, "pizza: {pizza}");
    assert!(kill > pizza && kill > homework);
}

#[test]
fn a_batch_gives_the_same_vectors_as_one_text_at_a_time() {
    let reference = reference();
    let texts: Vec<&str> = reference.iter().map(|(t, _)| t.as_str()).collect();
    let batched = shared().embed(&texts).unwrap();
    for (text, together) in texts.iter().zip(&batched) {
        let cos = cosine(&embed_one(text), together);
        assert!(cos >= 0.9999, "{text:?}: cosine {cos} between batch and single");
    }
}

#[test]
fn no_texts_give_no_vectors() {
    assert!(shared().embed(&[]).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_answers_concurrent_callers_with_their_own_vectors() {
    let worker = EmbedWorker::spawn(load(), 16);
    let reference = reference();
    let calls = reference.iter().map(|(text, _)| {
        let worker = worker.clone();
        let texts = vec![text.clone(), format!("{text} (again)")];
        tokio::spawn(async move { worker.embed(texts).await })
    });
    let answers = futures::future::join_all(calls).await;
    for ((text, expected), answer) in reference.iter().zip(answers) {
        let vectors = answer.unwrap().unwrap();
        assert_eq!(vectors.len(), 2, "{text:?}");
        let cos = cosine(expected, &vectors[0]);
        assert!(cos >= 0.999, "{text:?}: cosine {cos} to the reference");
        let again = cosine(&embed_one(&format!("{text} (again)")), &vectors[1]);
        assert!(again >= 0.9999, "{text:?} (again): cosine {again}");
    }
}

#[test]
fn a_missing_model_is_one_line_naming_the_script() {
    let dir = tempfile::tempdir().unwrap();
    for missing in [dir.path().join("absent"), dir.path().to_path_buf()] {
        let err = match Embedder::load(&missing) {
            Ok(_) => panic!("loaded a model from {}", missing.display()),
            Err(err) => err,
        };
        assert!(matches!(err, EmbedError::ModelMissing { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("scripts/embed-model.sh"), "{text}");
        assert!(text.contains(&missing.display().to_string()), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_weights_file_is_unmapped_after_loading() {
    shared();
    let _loading = LOADING.lock().unwrap_or_else(|e| e.into_inner());
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(
        !maps.contains("model.safetensors"),
        "model.safetensors is still mapped"
    );
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024.0
}

/// Figures for the report, not a pass/fail check of speed (that depends on
/// the machine); run alone so that RSS is this model's.
#[test]
#[ignore = "measurement: cargo test --release --test embed_model -- --ignored --nocapture"]
fn measure_memory_latency_and_throughput() {
    let before = rss_mb();
    let embedder = Embedder::load(&model_dir()).unwrap();
    let loaded = rss_mb();
    let post = "i dont know why im even posting this but ive been feeling really low for weeks \
                and nothing helps, my friends are busy and i dont want to bother my family again";
    let tokens = post.split_whitespace().count();
    for _ in 0..5 {
        embedder.embed(&[post]).unwrap();
    }
    let mut times: Vec<f64> = (0..50)
        .map(|_| {
            let started = std::time::Instant::now();
            embedder.embed(&[post]).unwrap();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let subjects = ["i", "my cat", "work", "school", "everyone", "my brother", "the bus"];
    let verbs = ["hate", "love", "miss", "can't stand", "worry about", "keep thinking about"];
    let shorts: Vec<String> = (0..256)
        .map(|i| {
            let (s, v) = (subjects[i % 7], verbs[i % 6]);
            format!("{s} {v} {} today lol", subjects[(i / 7) % 7])
        })
        .collect();
    let shorts: Vec<&str> = shorts.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    for chunk in shorts.chunks(32) {
        embedder.embed(chunk).unwrap();
    }
    let per_second = shorts.len() as f64 / started.elapsed().as_secs_f64();
    println!(
        "RSS {before:.1} MB before load, {loaded:.1} MB after (+{:.1}), {:.1} MB after the runs",
        loaded - before,
        rss_mb()
    );
    println!(
        "one {tokens}-word post: p50 {:.1} ms, p90 {:.1} ms; short messages in batches of 32: {per_second:.0}/s",
        times[25], times[45]
    );
}
