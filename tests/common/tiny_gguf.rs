//! Writes tiny random-weight Llama GGUF files (byte-level vocabulary, fixed
//! seed) so tests can exercise every weight format and every load error
//! without a real checkpoint.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

pub const D_MODEL: usize = 256;
pub const N_HEADS: usize = 4;
pub const N_KV_HEADS: usize = 2;
pub const HEAD_DIM: usize = 64;
pub const D_FF: usize = 512;
pub const N_LAYERS: usize = 2;

/// The model's sizes (the constants above by default; the fuzz seeds use
/// smaller ones). Quantized formats need widths in multiples of 32.
#[derive(Clone, Copy)]
pub struct Dims {
    pub d_model: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub d_ff: usize,
    pub n_layers: usize,
}

impl Default for Dims {
    fn default() -> Self {
        Self {
            d_model: D_MODEL,
            n_heads: N_HEADS,
            n_kv_heads: N_KV_HEADS,
            head_dim: HEAD_DIM,
            d_ff: D_FF,
            n_layers: N_LAYERS,
        }
    }
}

/// What to write, and what to get wrong on purpose.
#[derive(Clone)]
pub struct TinySpec {
    pub dims: Dims,
    pub architecture: String,
    /// Format of the matrices (norms are always F32).
    pub dtype: GgmlDType,
    pub context_length: u32,
    /// A tensor left out of the file.
    pub omit_tensor: Option<String>,
    /// A tensor written with a wrong shape.
    pub misshape_tensor: Option<String>,
    /// Metadata written in place of (or besides) the usual values.
    pub metadata: Vec<(String, Value)>,
}

impl Default for TinySpec {
    fn default() -> Self {
        Self {
            dims: Dims::default(),
            architecture: "llama".into(),
            dtype: GgmlDType::F32,
            context_length: 64,
            omit_tensor: None,
            misshape_tensor: None,
            metadata: Vec::new(),
        }
    }
}

/// GPT-2's byte-to-character table: printable bytes map to themselves, the
/// rest to code points from 256 up.
pub fn byte_tokens() -> Vec<String> {
    let mut out = vec![String::new(); 256];
    let mut next = 256u32;
    for b in 0..256u32 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let c = if printable {
            char::from_u32(b).unwrap()
        } else {
            let c = char::from_u32(next).unwrap();
            next += 1;
            c
        };
        out[b as usize] = c.to_string();
    }
    out
}

/// Vocabulary: 256 byte tokens, "ab" (from the one merge), and two control
/// tokens, `<|im_start|>` and `<|im_end|>` (end of turn).
pub fn vocab() -> (Vec<String>, Vec<i32>) {
    let mut tokens = byte_tokens();
    let mut types = vec![1; 256];
    tokens.push("ab".into());
    types.push(1);
    tokens.push("<|im_start|>".into());
    types.push(3);
    tokens.push("<|im_end|>".into());
    types.push(3);
    (tokens, types)
}

/// Deterministic pseudo-random values in [-scale, scale).
fn random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
            (unit * 2.0 - 1.0) * scale
        })
        .collect()
}

fn matrix(rows: usize, cols: usize, seed: u64, dtype: GgmlDType) -> QTensor {
    let scale = 1.0 / (cols as f32).sqrt() * 1.7;
    let t = Tensor::from_vec(random(rows * cols, seed, scale), (rows, cols), &Device::Cpu).unwrap();
    QTensor::quantize(&t, dtype).unwrap()
}

fn norm(width: usize, seed: u64) -> QTensor {
    let values: Vec<f32> = random(width, seed, 0.2).iter().map(|v| 1.0 + v).collect();
    let t = Tensor::from_vec(values, width, &Device::Cpu).unwrap();
    QTensor::quantize(&t, GgmlDType::F32).unwrap()
}

/// Writes the tiny model described by `spec` to `path`.
pub fn write(path: &Path, spec: &TinySpec) {
    let Dims {
        d_model,
        n_heads,
        n_kv_heads,
        head_dim,
        d_ff,
        n_layers,
    } = spec.dims;
    let (tokens, types) = vocab();
    let vocab_size = tokens.len();
    let a = format!("{}.", spec.architecture);
    let mut meta: Vec<(String, Value)> = vec![
        (
            "general.architecture".into(),
            Value::String(spec.architecture.clone()),
        ),
        ("general.name".into(), Value::String("tiny".into())),
        (a.clone() + "block_count", Value::U32(n_layers as u32)),
        (
            a.clone() + "context_length",
            Value::U32(spec.context_length),
        ),
        (a.clone() + "embedding_length", Value::U32(d_model as u32)),
        (a.clone() + "feed_forward_length", Value::U32(d_ff as u32)),
        (
            a.clone() + "attention.head_count",
            Value::U32(n_heads as u32),
        ),
        (
            a.clone() + "attention.head_count_kv",
            Value::U32(n_kv_heads as u32),
        ),
        (a.clone() + "rope.freq_base", Value::F32(10000.0)),
        (
            a.clone() + "attention.layer_norm_rms_epsilon",
            Value::F32(1e-5),
        ),
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("smollm".into())),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(tokens.iter().map(|t| Value::String(t.clone())).collect()),
        ),
        (
            "tokenizer.ggml.token_type".into(),
            Value::Array(types.iter().map(|&t| Value::I32(t)).collect()),
        ),
        (
            "tokenizer.ggml.merges".into(),
            Value::Array(vec![Value::String("a b".into())]),
        ),
        (
            "tokenizer.ggml.eos_token_id".into(),
            Value::U32(vocab_size as u32 - 1),
        ),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(false)),
    ];
    meta.push((
        "tokenizer.chat_template".into(),
        Value::String(
            "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}\
             {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
                .into(),
        ),
    ));
    for (key, value) in &spec.metadata {
        meta.retain(|(k, _)| k != key);
        meta.push((key.clone(), value.clone()));
    }
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut seed = 1;
    let mut add = |name: String, rows: usize, cols: usize, dtype: GgmlDType| {
        seed += 1;
        tensors.push((name, matrix(rows, cols, seed, dtype)));
    };
    add("token_embd.weight".into(), vocab_size, d_model, spec.dtype);
    for l in 0..n_layers {
        let p = |n: &str| format!("blk.{l}.{n}.weight");
        add(p("attn_q"), n_heads * head_dim, d_model, spec.dtype);
        add(p("attn_k"), n_kv_heads * head_dim, d_model, spec.dtype);
        add(p("attn_v"), n_kv_heads * head_dim, d_model, spec.dtype);
        add(p("attn_output"), d_model, n_heads * head_dim, spec.dtype);
        add(p("ffn_gate"), d_ff, d_model, spec.dtype);
        add(p("ffn_up"), d_ff, d_model, spec.dtype);
        add(p("ffn_down"), d_model, d_ff, spec.dtype);
    }
    for l in 0..n_layers {
        tensors.push((
            format!("blk.{l}.attn_norm.weight"),
            norm(d_model, 100 + l as u64),
        ));
        tensors.push((
            format!("blk.{l}.ffn_norm.weight"),
            norm(d_model, 200 + l as u64),
        ));
    }
    tensors.push(("output_norm.weight".into(), norm(d_model, 300)));
    if let Some(name) = &spec.misshape_tensor {
        let slot = tensors
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("tensor to misshape");
        slot.1 = matrix(d_model, d_model, 999, GgmlDType::F32);
    }
    tensors.retain(|(n, _)| Some(n) != spec.omit_tensor.as_ref());
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut file = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut file, &meta_refs, &tensor_refs).unwrap();
}
