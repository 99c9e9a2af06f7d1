//! Chain of Empathy: therapies as data, prompt building, output parsing.

mod parse;
mod prompt;
mod run;
mod strategy;
mod therapy;

pub use parse::{parse_output, ChainOutput, ParseError};
pub use prompt::{build_messages, MAX_HISTORY_TURNS, output_schema, repair_messages, response_format, Turn};
pub use run::{run_chain, ChainError, ChainRun};
pub use strategy::{Strategy, Therapy};
