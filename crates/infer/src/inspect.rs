//! Describing a model file or checkpoint folder from its headers alone
//! (no weights are loaded): architecture, parameter count, storage types,
//! context length, chat template and tokenizer source.

use std::collections::BTreeMap;
use std::path::Path;

use super::arch::hf::{weight_files, HfConfig};
use super::error::Result;
use super::gguf::GgufFile;
use super::printable::printable;
use super::tokenizer::HfTokenizerConfig;

#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    pub format: &'static str,
    pub architecture: String,
    pub parameters: u64,
    /// Storage type -> number of tensors, e.g. {"Q4_1": 210, "F32": 61}.
    pub dtypes: BTreeMap<String, usize>,
    pub context_length: Option<usize>,
    pub chat_template: bool,
    pub tokenizer: String,
    pub bytes: u64,
}

pub fn describe(path: &Path) -> Result<Description> {
    if path.is_dir() {
        describe_hf(path)
    } else {
        describe_gguf(path)
    }
}

fn describe_gguf(path: &Path) -> Result<Description> {
    let file = GgufFile::open(path)?;
    let arch = file.string("general.architecture")?.to_string();
    let mut dtypes = BTreeMap::new();
    let mut parameters = 0u64;
    for (dtype, elems) in file.tensor_summary() {
        *dtypes.entry(dtype).or_insert(0) += 1;
        parameters += elems as u64;
    }
    Ok(Description {
        format: "GGUF",
        context_length: file
            .opt_u32(&format!("{arch}.context_length"))
            .map(|n| n as usize),
        chat_template: file.opt_string("tokenizer.chat_template").is_some(),
        tokenizer: printable(&format!(
            "GGUF vocabulary ({}, pre-tokenizer {})",
            file.opt_string("tokenizer.ggml.model").unwrap_or("none"),
            file.opt_string("tokenizer.ggml.pre").unwrap_or("default")
        )),
        bytes: file.size_bytes(),
        architecture: printable(&arch),
        parameters,
        dtypes,
    })
}

fn describe_hf(folder: &Path) -> Result<Description> {
    let config = HfConfig::read(folder)?;
    let files = weight_files(folder)?;
    let tensors = super::weights::map_safetensors(&files)?;
    let mut dtypes = BTreeMap::new();
    let mut parameters = 0u64;
    for (_, view) in tensors.tensors() {
        *dtypes.entry(format!("{:?}", view.dtype())).or_insert(0) += 1;
        parameters += view.shape().iter().product::<usize>() as u64;
    }
    let tok_config = HfTokenizerConfig::read(folder)?;
    let tokenizer = if folder.join("tokenizer.json").exists() {
        "tokenizer.json"
    } else if folder.join("vocab.json").exists() {
        "vocab.json + merges.txt"
    } else {
        "missing"
    };
    Ok(Description {
        format: "safetensors",
        architecture: printable(&config.architecture()?),
        parameters,
        dtypes,
        context_length: match config.opt_usize("max_position_embeddings")? {
            Some(n) => Some(n),
            None => config.opt_usize("n_positions")?,
        },
        chat_template: tok_config.chat_template.is_some(),
        tokenizer: tokenizer.into(),
        bytes: files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum(),
    })
}
