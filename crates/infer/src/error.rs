//! The errors of model loading and inference. Each message names the file,
//! the field or tensor, and what was expected, on one line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable GGUF file ({reason})")]
    BadGguf { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    BadWeights { path: PathBuf, reason: String },
    #[error("{path}: file is truncated: tensor `{tensor}` needs bytes up to {needed} but the file has {actual}")]
    Truncated {
        path: PathBuf,
        tensor: String,
        needed: u64,
        actual: u64,
    },
    #[error("{path}: architecture `{arch}` is not supported (supported: {supported})")]
    UnsupportedArch {
        path: PathBuf,
        arch: String,
        supported: String,
    },
    #[error("{path}: metadata `{key}` is missing or not {expected}")]
    Metadata {
        path: PathBuf,
        key: String,
        expected: &'static str,
    },
    #[error("{path}: tensor `{name}` is missing")]
    MissingTensor { path: PathBuf, name: String },
    #[error("{path}: tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    TensorShape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },
    #[error("{path}: tokenizer: {reason}")]
    Tokenizer { path: PathBuf, reason: String },
    #[error("chat template: {0}")]
    Template(String),
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error("the prompt is {tokens} tokens but the model's context window is {context} tokens (at most {max} prompt tokens leave room to generate)", max = context - 1)]
    PromptTooLong { tokens: usize, context: usize },
    #[error("{0}")]
    Resolve(String),
    #[error("tensor computation failed: {}", first_line(.0))]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, ModelError>;

/// The first line of an error's message (candle appends backtraces).
pub fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}
