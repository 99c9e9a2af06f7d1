//! The embedding model on a thread of its own, fed by a channel.
//!
//! A forward pass takes milliseconds of pure CPU, which would stall every
//! task on a tokio worker thread. The model therefore lives on one
//! dedicated std thread; async callers send a job and await a oneshot
//! reply. While a pass runs, new jobs queue up, and the thread takes all
//! that are waiting (up to `max_batch` texts) into its next pass, so
//! messages that arrive together are embedded together.

use super::{EmbedError, Embedder};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use tokio::sync::oneshot;

type Reply = oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>;

struct Job {
    texts: Vec<String>,
    reply: Reply,
}

/// A cheap, cloneable handle to the embedding thread. The thread ends when
/// the last handle is dropped.
#[derive(Clone)]
pub struct EmbedWorker {
    jobs: mpsc::Sender<Job>,
}

impl EmbedWorker {
    /// Starts the thread that owns `embedder`. `max_batch` caps the texts
    /// gathered into one pass (a single larger job still runs, alone).
    ///
    /// If the thread cannot be started, the failure is logged and every
    /// call answers [`EmbedError::WorkerGone`], as after a crash.
    pub fn spawn(embedder: Embedder, max_batch: usize) -> EmbedWorker {
        let (jobs, queue) = mpsc::channel();
        let started = std::thread::Builder::new()
            .name("coe-embed".into())
            .spawn(move || run(&embedder, &queue, max_batch.max(1)));
        if let Err(err) = started {
            tracing::error!(%err, "could not start the embedding thread");
        }
        EmbedWorker { jobs }
    }

    /// Embeds `texts` on the worker thread (see [`Embedder::embed`]).
    ///
    /// Never blocks the runtime: the send is to an unbounded channel, and
    /// the wait is on a oneshot.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { texts, reply })
            .map_err(|_| EmbedError::WorkerGone)?;
        answer.await.map_err(|_| EmbedError::WorkerGone)?
    }
}

/// The thread's loop: wait for a job, gather the ones waiting behind it,
/// embed them in one call, answer each. Returns when every handle is gone.
fn run(embedder: &Embedder, queue: &mpsc::Receiver<Job>, max_batch: usize) {
    let mut held: Option<Job> = None;
    loop {
        let Some(first) = held.take().or_else(|| queue.recv().ok()) else {
            return;
        };
        let mut texts = first.texts.len();
        let mut batch = vec![first];
        while texts < max_batch {
            let Ok(job) = queue.try_recv() else { break };
            if texts + job.texts.len() > max_batch {
                held = Some(job);
                break;
            }
            texts += job.texts.len();
            batch.push(job);
        }
        serve(embedder, batch);
    }
}

/// Embeds the texts of `batch` in one call and hands each job its share.
/// Jobs whose caller has given up (dropped the future) are skipped.
fn serve(embedder: &Embedder, mut batch: Vec<Job>) {
    batch.retain(|job| !job.reply.is_closed());
    let texts: Vec<&str> = batch
        .iter()
        .flat_map(|job| job.texts.iter().map(String::as_str))
        .collect();
    if texts.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    // A panic in the model must not take the thread (and every later
    // caller) down with it; `embed` only reads the model, so it is safe to
    // keep using after an unwind.
    let result = panic::catch_unwind(AssertUnwindSafe(|| embedder.embed(&texts)))
        .unwrap_or_else(|_| Err(EmbedError::Inference("the forward pass panicked".into())));
    tracing::debug!(
        jobs = batch.len(),
        texts = texts.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "embedded a batch"
    );
    match result {
        Ok(vectors) => {
            let mut vectors = vectors.into_iter();
            for job in batch {
                let share = vectors.by_ref().take(job.texts.len()).collect();
                // The caller may have gone since; nobody is left to tell.
                let _ = job.reply.send(Ok(share));
            }
        }
        Err(err) => {
            for job in batch {
                let _ = job.reply.send(Err(err.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stopped_thread_is_an_error_not_a_panic() {
        let (jobs, queue) = mpsc::channel();
        drop(queue);
        let worker = EmbedWorker { jobs };
        let answer = worker.embed(vec!["hello".into()]).await;
        assert!(matches!(answer, Err(EmbedError::WorkerGone)));
    }

    #[tokio::test]
    async fn a_job_dropped_unanswered_is_an_error_not_a_panic() {
        let (jobs, queue) = mpsc::channel::<Job>();
        let worker = EmbedWorker { jobs };
        let thread = std::thread::spawn(move || drop(queue.recv()));
        let answer = worker.embed(vec!["hello".into()]).await;
        assert!(matches!(answer, Err(EmbedError::WorkerGone)));
        thread.join().unwrap();
    }
}
