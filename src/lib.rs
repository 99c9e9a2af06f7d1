//! coe-bot: a Chain of Empathy peer-support companion for Discord.
//!
//! The pipeline (safety gate → chain → sanitize → record) lives here; the
//! binary and the Discord front door stay thin.

pub mod chain;
pub mod eval;
pub mod safety;
