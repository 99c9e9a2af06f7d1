//! Configuration parsing: defaults, errors that name the fix, secrets.
use super::*;
use std::collections::HashMap;

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// `pairs` over a HOME, as every real environment has one.
fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut map: HashMap<String, String> = HashMap::from([("HOME".into(), "/home/test".into())]);
    map.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn the_classifier_model_is_found_where_the_setup_script_puts_it() {
    let config = load(&[("COE_HASH_KEY", KEY)]).unwrap();
    let default = PathBuf::from("/home/test/.cache/coe-bot/minilm-l6-v2");
    assert_eq!(config.crisis_classifier, Some(default));
    let cached = load(&[("COE_HASH_KEY", KEY), ("COE_CACHE_DIR", "/srv/cache")]).unwrap();
    let expected = PathBuf::from("/srv/cache/minilm-l6-v2");
    assert_eq!(cached.crisis_classifier, Some(expected));
    let off = load(&[("COE_HASH_KEY", KEY), ("COE_CRISIS_CLASSIFIER", "off")]).unwrap();
    assert_eq!(off.crisis_classifier, None);
    let no_home = Config::from_lookup(|k| (k == "COE_HASH_KEY").then(|| KEY.to_string()));
    let error = no_home.unwrap_err().to_string();
    assert!(
        error.contains("COE_EMBED_MODEL_DIR") && error.contains("embed-model.sh"),
        "{error}"
    );
}

#[test]
fn defaults_point_at_local_services() {
    let config = load(&[("COE_HASH_KEY", KEY)]).unwrap();
    assert_eq!(config.llm.base_url.as_str(), "http://127.0.0.1:8079/v1");
    assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
    assert_eq!(config.llm.temperature, 0.9);
    assert_eq!(config.llm.top_p, 1.0);
    assert_eq!(config.llm.json_mode, JsonMode::Off);
    assert!(config.store_reasoning);
}

#[test]
fn errors_name_the_variable_and_the_fix() {
    let missing = load(&[]).unwrap_err().to_string();
    assert!(missing.starts_with("COE_HASH_KEY is not set"), "{missing}");
    let short = load(&[("COE_HASH_KEY", "short")]).unwrap_err().to_string();
    assert!(short.contains("openssl rand -hex 32"), "{short}");
    let cases = [
        ("LLM_BASE_URL", "not a url"),
        ("LLM_TEMPERATURE", "hot"),
        ("LLM_TOP_P", "1.5"),
        ("LLM_JSON_MODE", "xml"),
        ("LLM_TIMEOUT_SECS", "0"),
        ("COE_DEFAULT_THERAPY", "freud"),
        ("COE_STORE_REASONING", "maybe"),
        ("DATABASE_URL", "mysql://x"),
        ("COE_SUPPORT_CHANNELS", "123"),
        ("COE_DEV_GUILD", "abc"),
        ("DISCORD_PROXY_URL", "::"),
        ("COE_RETENTION_DAYS", "0"),
        ("LLM_CONCURRENCY", "fixed:0"),
        ("LLM_CONCURRENCY", "lots"),
        ("LLM_DEADLINE_SECS", "900"),
        ("LLM_MAX_QUEUE", "0"),
        ("COE_METRICS_ADDR", "localhost:9464"),
    ];
    for (name, value) in cases {
        let err = load(&[("COE_HASH_KEY", KEY), (name, value)]).unwrap_err();
        assert_eq!(err.var, name, "{err}");
    }
}

#[test]
fn support_channels_are_guild_channel_pairs() {
    let config = load(&[("COE_HASH_KEY", KEY), ("COE_SUPPORT_CHANNELS", "1:2, 1:3,")]).unwrap();
    assert_eq!(config.discord.support_channels, vec![(1, 2), (1, 3)]);
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let config = load(&[
        ("COE_HASH_KEY", KEY),
        ("LLM_API_KEY", "sk-very-secret"),
        ("DISCORD_TOKEN", "discord-token-value"),
    ])
    .unwrap();
    let shown = format!("{config:?}");
    for secret in [KEY, "sk-very-secret", "discord-token-value"] {
        assert!(!shown.contains(secret), "{secret} leaked");
    }
}

#[test]
fn a_postgres_url_is_accepted_and_its_password_never_shown() {
    let url = ("DATABASE_URL", "postgres://coe:hunter2@db.internal/coe");
    let config = load(&[("COE_HASH_KEY", KEY), url]).unwrap();
    assert_eq!(config.database_url, url.1, "still used");
    let shown = format!("{config:?}");
    assert!(
        shown.contains("db.internal") && !shown.contains("hunter2"),
        "{shown}"
    );
    let bad = ("DATABASE_URL", "mysql://coe:hunter2@db.internal/coe");
    let error = load(&[("COE_HASH_KEY", KEY), bad]).unwrap_err().to_string();
    assert!(
        error.contains("postgres://") && !error.contains("hunter2"),
        "{error}"
    );
}

#[test]
fn credentials_in_the_model_url_show_neither_in_debug_nor_in_errors() {
    let url = ("LLM_BASE_URL", "https://bob:hunter2@models.example/v1");
    let config = load(&[("COE_HASH_KEY", KEY), url]).unwrap();
    assert_eq!(
        config.llm.base_url.password(),
        Some("hunter2"),
        "still used"
    );
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("bob"),
        "{shown}"
    );
    let ftp = ("LLM_BASE_URL", "ftp://bob:hunter2@models.example/v1");
    let error = load(&[("COE_HASH_KEY", KEY), ftp]).unwrap_err().to_string();
    assert!(
        error.contains("ftp://models.example/v1") && !error.contains("hunter2"),
        "{error}"
    );
    let bad_port = ("LLM_BASE_URL", "http://bob:hunter2@host:99999/v1");
    let error = load(&[("COE_HASH_KEY", KEY), bad_port])
        .unwrap_err()
        .to_string();
    assert!(!error.contains("hunter2"), "{error}");
}

#[test]
fn concurrency_is_adaptive_under_a_ceiling_unless_fixed() {
    let default = load(&[("COE_HASH_KEY", KEY)]).unwrap().llm;
    assert_eq!(default.concurrency, Concurrency::Adaptive { ceiling: 256 });
    assert_eq!(default.deadline, Duration::from_secs(300));
    let ceiling = load(&[("COE_HASH_KEY", KEY), ("LLM_MAX_CONCURRENCY", "32")]).unwrap();
    assert_eq!(
        ceiling.llm.concurrency,
        Concurrency::Adaptive { ceiling: 32 }
    );
    let fixed = load(&[("COE_HASH_KEY", KEY), ("LLM_CONCURRENCY", "Fixed:8")]).unwrap();
    assert_eq!(fixed.llm.concurrency, Concurrency::Fixed(8));
}

#[test]
fn shard_ranges_need_both_variables_and_fit_the_total() {
    let shards = |pairs: &[(&str, &str)]| {
        let mut all = vec![("COE_HASH_KEY", KEY)];
        all.extend_from_slice(pairs);
        load(&all).map(|config| config.discord.shards)
    };
    assert_eq!(
        shards(&[]).unwrap(),
        None,
        "unset: the whole bot, one shard"
    );
    let range = shards(&[("DISCORD_SHARDS", "0-3"), ("DISCORD_SHARD_TOTAL", "8")]).unwrap();
    let expected = ShardRange {
        first: 0,
        last: 3,
        total: 8,
    };
    assert_eq!(range, Some(expected));
    assert_eq!(expected.count(), 4);
    let single = shards(&[("DISCORD_SHARDS", " 7 "), ("DISCORD_SHARD_TOTAL", "8")]).unwrap();
    assert_eq!(
        single.map(|s| (s.first, s.last, s.count())),
        Some((7, 7, 1))
    );

    let cases = [
        (("DISCORD_SHARDS", "0-3"), None, "DISCORD_SHARD_TOTAL"),
        (("DISCORD_SHARD_TOTAL", "8"), None, "DISCORD_SHARDS"),
        (("DISCORD_SHARDS", "4-8"), Some("8"), "DISCORD_SHARDS"),
        (("DISCORD_SHARDS", "3-1"), Some("8"), "DISCORD_SHARDS"),
        (("DISCORD_SHARDS", "first"), Some("8"), "DISCORD_SHARDS"),
        (("DISCORD_SHARDS", "1-"), Some("8"), "DISCORD_SHARDS"),
        (("DISCORD_SHARDS", "-1"), Some("8"), "DISCORD_SHARDS"),
        (("DISCORD_SHARDS", "0-1"), Some("0"), "DISCORD_SHARD_TOTAL"),
        (
            ("DISCORD_SHARDS", "0-1"),
            Some("many"),
            "DISCORD_SHARD_TOTAL",
        ),
    ];
    for (pair, total, var) in cases {
        let mut pairs = vec![pair];
        if let Some(total) = total {
            pairs.push(("DISCORD_SHARD_TOTAL", total));
        }
        let err = shards(&pairs).unwrap_err();
        assert_eq!(err.var, var, "{pair:?} of {total:?}: {err}");
        let shown = err.to_string();
        assert!(!shown.contains('\n'), "one line: {shown}");
    }
    let beyond = shards(&[("DISCORD_SHARDS", "4-8"), ("DISCORD_SHARD_TOTAL", "8")]);
    let shown = beyond.unwrap_err().to_string();
    assert!(shown.contains("0 to 7"), "{shown}");
}
