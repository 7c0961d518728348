//! Pieces every architecture shares: the causal mask and scaled dot-product
//! attention with the optional capture of its probabilities.

use candle_core::{Device, Tensor};
use candle_nn::ops::softmax_last_dim;

use crate::attention::AttentionMaps;
use crate::error::{ModelError, Result};

/// Refuses an empty step, or one reaching past the context window.
pub(crate) fn check_fits(t: usize, offset: usize, context: usize) -> Result<()> {
    if t == 0 {
        return Err(ModelError::EmptyPrompt);
    }
    if offset + t > context {
        return Err(ModelError::PromptTooLong {
            tokens: offset + t,
            context,
        });
    }
    Ok(())
}

/// The positions logits are wanted for: (1, t, d) -> (1, t', d).
pub(crate) fn select_positions(x: Tensor, which: super::Logits) -> Result<Tensor> {
    let t = x.dim(1)?;
    Ok(match which {
        super::Logits::Last => x.narrow(1, t - 1, 1)?,
        super::Logits::All => x,
    })
}

/// Additive mask (t, offset + t): -inf where query i (at position offset + i)
/// would see a later key. None for a single query, which sees every key.
pub(crate) fn causal_mask(t: usize, offset: usize, device: &Device) -> Result<Option<Tensor>> {
    if t == 1 {
        return Ok(None);
    }
    let keys = offset + t;
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| {
            (0..keys).map(move |j| {
                if j > offset + i {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Ok(Some(Tensor::from_vec(mask, (t, keys), device)?))
}

/// softmax(q kᵀ / √d + mask) v for q (1, heads, t, d) and k, v
/// (1, heads, keys, d); returns (1, heads, t, d). The probabilities
/// (1, heads, t, keys) are appended to `capture` as layer `layer`.
pub(crate) fn attend(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    capture: Option<(&mut AttentionMaps, usize)>,
) -> Result<Tensor> {
    let (_, _, t, d) = q.dims4()?;
    let keys = k.dim(2)?;
    let scale = 1.0 / (d as f64).sqrt();
    let scores = (q.matmul(&k.t()?)? * scale)?; // (1, heads, t, keys)
    let scores = match mask {
        Some(m) => scores.broadcast_add(m)?,
        None => scores,
    };
    let probs = softmax_last_dim(&scores)?; // (1, heads, t, keys)
    if let Some((maps, layer)) = capture {
        let flat = probs.flatten_all()?.to_vec1::<f32>()?;
        maps.push_layer(layer, &flat, t, keys);
    }
    Ok(probs.matmul(v)?)
}
