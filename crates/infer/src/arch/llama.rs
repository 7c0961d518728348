//! The Llama-family forward pass (SmolLM/SmolLM2, TinyLlama, Llama, Qwen2)
//! on promptlab's own kernels: RMSNorm, rotary positions, grouped-query
//! attention with an optional capture, SwiGLU MLP, tied or separate LM head.
//! Weights stay in their stored quantization ([`Matrix`]); activations are
//! f32 throughout and never rounded to 8 bits.

use std::cell::RefCell;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::attention::{AttentionMaps, VectorWidths};
use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::kernels::matmul::{matmul, GEMM_MIN_TOKENS};
use crate::kernels::ops::{self, RopePairs};
use crate::kernels::Matrix;
use crate::kv_cache::{KvCache, LayerKv};
use crate::tensors::TensorSource;

use super::common::check_fits;
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
        let metadata = |key: &str, expected: &'static str| ModelError::Metadata {
            path: path.to_path_buf(),
            key: key.into(),
            expected,
        };
        if cfg.n_layers == 0 {
            return Err(metadata("block count", "at least one block"));
        }
        if cfg.context_length < 2 {
            return Err(metadata("context length", "at least 2 tokens"));
        }
        if cfg.vocab_size == 0 {
            return Err(metadata("vocabulary size", "at least one token"));
        }
        if !(cfg.rope_base.is_finite() && cfg.rope_base > 0.0) {
            return Err(metadata("rope frequency base", "a finite positive number"));
        }
        if !(cfg.rms_eps.is_finite() && cfg.rms_eps >= 0.0) {
            return Err(metadata("RMSNorm epsilon", "a finite number ≥ 0"));
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
    attn_norm: Vec<f32>, // (d_model)
    /// q, k and v stacked: (heads·hd + 2·kv_heads·hd, d_model).
    qkv: Matrix,
    /// Qwen2's biases on q, k, v, stacked as the rows are.
    qkv_bias: Option<Vec<f32>>,
    wo: Matrix,         // (d_model, heads·hd)
    ffn_norm: Vec<f32>, // (d_model)
    /// gate and up stacked: (2·d_ff, d_model).
    gate_up: Matrix,
    down: Matrix, // (d_model, d_ff)
}

pub struct Llama {
    cfg: LlamaConfig,
    embed: Matrix, // (vocab, d_model), rows looked up per token
    blocks: Vec<Block>,
    final_norm: Vec<f32>, // (d_model)
    /// (vocab, d_model); None when tied to `embed`.
    lm_head: Option<Matrix>,
    /// Rotary frequencies base^(−2i/hd), i < hd/2, in f64.
    inv_freq: Vec<f64>,
}

/// Which positions a forward pass returns logits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    Last,
    All,
}

/// Attention work (query·key products × head_dim) above which heads and
/// queries are spread across threads.
const PARALLEL_ATTENTION_WORK: usize = 1 << 18;

thread_local! {
    /// One query's attention scores.
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl Llama {
    /// Loads the weights from `src`, named as in GGUF files (`blk.{i}.attn_q.weight`, …).
    pub fn load(cfg: LlamaConfig, src: &dyn TensorSource, _device: &Device) -> Result<Self> {
        let (d, hd) = (cfg.d_model, cfg.head_dim);
        let q_out = cfg.n_heads * hd;
        let kv_out = cfg.n_kv_heads * hd;
        let vector = |name: &str, n: usize| -> Result<Vec<f32>> {
            Ok(src.dense(name, &[n])?.to_vec1::<f32>()?)
        };
        let stacked = |parts: Vec<Matrix>, what: &str| -> Result<Matrix> {
            Matrix::stack(&parts).ok_or_else(|| ModelError::BadWeights {
                path: src.origin().to_path_buf(),
                reason: format!("{what}: matrices of different widths"),
            })
        };
        let embed = src.matrix("token_embd.weight", &[cfg.vocab_size, d])?;
        let lm_head = if src.has("output.weight") {
            Some(src.matrix("output.weight", &[cfg.vocab_size, d])?)
        } else {
            None
        };
        // Grown as blocks load (a block count the file does not back fails at
        // its first missing tensor, before anything large is allocated).
        let mut blocks = Vec::new();
        for i in 0..cfg.n_layers {
            let p = |n: &str| format!("blk.{i}.{n}.weight");
            let b = |n: &str| format!("blk.{i}.{n}.bias");
            let qkv_bias = if src.has(&b("attn_q")) {
                let mut all = vector(&b("attn_q"), q_out)?;
                all.extend(vector(&b("attn_k"), kv_out)?);
                all.extend(vector(&b("attn_v"), kv_out)?);
                Some(all)
            } else {
                None
            };
            let qkv = stacked(
                vec![
                    src.matrix(&p("attn_q"), &[q_out, d])?,
                    src.matrix(&p("attn_k"), &[kv_out, d])?,
                    src.matrix(&p("attn_v"), &[kv_out, d])?,
                ],
                &format!("block {i} attention"),
            )?;
            let gate_up = stacked(
                vec![
                    src.matrix(&p("ffn_gate"), &[cfg.d_ff, d])?,
                    src.matrix(&p("ffn_up"), &[cfg.d_ff, d])?,
                ],
                &format!("block {i} feed-forward"),
            )?;
            blocks.push(Block {
                attn_norm: vector(&p("attn_norm"), d)?,
                qkv,
                qkv_bias,
                wo: src.matrix(&p("attn_output"), &[d, q_out])?,
                ffn_norm: vector(&p("ffn_norm"), d)?,
                gate_up,
                down: src.matrix(&p("ffn_down"), &[d, cfg.d_ff])?,
            });
        }
        let final_norm = vector("output_norm.weight", d)?;
        let inv_freq = (0..hd / 2)
            .map(|i| f64::from(cfg.rope_base).powf(-2.0 * i as f64 / hd as f64))
            .collect();
        Ok(Self {
            cfg,
            embed,
            blocks,
            final_norm,
            lm_head,
            inv_freq,
        })
    }

    /// The vectors an attention capture keeps beside the probabilities.
    pub fn vector_widths(&self) -> VectorWidths {
        VectorWidths {
            head_dim: self.cfg.head_dim,
            n_kv_heads: self.cfg.n_kv_heads,
            d_model: self.cfg.d_model,
        }
    }

    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// Bytes the weights take in memory.
    pub fn weight_bytes(&self) -> usize {
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| b.qkv.bytes() + b.wo.bytes() + b.gate_up.bytes() + b.down.bytes())
            .sum();
        blocks + self.embed.bytes() + self.lm_head.as_ref().map_or(0, Matrix::bytes)
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
        let cfg = &self.cfg;
        let t = tokens.len();
        let offset = cache.len();
        check_fits(t, offset, cfg.context_length)?;
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= cfg.vocab_size) {
            return Err(ModelError::TokenOutOfRange {
                id,
                vocab: cfg.vocab_size,
            });
        }
        if let Some(maps) = capture.as_deref_mut() {
            maps.begin_step(offset, t)?;
        }
        let (d, hd, dff) = (cfg.d_model, cfg.head_dim, cfg.d_ff);
        let (qd, kvd) = (cfg.n_heads * hd, cfg.n_kv_heads * hd);
        let qkv_width = qd + 2 * kvd;
        let mut s = std::mem::take(&mut cache.scratch);
        let fit = |v: &mut Vec<f32>, n: usize| {
            v.clear();
            v.resize(n, 0.0);
        };
        fit(&mut s.x, t * d);
        fit(&mut s.h, t * d);
        fit(&mut s.qkv, t * qkv_width);
        fit(&mut s.att, t * qd);
        fit(&mut s.tmp, t * d);
        fit(&mut s.ffn, t * 2 * dff);
        fit(&mut s.act, t * dff);
        let half = hd / 2;
        fit(&mut s.cos, t * half);
        fit(&mut s.sin, t * half);
        for (i, &id) in tokens.iter().enumerate() {
            self.embed
                .dequantize_rows(id as usize, &mut s.x[i * d..(i + 1) * d]);
            ops::rope_angles(
                offset + i,
                &self.inv_freq,
                &mut s.cos[i * half..(i + 1) * half],
                &mut s.sin[i * half..(i + 1) * half],
            );
        }
        let pairs = match cfg.rope_layout {
            RopeLayout::Interleaved => RopePairs::Adjacent,
            RopeLayout::HalfSplit => RopePairs::Halves,
        };
        for (layer, block) in self.blocks.iter().enumerate() {
            // Attention: h = norm(x); q, k, v = h·Wᵀ; x += attend(q, k, v)·Woᵀ.
            ops::rms_norm(&s.x, &block.attn_norm, cfg.rms_eps, &mut s.h);
            matmul(&block.qkv, &s.h, t, &mut s.qkv); // (t, qd + 2·kvd)
            let kv = cache.layer_for_pass(layer, kvd);
            for i in 0..t {
                let row = &mut s.qkv[i * qkv_width..(i + 1) * qkv_width];
                if let Some(bias) = &block.qkv_bias {
                    row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
                }
                let (cos, sin) = (
                    &s.cos[i * half..(i + 1) * half],
                    &s.sin[i * half..(i + 1) * half],
                );
                for head in row[..qd + kvd].chunks_exact_mut(hd) {
                    ops::rope(head, cos, sin, pairs);
                }
                kv.k.extend_from_slice(&row[qd..qd + kvd]);
                kv.v.extend_from_slice(&row[qd + kvd..]);
            }
            let maps = capture.as_deref_mut().map(|c| (c, layer));
            self.attend(
                &s.qkv,
                t,
                offset,
                cache.layer(layer),
                &mut s.att,
                &mut s.probs,
                maps,
            );
            matmul(&block.wo, &s.att, t, &mut s.tmp); // (t, d)
            s.x.iter_mut().zip(&s.tmp).for_each(|(x, a)| *x += a);
            // Feed-forward: x += (silu(h·Wgᵀ) ⊙ h·Wuᵀ)·Wdᵀ.
            ops::rms_norm(&s.x, &block.ffn_norm, cfg.rms_eps, &mut s.h);
            matmul(&block.gate_up, &s.h, t, &mut s.ffn); // (t, 2·dff)
            for (row, act) in s
                .ffn
                .chunks_exact_mut(2 * dff)
                .zip(s.act.chunks_exact_mut(dff))
            {
                let (gate, up) = row.split_at_mut(dff);
                ops::silu_mul(gate, up);
                act.copy_from_slice(gate);
            }
            matmul(&block.down, &s.act, t, &mut s.tmp); // (t, d)
            s.x.iter_mut().zip(&s.tmp).for_each(|(x, m)| *x += m);
            if let Some(maps) = capture.as_deref_mut() {
                maps.push_vectors(layer, offset, t, &s.qkv, &s.att, &s.x);
            }
        }
        cache.advance(t);
        let (first, rows) = match which {
            Logits::Last => (t - 1, 1),
            Logits::All => (0, t),
        };
        let x = &s.x[first * d..(first + rows) * d];
        ops::rms_norm(x, &self.final_norm, cfg.rms_eps, &mut s.h[..rows * d]);
        let head = self.lm_head.as_ref().unwrap_or(&self.embed);
        let mut logits = vec![0f32; rows * cfg.vocab_size];
        matmul(head, &s.h[..rows * d], rows, &mut logits); // (t', vocab)
        cache.scratch = s;
        Ok(Tensor::from_vec(
            logits,
            (rows, cfg.vocab_size),
            &Device::Cpu,
        )?)
    }

    /// The logits (vocab) the model would give if the residual stream `x`
    /// (d) were the last layer's: the final norm, then the unembedding. The
    /// logit lens reads every layer's residual through this.
    pub fn unembed_residual(&self, x: &[f32]) -> Vec<f32> {
        let mut h = vec![0f32; x.len()];
        ops::rms_norm(x, &self.final_norm, self.cfg.rms_eps, &mut h);
        let head = self.lm_head.as_ref().unwrap_or(&self.embed);
        let mut logits = vec![0f32; self.cfg.vocab_size];
        matmul(head, &h, 1, &mut logits); // (1, vocab)
        logits
    }

    /// What one head's output adds to the logits (vocab) at a position, the
    /// final norm's scale frozen at that position (direct logit
    /// attribution): W_U · (γ ⊙ W_o[:, head]·z_head) / rms(x_final).
    /// `head_outputs` holds every head's z (heads·hd) at the position and
    /// `final_residual` (d) the residual stream after the last layer.
    pub fn head_logits(
        &self,
        layer: usize,
        head: usize,
        head_outputs: &[f32],
        final_residual: &[f32],
    ) -> Vec<f32> {
        let (d, hd) = (self.cfg.d_model, self.cfg.head_dim);
        let mut z = vec![0f32; head_outputs.len()];
        z[head * hd..(head + 1) * hd].copy_from_slice(&head_outputs[head * hd..(head + 1) * hd]);
        let mut added = vec![0f32; d];
        matmul(&self.blocks[layer].wo, &z, 1, &mut added); // (1, d)
        let scale = ops::rms_scale(final_residual, self.cfg.rms_eps);
        added
            .iter_mut()
            .zip(&self.final_norm)
            .for_each(|(a, &g)| *a *= scale * g);
        let head_matrix = self.lm_head.as_ref().unwrap_or(&self.embed);
        let mut logits = vec![0f32; self.cfg.vocab_size];
        matmul(head_matrix, &added, 1, &mut logits); // (1, vocab)
        logits
    }

    /// softmax(q·kᵀ/√hd + causal mask)·v for the `t` queries in `qkv`
    /// (t, qd + 2·kvd) at positions `offset..`, over the keys in `kv`; writes
    /// `out` (t, heads·hd). With `capture`, the probabilities go to it as
    /// `layer`, staged in `probs`.
    #[allow(clippy::too_many_arguments)]
    fn attend(
        &self,
        qkv: &[f32],
        t: usize,
        offset: usize,
        kv: &LayerKv,
        out: &mut [f32],
        probs: &mut Vec<f32>,
        capture: Option<(&mut AttentionMaps, usize)>,
    ) {
        let cfg = &self.cfg;
        let (nh, hd) = (cfg.n_heads, cfg.head_dim);
        let (qd, kvd) = (nh * hd, cfg.n_kv_heads * hd);
        let qkv_width = qd + 2 * kvd;
        let group = nh / cfg.n_kv_heads;
        let keys = offset + t;
        let scale = 1.0 / (hd as f32).sqrt();
        if capture.is_some() {
            probs.clear();
            probs.resize(t * nh * keys, 0.0);
        }
        // One task per (query i, head h): out row chunk c = i·nh + h.
        let task = |c: usize, o: &mut [f32], p: Option<&mut [f32]>| {
            let (i, h) = (c / nh, c % nh);
            let g = h / group;
            let q = &qkv[i * qkv_width + h * hd..][..hd];
            let seen = offset + i + 1;
            SCORES.with_borrow_mut(|scores| {
                scores.clear();
                scores.resize(seen, 0.0);
                ops::attention_scores(q, &kv.k[g * hd..], kvd, scale, scores);
                ops::softmax(scores);
                ops::weighted_sum(scores, &kv.v[g * hd..], kvd, o);
                if let Some(p) = p {
                    p[..seen].copy_from_slice(scores);
                }
            });
        };
        if capture.is_none() && t >= GEMM_MIN_TOKENS {
            self.attend_as_gemms(qkv, t, offset, kv, out);
            return;
        }
        let parallel = t * keys * nh * hd > PARALLEL_ATTENTION_WORK;
        match (capture, parallel) {
            (None, false) => out
                .chunks_exact_mut(hd)
                .enumerate()
                .for_each(|(c, o)| task(c, o, None)),
            (None, true) => {
                crate::kernels::pool::for_each_chunk_mut(out, hd, |c, o| task(c, o, None))
            }
            (Some((maps, layer)), _) => {
                out.par_chunks_exact_mut(hd)
                    .zip(probs.par_chunks_exact_mut(keys))
                    .enumerate()
                    .for_each(|(c, (o, p))| task(c, o, Some(p)));
                // (t, heads, keys) -> (heads, t, keys), as the maps take them.
                let mut by_head = vec![0f32; probs.len()];
                for i in 0..t {
                    for h in 0..nh {
                        by_head[(h * t + i) * keys..][..keys]
                            .copy_from_slice(&probs[(i * nh + h) * keys..][..keys]);
                    }
                }
                maps.push_layer(layer, &by_head, t, keys);
            }
        }
    }

    /// As [`Self::attend`] for a prompt's many queries, without a capture:
    /// per head, the scores S = Q·Kᵀ (t × keys) and the output P·V as two
    /// GEMMs, the causal softmax between them row by row.
    fn attend_as_gemms(&self, qkv: &[f32], t: usize, offset: usize, kv: &LayerKv, out: &mut [f32]) {
        let cfg = &self.cfg;
        let (nh, hd) = (cfg.n_heads, cfg.head_dim);
        let (qd, kvd) = (nh * hd, cfg.n_kv_heads * hd);
        let qkv_width = qd + 2 * kvd;
        let group = nh / cfg.n_kv_heads;
        let keys = offset + t;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut q = vec![0f32; t * hd];
        let mut scores = vec![0f32; t * keys];
        let mut head_out = vec![0f32; t * hd];
        for g in 0..cfg.n_kv_heads {
            // K_g (keys × hd) and V_gᵀ (hd × keys) of this key/value head.
            let mut k = Vec::with_capacity(keys * hd);
            let mut vt = vec![0f32; hd * keys];
            for j in 0..keys {
                k.extend_from_slice(&kv.k[j * kvd + g * hd..][..hd]);
                for (d, &v) in kv.v[j * kvd + g * hd..][..hd].iter().enumerate() {
                    vt[d * keys + j] = v;
                }
            }
            let (Ok(k), Ok(vt)) = (
                Matrix::from_f32(keys, hd, k),
                Matrix::from_f32(hd, keys, vt),
            ) else {
                return;
            };
            for h in g * group..(g + 1) * group {
                for i in 0..t {
                    q[i * hd..(i + 1) * hd].copy_from_slice(&qkv[i * qkv_width + h * hd..][..hd]);
                }
                matmul(&k, &q, t, &mut scores); // (t, keys)
                crate::kernels::pool::for_each_chunk_mut(&mut scores, keys, |i, row| {
                    let seen = offset + i + 1;
                    row[..seen].iter_mut().for_each(|s| *s *= scale);
                    ops::softmax(&mut row[..seen]);
                    row[seen..].fill(0.0);
                });
                matmul(&vt, &scores, t, &mut head_out); // (t, hd)
                for i in 0..t {
                    out[i * qd + h * hd..][..hd].copy_from_slice(&head_out[i * hd..(i + 1) * hd]);
                }
            }
        }
    }
}
