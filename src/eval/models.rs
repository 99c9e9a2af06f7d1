//! `--models models.toml`: several OpenAI-compatible model servers
//! evaluated on the same items in one run.
//!
//! ```toml
//! [[model]]
//! name = "local"                         # shown in the report
//! base_url = "http://127.0.0.1:8080/v1"
//! model = "smollm2-135m-instruct"
//! api_key_env = "LOCAL_LLM_KEY"          # optional: the variable holding the key
//! concurrency = 4                        # optional: requests in flight (default 4)
//! ```
//!
//! Keys are read from the named environment variables, never from the
//! file, so a models file can be shared without leaking a secret.

use crate::llm::{Concurrency, LlmConfig, Secret};
use serde::Deserialize;
use std::path::Path;
use url::Url;

/// Requests in flight per model unless its entry says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// One model server of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub name: String,
    /// `None` for the `LLM_*` settings of the environment.
    pub base_url: Option<Url>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    pub concurrency: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid models file: {reason}")]
    Invalid { path: String, reason: String },
    #[error("model {name}: {var} is not set; export the API key in it, or drop api_key_env")]
    MissingKey { name: String, var: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    model: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    base_url: Url,
    model: String,
    api_key_env: Option<String>,
    concurrency: Option<usize>,
}

impl ModelSpec {
    /// The model of the `LLM_*` environment, under the name `default`.
    pub fn from_env(concurrency: usize) -> ModelSpec {
        ModelSpec {
            name: "default".into(),
            base_url: None,
            model: None,
            api_key_env: None,
            concurrency: concurrency.max(1),
        }
    }

    /// The client settings of this model: `base` (timeouts, sampling,
    /// retries) with this entry's server, model, key and concurrency.
    pub fn llm_config(
        &self,
        base: &LlmConfig,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<LlmConfig, ModelsError> {
        let mut config = base.clone();
        if let Some(url) = &self.base_url {
            config.base_url = url.clone();
            // Another server must not receive the default server's key.
            config.api_key = None;
        }
        if let Some(model) = &self.model {
            config.model = model.clone();
        }
        if let Some(name) = &self.api_key_env {
            let key = var(name).filter(|k| !k.trim().is_empty());
            let key = key.ok_or_else(|| ModelsError::MissingKey {
                name: self.name.clone(),
                var: name.clone(),
            })?;
            config.api_key = Some(Secret::new(key));
        }
        config.concurrency = Concurrency::Fixed(self.concurrency);
        // The run's own concurrency keeps the client's queue short, and a
        // research run has no member waiting: every attempt gets its full
        // timeout.
        config.deadline = config.deadline.max(config.timeout * config.max_attempts);
        Ok(config)
    }
}

/// Reads and checks a models file.
pub fn load(path: &Path) -> Result<Vec<ModelSpec>, ModelsError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ModelsError::Io {
        path: shown.clone(),
        source,
    })?;
    parse(&text).map_err(|reason| ModelsError::Invalid {
        path: shown,
        reason,
    })
}

fn parse(text: &str) -> Result<Vec<ModelSpec>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.message().to_string())?;
    if file.model.is_empty() {
        return Err("it lists no [[model]]".into());
    }
    let mut specs: Vec<ModelSpec> = Vec::with_capacity(file.model.len());
    for entry in file.model {
        let name = entry.name.trim().to_string();
        let valid = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(format!(
                "model name `{name}` must be 1–32 letters, digits, '-', '_' or '.'"
            ));
        }
        if specs.iter().any(|s| s.name == name) {
            return Err(format!("model name `{name}` appears twice"));
        }
        let concurrency = entry.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 {
            return Err(format!("model {name}: concurrency must be at least 1"));
        }
        specs.push(ModelSpec {
            name,
            base_url: Some(entry.base_url),
            model: Some(entry.model),
            api_key_env: entry.api_key_env,
            concurrency,
        });
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"
[[model]]
name = "local"
base_url = "http://127.0.0.1:8080/v1"
model = "smol"

[[model]]
name = "remote-2"
base_url = "https://api.example.com/v1"
model = "big"
api_key_env = "REMOTE_KEY"
concurrency = 16
"#;

    #[test]
    fn a_file_lists_its_models_in_order() {
        let specs = parse(TWO).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].name, "local");
        assert_eq!(specs[0].concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(specs[1].api_key_env.as_deref(), Some("REMOTE_KEY"));
        assert_eq!(specs[1].concurrency, 16);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let twice = TWO.replace("remote-2", "local");
        assert!(parse(&twice).unwrap_err().contains("appears twice"));
        let spaced = TWO.replace("remote-2", "my model");
        assert!(parse(&spaced).unwrap_err().contains("must be 1–32"));
        let zero = TWO.replace("concurrency = 16", "concurrency = 0");
        assert!(parse(&zero).unwrap_err().contains("at least 1"));
        let typo = TWO.replace("api_key_env", "api_key");
        assert!(parse(&typo).unwrap_err().contains("unknown field"));
        assert!(parse("").is_err());
    }
}
