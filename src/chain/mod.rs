//! Chain of Empathy: therapies as data, prompt building, output parsing.

mod strategy;

pub use strategy::{Strategy, Therapy};
