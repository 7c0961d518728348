//! The GPT-2 forward pass (gpt2, distilgpt2, gpt2-medium, …): learned
//! positions, LayerNorm, fused query/key/value projection (Conv1D weights,
//! stored transposed), gelu_new MLP, LM head tied to the embeddings.

use candle_core::quantized::QMatMul;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::ops::layer_norm;

use super::common::{attend, causal_mask, check_fits, select_positions};
use super::hf::HfConfig;
use super::llama::Logits;
use crate::attention::AttentionMaps;
use crate::error::{ModelError, Result};
use crate::kv_cache::KvCache;
use crate::tensors::TensorSource;

#[derive(Debug, Clone)]
pub struct Gpt2Config {
    pub n_layers: usize,
    pub n_heads: usize,
    pub d_model: usize,
    pub context_length: usize,
    pub vocab_size: usize,
    pub eps: f32,
}

impl Gpt2Config {
    pub fn from_hf(config: &HfConfig) -> Result<Self> {
        let cfg = Self {
            n_layers: config.usize("n_layer")?,
            n_heads: config.usize("n_head")?,
            d_model: config.usize("n_embd")?,
            context_length: match config.opt_usize("n_positions")? {
                Some(n) => n,
                None => config.usize("n_ctx")?,
            },
            vocab_size: config.usize("vocab_size")?,
            eps: config.opt_f64("layer_norm_epsilon")?.unwrap_or(1e-5) as f32,
        };
        if cfg.n_heads == 0 || !cfg.d_model.is_multiple_of(cfg.n_heads) {
            return Err(ModelError::Metadata {
                path: config.path().to_path_buf(),
                key: "n_head".into(),
                expected: "a non-zero divisor of n_embd",
            });
        }
        Ok(cfg)
    }
}

/// Whether a GPT-2 checkpoint stores `name` as (in, out) (Conv1D).
pub(crate) fn is_conv1d(name: &str) -> bool {
    name.ends_with("c_attn.weight")
        || name.ends_with("c_proj.weight")
        || name.ends_with("c_fc.weight")
}

struct Norm {
    weight: Tensor, // (d_model)
    bias: Tensor,   // (d_model)
}

struct Block {
    ln_1: Norm,
    c_attn: QMatMul,     // (3 * d_model, d_model)
    c_attn_b: Tensor,    // (3 * d_model)
    attn_proj: QMatMul,  // (d_model, d_model)
    attn_proj_b: Tensor, // (d_model)
    ln_2: Norm,
    c_fc: QMatMul,      // (4 * d_model, d_model)
    c_fc_b: Tensor,     // (4 * d_model)
    mlp_proj: QMatMul,  // (d_model, 4 * d_model)
    mlp_proj_b: Tensor, // (d_model)
}

pub struct Gpt2 {
    cfg: Gpt2Config,
    wte: Tensor, // (vocab, d_model)
    wpe: Tensor, // (context, d_model)
    blocks: Vec<Block>,
    ln_f: Norm,
    lm_head: QMatMul, // (vocab, d_model), tied to wte
    device: Device,
}

impl Gpt2 {
    pub fn load(cfg: Gpt2Config, src: &dyn TensorSource, device: &Device) -> Result<Self> {
        let d = cfg.d_model;
        // The original checkpoints name tensors `h.0…`; others `transformer.h.0…`.
        let prefix = if src.has("wte.weight") {
            ""
        } else {
            "transformer."
        };
        let n = |name: &str| format!("{prefix}{name}");
        let norm = |name: &str| -> Result<Norm> {
            Ok(Norm {
                weight: src.dense(&n(&format!("{name}.weight")), &[d])?,
                bias: src.dense(&n(&format!("{name}.bias")), &[d])?,
            })
        };
        let mut blocks = Vec::with_capacity(cfg.n_layers);
        for i in 0..cfg.n_layers {
            let p = |part: &str| n(&format!("h.{i}.{part}"));
            blocks.push(Block {
                ln_1: norm(&format!("h.{i}.ln_1"))?,
                c_attn: QMatMul::Tensor(src.dense_matrix(&p("attn.c_attn.weight"), &[3 * d, d])?),
                c_attn_b: src.dense(&p("attn.c_attn.bias"), &[3 * d])?,
                attn_proj: QMatMul::Tensor(src.dense_matrix(&p("attn.c_proj.weight"), &[d, d])?),
                attn_proj_b: src.dense(&p("attn.c_proj.bias"), &[d])?,
                ln_2: norm(&format!("h.{i}.ln_2"))?,
                c_fc: QMatMul::Tensor(src.dense_matrix(&p("mlp.c_fc.weight"), &[4 * d, d])?),
                c_fc_b: src.dense(&p("mlp.c_fc.bias"), &[4 * d])?,
                mlp_proj: QMatMul::Tensor(src.dense_matrix(&p("mlp.c_proj.weight"), &[d, 4 * d])?),
                mlp_proj_b: src.dense(&p("mlp.c_proj.bias"), &[d])?,
            });
        }
        let wte = src.dense(&n("wte.weight"), &[cfg.vocab_size, d])?;
        Ok(Self {
            wpe: src.dense(&n("wpe.weight"), &[cfg.context_length, d])?,
            lm_head: QMatMul::Tensor(wte.clone()),
            wte,
            blocks,
            ln_f: norm("ln_f")?,
            cfg,
            device: device.clone(),
        })
    }

    pub fn config(&self) -> &Gpt2Config {
        &self.cfg
    }

    /// Bytes the weights take in memory (all f32).
    pub fn weight_bytes(&self) -> usize {
        let d = self.cfg.d_model;
        let per_block = 12 * d * d + 13 * d;
        4 * (self.cfg.n_layers * per_block + (self.cfg.vocab_size + self.cfg.context_length) * d)
    }

    /// As [`super::llama::Llama::forward`]: logits (t', vocab) for `tokens`
    /// at positions `cache.len()..`.
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
        if let Some(maps) = capture.as_deref_mut() {
            maps.begin_step(offset, t)?;
        }
        let (nh, d) = (self.cfg.n_heads, self.cfg.d_model);
        let hd = d / nh;
        let ids = Tensor::new(tokens, &self.device)?;
        let positions = self.wpe.narrow(0, offset, t)?; // (t, d)
        let mut x = (self.wte.index_select(&ids, 0)? + positions)?.unsqueeze(0)?; // (1, t, d)
        let mask = causal_mask(t, offset, &self.device)?;
        let ln = |x: &Tensor, n: &Norm| -> Result<Tensor> {
            Ok(layer_norm(x, &n.weight, &n.bias, self.cfg.eps)?)
        };
        for (layer, b) in self.blocks.iter().enumerate() {
            let h = ln(&x, &b.ln_1)?;
            let qkv = b.c_attn.forward(&h)?.broadcast_add(&b.c_attn_b)?; // (1, t, 3d)
            let heads = |i: usize| -> Result<Tensor> {
                // (1, t, d) -> (1, nh, t, hd)
                Ok(qkv
                    .narrow(2, i * d, d)?
                    .reshape((1, t, nh, hd))?
                    .transpose(1, 2)?
                    .contiguous()?)
            };
            let (k, v) = cache.append(layer, heads(1)?, heads(2)?)?; // (1, nh, keys, hd)
            let out = attend(
                &heads(0)?,
                &k,
                &v,
                mask.as_ref(),
                capture.as_deref_mut().map(|c| (c, layer)),
            )?; // (1, nh, t, hd)
            let out = out.transpose(1, 2)?.reshape((1, t, d))?;
            x = (x + b.attn_proj.forward(&out)?.broadcast_add(&b.attn_proj_b)?)?;
            let h = ln(&x, &b.ln_2)?;
            let m = b.c_fc.forward(&h)?.broadcast_add(&b.c_fc_b)?.gelu()?; // gelu_new (tanh)
            x = (x + b.mlp_proj.forward(&m)?.broadcast_add(&b.mlp_proj_b)?)?;
        }
        cache.advance(t);
        let x = select_positions(x, which)?;
        let x = ln(&x, &self.ln_f)?;
        Ok(self.lm_head.forward(&x)?.squeeze(0)?.to_dtype(DType::F32)?)
    }
}
