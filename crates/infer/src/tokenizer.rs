//! Tokenizers built from a GGUF's own vocabulary and merges, with the
//! pre-tokenizer its `tokenizer.ggml.pre` names, and a streaming decoder that
//! never emits half a UTF-8 character.

use std::path::Path;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use super::error::{first_line, ModelError, Result};
use super::gguf::GgufFile;

/// Llama 3's and Qwen2's splits (GPT-2's is built into `ByteLevel`).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF token types (llama.cpp's `llama_token_type`).
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// How text is split before BPE, by the family `tokenizer.ggml.pre` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizerKind {
    /// GPT-2's regex.
    Gpt2,
    /// Every digit on its own, then GPT-2's regex (StarCoder, SmolLM).
    DigitsThenGpt2,
    /// Llama 3's regex (numbers in groups of up to three).
    Llama3,
    /// Qwen2's regex (single digits), with NFC normalisation.
    Qwen2,
}

impl PreTokenizerKind {
    /// The family of a `tokenizer.ggml.pre` value, as llama.cpp groups them.
    pub(crate) fn from_gguf_name(name: &str) -> Option<Self> {
        Some(match name {
            "default" | "gpt-2" | "gpt2" | "phi-2" | "jina-es" | "jina-de" | "olmo" => Self::Gpt2,
            "starcoder" | "smollm" | "refact" | "command-r" | "codeshell" | "exaone"
            | "minerva" => Self::DigitsThenGpt2,
            "llama3" | "llama-bpe" | "falcon3" | "pixtral" | "dbrx" | "smaug-bpe" => Self::Llama3,
            "qwen2" | "deepseek-r1-qwen" | "stablelm2" | "megrez" => Self::Qwen2,
            _ => return None,
        })
    }
}

/// A tokenizer plus the facts generation needs about its special tokens.
pub struct TextTokenizer {
    inner: Tokenizer,
    bos_id: Option<u32>,
    add_bos: bool,
    eos_ids: Vec<u32>,
    /// tokenizer.json files bring a post-processor that adds BOS/EOS as the
    /// model expects; GGUF vocabularies say it with `add_bos_token`.
    post_process: bool,
}

/// What `tokenizer_config.json` says about special tokens and chat.
#[derive(Debug, Default)]
pub struct HfTokenizerConfig {
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub chat_template: Option<String>,
}

impl HfTokenizerConfig {
    /// Reads `tokenizer_config.json` in `folder` (absent: all None).
    pub fn read(folder: &Path) -> Result<Self> {
        let path = folder.join("tokenizer_config.json");
        if !path.exists() {
            return Ok(Self::default());
        }
        let json = super::arch::hf::read_json(&path)?;
        // A token is a string or {"content": "..."}.
        let token = |key: &str| match &json[key] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => o
                .get("content")
                .and_then(|c| c.as_str())
                .map(str::to_string),
            _ => None,
        };
        // The template is a string, or a list of {name, template}.
        let chat_template = match &json["chat_template"] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Array(list) => list
                .iter()
                .find(|t| t["name"] == "default")
                .or_else(|| list.first())
                .and_then(|t| t["template"].as_str())
                .map(str::to_string),
            _ => None,
        };
        Ok(Self {
            bos_token: token("bos_token"),
            eos_token: token("eos_token"),
            chat_template,
        })
    }
}

impl TextTokenizer {
    /// Builds the byte-level BPE tokenizer a GGUF describes
    /// (`tokenizer.ggml.model = "gpt2"`).
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let path = file.path();
        let fail = |reason: String| ModelError::Tokenizer {
            path: path.to_path_buf(),
            reason,
        };
        let model = file.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(fail(format!(
                "tokenizer.ggml.model `{model}` is not supported (supported: gpt2, byte-level BPE)"
            )));
        }
        let pre_name = file.opt_string("tokenizer.ggml.pre").unwrap_or("default");
        let pre = PreTokenizerKind::from_gguf_name(pre_name).unwrap_or_else(|| {
            tracing::warn!(
                "{}: unknown tokenizer.ggml.pre `{pre_name}`; using GPT-2's split",
                path.display()
            );
            PreTokenizerKind::Gpt2
        });
        let tokens = file.strings("tokenizer.ggml.tokens")?;
        let merges = file.strings("tokenizer.ggml.merges")?;
        let types = file.opt_i32s("tokenizer.ggml.token_type");
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), i as u32))
            .collect();
        let merges = merges
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| {
                        fail(format!(
                            "tokenizer.ggml.merges[{i}] = {m:?} is not two tokens separated by a space"
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let specials: Vec<&str> = match &types {
            Some(types) => tokens
                .iter()
                .zip(types)
                .filter(|(_, &ty)| ty == TOKEN_TYPE_CONTROL || ty == TOKEN_TYPE_USER_DEFINED)
                .map(|(t, _)| *t)
                .collect(),
            None => Vec::new(),
        };
        let inner = build(vocab, merges, pre, &specials).map_err(|e| fail(e.to_string()))?;
        let id_key = |key: &str| file.opt_u32(key).filter(|&id| (id as usize) < tokens.len());
        let bos_id = id_key("tokenizer.ggml.bos_token_id");
        let mut eos_ids: Vec<u32> = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"]
            .iter()
            .filter_map(|k| id_key(k))
            .collect();
        eos_ids.dedup();
        Ok(Self {
            inner,
            bos_id,
            add_bos: file
                .opt_bool("tokenizer.ggml.add_bos_token")
                .unwrap_or(false),
            eos_ids,
            post_process: false,
        })
    }

    /// Loads `tokenizer.json` from a Hugging Face checkpoint folder; end
    /// tokens come from `tokenizer_config.json` and `config.json`.
    pub fn from_hf(folder: &Path, config: &HfTokenizerConfig, extra_eos: &[u32]) -> Result<Self> {
        let path = folder.join("tokenizer.json");
        let (vocab, merges) = (folder.join("vocab.json"), folder.join("merges.txt"));
        let inner = if path.exists() {
            tokenizer_json(&path).map_err(|reason| ModelError::Tokenizer {
                path: path.clone(),
                reason,
            })?
        } else if vocab.exists() && merges.exists() {
            gpt2_from_files(&vocab, &merges).map_err(|e| ModelError::Tokenizer {
                path: vocab.clone(),
                reason: e.to_string(),
            })?
        } else {
            return Err(ModelError::Tokenizer {
                path,
                reason: "missing (a Hugging Face checkpoint needs tokenizer.json, or vocab.json and merges.txt)"
                    .into(),
            });
        };
        let id = |t: &Option<String>| t.as_deref().and_then(|t| inner.token_to_id(t));
        let mut eos_ids: Vec<u32> = id(&config.eos_token).into_iter().collect();
        for &e in extra_eos {
            if !eos_ids.contains(&e) {
                eos_ids.push(e);
            }
        }
        Ok(Self {
            bos_id: id(&config.bos_token),
            add_bos: true,
            eos_ids,
            post_process: true,
            inner,
        })
    }

    /// Token ids of `text`; special tokens written literally in the text are
    /// recognised. A BOS token is prepended when the model asks for one.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        // Chat templates often write the BOS token themselves.
        let written = self
            .bos_id
            .and_then(|id| self.inner.id_to_token(id))
            .is_some_and(|bos| text.starts_with(&bos));
        self.encode_with(text, self.add_bos && !written)
    }

    /// Token ids of `text`, with a BOS token first only when `add_bos` is
    /// set (and the model has one).
    pub fn encode_with(&self, text: &str, add_bos: bool) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, add_bos && self.post_process)
            .map_err(|e| ModelError::Tokenizer {
                path: Path::new("<tokenizer>").to_path_buf(),
                reason: format!("cannot encode: {e}"),
            })?;
        let mut ids = Vec::with_capacity(encoding.len() + 1);
        if let (true, false, Some(bos)) = (add_bos, self.post_process, self.bos_id) {
            ids.push(bos);
        }
        ids.extend_from_slice(encoding.get_ids());
        Ok(ids)
    }

    /// The text of `ids`, special tokens included; invalid UTF-8 (a character
    /// cut between tokens) shows as U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }

    /// The text of one token, for display.
    pub fn token_text(&self, id: u32) -> String {
        self.decode(&[id])
    }

    /// The tokens that end generation (end of sequence / end of turn).
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    pub(crate) fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    pub(crate) fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

/// GPT-2's original tokenizer files (`vocab.json`, `merges.txt`): byte-level
/// BPE with GPT-2's split and `<|endoftext|>` as a special token.
/// Builds a tokenizer from a `tokenizer.json`. The tokenizers library
/// panics on some malformed files, so the JSON is checked first, and a
/// panic left is turned into an error rather than taking promptlab down.
fn tokenizer_json(path: &Path) -> std::result::Result<Tokenizer, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    // Both checks first: the library panics on invalid UTF-8 in a key.
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| format!("not UTF-8 text (byte {})", e.valid_up_to()))?;
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map_err(|e| format!("not valid JSON: {}", first_line(&e)))?;
    let mut tokenizer =
        std::panic::catch_unwind(|| <Tokenizer as std::str::FromStr>::from_str(text))
            .map_err(|_| "the tokenizers library failed on this file".to_string())?
            .map_err(|e| first_line(&e))?;
    let mut model = tokenizer.get_model().clone();
    model.resize_cache(NO_WORD_CACHE);
    tokenizer.with_model(model);
    Ok(tokenizer)
}

/// The BPE word cache's size: none. The tokenizers library keeps every
/// BPE's cache in a map per thread that outlives the BPE (nothing removes
/// a dropped one's entries), so each tokenizer loaded on a thread would
/// leave up to 10,000 cached words behind for the thread's life — the
/// engine thread's, across model loads. A word is merged afresh instead
/// (microseconds).
const NO_WORD_CACHE: usize = 0;

fn gpt2_from_files(vocab: &Path, merges: &Path) -> tokenizers::Result<Tokenizer> {
    let to_str = |p: &Path| p.to_string_lossy().into_owned();
    let bpe = BPE::from_file(&to_str(vocab), &to_str(merges))
        .cache_capacity(NO_WORD_CACHE)
        .build()?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    if tokenizer.token_to_id("<|endoftext|>").is_some() {
        tokenizer.add_special_tokens(vec![AddedToken::from("<|endoftext|>", true)])?;
    }
    Ok(tokenizer)
}

fn build(
    vocab: Vocab,
    merges: Vec<(String, String)>,
    pre: PreTokenizerKind,
    specials: &[&str],
) -> tokenizers::Result<Tokenizer> {
    // Llama 3 emits a pre-token that is already a whole vocabulary entry
    // as is, without applying merges.
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .ignore_merges(pre == PreTokenizerKind::Llama3)
        .cache_capacity(NO_WORD_CACHE)
        .build()?;
    let mut tokenizer = Tokenizer::new(bpe);
    let split = |pattern: &str| -> tokenizers::Result<PreTokenizerWrapper> {
        Ok(Split::new(
            SplitPattern::Regex(pattern.to_string()),
            SplitDelimiterBehavior::Isolated,
            false,
        )?
        .into())
    };
    let pre_tokenizer: PreTokenizerWrapper = match pre {
        PreTokenizerKind::Gpt2 => ByteLevel::new(false, true, true).into(),
        PreTokenizerKind::DigitsThenGpt2 => Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])
        .into(),
        PreTokenizerKind::Llama3 => Sequence::new(vec![
            split(LLAMA3_PATTERN)?,
            ByteLevel::new(false, true, false).into(),
        ])
        .into(),
        PreTokenizerKind::Qwen2 => Sequence::new(vec![
            split(QWEN2_PATTERN)?,
            ByteLevel::new(false, true, false).into(),
        ])
        .into(),
    };
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    if pre == PreTokenizerKind::Qwen2 {
        tokenizer.with_normalizer(Some(NFC))?;
    }
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let added: Vec<AddedToken> = specials
        .iter()
        .map(|s| AddedToken::from(s.to_string(), true))
        .collect();
    tokenizer.add_special_tokens(added)?;
    Ok(tokenizer)
}

/// Turns a stream of token ids into text deltas, holding back bytes until
/// they form whole UTF-8 characters.
pub struct StreamDecoder<'a> {
    tokenizer: &'a TextTokenizer,
    ids: Vec<u32>,
    /// Start of the window decoded for context (so merges at the boundary
    /// decode as they would in the full text).
    prefix_offset: usize,
    /// End of the ids whose text has been emitted.
    read_offset: usize,
}

impl<'a> StreamDecoder<'a> {
    pub fn new(tokenizer: &'a TextTokenizer) -> Self {
        Self {
            tokenizer,
            ids: Vec::new(),
            prefix_offset: 0,
            read_offset: 0,
        }
    }

    /// Adds one token; returns the new text it completes ("" while a
    /// character is still incomplete).
    pub fn push(&mut self, id: u32) -> String {
        self.ids.push(id);
        let prefix = self
            .tokenizer
            .decode(&self.ids[self.prefix_offset..self.read_offset]);
        let text = self.tokenizer.decode(&self.ids[self.prefix_offset..]);
        if text.len() > prefix.len() && !text.ends_with('\u{FFFD}') {
            let delta = text.get(prefix.len()..).unwrap_or_default().to_string();
            self.prefix_offset = self.read_offset;
            self.read_offset = self.ids.len();
            delta
        } else {
            String::new()
        }
    }

    /// The text still held back (an incomplete character at the end of the
    /// stream), decoded lossily.
    pub fn finish(&mut self) -> String {
        let prefix = self
            .tokenizer
            .decode(&self.ids[self.prefix_offset..self.read_offset]);
        let text = self.tokenizer.decode(&self.ids[self.prefix_offset..]);
        self.prefix_offset = self.ids.len();
        self.read_offset = self.ids.len();
        text.get(prefix.len()..).unwrap_or_default().to_string()
    }
}
