//! Safety: crisis gate, helplines, output sanitizing.
