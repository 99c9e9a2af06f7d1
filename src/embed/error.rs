//! What can go wrong when loading or running the embedding model.

use std::path::{Path, PathBuf};

/// The fix for any problem with the model files, named once so every
/// message gives the operator the same two ways out.
const FIX: &str =
    "run scripts/embed-model.sh (or set COE_CRISIS_CLASSIFIER=off to run without the classifier)";

/// Errors of [`super::Embedder`] and [`super::EmbedWorker`].
///
/// Every `Display` is a single line: these end up in a startup log or a
/// health check, where a multi-line library error would be cut in half.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    /// A model file is absent: the download script has not been run here.
    #[error("embedding model not found in {}: {FIX}", dir.display())]
    ModelMissing { dir: PathBuf },
    /// A model file is there but cannot be used (truncated, corrupt, wrong
    /// format, unreadable).
    #[error("embedding model in {} is unreadable ({file}: {reason}): delete the directory and {FIX}", dir.display())]
    ModelUnreadable {
        dir: PathBuf,
        file: &'static str,
        reason: String,
    },
    /// The tokenizer rejected an input (should not happen for UTF-8 text).
    #[error("could not tokenize a message for embedding: {0}")]
    Tokenize(String),
    /// The forward pass failed (a bug or an out-of-memory, not bad input).
    #[error("the embedding model failed: {0}")]
    Inference(String),
    /// The worker thread has stopped, so no embedding can be computed.
    #[error("the embedding worker has stopped")]
    WorkerGone,
}

impl EmbedError {
    /// Classifies a failure to read `file` in `dir`: a missing file means the
    /// model was never fetched, anything else means it is damaged.
    pub(crate) fn unreadable(dir: &Path, file: &'static str, reason: impl ToString) -> Self {
        if !dir.join(file).is_file() {
            return EmbedError::ModelMissing {
                dir: dir.to_path_buf(),
            };
        }
        EmbedError::ModelUnreadable {
            dir: dir.to_path_buf(),
            file,
            reason: one_line(&reason.to_string()),
        }
    }

    pub(crate) fn inference(err: candle_core::Error) -> Self {
        EmbedError::Inference(one_line(&err.to_string()))
    }
}

/// The first line of a library message: candle appends a backtrace on
/// later lines when `RUST_BACKTRACE` is set.
fn one_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_names_the_script_on_one_line() {
        let dir = Path::new("/nonexistent/minilm");
        let err = EmbedError::unreadable(dir, "config.json", "No such file\nbacktrace");
        let text = err.to_string();
        assert!(matches!(err, EmbedError::ModelMissing { .. }));
        assert!(text.contains("/nonexistent/minilm"), "{text}");
        assert!(text.contains("scripts/embed-model.sh"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn damaged_file_keeps_only_the_first_line_of_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{").unwrap();
        let err = EmbedError::unreadable(dir.path(), "config.json", "EOF at 1:1\n  at frame 0");
        let text = err.to_string();
        assert!(matches!(err, EmbedError::ModelUnreadable { .. }));
        assert!(text.contains("config.json: EOF at 1:1)"), "{text}");
        assert!(text.contains("scripts/embed-model.sh"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}
