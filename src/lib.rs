//! coe-bot: a Chain of Empathy peer-support companion for Discord.
//!
//! The pipeline (safety gate → chain → sanitize → record) lives here; the
//! binary and the Discord front door stay thin.

pub mod assist;
pub mod chain;
pub mod cli;
pub mod config;
pub mod discord;
pub mod embed;
pub mod eval;
pub mod llm;
pub mod pipeline;
pub mod safety;
pub mod store;
pub mod telemetry;
pub mod text;
