//! Storage: the store on SQLite or PostgreSQL (`engine`), anonymization
//! and redaction.
//!
//! Each table has its own file of `impl Store` repository methods.

pub mod anon;
mod assist;
mod db;
mod engine;
mod error;
mod eval_runs;
mod guilds;
mod interactions;
mod privacy;
pub mod redact;
mod reviews;
mod sql;
mod threads;
mod time;
mod writer;

pub use assist::{AssistKind, AssistSummary, AssistVerdict, NewAssistVerdict};
pub use db::{Store, StoreError};
pub use engine::{shown_url, Engine};
pub use eval_runs::{EvalCounts, EvalItemRow, EvalOutcome};
pub use guilds::{ChannelMode, GuildSetting, GuildSettings};
pub use interactions::{InteractionRow, NewInteraction, Outcome, Source};
pub use reviews::{SummaryScope, TherapySummary, Verdict};
