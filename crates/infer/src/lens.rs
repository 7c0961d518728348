//! Reading a capture through the unembedding: the logit lens (what the
//! residual stream after each layer would predict) and a head's direct
//! effect on the logits (the tokens it promotes and suppresses).

use crate::attention::AttentionMaps;
use crate::LoadedModel;

/// A token and a value: a log-probability for the lens, a logit change for
/// a head's effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub id: u32,
    pub value: f32,
}

/// What one head's output at one position does to the logits.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadEffect {
    /// The largest logit increases, largest first.
    pub promoted: Vec<Ranked>,
    /// The largest decreases, most negative first.
    pub suppressed: Vec<Ranked>,
}

/// The `k` largest entries of `values`, largest first (ties by id).
pub fn top_k(values: &[f32], k: usize) -> Vec<Ranked> {
    let mut ids: Vec<u32> = (0..values.len() as u32).collect();
    let k = k.min(ids.len());
    let by_value = |a: &u32, b: &u32| {
        values[*b as usize]
            .total_cmp(&values[*a as usize])
            .then(a.cmp(b))
    };
    if k < ids.len() && k > 0 {
        ids.select_nth_unstable_by(k - 1, by_value);
    }
    ids.truncate(k);
    ids.sort_by(by_value);
    ids.into_iter()
        .map(|id| Ranked {
            id,
            value: values[id as usize],
        })
        .collect()
}

/// log-softmax of `logits`, in place.
pub fn log_softmax(logits: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    let log_sum = max + sum.ln() as f32;
    logits.iter_mut().for_each(|l| *l -= log_sum);
}

impl LoadedModel {
    /// The top `k` next tokens (log-probabilities) the residual stream at
    /// `pos` after `layer` would give through the final norm and the
    /// unembedding. `None` when the capture kept no residual stream.
    pub fn logit_lens(
        &self,
        maps: &AttentionMaps,
        layer: usize,
        pos: usize,
        k: usize,
    ) -> Option<Vec<Ranked>> {
        let vectors = maps.vectors()?;
        if layer >= maps.n_layers() || pos >= maps.n_queries() {
            return None;
        }
        let mut logits =
            self.arch
                .unembed_residual(vectors.residual(maps.n_layers(), pos, layer))?;
        log_softmax(&mut logits);
        Some(top_k(&logits, k))
    }

    /// The `k` tokens whose logits `head` of `layer` raises most and lowers
    /// most at `pos`. `None` when the capture kept no vectors.
    pub fn head_effect(
        &self,
        maps: &AttentionMaps,
        layer: usize,
        head: usize,
        pos: usize,
        k: usize,
    ) -> Option<HeadEffect> {
        let vectors = maps.vectors()?;
        let n = maps.n_layers();
        if layer >= n || head >= maps.n_heads() || pos >= maps.n_queries() {
            return None;
        }
        let outputs = vectors.head_outputs(n, maps.n_heads(), pos, layer);
        let last = vectors.residual(n, pos, n - 1);
        let mut delta = self.arch.head_logits(layer, head, outputs, last)?;
        let promoted = top_k(&delta, k);
        delta.iter_mut().for_each(|d| *d = -*d);
        let suppressed = top_k(&delta, k)
            .into_iter()
            .map(|r| Ranked {
                id: r.id,
                value: -r.value,
            })
            .collect();
        Some(HeadEffect {
            promoted,
            suppressed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_ordered_and_bounded() {
        let v = [0.5, 3.0, -1.0, 3.0, 2.0];
        let top = top_k(&v, 3);
        let ids: Vec<u32> = top.iter().map(|r| r.id).collect();
        assert_eq!(ids, [1, 3, 4]);
        assert_eq!(top_k(&v, 10).len(), 5);
        assert!(top_k(&v, 0).is_empty());
    }

    #[test]
    fn log_softmax_sums_to_one() {
        let mut v = vec![1.0f32, 2.0, 3.0, 1000.0];
        log_softmax(&mut v);
        let total: f32 = v.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }
}
