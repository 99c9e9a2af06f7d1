//! Storage: the SQLite store, anonymization and redaction.
//!
//! Each table has its own file of `impl Store` repository methods.

pub mod anon;
mod db;
mod eval_runs;
mod guilds;
mod interactions;
mod privacy;
pub mod redact;
mod reviews;
mod threads;
mod writer;

pub use db::{Store, StoreError};
pub use eval_runs::{EvalCounts, EvalItemRow, EvalOutcome};
pub use guilds::{GuildSetting, GuildSettings};
pub use interactions::{InteractionRow, NewInteraction, Outcome, Source};
pub use reviews::{SummaryScope, TherapySummary, Verdict};
