//! The Llama-family forward pass (SmolLM/SmolLM2, TinyLlama, Llama): RMSNorm,
//! rotary positions, grouped-query attention with an optional attention
//! capture, SwiGLU MLP, tied or separate LM head. Weights stay quantized.

use candle_core::quantized::QMatMul;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::ops::{rms_norm, silu};
use candle_nn::rotary_emb::{rope, rope_i};

use crate::attention::AttentionMaps;
use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::tensors::TensorSource;

use super::common::{attend, causal_mask, check_fits, select_positions};
use crate::kv_cache::KvCache;

/// How the rotary embedding pairs dimensions: GGUF stores Q/K permuted for
/// rotating adjacent pairs; Hugging Face checkpoints rotate the two halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeLayout {
    Interleaved,
    HalfSplit,
}

#[derive(Debug, Clone)]
pub struct LlamaConfig {
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub d_model: usize,
    pub head_dim: usize,
    pub d_ff: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    pub rope_base: f32,
    pub rms_eps: f32,
    pub rope_layout: RopeLayout,
}

impl LlamaConfig {
    /// Reads the `{arch}.*` hyper-parameters of a GGUF file (`llama`,
    /// `qwen2`).
    pub fn from_gguf(file: &GgufFile, arch: &str) -> Result<Self> {
        let key = |k: &str| format!("{arch}.{k}");
        let n_heads = file.u32(&key("attention.head_count"))? as usize;
        let d_model = file.u32(&key("embedding_length"))? as usize;
        let n_kv_heads = file
            .opt_u32(&key("attention.head_count_kv"))
            .map_or(n_heads, |v| v as usize);
        let head_dim = file
            .opt_u32(&key("rope.dimension_count"))
            .map_or(d_model / n_heads.max(1), |v| v as usize);
        let vocab_size = match file.opt_u32(&key("vocab_size")) {
            Some(v) => v as usize,
            None => file.strings("tokenizer.ggml.tokens")?.len(),
        };
        let cfg = Self {
            n_layers: file.u32(&key("block_count"))? as usize,
            n_heads,
            n_kv_heads,
            d_model,
            head_dim,
            d_ff: file.u32(&key("feed_forward_length"))? as usize,
            vocab_size,
            context_length: file.u32(&key("context_length"))? as usize,
            rope_base: file.opt_f32(&key("rope.freq_base")).unwrap_or(10_000.0),
            rms_eps: file.f32(&key("attention.layer_norm_rms_epsilon"))?,
            // llama.cpp permutes Llama's Q/K for adjacent-pair rotation;
            // Qwen2 keeps the half-split layout.
            rope_layout: if arch == "llama" {
                RopeLayout::Interleaved
            } else {
                RopeLayout::HalfSplit
            },
        };
        cfg.check(file.path())?;
        Ok(cfg)
    }

    /// Reads a Hugging Face `config.json` (Llama, Qwen2).
    pub fn from_hf(config: &super::hf::HfConfig) -> Result<Self> {
        let n_heads = config.usize("num_attention_heads")?;
        let d_model = config.usize("hidden_size")?;
        let cfg = Self {
            n_layers: config.usize("num_hidden_layers")?,
            n_heads,
            n_kv_heads: config.opt_usize("num_key_value_heads")?.unwrap_or(n_heads),
            d_model,
            head_dim: config
                .opt_usize("head_dim")?
                .unwrap_or(d_model / n_heads.max(1)),
            d_ff: config.usize("intermediate_size")?,
            vocab_size: config.usize("vocab_size")?,
            context_length: config.usize("max_position_embeddings")?,
            rope_base: config.opt_f64("rope_theta")?.unwrap_or(10_000.0) as f32,
            rms_eps: config.opt_f64("rms_norm_eps")?.unwrap_or(1e-6) as f32,
            rope_layout: RopeLayout::HalfSplit,
        };
        cfg.check(config.path())?;
        Ok(cfg)
    }

    fn check(&self, path: &std::path::Path) -> Result<()> {
        let cfg = self;
        if cfg.n_heads == 0 || cfg.n_kv_heads == 0 || !cfg.n_heads.is_multiple_of(cfg.n_kv_heads) {
            return Err(ModelError::Metadata {
                path: path.to_path_buf(),
                key: "key/value head count".into(),
                expected: "a non-zero divisor of the head count",
            });
        }
        if !cfg.head_dim.is_multiple_of(2) || cfg.head_dim == 0 {
            return Err(ModelError::Metadata {
                path: path.to_path_buf(),
                key: "head dimension".into(),
                expected: "an even, non-zero head dimension",
            });
        }
        Ok(())
    }
}

struct Block {
    attn_norm: Tensor, // (d_model)
    wq: QMatMul,       // (heads * head_dim, d_model)
    wk: QMatMul,       // (kv_heads * head_dim, d_model)
    wv: QMatMul,       // (kv_heads * head_dim, d_model)
    wo: QMatMul,       // (d_model, heads * head_dim)
    /// Qwen2's biases on q, k, v: (heads * head_dim), (kv_heads * head_dim) x2.
    qkv_bias: Option<[Tensor; 3]>,
    ffn_norm: Tensor, // (d_model)
    gate: QMatMul,    // (d_ff, d_model)
    up: QMatMul,      // (d_ff, d_model)
    down: QMatMul,    // (d_model, d_ff)
}

pub struct Llama {
    cfg: LlamaConfig,
    embed: Tensor, // (vocab, d_model), f32
    blocks: Vec<Block>,
    final_norm: Tensor, // (d_model)
    lm_head: QMatMul,   // (vocab, d_model)
    cos: Tensor,        // (context, head_dim / 2)
    sin: Tensor,        // (context, head_dim / 2)
    device: Device,
}

/// Which positions a forward pass returns logits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    Last,
    All,
}

impl Llama {
    /// Loads the weights from `src`, named as in GGUF files (`blk.{i}.attn_q.weight`, …).
    pub fn load(cfg: LlamaConfig, src: &dyn TensorSource, device: &Device) -> Result<Self> {
        let (d, hd) = (cfg.d_model, cfg.head_dim);
        let q_out = cfg.n_heads * hd;
        let kv_out = cfg.n_kv_heads * hd;
        let vector = |name: &str| src.dense(name, &[d]);
        let embed = src.dense("token_embd.weight", &[cfg.vocab_size, d])?;
        let lm_head = if src.has("output.weight") {
            src.matrix("output.weight", &[cfg.vocab_size, d])?
        } else {
            src.matrix("token_embd.weight", &[cfg.vocab_size, d])?
        };
        let mut blocks = Vec::with_capacity(cfg.n_layers);
        for i in 0..cfg.n_layers {
            let p = |n: &str| format!("blk.{i}.{n}.weight");
            let b = |n: &str| format!("blk.{i}.{n}.bias");
            let qkv_bias = if src.has(&b("attn_q")) {
                Some([
                    src.dense(&b("attn_q"), &[q_out])?,
                    src.dense(&b("attn_k"), &[kv_out])?,
                    src.dense(&b("attn_v"), &[kv_out])?,
                ])
            } else {
                None
            };
            blocks.push(Block {
                attn_norm: vector(&p("attn_norm"))?,
                wq: src.matrix(&p("attn_q"), &[q_out, d])?,
                wk: src.matrix(&p("attn_k"), &[kv_out, d])?,
                wv: src.matrix(&p("attn_v"), &[kv_out, d])?,
                wo: src.matrix(&p("attn_output"), &[d, q_out])?,
                qkv_bias,
                ffn_norm: vector(&p("ffn_norm"))?,
                gate: src.matrix(&p("ffn_gate"), &[cfg.d_ff, d])?,
                up: src.matrix(&p("ffn_up"), &[cfg.d_ff, d])?,
                down: src.matrix(&p("ffn_down"), &[d, cfg.d_ff])?,
            });
        }
        let final_norm = vector("output_norm.weight")?;
        let (cos, sin) = rope_tables(&cfg, device)?;
        Ok(Self {
            cfg,
            embed,
            blocks,
            final_norm,
            lm_head,
            cos,
            sin,
            device: device.clone(),
        })
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// Runs `tokens` at positions `cache.len()..` and returns logits
    /// (t', vocab) as f32, where t' is 1 for [`Logits::Last`] and t for
    /// [`Logits::All`]. Attention rows are appended to `capture` when given.
    pub fn forward(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        mut capture: Option<&mut AttentionMaps>,
        which: Logits,
    ) -> Result<Tensor> {
        let t = tokens.len();
        let offset = cache.len();
        check_fits(t, offset, self.cfg.context_length)?;
        let ids = Tensor::new(tokens, &self.device)?;
        let mut x = self.embed.index_select(&ids, 0)?.unsqueeze(0)?; // (1, t, d)
        let cos = self.cos.narrow(0, offset, t)?; // (t, head_dim / 2)
        let sin = self.sin.narrow(0, offset, t)?;
        let mask = causal_mask(t, offset, &self.device)?; // (t, offset + t) or None
        for (layer, block) in self.blocks.iter().enumerate() {
            let h = rms_norm(&x, &block.attn_norm, self.cfg.rms_eps)?;
            let attn = self.attention(
                block,
                &h,
                (&cos, &sin),
                mask.as_ref(),
                cache,
                layer,
                capture.as_deref_mut(),
            )?;
            x = (x + attn)?;
            let h = rms_norm(&x, &block.ffn_norm, self.cfg.rms_eps)?;
            let mlp = block
                .down
                .forward(&(silu(&block.gate.forward(&h)?)? * block.up.forward(&h)?)?)?;
            x = (x + mlp)?;
        }
        cache.advance(t);
        let x = select_positions(x, which)?;
        let x = rms_norm(&x, &self.final_norm, self.cfg.rms_eps)?;
        let logits = self.lm_head.forward(&x)?.squeeze(0)?; // (t', vocab)
        Ok(logits.to_dtype(DType::F32)?)
    }

    /// Self-attention of one block over `h` (1, t, d); returns (1, t, d).
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        block: &Block,
        h: &Tensor,
        (cos, sin): (&Tensor, &Tensor),
        mask: Option<&Tensor>,
        cache: &mut KvCache,
        layer: usize,
        capture: Option<&mut AttentionMaps>,
    ) -> Result<Tensor> {
        let (_, t, _) = h.dims3()?;
        let (nh, nkv, hd) = (self.cfg.n_heads, self.cfg.n_kv_heads, self.cfg.head_dim);
        let split = |w: &QMatMul, bias: Option<&Tensor>, heads: usize| -> Result<Tensor> {
            let mut y = w.forward(h)?; // (1, t, heads * hd)
            if let Some(bias) = bias {
                y = y.broadcast_add(bias)?;
            }
            // (1, t, heads * hd) -> (1, heads, t, hd)
            Ok(y.reshape((1, t, heads, hd))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let bias = |i: usize| block.qkv_bias.as_ref().map(|b| &b[i]);
        let q = split(&block.wq, bias(0), nh)?;
        let k = split(&block.wk, bias(1), nkv)?;
        let v = split(&block.wv, bias(2), nkv)?;
        let (q, k) = match self.cfg.rope_layout {
            RopeLayout::Interleaved => (rope_i(&q, cos, sin)?, rope_i(&k, cos, sin)?),
            RopeLayout::HalfSplit => (rope(&q, cos, sin)?, rope(&k, cos, sin)?),
        };
        let (k, v) = cache.append(layer, k, v)?; // (1, nkv, keys, hd)
        let k = candle_transformers::utils::repeat_kv(k, nh / nkv)?.contiguous()?; // (1, nh, keys, hd)
        let v = candle_transformers::utils::repeat_kv(v, nh / nkv)?.contiguous()?;
        let out = attend(&q, &k, &v, mask, capture.map(|c| (c, layer)))?; // (1, nh, t, hd)
        let out = out.transpose(1, 2)?.reshape((1, t, nh * hd))?;
        Ok(block.wo.forward(&out)?)
    }
}

/// cos and sin of every position's rotation angles: (context, head_dim / 2).
fn rope_tables(cfg: &LlamaConfig, device: &Device) -> Result<(Tensor, Tensor)> {
    let half = cfg.head_dim / 2;
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / cfg.rope_base.powf(2.0 * i as f32 / cfg.head_dim as f32))
        .collect();
    let inv_freq = Tensor::from_vec(inv_freq, (1, half), device)?;
    let positions = Tensor::arange(0u32, cfg.context_length as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((cfg.context_length, 1))?;
    let angles = positions.broadcast_mul(&inv_freq)?; // (context, half)
    Ok((angles.cos()?, angles.sin()?))
}
