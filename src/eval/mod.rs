//! Evaluation over EPITOME-format data.

pub mod dataset;
pub mod judge;
pub mod metrics;
pub mod models;
pub mod report;
mod run;
pub mod scoring;
pub mod slices;

pub use run::{run_eval, EvalError, EvalOptions};
