//! `coe-bot doctor` (is everything `run` needs in place?) and `coe-bot
//! migrate` (apply the database migrations and exit, for deploy pipelines).
//!
//! The doctor changes nothing: it opens the database without migrating it,
//! and prints one line per check, with the fix when a check fails.

use crate::config::Config;
use crate::safety::classifier::Classifier;
use crate::store::{shown_url, Store};
use std::time::Duration;

/// How long the model server may take to list its models.
const MODEL_TIMEOUT: Duration = Duration::from_secs(5);

/// One check's verdict: passed with a detail, or failed with the fix.
type Check = Result<String, String>;

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = Store::open_unmigrated(&config.database_url).await?;
    let applied = store.migrate().await?;
    store.close().await;
    println!(
        "{}: {applied} migration(s) applied; the schema is up to date.",
        shown_url(&config.database_url)
    );
    Ok(())
}

/// Prints each check; an error when any failed (so scripts can gate on it).
pub async fn doctor() -> anyhow::Result<()> {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            print_check("configuration", &Err(error.to_string()));
            anyhow::bail!("the configuration is not valid; fix it and run coe-bot doctor again");
        }
    };
    let checks = [
        ("configuration", Ok("every variable parses".to_string())),
        ("discord token", discord_token(&config)),
        ("database", database(&config).await),
        ("model server", model_server(&config).await),
        ("crisis classifier", classifier(&config).await),
    ];
    for (name, check) in &checks {
        print_check(name, check);
    }
    let failed = checks.iter().filter(|(_, check)| check.is_err()).count();
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed; each line above names its fix");
    }
    Ok(())
}

fn print_check(name: &str, check: &Check) {
    match check {
        Ok(detail) => println!("ok    {name:<18} {detail}"),
        Err(fix) => println!("FAIL  {name:<18} {fix}"),
    }
}

fn discord_token(config: &Config) -> Check {
    let fix = "copy the bot token from the Discord Developer Portal (Bot → Reset Token) into DISCORD_TOKEN in .env";
    match &config.discord.token {
        None => Err(format!("DISCORD_TOKEN is not set: {fix}")),
        Some(token) if poise::serenity_prelude::validate_token(token.expose()).is_err() => Err(
            format!("DISCORD_TOKEN does not look like a bot token: {fix}"),
        ),
        Some(_) => Ok("set, and shaped like a bot token".into()),
    }
}

async fn database(config: &Config) -> Check {
    let shown = shown_url(&config.database_url);
    let store = Store::open_unmigrated(&config.database_url)
        .await
        .map_err(|e| format!("{e}; check DATABASE_URL and that the server is running"))?;
    let pending = store.pending_migrations().await;
    let writable = store.is_writable().await;
    store.close().await;
    let pending = pending.map_err(|e| format!("{shown}: {e}"))?;
    if !writable {
        return Err(format!(
            "{shown} does not take writes now: another process holds the lock, or the server is a read-only standby"
        ));
    }
    match pending {
        0 => Ok(format!("{shown}, writable, migrations up to date")),
        n => Err(format!(
            "{shown} has {n} migration(s) to apply: run coe-bot migrate (coe-bot run applies them too)"
        )),
    }
}

async fn model_server(config: &Config) -> Check {
    let url = crate::telemetry::models_url(&config.llm.base_url);
    let fix =
        "start it (scripts/local-llm.sh) or set LLM_BASE_URL to a running OpenAI-compatible server";
    let http = reqwest::Client::builder()
        .timeout(MODEL_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = http.get(url);
    if let Some(key) = &config.llm.api_key {
        request = request.bearer_auth(key.expose());
    }
    let shown = crate::llm::shown_url(&config.llm.base_url);
    let response = request
        .send()
        .await
        .map_err(|e| format!("{shown} does not answer ({}): {fix}", e.without_url()))?;
    match response.status() {
        s if s.is_success() => Ok(format!("{shown} answers")),
        s if s == reqwest::StatusCode::UNAUTHORIZED || s == reqwest::StatusCode::FORBIDDEN => {
            Err(format!("{shown} refuses the key ({s}): check LLM_API_KEY"))
        }
        s => Err(format!("{shown} answers {s}: {fix}")),
    }
}

async fn classifier(config: &Config) -> Check {
    let Some(dir) = config.crisis_classifier.clone() else {
        return Err("off (COE_CRISIS_CLASSIFIER=off): the gate runs on patterns alone; run scripts/embed-model.sh and remove the setting".into());
    };
    let shown = dir.display().to_string();
    let loaded = tokio::task::spawn_blocking(move || Classifier::load(&dir).map(drop))
        .await
        .map_err(|e| e.to_string())?;
    loaded
        .map(|()| format!("the embedding model in {shown} loads"))
        .map_err(|e| format!("{e}"))
}
