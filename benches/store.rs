//! Figure 3 (issue 6): anonymized rows per second through `Store::record_interaction`
//! (HMAC user key + redaction + one INSERT per call, as the pipeline records), with 1 and
//! with 8 concurrent writer tasks, against the `sqlite3` CLI inserting the same rows into a
//! database with the same schema and pragmas (WAL, synchronous=NORMAL) in the same directory:
//! one transaction per row, and batched (1,000 rows per transaction).
//! Targets: ≥ 20,000 rows/s and ≥ 0.5× raw.
//!
//! `cargo bench --bench store` (COE_BENCH_ROWS, COE_BENCH_WRITERS=1,8 change the load;
//! COE_BENCH_DIR puts the databases elsewhere than the system temp dir).
//! `--api-only` runs only the store API part (for `valgrind --tool=callgrind`, `perf`);
//! COE_BENCH_KEEP=1 keeps the databases and SQL scripts.
//! The store commits concurrent rows together (one writer task, one multi-row INSERT per
//! batch), so more writer tasks mean larger batches.
//!
//! Figure 3b (issue 12), with COE_TEST_POSTGRES_URL set: the store on PostgreSQL (a fresh
//! database `coe_bench_<pid>_<round>`, dropped after) and on SQLite, 8 writer tasks each,
//! alternated for 3 rounds (COE_BENCH_PG_WRITERS, COE_BENCH_PG_ROUNDS, COE_BENCH_PG_ROWS), and
//! `benches/pgbench.sh` after round 1; target ≥ 0.5× pgbench. `--postgres-only`: 3b only.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coe_bot::chain::{Emotion, Strategy, Therapy};
use coe_bot::store::anon::UserKeyer;
use coe_bot::store::redact::redact;
use coe_bot::store::{NewInteraction, Outcome, Source, Store};
use support::{print_table, row, verdict};

const SQLITE3: &str = "/usr/bin/sqlite3";
const BATCH: usize = 1_000;

fn main() {
    support::mock::serve_if_asked();
    println!("{}", support::machine_line());
    let rows = support::env_usize("COE_BENCH_ROWS", 20_000);
    let writers: Vec<usize> = env_or("COE_BENCH_WRITERS", "1,8")
        .split(',')
        .map(|w| w.trim().parse().expect("COE_BENCH_WRITERS"))
        .collect();
    let api_only = std::env::args().any(|a| a == "--api-only");
    let postgres_only = std::env::args().any(|a| a == "--postgres-only");
    let runtime = support::runtime();
    if !postgres_only {
        runtime.block_on(run(rows, &writers, api_only));
    }
    if !api_only {
        runtime.block_on(postgres_vs_sqlite(rows));
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// A temporary directory in COE_BENCH_DIR, else the system's.
fn temp_dir() -> tempfile::TempDir {
    let base = std::env::var("COE_BENCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    tempfile::tempdir_in(base).expect("temp dir")
}

const FIGURE3: [&str; 5] = ["writer", "rows/s", "× raw per-row", "× raw batched", "rows"];
const SUMMARY: [&str; 4] = ["measure", "value", "target", "verdict"];

/// A summary row: measure, value, target, verdict.
fn check(measure: String, value: String, target: &str, verdict: &str) -> Vec<String> {
    vec![measure, value, target.into(), verdict.into()]
}

/// The i-th synthetic row: a member id to anonymize, and the row without its key.
fn synthetic(i: usize) -> (u64, NewInteraction) {
    let therapy = Therapy::ALL[i % Therapy::ALL.len()];
    let reasoning = vec![
        format!("Emotion: discouraged, after failing a test for the {i}th time."),
        "Thought: 'I am not good enough at anything', said after the result.".to_string(),
        "Distortion: overgeneralization from one setback to everything.".to_string(),
    ];
    let row = NewInteraction {
        started_at: chrono::Utc::now(),
        guild_id: Some(4_000 + (i % 3) as u64),
        source: if i.is_multiple_of(2) {
            Source::Slash
        } else {
            Source::Channel
        },
        user_key: String::new(),
        therapy,
        prompt_version: therapy.prompt_version().to_string(),
        model: "smollm2".into(),
        emotion: Emotion::from_model("discouraged"),
        strategy: Some(Strategy::ALL[i % 3]),
        reasoning: therapy.reasons().then_some(reasoning),
        outcome: Outcome::Replied,
        risk: Default::default(),
        latency_ms: 900 + (i % 300) as u64,
        prompt_tokens: Some(420),
        completion_tokens: Some(130),
    };
    (1_000_000 + (i % 500) as u64, row)
}

fn sqlite_url(dir: &Path, file: &str) -> String {
    format!("sqlite://{}", dir.join(file).display())
}

/// Rows per second through the store at `url` with `writers` tasks sharing `rows` rows.
async fn through_api(url: &str, rows: usize, writers: usize) -> (f64, i64) {
    let store = Store::open(url).await.expect("open store");
    let keyer = Arc::new(UserKeyer::new(support::HASH_KEY.as_bytes()));
    let input: Arc<Vec<(u64, NewInteraction)>> = Arc::new((0..rows).map(synthetic).collect());
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (store, keyer, input) = (store.clone(), keyer.clone(), input.clone());
            tokio::spawn(async move {
                for (member, template) in input.iter().skip(w).step_by(writers) {
                    let row = NewInteraction {
                        user_key: keyer.key(*member),
                        ..template.clone()
                    };
                    store.record_interaction(&row).await.expect("record row");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    let elapsed = started.elapsed();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM interactions")
        .fetch_one(store.pool())
        .await
        .expect("count");
    store.close().await;
    (rows as f64 / elapsed.as_secs_f64(), count)
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn opt(text: Option<String>) -> String {
    text.map_or_else(|| "NULL".into(), |t| quote(&t))
}

/// The INSERT the store issues for row `i`, with its values as the store would bind them.
fn insert_sql(keyer: &UserKeyer, i: usize) -> String {
    let (member, row) = synthetic(i);
    let reasoning = row.reasoning.as_ref().map(|steps| {
        let redacted: Vec<String> = steps.iter().map(|s| redact(s)).collect();
        serde_json::to_string(&redacted).expect("JSON")
    });
    format!(
        "INSERT INTO interactions (guild_id, source, user_key, therapy, prompt_version, model, \
         emotion, strategy, reasoning, outcome, latency_ms, prompt_tokens, completion_tokens) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {});\n",
        row.guild_id.map_or("NULL".into(), |g| g.to_string()),
        quote(row.source.as_str()),
        quote(&keyer.key(member)),
        quote(row.therapy.as_str()),
        quote(&row.prompt_version),
        quote(&row.model),
        opt(row.emotion.as_ref().map(|e| e.as_str().to_owned())),
        opt(row.strategy.map(|s| s.as_str().to_string())),
        opt(reasoning),
        quote(row.outcome.as_str()),
        row.latency_ms,
        row.prompt_tokens.map_or("NULL".into(), |t| t.to_string()),
        row.completion_tokens
            .map_or("NULL".into(), |t| t.to_string()),
    )
}

fn sqlite3(db: &Path, script: &Path) -> Duration {
    let input = std::fs::File::open(script).expect("open script");
    let started = Instant::now();
    let status = Command::new(SQLITE3)
        .arg(db)
        .stdin(input)
        .stdout(Stdio::null())
        .status()
        .expect("run sqlite3");
    let elapsed = started.elapsed();
    assert!(status.success(), "sqlite3 failed on {}", script.display());
    elapsed
}

fn count_rows(db: &Path) -> i64 {
    let out = Command::new(SQLITE3)
        .arg(db)
        .arg("SELECT COUNT(*) FROM interactions;")
        .output()
        .expect("count with sqlite3");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(-1)
}

/// Rows per second of the `sqlite3` CLI, `batch` rows per transaction (1 = autocommit).
fn raw(dir: &Path, schema: &str, rows: usize, batch: usize) -> (f64, i64) {
    let db = dir.join(format!("raw-{batch}.db"));
    let setup = dir.join(format!("schema-{batch}.sql"));
    let pragmas = "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n";
    std::fs::write(&setup, format!("{pragmas}{schema}\n")).expect("write schema");
    sqlite3(&db, &setup);
    let keyer = UserKeyer::new(support::HASH_KEY.as_bytes());
    let script = dir.join(format!("insert-{batch}.sql"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&script).expect("script"));
    // journal_mode is persistent; synchronous is per connection, so it is set again.
    out.write_all(b"PRAGMA synchronous=NORMAL;\n")
        .expect("write");
    for i in 0..rows {
        if batch > 1 && i.is_multiple_of(batch) {
            out.write_all(b"BEGIN;\n").expect("write");
        }
        out.write_all(insert_sql(&keyer, i).as_bytes())
            .expect("write");
        if batch > 1 && (i % batch == batch - 1 || i == rows - 1) {
            out.write_all(b"COMMIT;\n").expect("write");
        }
    }
    out.flush().expect("flush script");
    drop(out);
    let elapsed = sqlite3(&db, &script);
    (rows as f64 / elapsed.as_secs_f64(), count_rows(&db))
}

async fn run(rows: usize, writers: &[usize], api_only: bool) {
    let dir = temp_dir();
    println!("databases in {} ({rows} rows each)", dir.path().display());
    let mut api = Vec::new();
    for &w in writers {
        let url = sqlite_url(dir.path(), &format!("api-{w}.db"));
        api.push((w, through_api(&url, rows, w).await));
    }
    if api_only {
        for (w, (rate, count)) in &api {
            println!("store API, {w} writers: {rate:.0} rows/s ({count} rows)");
        }
        return;
    }
    // The schema the store's migrations created, without sqlx's bookkeeping table.
    let first = dir.path().join(format!("api-{}.db", writers[0]));
    let schema = Command::new(SQLITE3)
        .arg(&first)
        .arg(".schema")
        .output()
        .expect("read schema");
    let schema: String = String::from_utf8_lossy(&schema.stdout)
        .split_inclusive(";\n")
        .filter(|s| !s.contains("_sqlx_migrations") && !s.contains("sqlite_sequence"))
        .collect();
    let one = raw(dir.path(), &schema, rows, 1);
    let many = raw(dir.path(), &schema, rows, BATCH);
    let (per_row, batched) = (one.0, many.0);

    let line = |name: String, (rate, count): (f64, i64)| {
        row(&[
            &name,
            &format!("{rate:.0}"),
            &format!("{:.2}", rate / per_row),
            &format!("{:.2}", rate / batched),
            &count,
        ])
    };
    let mut table = vec![
        line("sqlite3 CLI, one transaction per row".into(), one),
        line(format!("sqlite3 CLI, {BATCH} rows per transaction"), many),
    ];
    for (w, result) in &api {
        let name = format!("Store::record_interaction, {w} writer task(s)");
        table.push(line(name, *result));
    }
    print_table(
        &format!("Figure 3: rows recorded per second ({rows} rows, same file system)"),
        &FIGURE3,
        &table,
    );
    let (w, (rate, _)) = api.iter().find(|(w, _)| *w > 1).unwrap_or(&api[0]);
    let ratio = |name: &str, raw: f64| {
        let value = format!("{:.2}", rate / raw);
        let measure = format!("store API ({w} writers) ÷ raw, {name}");
        check(measure, value, "≥ 0.5", verdict(rate / raw >= 0.5))
    };
    let summary = [
        check(
            format!("store API rows/s, {w} writers"),
            format!("{rate:.0}"),
            "≥ 20,000",
            verdict(*rate >= 20_000.0),
        ),
        ratio("one transaction per row", per_row),
        ratio("batched", batched),
    ];
    print_table("Figure 3 summary", &SUMMARY, &summary);
    if std::env::var_os("COE_BENCH_KEEP").is_some() {
        println!("kept {}", dir.keep().display());
    }
}

/// `base` (COE_TEST_POSTGRES_URL) with the database `name` instead of its own.
fn database_url(base: &str, name: &str) -> String {
    let mut url = url::Url::parse(base).expect("COE_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The server settings a commit's cost depends on, as one line.
async fn server_settings(url: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let sql = "SELECT 'PostgreSQL ' || current_setting('server_version') \
               || ', fsync=' || current_setting('fsync') \
               || ', synchronous_commit=' || current_setting('synchronous_commit') \
               || ', commit_delay=' || current_setting('commit_delay')";
    let line = sqlx::query_scalar(sql).fetch_one(&mut conn).await;
    conn.close().await.ok();
    line.expect("server settings")
}

async fn drop_database(url: &str) {
    use sqlx::migrate::MigrateDatabase;
    if let Err(error) = sqlx::Any::drop_database(url).await {
        eprintln!("could not drop {}: {error}", coe_bot::store::shown_url(url));
    }
}

/// `benches/pgbench.sh`: PostgreSQL's own inserts/s (its stderr passes through).
fn pgbench() -> Result<f64, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pgbench.sh");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("pgbench inserts/s: "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| format!("pgbench.sh: {}; stdout {stdout:?}", out.status))
}

/// Rows per second through the store at `url`, checking that every row was written.
async fn rate(url: &str, rows: usize, writers: usize) -> f64 {
    let (rate, count) = through_api(url, rows, writers).await;
    assert_eq!(count as usize, rows, "rows written");
    rate
}

/// Figure 3b (issue 12): the store on PostgreSQL against the store on SQLite, alternated
/// round by round (a fresh database each), with pgbench after the first round.
async fn postgres_vs_sqlite(default_rows: usize) {
    let Ok(base) = std::env::var("COE_TEST_POSTGRES_URL") else {
        println!("\nFigure 3b skipped: COE_TEST_POSTGRES_URL is not set");
        return;
    };
    let rows = support::env_usize("COE_BENCH_PG_ROWS", default_rows);
    let writers = support::env_usize("COE_BENCH_PG_WRITERS", 8);
    let rounds = support::env_usize("COE_BENCH_PG_ROUNDS", 3).max(1);
    let dir = temp_dir();
    let (mut lite, mut pg, mut inserts) = (Vec::new(), Vec::new(), Err("not run".to_string()));
    for round in 0..rounds {
        let file = sqlite_url(dir.path(), &format!("round-{round}.db"));
        lite.push(rate(&file, rows, writers).await);
        let url = database_url(&base, &format!("coe_bench_{}_{round}", std::process::id()));
        pg.push(rate(&url, rows, writers).await);
        if round == 0 {
            println!("\n{}", server_settings(&url).await);
            inserts = tokio::task::spawn_blocking(pgbench).await.expect("pgbench");
        }
        if std::env::var_os("COE_BENCH_KEEP").is_none() {
            drop_database(&url).await;
        }
    }
    let per_pgbench = |p: f64| {
        inserts
            .as_ref()
            .map_or("–".into(), |i| format!("{:.2}", p / i))
    };
    let line = |name: &dyn std::fmt::Display, l: f64, p: f64| {
        let (l0, p0) = (format!("{l:.0}"), format!("{p:.0}"));
        row(&[name, &l0, &p0, &format!("{:.2}", p / l), &per_pgbench(p)])
    };
    let mut table: Vec<_> = (0..rounds)
        .map(|r| line(&(r + 1), lite[r], pg[r]))
        .collect();
    let (l, p) = (support::median(&lite), support::median(&pg));
    table.push(line(&"median", l, p));
    print_table(
        &format!("Figure 3b: Store::record_interaction rows/s, {writers} writer tasks, {rows} rows per round"),
        &["round", "SQLite", "PostgreSQL", "PostgreSQL ÷ SQLite", "PostgreSQL ÷ pgbench"],
        &table,
    );
    let summary = match &inserts {
        Ok(i) => check(
            format!("store on PostgreSQL ({writers} writers, median) ÷ pgbench ({i:.0} inserts/s)"),
            format!("{:.2}", p / i),
            "≥ 0.5",
            verdict(p / i >= 0.5),
        ),
        Err(why) => check("pgbench".into(), why.clone(), "≥ 0.5", "not measured"),
    };
    print_table("Figure 3b summary", &SUMMARY, &[summary]);
}
