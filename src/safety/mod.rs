//! Safety: the risk gate (patterns, classifier), helplines and fixed
//! texts, and output sanitizing.

pub mod classifier;
pub mod conversation;
pub mod crisis;
pub mod crisis_llm;
pub mod gate;
pub mod helplines;
pub mod risk;
pub mod sanitize;
