//! Local sentence embeddings: all-MiniLM-L6-v2 on candle's CPU backend.
//!
//! The crisis classifier scores messages by their embedding, so this must
//! reproduce sentence-transformers' output for the model (mean of the last
//! hidden states over the real tokens, L2-normalised) without a Python
//! runtime or a network. The files come from `scripts/embed-model.sh`;
//! `tests/embed_model.rs` checks the vectors against an independent numpy
//! forward pass (`scripts/embed_reference.py`).
//!
//! [`Embedder`] is synchronous and CPU-bound; async code goes through
//! [`EmbedWorker`], which owns the model on a thread of its own.

mod batch;
pub mod cache;
mod error;
mod worker;

pub use error::EmbedError;
pub use worker::EmbedWorker;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::Path;
use tokenizers::{Tokenizer, TruncationParams};

/// Tokens kept per text, [CLS] and [SEP] included. The model was trained on
/// 128-token inputs; sentence-transformers' default of 256 would double the
/// cost of long posts, which the classifier scores sentence by sentence
/// anyway. Texts up to this length embed exactly as in sentence-transformers.
pub const MAX_TOKENS: usize = 128;

/// Length of every embedding.
pub const DIM: usize = 384;

/// Padded tokens per forward pass. This bounds the activations of one pass
/// (the feed-forward layer and the attention scores take about 6 MB each at
/// this size; with allocator slack the bot stays within the weights plus
/// ~20 MB), and on two cores larger passes are no faster per token.
const TOKEN_BUDGET: usize = 1024;

const CONFIG_FILE: &str = "config.json";
const TOKENIZER_FILE: &str = "tokenizer.json";
/// The weights file, whose identity keys caches of embeddings.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// The model and its tokenizer, ready to embed on the calling thread.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    pad_id: u32,
}

impl Embedder {
    /// Loads the three model files from `dir` (as laid out by
    /// `scripts/embed-model.sh`). The weights are copied into tensors and
    /// the file mapping is released before this returns, so the model costs
    /// its weights in memory, once.
    pub fn load(dir: &Path) -> Result<Embedder, EmbedError> {
        if !dir.is_dir() {
            return Err(EmbedError::ModelMissing {
                dir: dir.to_path_buf(),
            });
        }
        let config = load_config(dir)?;
        let tokenizer = load_tokenizer(dir)?;
        let model = load_weights(dir, &config)?;
        let pad_id = u32::try_from(config.pad_token_id)
            .map_err(|e| EmbedError::unreadable(dir, CONFIG_FILE, e))?;
        Ok(Embedder {
            model,
            tokenizer,
            pad_id,
        })
    }

    /// One unit-length [`DIM`]-vector per text, in input order.
    ///
    /// Texts are cut to [`MAX_TOKENS`] tokens and embedded in sub-batches of
    /// similar length, so a long text does not make short ones pay for its
    /// padding; a text gets the same vector (to float rounding) whatever
    /// else is in the call.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenize(e.to_string()))?;
        let lengths: Vec<usize> = encodings.iter().map(|e| e.len()).collect();
        let mut vectors = vec![Vec::new(); texts.len()];
        for group in batch::plan(&lengths, TOKEN_BUDGET) {
            let ids: Vec<&[u32]> = group.iter().map(|&i| encodings[i].get_ids()).collect();
            let pooled = self.forward(&ids).map_err(EmbedError::inference)?;
            for (i, vector) in group.into_iter().zip(pooled) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    /// One forward pass over token sequences padded to the longest, then
    /// mean pooling over the real tokens and L2 normalisation.
    fn forward(&self, ids: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let width = ids.iter().map(|seq| seq.len()).max().unwrap_or(0);
        let mut input = Vec::with_capacity(ids.len() * width);
        let mut mask = Vec::with_capacity(ids.len() * width);
        for seq in ids {
            input.extend_from_slice(seq);
            input.resize(input.len() + width - seq.len(), self.pad_id);
            mask.extend((0..width).map(|t| u32::from(t < seq.len())));
        }
        let device = &self.model.device;
        let input = Tensor::from_vec(input, (ids.len(), width), device)?;
        let mask = Tensor::from_vec(mask, (ids.len(), width), device)?;
        let hidden = self
            .model
            .forward(&input, &input.zeros_like()?, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let mean = hidden
            .broadcast_mul(&mask)?
            .sum(1)?
            .broadcast_div(&mask.sum(1)?)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        mean.broadcast_div(&norm)?.to_vec2()
    }
}

fn load_config(dir: &Path) -> Result<Config, EmbedError> {
    let unreadable = |e: &dyn std::fmt::Display| EmbedError::unreadable(dir, CONFIG_FILE, e);
    let text = std::fs::read_to_string(dir.join(CONFIG_FILE)).map_err(|e| unreadable(&e))?;
    let config: Config = serde_json::from_str(&text).map_err(|e| unreadable(&e))?;
    if config.hidden_size != DIM {
        let found = format!(
            "hidden_size {} where {DIM} was expected",
            config.hidden_size
        );
        return Err(unreadable(&found));
    }
    Ok(config)
}

/// The tokenizer with our cap and without the fixed 128-token padding that
/// tokenizer.json asks for: padding is done per sub-batch in `forward`.
fn load_tokenizer(dir: &Path) -> Result<Tokenizer, EmbedError> {
    let unreadable = |e: &dyn std::fmt::Display| EmbedError::unreadable(dir, TOKENIZER_FILE, e);
    let mut tokenizer =
        Tokenizer::from_file(dir.join(TOKENIZER_FILE)).map_err(|e| unreadable(&e))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MAX_TOKENS,
            ..TruncationParams::default()
        }))
        .map_err(|e| unreadable(&e))?;
    Ok(tokenizer)
}

fn load_weights(dir: &Path, config: &Config) -> Result<BertModel, EmbedError> {
    let path = dir.join(WEIGHTS_FILE);
    let unreadable = |e: candle_core::Error| EmbedError::unreadable(dir, WEIGHTS_FILE, e);
    // SAFETY: the map is read only while `BertModel::load` copies each
    // tensor out of it, and the file lives in the bot's own cache, written
    // once by scripts/embed-model.sh; nothing truncates it during that copy.
    let weights =
        unsafe { VarBuilder::from_mmaped_safetensors(&[&path], DType::F32, &Device::Cpu) }
            .map_err(unreadable)?;
    // `load` takes the builder by value; the map is unmapped when it returns.
    BertModel::load(weights, config).map_err(unreadable)
}
