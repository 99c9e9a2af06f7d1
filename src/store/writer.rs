//! Group commit for the hot tables. One task owns the writes and commits
//! whatever is queued in one transaction: under load, many rows share one
//! commit instead of each paying for its own, and writers never contend
//! for SQLite's single write lock (or PostgreSQL's WAL flush). Callers still wait for their own row's
//! commit, so "recorded" keeps meaning "on disk", and each learns whether
//! its row was written or refused (an opted-out or forgotten member).

use super::db::StoreError;
use super::engine::{begin_write, Engine};
use super::eval_runs::{insert_eval_items, EvalItemRow};
use super::interactions::{distinct_key_groups, insert_interactions, KeyGroup, NewInteraction};
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

/// Rows per transaction at most; bounds how long one commit holds the lock.
const MAX_BATCH: usize = 512;

pub(super) enum Write {
    Interaction(NewInteraction),
    EvalItem { run_id: String, row: EvalItemRow },
}

/// A write's new row id; `None` for a refused row and for tables
/// without ids.
type Written = Option<i64>;

struct Job {
    write: Write,
    done: oneshot::Sender<Result<Written, StoreError>>,
}

#[derive(Clone, Debug)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    pub(super) fn spawn(pool: AnyPool, engine: Engine) -> Writer {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(pool, engine, queue));
        Writer { jobs }
    }

    /// Queues a write and waits for its commit.
    pub(super) async fn write(&self, write: Write) -> Result<Written, StoreError> {
        let (done, committed) = oneshot::channel();
        let closed = || StoreError::Write("the store is closed".into());
        self.jobs
            .send(Job { write, done })
            .await
            .map_err(|_| closed())?;
        committed.await.map_err(|_| closed())?
    }
}

async fn run(pool: AnyPool, engine: Engine, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        crate::telemetry::writer_batch(batch.len());
        let writes: Vec<&Write> = batch.iter().map(|job| &job.write).collect();
        match commit(&pool, engine, &writes).await {
            Ok(ids) => {
                for (job, id) in batch.into_iter().zip(ids) {
                    let _ = job.done.send(Ok(id));
                }
            }
            // One bad row must not sink the others: retry each on its own.
            Err(error) if batch.len() > 1 => {
                tracing::warn!(%error, rows = batch.len(), "batch failed; writing rows one by one");
                for job in batch {
                    let result = commit(&pool, engine, &[&job.write])
                        .await
                        .map(|written| written[0]);
                    let _ = job.done.send(result.map_err(StoreError::from));
                }
            }
            Err(error) => {
                for job in batch {
                    let _ = job.done.send(Err(StoreError::Write(error.to_string())));
                }
            }
        }
    }
}

/// Writes a batch in one transaction: one multi-row INSERT per group of
/// interactions with distinct keys, one for the eval items. Returns each
/// write's result, in order.
async fn commit(
    pool: &AnyPool,
    engine: Engine,
    writes: &[&Write],
) -> Result<Vec<Written>, sqlx::Error> {
    let mut interactions = Vec::new();
    let mut eval_items = Vec::new();
    for write in writes {
        match write {
            Write::Interaction(row) => interactions.push(row),
            Write::EvalItem { run_id, row } => eval_items.push((run_id.as_str(), row)),
        }
    }
    let groups = distinct_key_groups(&interactions);
    // One statement commits by itself; BEGIN and COMMIT would be two more
    // round trips to sqlx's worker thread. Several need them.
    let statements = groups.len() + usize::from(!eval_items.is_empty());
    let ids = if statements == 1 {
        insert_all(&mut *pool.acquire().await?, &groups, &eval_items).await?
    } else {
        let mut tx = begin_write(pool, engine).await?;
        let ids = insert_all(&mut tx, &groups, &eval_items).await?;
        tx.commit().await?;
        ids
    };
    let mut ids = ids.into_iter();
    Ok(writes
        .iter()
        .map(|write| match write {
            Write::Interaction(_) => ids.next().flatten(),
            Write::EvalItem { .. } => None,
        })
        .collect())
}

/// Runs the batch's statements; returns each interaction's new id (`None`
/// when refused), in the order of the interactions.
async fn insert_all(
    conn: &mut AnyConnection,
    groups: &[KeyGroup<'_>],
    eval_items: &[(&str, &EvalItemRow)],
) -> Result<Vec<Written>, sqlx::Error> {
    let mut ids = vec![None; groups.iter().map(Vec::len).sum()];
    for group in groups {
        for (index, id) in insert_interactions(conn, group).await? {
            ids[index] = Some(id);
        }
    }
    if !eval_items.is_empty() {
        insert_eval_items(conn, eval_items).await?;
    }
    Ok(ids)
}
