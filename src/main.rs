//! The `coe-bot` binary: parse arguments, set up logging, run, and report
//! any error as one line with a non-zero exit.

use clap::Parser;
use coe_bot::cli::{self, Cli};
use std::process::ExitCode;
use tokio::runtime::Runtime;
use tracing_subscriber::EnvFilter;

/// The blocking pool's floor. Its work is the classifier's neighbour search
/// (CPU), exports and DNS: more threads than cores only add stacks and
/// allocator arenas (tokio's default of 512 let a burst of 200 `/coe` start
/// 20 of them), but a few must stay free beside a blocking stdin read.
const MIN_BLOCKING_THREADS: usize = 4;

fn main() -> ExitCode {
    match runtime() {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("coe-bot: could not start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Tokio's multi-threaded runtime (workers = cores, or TOKIO_WORKER_THREADS)
/// with the blocking pool bounded by the cores.
fn runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(max_blocking_threads())
        .build()
}

fn max_blocking_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.max(MIN_BLOCKING_THREADS)
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    // Before logging starts, so RUST_LOG in .env takes effect.
    let _ = dotenvy::dotenv();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(cli.command.default_log_filter()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coe-bot: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::Duration;

    #[test]
    fn a_burst_of_blocking_work_shares_a_bounded_pool() {
        let runtime = runtime().expect("runtime");
        let threads = runtime.block_on(async {
            let tasks: Vec<_> = (0..64)
                .map(|_| {
                    tokio::task::spawn_blocking(|| {
                        std::thread::sleep(Duration::from_millis(20));
                        std::thread::current().id()
                    })
                })
                .collect();
            let mut ids = HashSet::new();
            for task in tasks {
                ids.insert(task.await.expect("blocking task"));
            }
            ids.len()
        });
        assert!(
            threads <= max_blocking_threads(),
            "{threads} blocking threads for 64 tasks (at most {} expected)",
            max_blocking_threads()
        );
    }
}
