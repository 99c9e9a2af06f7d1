//! Storage: the SQLite store, anonymization and redaction.

pub mod anon;
mod db;
// mod interactions;
pub mod redact;

pub use db::{Store, StoreError};
// pub use interactions::{InteractionRow, NewInteraction, Outcome, Source};
