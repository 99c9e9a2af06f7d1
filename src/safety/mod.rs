//! Safety: the crisis gate, helplines, and output sanitizing.

pub mod crisis;
pub mod crisis_llm;
pub mod helplines;
pub mod sanitize;
