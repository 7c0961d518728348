//! The image lab's errors: each names the file or field and what was
//! expected, in one line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    #[error("{dataset} is not in {folder} (run `promptlab images data fetch`)")]
    MissingDataset {
        dataset: &'static str,
        folder: PathBuf,
    },
    #[error("{}: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Checkpoint { path: PathBuf, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fetching {dataset}: {reason}")]
    Fetch {
        dataset: &'static str,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("stopped")]
    Stopped,
    #[error("tensor computation: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, ImagesError>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ImagesError + '_ {
    move |source| ImagesError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn corrupt(path: &std::path::Path, reason: impl Into<String>) -> ImagesError {
    ImagesError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
