//! The errors of model loading and inference. Each message names the file,
//! the field or tensor, and what was expected, on one line.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable GGUF file ({})", shown(reason))]
    BadGguf { path: PathBuf, reason: String },
    #[error("{path}: {}", shown(reason))]
    BadWeights { path: PathBuf, reason: String },
    #[error("{path}: file is truncated: tensor `{}` needs bytes up to {needed} but the file has {actual}", shown(tensor))]
    Truncated {
        path: PathBuf,
        tensor: String,
        needed: u64,
        actual: u64,
    },
    #[error(
        "{path}: architecture `{}` is not supported (supported: {supported})",
        shown(arch)
    )]
    UnsupportedArch {
        path: PathBuf,
        arch: String,
        supported: String,
    },
    #[error("{path}: metadata `{}` is missing or not {expected}", shown(key))]
    Metadata {
        path: PathBuf,
        key: String,
        expected: &'static str,
    },
    #[error("{path}: tensor `{}` is missing", shown(name))]
    MissingTensor { path: PathBuf, name: String },
    #[error(
        "{path}: tensor `{}` has shape {actual:?}, expected {expected:?}",
        shown(name)
    )]
    TensorShape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        actual: Vec<usize>,
    },
    #[error("{path}: tokenizer: {}", shown(reason))]
    Tokenizer { path: PathBuf, reason: String },
    #[error("chat template: {0}")]
    Template(String),
    #[error("token id {id} is outside the model's vocabulary of {vocab}")]
    TokenOutOfRange { id: u32, vocab: usize },
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error("the prompt is {tokens} tokens but the model's context window is {context} tokens (at most {max} prompt tokens leave room to generate)", max = context.saturating_sub(1))]
    PromptTooLong { tokens: usize, context: usize },
    #[error("{folder}: no weights (expected model.safetensors, model.safetensors.index.json or a .gguf file)")]
    NoWeights { folder: PathBuf },
    #[error("{0}")]
    Capture(String),
    #[error("tensor computation failed: {}", first_line(.0))]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, ModelError>;

impl ModelError {
    /// A chat-template error as the error of the file it came from.
    pub(crate) fn in_file(self, path: &Path) -> ModelError {
        match self {
            ModelError::Template(reason) => {
                ModelError::Template(format!("{}: {reason}", path.display()))
            }
            other => other,
        }
    }
}

/// Text from a file or a library as an error shows it: control characters
/// (a line break in a tensor name) written as `\u{…}`, and at most
/// [`MAX_QUOTED`] characters.
fn shown(text: &str) -> String {
    let printable = crate::printable::printable(text);
    match printable.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &printable[..cut]),
        None => printable,
    }
}

/// The first line of an error's message (candle appends backtraces).
pub fn first_line(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    // A library's message may quote the file (a key, a name) at any length.
    match line.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

/// The most characters of another library's message an error repeats.
const MAX_QUOTED: usize = 300;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_error_names_its_file_once() {
        let e = ModelError::Template("cannot compile: bad".into()).in_file(Path::new("m.gguf"));
        assert_eq!(e.to_string(), "chat template: m.gguf: cannot compile: bad");
    }
}
