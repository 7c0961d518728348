//! Inference on candle: loading model files, tokenizing, the forward pass,
//! sampling and generation. Nothing here knows about the terminal UI.

pub mod arch;
pub mod attention;
pub mod capture;
pub mod chat_template;
pub mod error;
pub mod fsutil;
pub mod generate;
pub mod gguf;
mod gguf_check;
pub mod inspect;
pub mod kernels;
pub mod kv_cache;
pub mod lens;
pub mod prefix_cache;
pub mod printable;
pub mod sampling;
mod tensors;
pub mod tokenizer;
mod weights;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use arch::hf::HfConfig;
use arch::{Architecture, Logits};
use attention::AttentionMaps;
use chat_template::{ChatTemplate, Message};
use error::{ModelError, Result};
use gguf::GgufFile;
use kv_cache::KvCache;
use tensors::{GgufSource, SafetensorsSource};
use tokenizer::TextTokenizer;

/// How weight matrices are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// As stored in the file: Q4_0, Q4_1, Q8_0 and F16 weights stay as
    /// stored (repacked for the kernels), other formats become f32;
    /// activations are f32 either way (small, fast, not rounded).
    #[default]
    Stored,
    /// Every matrix expanded to f32: the same answers as `Stored` to float
    /// rounding, several times the memory, slower decode.
    F32,
}

/// What a loaded model is, for status lines and `done` events.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub name: String,
    pub architecture: String,
    pub n_layers: usize,
    pub n_heads: usize,
    pub context_length: usize,
    pub file_bytes: u64,
    /// The system prompt the chat template puts in when the conversation has
    /// none (SmolLM2's does), if it does.
    pub default_system: Option<String>,
}

/// A model ready to run: weights, tokenizer and chat template.
pub struct LoadedModel {
    pub arch: Architecture,
    pub tokenizer: TextTokenizer,
    pub chat_template: Option<ChatTemplate>,
    pub info: ModelInfo,
    /// Positions run through the forward pass so far (all caches).
    positions: std::sync::atomic::AtomicU64,
}

impl LoadedModel {
    /// Loads a GGUF file on the CPU, weights kept in their stored format.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with(path, Precision::Stored)
    }

    pub fn load_with(path: &Path, precision: Precision) -> Result<Self> {
        if path.is_dir() {
            return Self::load_hf(path);
        }
        if path
            .extension()
            .is_some_and(|e| e == "safetensors" || e == "json")
        {
            return Self::load_hf(path.parent().unwrap_or(Path::new(".")));
        }
        let device = Device::Cpu;
        let file = GgufFile::open(path)?;
        let arch_name = printable::printable(file.string("general.architecture")?);
        let source = GgufSource {
            file: &file,
            device: device.clone(),
            dequantize: precision == Precision::F32,
        };
        let arch = match arch_name.as_str() {
            "llama" | "qwen2" => Architecture::Llama(arch::llama::Llama::load(
                arch::llama::LlamaConfig::from_gguf(&file, &arch_name)?,
                &source,
                &device,
            )?),
            other => {
                return Err(ModelError::UnsupportedArch {
                    path: path.to_path_buf(),
                    arch: printable::printable(other),
                    supported: arch::SUPPORTED_GGUF.join(", "),
                })
            }
        };
        let tokenizer = TextTokenizer::from_gguf(&file)?;
        let token = |id: Option<u32>| {
            id.and_then(|id| tokenizer.id_to_token(id))
                .unwrap_or_default()
        };
        let chat_template = match file.opt_string("tokenizer.chat_template") {
            Some(source) => Some(
                ChatTemplate::new(
                    source,
                    &token(tokenizer.bos_id()),
                    &token(tokenizer.eos_ids().first().copied()),
                )
                .map_err(|e| e.in_file(path))?,
            ),
            None => None,
        };
        Ok(Self::assemble(
            path,
            arch_name,
            arch,
            tokenizer,
            chat_template,
            file.size_bytes(),
        ))
    }

    /// Loads a Hugging Face checkpoint folder (config.json, safetensors,
    /// tokenizer.json, tokenizer_config.json).
    pub(crate) fn load_hf(folder: &Path) -> Result<Self> {
        let device = Device::Cpu;
        let config = HfConfig::read(folder)?;
        let arch_name = config.architecture()?;
        let files = arch::hf::weight_files(folder)?;
        let arch = match arch_name.as_str() {
            "LlamaForCausalLM" | "llama" | "Qwen2ForCausalLM" | "qwen2" => {
                let cfg = arch::llama::LlamaConfig::from_hf(&config)?;
                let source =
                    SafetensorsSource::open(folder, &files, arch::hf::llama_hf_name, |_| false)?;
                Architecture::Llama(arch::llama::Llama::load(cfg, &source, &device)?)
            }
            "GPT2LMHeadModel" | "gpt2" => {
                let cfg = arch::gpt2::Gpt2Config::from_hf(&config)?;
                let source =
                    SafetensorsSource::open(folder, &files, str::to_string, arch::gpt2::is_conv1d)?;
                Architecture::Gpt2(arch::gpt2::Gpt2::load(cfg, &source, &device)?)
            }
            other => {
                return Err(ModelError::UnsupportedArch {
                    path: config.path().to_path_buf(),
                    arch: printable::printable(other),
                    supported: arch::SUPPORTED_HF.join(", "),
                })
            }
        };
        let tok_config = tokenizer::HfTokenizerConfig::read(folder)?;
        let tokenizer = TextTokenizer::from_hf(folder, &tok_config, &config.eos_ids())?;
        let chat_template = match &tok_config.chat_template {
            Some(source) => Some(
                ChatTemplate::new(
                    source,
                    tok_config.bos_token.as_deref().unwrap_or(""),
                    tok_config.eos_token.as_deref().unwrap_or(""),
                )
                .map_err(|e| e.in_file(folder))?,
            ),
            None => None,
        };
        let bytes = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        Ok(Self::assemble(
            folder,
            arch_name,
            arch,
            tokenizer,
            chat_template,
            bytes,
        ))
    }

    fn assemble(
        path: &Path,
        arch_name: String,
        arch: Architecture,
        tokenizer: TextTokenizer,
        chat_template: Option<ChatTemplate>,
        file_bytes: u64,
    ) -> Self {
        let info = ModelInfo {
            path: path.to_path_buf(),
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            architecture: arch_name,
            n_layers: arch.n_layers(),
            n_heads: arch.n_heads(),
            context_length: arch.context_length(),
            file_bytes,
            default_system: chat_template
                .as_ref()
                .and_then(ChatTemplate::default_system),
        };
        Self {
            arch,
            tokenizer,
            chat_template,
            info,
            positions: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many positions this model has computed, over every forward pass:
    /// what a reused prefix saves.
    pub fn positions_computed(&self) -> u64 {
        self.positions.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn context_length(&self) -> usize {
        self.info.context_length
    }

    /// Bytes the weights take in memory.
    pub fn weight_bytes(&self) -> usize {
        self.arch.weight_bytes()
    }

    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.info.n_layers)
    }

    pub fn new_attention_maps(&self) -> AttentionMaps {
        match self.arch.vector_widths() {
            Some(widths) => {
                AttentionMaps::with_vectors(self.info.n_layers, self.info.n_heads, widths)
            }
            None => AttentionMaps::new(self.info.n_layers, self.info.n_heads),
        }
    }

    /// Logits (t', vocab) for `tokens` appended to `cache`; see [`Logits`].
    pub fn forward(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        capture: Option<&mut AttentionMaps>,
        which: Logits,
    ) -> Result<Tensor> {
        let logits = self.arch.forward(tokens, cache, capture, which)?;
        self.positions
            .fetch_add(tokens.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(logits)
    }

    /// The prompt text for a conversation through the model's chat template.
    pub fn render_chat(&self, messages: &[Message]) -> Result<String> {
        let template = self.chat_template.as_ref().ok_or_else(|| {
            ModelError::Template(format!(
                "{} has no chat template (tokenizer.chat_template); use a raw prompt instead",
                self.info.path.display()
            ))
        })?;
        template.render(messages, true)
    }
}
