//! The `coe-bot` binary: parse arguments, set up logging, run, and report
//! any error as one line with a non-zero exit.

use clap::Parser;
use coe_bot::cli::{self, Cli};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
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
