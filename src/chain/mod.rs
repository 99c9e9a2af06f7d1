//! Chain of Empathy: therapies as data, prompt building, output parsing.

mod edits;
mod emotion;
mod parse;
mod prompt;
mod run;
mod strategy;
mod supporter;
mod supporter_parse;
mod therapy;

pub use edits::{is_light_edit, mark_changes, MarkedEdit};
pub use emotion::{Emotion, MAX_LABEL_CHARS};
pub use parse::{parse_output, ChainOutput, ParseError};
pub use prompt::{
    as_member_data, as_supporter_draft, build_messages, care_note, output_schema, repair_messages,
    response_format, Care, Turn, MAX_HISTORY_TURNS,
};
pub use run::{run_chain, run_task, ChainError, ChainRun, TaskRun};
pub use strategy::{Strategy, Therapy};
pub use supporter::{
    draft_messages, draft_prompt_version, draft_response_format, feedback_messages,
    feedback_prompt_version, feedback_response_format,
};
pub use supporter_parse::{parse_draft, parse_feedback, DraftOutput, FeedbackOutput};
