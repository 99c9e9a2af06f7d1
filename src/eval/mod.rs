//! Evaluation over EPITOME-format data.

pub mod dataset;
mod files;
pub mod judge;
pub mod metrics;
pub mod models;
pub mod report;
mod run;

pub mod scoring;
pub mod slices;
/// The project's synthetic EPITOME-format data, for the unit tests.
#[cfg(test)]
#[path = "../../tests/support/synthetic_epitome.rs"]
mod synthetic;

pub use run::{run_eval, EvalError, EvalOptions, JudgeSetup};
