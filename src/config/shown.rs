//! `Debug` for `Config`: every field as derived, but the database URL
//! without its password (secrets are `Secret`s and print as `***`).

use super::Config;
use std::fmt;

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &crate::store::shown_url(&self.database_url))
            .field("llm", &self.llm)
            .field("hash_key", &self.hash_key)
            .field("default_therapy", &self.default_therapy)
            .field("store_reasoning", &self.store_reasoning)
            .field("helpline_region", &self.helpline_region)
            .field("retention_days", &self.retention_days)
            .field("crisis_llm", &self.crisis_llm)
            .field("crisis_classifier", &self.crisis_classifier)
            .field("crisis_pause", &self.crisis_pause)
            .field("discord", &self.discord)
            .field("metrics_addr", &self.metrics_addr)
            .finish()
    }
}
