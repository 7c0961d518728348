//! Choosing the next token: plain-data [`SamplingParams`], and the seeded
//! [`Sampler`] that applies them to a row of logits.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How an answer is sampled: how each next token is chosen (temperature 0
/// is greedy, argmax) and when the answer ends. The one full set of
/// sampling settings; [`SamplingOverlay`] is the same fields, each optional.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SamplingParams {
    pub temperature: f64,
    /// Keep the k most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// Keep the smallest set whose probability reaches p; 1.0 keeps all.
    pub top_p: f64,
    /// Drop tokens below `min_p` × the top token's probability; 0 keeps all.
    pub min_p: f64,
    /// Divide positive logits (multiply negative ones) of recently seen
    /// tokens by this; 1.0 is off.
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
    pub seed: u64,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// The answer ends before the first of these texts.
    pub stop: Vec<String>,
}

impl SamplingParams {
    /// Argmax at every step, no penalty, 256 tokens, no stop strings.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            repeat_last_n: 0,
            seed: 0,
            max_tokens: 256,
            stop: Vec::new(),
        }
    }

    /// Checks ranges; the error names the parameter and what is allowed.
    pub fn validate(&self) -> Result<(), SamplingError> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(SamplingError::Temperature(self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(SamplingError::TopP(self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return Err(SamplingError::MinP(self.min_p));
        }
        if !(self.repeat_penalty > 0.0 && self.repeat_penalty.is_finite()) {
            return Err(SamplingError::RepeatPenalty(self.repeat_penalty));
        }
        Ok(())
    }
}

/// A sampling setting out of its range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SamplingError {
    #[error("temperature must be a number >= 0, got {0}")]
    Temperature(f64),
    #[error("top-p must be in (0, 1], got {0}")]
    TopP(f64),
    #[error("min-p must be in [0, 1], got {0}")]
    MinP(f64),
    #[error("repeat-penalty must be a number > 0, got {0}")]
    RepeatPenalty(f32),
}

/// Sampling settings with every field optional: one layer (the config
/// file's `sampling` section, a preset, command-line flags, the settings
/// panel) sets what it names and leaves the rest to the layer below.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingOverlay {
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub min_p: Option<f64>,
    pub repeat_penalty: Option<f32>,
    pub repeat_last_n: Option<usize>,
    pub seed: Option<u64>,
    pub max_tokens: Option<usize>,
    pub stop: Option<Vec<String>>,
}

impl SamplingOverlay {
    /// Sets in `params` every field this layer names.
    pub fn apply_to(&self, params: &mut SamplingParams) {
        fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *slot = v.clone();
            }
        }
        set(&mut params.temperature, &self.temperature);
        set(&mut params.top_k, &self.top_k);
        set(&mut params.top_p, &self.top_p);
        set(&mut params.min_p, &self.min_p);
        set(&mut params.repeat_penalty, &self.repeat_penalty);
        set(&mut params.repeat_last_n, &self.repeat_last_n);
        set(&mut params.seed, &self.seed);
        set(&mut params.max_tokens, &self.max_tokens);
        set(&mut params.stop, &self.stop);
    }

    /// `params` with this layer on top.
    pub fn over(&self, params: &SamplingParams) -> SamplingParams {
        let mut out = params.clone();
        self.apply_to(&mut out);
        out
    }
}

/// Applies [`SamplingParams`] with its own random stream: the same seed and
/// the same logits give the same tokens.
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha8Rng,
    /// Buffers reused token after token: the adjusted logits, candidate ids.
    logits: Vec<f32>,
    order: Vec<u32>,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(params.seed);
        Self {
            params,
            rng,
            logits: Vec::new(),
            order: Vec::new(),
        }
    }

    /// Picks the next token from `logits` (one row, vocab entries) given the
    /// tokens so far (`history`, for the repetition penalty).
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        let mut adjusted = std::mem::take(&mut self.logits);
        adjusted.clear();
        adjusted.extend_from_slice(logits);
        self.apply_repeat_penalty(&mut adjusted, history);
        let token = self.pick(&adjusted);
        self.logits = adjusted;
        token
    }

    fn pick(&mut self, logits: &[f32]) -> u32 {
        if self.params.temperature <= 0.0 {
            return argmax(logits);
        }
        let candidates = self.candidates(logits);
        let total: f64 = candidates.iter().map(|&(_, p)| p).sum();
        let mut r = self.rng.random::<f64>() * total;
        for &(id, p) in &candidates {
            if r < p {
                return id;
            }
            r -= p;
        }
        candidates.last().map_or(0, |&(id, _)| id)
    }

    fn apply_repeat_penalty(&self, logits: &mut [f32], history: &[u32]) {
        let penalty = self.params.repeat_penalty;
        if penalty == 1.0 || self.params.repeat_last_n == 0 {
            return;
        }
        let start = history.len().saturating_sub(self.params.repeat_last_n);
        let mut seen = std::collections::HashSet::new();
        for &id in &history[start..] {
            let Some(logit) = logits.get_mut(id as usize) else {
                continue;
            };
            if seen.insert(id) {
                *logit = if *logit >= 0.0 {
                    *logit / penalty
                } else {
                    *logit * penalty
                };
            }
        }
    }

    /// (token, unnormalised probability) after temperature, top-k, top-p and
    /// min-p, most likely first; never empty. Only the tokens that can
    /// survive are sorted: top-k picks its k first (linear), min-p's floor
    /// drops the rest before the sort, and top-p then cuts the sorted prefix
    /// (both keep a prefix of the order by logit, so either order of the two
    /// cuts keeps the same tokens).
    fn candidates(&mut self, logits: &[f32]) -> Vec<(u32, f64)> {
        let t = self.params.temperature;
        let by_logit = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]);
        let order = &mut self.order;
        order.clear();
        order.extend(0..logits.len() as u32);
        let k = self.params.top_k;
        if k > 0 && k < order.len() {
            order.select_nth_unstable_by(k - 1, by_logit);
            order.truncate(k);
        }
        let max = order
            .iter()
            .map(|&id| logits[id as usize])
            .fold(f32::NEG_INFINITY, f32::max) as f64;
        let weight = |id: u32| ((logits[id as usize] as f64 - max) / t).exp();
        // top-p's share is of every token top-k kept.
        let total: f64 = order.iter().map(|&id| weight(id)).sum();
        if self.params.min_p > 0.0 {
            // The most likely token has weight exp(0) = 1.
            let floor = self.params.min_p;
            order.retain(|&id| weight(id) >= floor);
        }
        order.sort_unstable_by(by_logit);
        let mut probs: Vec<(u32, f64)> = order.iter().map(|&id| (id, weight(id))).collect();
        if self.params.top_p < 1.0 {
            let mut cumulative = 0.0;
            let mut keep = probs.len();
            for (i, &(_, p)) in probs.iter().enumerate() {
                cumulative += p / total;
                if cumulative >= self.params.top_p {
                    keep = i + 1;
                    break;
                }
            }
            probs.truncate(keep);
        }
        probs
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Natural-log softmax of one row, computed in f64 for accuracy.
pub fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let log_z = log_sum_exp(logits);
    logits.iter().map(|&l| (l as f64 - log_z) as f32).collect()
}

/// log Σ exp(logits), in f64: what a logit less is its log-probability.
pub fn log_sum_exp(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    max + sum.ln()
}

/// The k entries with the highest values, highest first, as (index, value).
pub fn top_k(values: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut order: Vec<u32> = (0..values.len() as u32).collect();
    let k = k.min(values.len());
    if k == 0 {
        return Vec::new();
    }
    order.select_nth_unstable_by(k - 1, |&a, &b| {
        values[b as usize].total_cmp(&values[a as usize])
    });
    order.truncate(k);
    order.sort_unstable_by(|&a, &b| values[b as usize].total_cmp(&values[a as usize]));
    order.into_iter().map(|i| (i, values[i as usize])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f64) -> SamplingParams {
        SamplingParams {
            temperature,
            ..SamplingParams::greedy()
        }
    }

    #[test]
    fn temperature_zero_is_argmax() {
        let logits = [0.1, 2.5, -1.0, 2.4];
        let mut s = Sampler::new(params(0.0));
        assert_eq!(s.sample(&logits, &[]), 1);
    }

    #[test]
    fn same_seed_same_tokens_different_seed_differs_somewhere() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let run = |seed| {
            let mut s = Sampler::new(SamplingParams {
                seed,
                ..params(1.0)
            });
            (0..64).map(|_| s.sample(&logits, &[])).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn top_k_one_is_greedy_at_any_temperature() {
        let logits = [0.0, 1.0, 3.0, 2.9];
        let mut s = Sampler::new(SamplingParams {
            top_k: 1,
            ..params(5.0)
        });
        for _ in 0..20 {
            assert_eq!(s.sample(&logits, &[]), 2);
        }
    }

    #[test]
    fn min_p_drops_unlikely_tokens() {
        // Token 0 has weight 1, token 1 weight e^-10: below 0.1 × 1.
        let logits = [10.0, 0.0];
        let mut s = Sampler::new(SamplingParams {
            min_p: 0.1,
            ..params(1.0)
        });
        for _ in 0..200 {
            assert_eq!(s.sample(&logits, &[]), 0);
        }
    }

    #[test]
    fn top_p_keeps_the_smallest_set_reaching_p() {
        let mut s = Sampler::new(SamplingParams {
            top_p: 0.5,
            ..params(1.0)
        });
        // Probabilities ~ 0.58, 0.21, 0.21: the first alone reaches 0.5.
        let kept = s.candidates(&[1.0, 0.0, 0.0]);
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn repeat_penalty_can_flip_the_greedy_choice() {
        let logits = [2.0, 1.5];
        let mut s = Sampler::new(SamplingParams {
            repeat_penalty: 2.0,
            repeat_last_n: 8,
            ..params(0.0)
        });
        assert_eq!(s.sample(&logits, &[0, 0]), 1);
    }

    #[test]
    fn log_softmax_normalises() {
        let lp = log_softmax(&[1.0, 2.0, 3.0]);
        let total: f32 = lp.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }

    #[test]
    fn top_k_is_sorted_and_exact() {
        let v = [0.5, 3.0, -1.0, 2.0, 3.5];
        assert_eq!(top_k(&v, 3), vec![(4, 3.5), (1, 3.0), (3, 2.0)]);
    }

    #[test]
    fn an_overlay_sets_only_what_it_names() {
        let base = SamplingParams {
            temperature: 0.7,
            top_k: 40,
            stop: vec!["END".into()],
            ..SamplingParams::greedy()
        };
        let layer: SamplingOverlay =
            serde_json::from_str(r#"{"temperature": 0.0, "max_tokens": 12}"#).unwrap();
        let out = layer.over(&base);
        assert_eq!(out.temperature, 0.0);
        assert_eq!(out.max_tokens, 12);
        assert_eq!(out.top_k, 40, "unnamed fields keep the layer below");
        assert_eq!(out.stop, vec!["END".to_string()]);
        assert_eq!(SamplingOverlay::default().over(&base), base);
    }

    #[test]
    fn an_overlay_refuses_unknown_fields() {
        let err = serde_json::from_str::<SamplingOverlay>(r#"{"temprature": 0.1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("temprature"), "{err}");
    }

    /// The candidate rule as first written: sort every token, then cut by
    /// top-k, top-p and min-p in turn.
    fn candidates_by_full_sort(params: &SamplingParams, logits: &[f32]) -> Vec<(u32, f64)> {
        let t = params.temperature;
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
        if params.top_k > 0 {
            order.truncate(params.top_k);
        }
        let max = logits[order[0] as usize] as f64;
        let mut probs: Vec<(u32, f64)> = order
            .iter()
            .map(|&id| (id, ((logits[id as usize] as f64 - max) / t).exp()))
            .collect();
        let total: f64 = probs.iter().map(|&(_, p)| p).sum();
        if params.top_p < 1.0 {
            let mut cumulative = 0.0;
            let mut keep = probs.len();
            for (i, &(_, p)) in probs.iter().enumerate() {
                cumulative += p / total;
                if cumulative >= params.top_p {
                    keep = i + 1;
                    break;
                }
            }
            probs.truncate(keep);
        }
        if params.min_p > 0.0 {
            let floor = params.min_p * probs[0].1;
            probs.retain(|&(_, p)| p >= floor);
        }
        probs
    }

    #[test]
    fn candidates_sort_only_survivors_and_keep_what_a_full_sort_keeps() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for case in 0..300 {
            let n = [5, 64, 1000, 49152][case % 4];
            // Distinct logits (evenly spaced, shuffled), so the order by
            // logit is unique.
            let mut logits: Vec<f32> = (0..n).map(|i| -8.0 + 16.0 * i as f32 / n as f32).collect();
            for i in (1..n).rev() {
                logits.swap(i, rng.random_range(0..=i));
            }
            let params = SamplingParams {
                temperature: [0.3, 0.7, 1.0, 1.6][case % 4],
                top_k: [0, 1, 40, 2000][(case / 4) % 4],
                top_p: [1.0, 0.9, 0.5][(case / 16) % 3],
                min_p: [0.0, 0.05, 0.5][(case / 48) % 3],
                ..params(1.0)
            };
            let want = candidates_by_full_sort(&params, &logits);
            let got = Sampler::new(params.clone()).candidates(&logits);
            let ids = |c: &[(u32, f64)]| c.iter().map(|&(id, _)| id).collect::<Vec<_>>();
            assert_eq!(ids(&got), ids(&want), "case {case}: {params:?}");
            for ((_, a), (_, b)) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "case {case}");
            }
        }
    }
}
