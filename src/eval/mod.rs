//! Evaluation over EPITOME-format data.
