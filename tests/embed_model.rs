//! The embedder with the real all-MiniLM-L6-v2 files, checked against the
//! independent numpy forward pass of scripts/embed_reference.py
//! (tests/fixtures/embed_reference.json).
//!
//! Needs COE_EMBED_MODEL_DIR, which scripts/test.sh sets from
//! scripts/embed-model.sh; by hand: export "$(scripts/embed-model.sh)".
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

/// The reference texts embedded in one call, and each on its own:
/// computed once, as forward passes are slow in a debug build.
fn batched() -> &'static [Vec<f32>] {
    static BATCHED: OnceLock<Vec<Vec<f32>>> = OnceLock::new();
    BATCHED.get_or_init(|| {
        let reference = reference();
        let texts: Vec<&str> = reference.iter().map(|(t, _)| t.as_str()).collect();
        shared().embed(&texts).unwrap()
    })
}

fn single(text: &str) -> &'static [f32] {
    static SINGLES: OnceLock<Vec<(String, Vec<f32>)>> = OnceLock::new();
    let singles = SINGLES.get_or_init(|| {
        let embed = |t: String| {
            let vector = shared().embed(&[t.as_str()]).unwrap().remove(0);
            (t, vector)
        };
        reference().into_iter().map(|(t, _)| embed(t)).collect()
    });
    let found = singles.iter().find(|(t, _)| t == text);
    &found
        .unwrap_or_else(|| panic!("{text:?} is not in the fixture"))
        .1
}

#[test]
fn vectors_match_the_numpy_reference() {
    let reference = reference();
    assert_eq!(batched().len(), reference.len());
    for ((text, expected), got) in reference.iter().zip(batched()) {
        assert_eq!(got.len(), DIM);
        let norm = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{text:?}: norm {norm}");
        let cos = cosine(expected, got);
        assert!(cos >= 0.999, "{text:?}: cosine {cos} to the reference");
    }
}

#[test]
fn sanity_cosines_keep_their_order() {
    let die = single("I want to die");
    let kill = cosine(die, single("I want to kill myself"));
    let homework = cosine(die, single("this homework is killing me"));
    let pizza = cosine(die, single("I love pizza"));
    assert!((kill - 0.82).abs() < 0.02, "kill myself: {kill}");
    assert!((homework - 0.19).abs() < 0.02, "homework: {homework}");
    assert!((pizza - 0.24).abs() < 0.02, "pizza: {pizza}");
    assert!(kill > pizza && kill > homework);
}

#[test]
fn a_batch_gives_the_same_vectors_as_one_text_at_a_time() {
    for ((text, _), together) in reference().iter().zip(batched()) {
        let cos = cosine(single(text), together);
        assert!(
            cos >= 0.9999,
            "{text:?}: cosine {cos} between batch and single"
        );
    }
}

#[test]
fn no_texts_give_no_vectors() {
    assert!(shared().embed(&[]).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_answers_concurrent_callers_with_their_own_vectors() {
    let worker = EmbedWorker::spawn(load(), 4);
    let reference = reference();
    // Jobs of one to three texts (the eight of the fixture), sent at once:
    // the worker batches some of them together and must hand each caller
    // back its own share.
    let mut rest = reference.as_slice();
    let jobs: Vec<&[(String, Vec<f32>)]> = [1, 3, 2, 2]
        .into_iter()
        .map(|n| {
            let (job, tail) = rest.split_at(n);
            rest = tail;
            job
        })
        .collect();
    let calls = jobs.iter().map(|job| {
        let worker = worker.clone();
        let texts: Vec<String> = job.iter().map(|(t, _)| t.clone()).collect();
        tokio::spawn(async move { worker.embed(texts).await })
    });
    let answers = futures::future::join_all(calls).await;
    for (job, answer) in jobs.iter().zip(answers) {
        let vectors = answer.unwrap().unwrap();
        assert_eq!(vectors.len(), job.len());
        for ((text, expected), got) in job.iter().zip(&vectors) {
            let cos = cosine(expected, got);
            assert!(cos >= 0.999, "{text:?}: cosine {cos} to the reference");
        }
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

/// A `/proc/self/status` figure (VmRSS, VmHWM) in MB.
fn status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024.0
}

/// p50 and p90 in ms of embedding `text` alone, after a warm-up.
fn single_latency(embedder: &Embedder, text: &str) -> (f64, f64) {
    for _ in 0..5 {
        embedder.embed(&[text]).unwrap();
    }
    let mut times: Vec<f64> = (0..100)
        .map(|_| {
            let started = std::time::Instant::now();
            embedder.embed(&[text]).unwrap();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[50], times[90])
}

/// 256 distinct chat-length messages (6 to 10 tokens).
fn short_messages() -> Vec<String> {
    let who = [
        "i",
        "my cat",
        "work",
        "school",
        "everyone",
        "my brother",
        "the bus",
    ];
    let feel = [
        "hate",
        "love",
        "miss",
        "can't stand",
        "worry about",
        "think about",
    ];
    (0..256)
        .map(|i| {
            format!(
                "{} {} {} today lol",
                who[i % 7],
                feel[i % 6],
                who[(i / 7) % 7]
            )
        })
        .collect()
}

/// Messages per second when each arrives as its own job, all at once, as
/// in a busy channel: the worker gathers them into batches of 32.
fn worker_throughput(worker: &EmbedWorker, messages: &[String]) -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    runtime.block_on(async {
        let calls = messages.iter().map(|m| worker.embed(vec![m.clone()]));
        for answer in futures::future::join_all(calls).await {
            answer.unwrap();
        }
    });
    messages.len() as f64 / started.elapsed().as_secs_f64()
}

/// Figures for the report, not a pass/fail check of speed (that depends on
/// the machine); run alone so that RSS is this model's.
#[test]
#[ignore = "measurement: cargo test --release --test embed_model -- --ignored --nocapture"]
fn measure_memory_latency_and_throughput() {
    let before = status_mb("VmRSS:");
    let embedder = Embedder::load(&model_dir()).unwrap();
    let (loaded, peak) = (status_mb("VmRSS:"), status_mb("VmHWM:"));
    println!("RSS {before:.1} MB before load, {loaded:.1} MB after, peak {peak:.1} MB");
    // 46 tokens with [CLS] and [SEP].
    let post = "i dont know why im even posting this but ive been feeling really low for \
                weeks and nothing helps, my friends are busy and i dont want to bother my \
                family again. idk what to do anymore honestly";
    let (p50, p90) = single_latency(&embedder, post);
    println!("one 46-token post: p50 {p50:.1} ms, p90 {p90:.1} ms");
    let messages = short_messages();
    let texts: Vec<&str> = messages.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    for chunk in texts.chunks(32) {
        embedder.embed(chunk).unwrap();
    }
    let direct = messages.len() as f64 / started.elapsed().as_secs_f64();
    let long = &reference().last().unwrap().0.clone();
    let posts: Vec<String> = (0..32).map(|i| format!("{i} {long}")).collect();
    let posts: Vec<&str> = posts.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    embedder.embed(&posts).unwrap();
    let long_rate = posts.len() as f64 / started.elapsed().as_secs_f64();
    println!("128-token posts: {long_rate:.0}/s in one call of 32");
    let worker = EmbedWorker::spawn(embedder, 32);
    let through_worker = worker_throughput(&worker, &messages);
    println!("short messages: {direct:.0}/s in calls of 32 to the embedder,");
    println!("  {through_worker:.0}/s as 256 concurrent jobs through the worker");
    println!("RSS after the runs: {:.1} MB", status_mb("VmRSS:"));
}
