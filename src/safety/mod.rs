//! Safety: the crisis gate, helplines, and output sanitizing.

pub mod crisis;
pub mod helplines;
pub mod sanitize;
