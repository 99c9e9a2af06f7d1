//! Each file the eval reads or writes is made a FIFO here, whose other end
//! a thread opens only once a task of the test's single-threaded runtime
//! has run. Opening a FIFO waits for its other end, so a function that
//! opened it on the runtime would keep that task from running; the thread
//! then gives up waiting after a few seconds, opens the FIFO itself to end
//! the wait, and the test fails.

use super::*;
use crate::chain::{Strategy, Therapy};
use crate::eval::dataset::TieRule;
use crate::eval::report::RunInfo;
use crate::eval::scoring::score_run;
use crate::store::{EvalOutcome, Store};
use futures::StreamExt;
use std::fs::OpenOptions;
use std::future::Future;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// What the thread at the FIFO's other end does.
enum Peer {
    Reads,
    Writes(String),
}

fn make_fifo(path: &Path) {
    let made = std::process::Command::new("mkfifo").arg(path).status();
    assert!(made.unwrap().success(), "mkfifo {}", path.display());
}

/// Runs `io`, whose first step opens the FIFO at `fifo`; fails unless the
/// runtime stayed free meanwhile. Returns `io`'s output and what the peer
/// read.
async fn runtime_stays_free<T>(
    fifo: &Path,
    peer: Peer,
    io: impl Future<Output = T>,
) -> (T, String) {
    let (ran, runtime_ran) = std::sync::mpsc::channel();
    tokio::spawn(async move { ran.send(()) });
    let path = fifo.to_path_buf();
    let peer = std::thread::spawn(move || {
        let free = runtime_ran.recv_timeout(Duration::from_secs(5)).is_ok();
        let mut read = String::new();
        match peer {
            Peer::Reads => {
                File::open(&path)
                    .unwrap()
                    .read_to_string(&mut read)
                    .unwrap();
            }
            Peer::Writes(text) => {
                let mut file = OpenOptions::new().write(true).open(&path).unwrap();
                file.write_all(text.as_bytes()).unwrap();
            }
        }
        (free, read)
    });
    let output = io.await;
    let (free, read) = peer.join().unwrap();
    assert!(
        free,
        "the runtime was blocked while {} was pending",
        fifo.display()
    );
    (output, read)
}

fn simple_csv() -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/simple.csv");
    std::fs::read_to_string(fixture).unwrap()
}

#[tokio::test]
async fn the_dataset_is_hashed_off_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let (file, fifo) = (dir.path().join("file.csv"), dir.path().join("fifo.csv"));
    std::fs::write(&file, simple_csv()).unwrap();
    make_fifo(&fifo);
    let (hashed, _) = runtime_stays_free(
        &fifo,
        Peer::Writes(simple_csv()),
        dataset_sha256(fifo.clone()),
    )
    .await;
    assert_eq!(hashed.unwrap(), dataset::dataset_sha256(&file).unwrap());
}

#[tokio::test]
async fn the_models_file_is_read_off_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("models.toml");
    make_fifo(&fifo);
    let toml =
        "[[model]]\nname = \"local\"\nbase_url = \"http://127.0.0.1:8080/v1\"\nmodel = \"m\"\n";
    let (specs, _) =
        runtime_stays_free(&fifo, Peer::Writes(toml.into()), load_models(fifo.clone())).await;
    assert_eq!(specs.unwrap()[0].name, "local");
}

#[tokio::test]
async fn the_items_are_read_again_off_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.csv");
    std::fs::write(&data, simple_csv()).unwrap();
    let index = Arc::new(dataset::scan(&data, &TieRule::Exclude, None, None).unwrap());
    let expected: Vec<EvalItem> = index.selected().unwrap().map(Result::unwrap).collect();
    // Pass 2 re-reads the same bytes, now through a FIFO.
    std::fs::remove_file(&data).unwrap();
    make_fifo(&data);
    let items = selected_items(index).collect::<Vec<_>>();
    let (items, _) = runtime_stays_free(&data, Peer::Writes(simple_csv()), items).await;
    let items: Vec<EvalItem> = items.into_iter().map(Result::unwrap).collect();
    assert!(!expected.is_empty());
    assert_eq!(items, expected);
}

#[tokio::test]
async fn the_items_csv_is_written_off_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("coe.db").display());
    let store = Store::open(&url).await.unwrap();
    store.create_eval_run("run", "{}").await.unwrap();
    let row = EvalItemRow {
        item_id: "item-1".into(),
        therapy: Therapy::Cbt,
        gold: Strategy::Exploration,
        predicted: Some(Strategy::Exploration),
        outcome: EvalOutcome::Replied,
        crisis_flagged: false,
        emotion: None,
        reply: Some("What happened next?".into()),
        latency_ms: 5,
        prompt_tokens: None,
        completion_tokens: None,
        judged_strategy: None,
    };
    store.record_eval_item("run", &row).await.unwrap();
    let fifo = dir.path().join("items.csv");
    make_fifo(&fifo);
    let scoring = score_run(&store, "run", None, &fifo, 10, 1);
    let (scores, csv) = runtime_stays_free(&fifo, Peer::Reads, scoring).await;
    assert_eq!(scores.unwrap()[&Therapy::Cbt].claimed.0.n, 1);
    assert!(
        csv.contains("item-1") && csv.contains("What happened next?"),
        "{csv}"
    );
}

#[tokio::test]
async fn the_reports_are_written_off_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    make_fifo(&dir.path().join("report.html"));
    let report = Report {
        run: RunInfo {
            run_id: "run-1".into(),
            dataset_path: "data.csv".into(),
            dataset_sha256: "0".repeat(64),
            prompt_versions: Default::default(),
            limit: None,
            sample_seed: None,
            tie_rule: TieRule::Exclude,
            judge: false,
            models_file: None,
            started_at: String::new(),
            finished_at: String::new(),
            load_stats: Default::default(),
        },
        models: Vec::new(),
        judge: None,
    };
    let writing = write_reports(report.clone(), dir.path().to_path_buf());
    let (written, html) =
        runtime_stays_free(&dir.path().join("report.html"), Peer::Reads, writing).await;
    assert_eq!(written.unwrap(), report);
    assert!(html.contains("run-1"), "{html}");
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert!(json.contains("run-1"));
}
