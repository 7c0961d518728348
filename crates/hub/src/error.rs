//! The errors of model resolution, each one line naming the spec, file or
//! repository and what was expected.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A spec that names nothing found, or a file that is not what it should be.
    #[error("{0}")]
    Resolve(String),
    #[error(transparent)]
    Model(#[from] promptlab_infer::error::ModelError),
}

pub type Result<T> = std::result::Result<T, HubError>;
