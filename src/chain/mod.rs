//! Chain of Empathy: therapies as data, prompt building, output parsing.

mod emotion;
mod parse;
mod prompt;
mod run;
mod strategy;
mod therapy;

pub use emotion::{Emotion, MAX_LABEL_CHARS};
pub use parse::{parse_output, ChainOutput, ParseError};
pub use prompt::{
    as_member_data, build_messages, care_note, output_schema, repair_messages, response_format,
    Care, Turn, MAX_HISTORY_TURNS,
};
pub use run::{run_chain, ChainError, ChainRun};
pub use strategy::{Strategy, Therapy};
