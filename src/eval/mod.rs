//! Evaluation over EPITOME-format data.

pub mod dataset;
pub mod metrics;
pub mod report;
mod run;

pub use run::{run_eval, EvalError, EvalOptions};
