//! A run's description: made new, or read back to resume a run, whose
//! dataset, prompts and models must not have changed since.

use super::EvalError;
use super::EvalOptions;
use crate::chain::Therapy;
use crate::eval::files;
use crate::eval::models::ModelSpec;
use crate::eval::report::{url_host, ModelInfo, RunInfo};
use crate::llm::LlmClient;
use crate::llm::LlmConfig;
use crate::store::Store;
use std::path::{Path, PathBuf};

/// One model of the run, ready to call.
pub(super) struct Model {
    /// Its results are stored under `{run_id}/{name}`.
    pub run_id: String,
    pub client: LlmClient,
    pub concurrency: usize,
    pub info: ModelInfo,
}

pub(super) struct Prepared {
    pub info: RunInfo,
    pub therapies: Vec<Therapy>,
    pub models: Vec<Model>,
}

/// The new run of `options`, or the stored run it resumes.
pub(super) async fn prepare(
    options: &EvalOptions,
    base: &LlmConfig,
    store: &Store,
) -> Result<Prepared, EvalError> {
    match &options.resume {
        Some(run_id) => resume(run_id, options, base, store).await,
        None => create(options, base, store).await,
    }
}

async fn specs(models_file: Option<&str>, concurrency: usize) -> Result<Vec<ModelSpec>, EvalError> {
    match models_file {
        Some(path) => Ok(files::load_models(PathBuf::from(path)).await?),
        None => Ok(vec![ModelSpec::from_env(concurrency)]),
    }
}

fn client(spec: &ModelSpec, base: &LlmConfig) -> Result<(LlmClient, LlmConfig), EvalError> {
    let config = spec.llm_config(base, |name| std::env::var(name).ok())?;
    let client = LlmClient::new(&config).map_err(|e| EvalError::Model {
        name: spec.name.clone(),
        reason: e.to_string(),
    })?;
    Ok((client, config))
}

/// Through the decimal text, so 0.9 is reported as 0.9, not 0.8999999761.
fn decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or_default()
}

fn model_info(name: &str, config: &LlmConfig) -> ModelInfo {
    ModelInfo {
        name: name.to_string(),
        model: config.model.clone(),
        base_url_host: url_host(config.base_url.as_str()),
        temperature: decimal(config.temperature),
        top_p: decimal(config.top_p),
        llm_seed: config.seed,
        parse_errors: 0,
        llm_errors: 0,
        crisis_flagged: 0,
    }
}

async fn create(
    options: &EvalOptions,
    base: &LlmConfig,
    store: &Store,
) -> Result<Prepared, EvalError> {
    let run_id = format!(
        "{}-{:04x}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        rand::random::<u16>()
    );
    let models_file = options.models_file.as_ref().map(|p| absolute(p));
    let specs = specs(models_file.as_deref(), options.concurrency).await?;
    let info = RunInfo {
        run_id: run_id.clone(),
        // Absolute, so a run resumes from any directory.
        dataset_path: absolute(&options.data),
        dataset_sha256: files::dataset_sha256(options.data.clone()).await?,
        prompt_versions: options
            .therapies
            .iter()
            .map(|t| (*t, t.prompt_version().to_string()))
            .collect(),
        limit: options.limit,
        sample_seed: options.sample_seed,
        tie_rule: options.ties.clone(),
        judge: options.judge.is_some(),
        models_file,
        started_at: chrono::Utc::now().to_rfc3339(),
        finished_at: String::new(),
        load_stats: Default::default(),
    };
    let mut models = Vec::with_capacity(specs.len());
    for spec in &specs {
        let (client, config) = client(spec, base)?;
        models.push(Model {
            run_id: format!("{run_id}/{}", spec.name),
            client,
            concurrency: spec.concurrency,
            info: model_info(&spec.name, &config),
        });
    }
    store.create_eval_run(&run_id, &to_json(&info)).await?;
    for model in &models {
        store
            .create_eval_run(&model.run_id, &to_json(&model.info))
            .await?;
    }
    let therapies = options.therapies.clone();
    Ok(Prepared {
        info,
        therapies,
        models,
    })
}

async fn resume(
    run_id: &str,
    options: &EvalOptions,
    base: &LlmConfig,
    store: &Store,
) -> Result<Prepared, EvalError> {
    let refuse = |reason: String| EvalError::CannotResume {
        run_id: run_id.to_string(),
        reason,
    };
    let stored = store
        .eval_run_info(run_id)
        .await?
        .ok_or_else(|| EvalError::UnknownRun(run_id.to_string()))?;
    let mut info: RunInfo = serde_json::from_str(&stored).map_err(|e| {
        refuse(format!(
            "its record is unreadable or from an older coe-bot ({e})"
        ))
    })?;
    let sha = files::dataset_sha256(PathBuf::from(&info.dataset_path)).await?;
    if sha != info.dataset_sha256 {
        return Err(refuse(format!(
            "{} changed since the run started",
            info.dataset_path
        )));
    }
    for (therapy, version) in &info.prompt_versions {
        if therapy.prompt_version() != version {
            return Err(refuse(format!(
                "the {therapy} prompt changed since the run started"
            )));
        }
    }
    let mut models = Vec::new();
    for spec in specs(info.models_file.as_deref(), options.concurrency).await? {
        let sub_id = format!("{run_id}/{}", spec.name);
        let stored = store.eval_run_info(&sub_id).await?.ok_or_else(|| {
            refuse(format!(
                "model {} was not part of it; keep the models file as it was",
                spec.name
            ))
        })?;
        let then: ModelInfo = serde_json::from_str(&stored).map_err(|e| {
            refuse(format!(
                "the record of model {} is unreadable ({e})",
                spec.name
            ))
        })?;
        let (client, config) = client(&spec, base)?;
        check_same_model(&then, &model_info(&spec.name, &config)).map_err(refuse)?;
        models.push(Model {
            run_id: sub_id,
            client,
            concurrency: spec.concurrency,
            info: then,
        });
    }
    // The judge is fitted afresh for every report, so a resumed run may
    // turn it on or off.
    info.judge = options.judge.is_some();
    let therapies = info.prompt_versions.keys().copied().collect();
    Ok(Prepared {
        info,
        therapies,
        models,
    })
}

/// A resumed run must ask the same model the same way, or its report would
/// mix two models under one name. (The server's address may change between
/// restarts; the model and sampling may not.)
fn check_same_model(then: &ModelInfo, now: &ModelInfo) -> Result<(), String> {
    if (then.model.as_str(), then.llm_seed) != (now.model.as_str(), now.llm_seed) {
        return Err(format!(
            "model {} used {} (seed {:?}); set LLM_MODEL and LLM_SEED (or the models file) as then",
            then.name, then.model, then.llm_seed
        ));
    }
    if (then.temperature, then.top_p) != (now.temperature, now.top_p) {
        return Err(format!(
            "model {} used temperature {} and top_p {}; set LLM_TEMPERATURE and LLM_TOP_P as then",
            then.name, then.temperature, then.top_p
        ));
    }
    Ok(())
}

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| PathBuf::from(path))
        .display()
        .to_string()
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("serializable")
}
