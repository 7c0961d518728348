//! The small per-token pieces of a layer on plain f32 slices: dot products
//! and updates for attention, RMSNorm, the SwiGLU gate, softmax and rotary
//! positions.

use super::{portable, Isa};

/// Σ a·b with the active kernels.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    match Isa::active() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::active` returns only a family this CPU supports.
        Isa::Avx512 | Isa::Avx512Vnni => unsafe { super::x86_avx512::dot(a, b) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { super::x86_avx2::dot(a, b) },
        _ => portable::dot(a, b),
    }
}

/// y += alpha · x with the active kernels.
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    match Isa::active() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::active` returns only a family this CPU supports.
        Isa::Avx512 | Isa::Avx512Vnni => unsafe { super::x86_avx512::axpy(alpha, x, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { super::x86_avx2::axpy(alpha, x, y) },
        _ => portable::axpy(alpha, x, y),
    }
}

/// 1/√(mean(x²) + eps): what RMS norm multiplies a row by (before its
/// weights).
pub fn rms_scale(row: &[f32], eps: f32) -> f32 {
    let mean_sq = row
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        / row.len() as f64;
    (1.0 / (mean_sq + f64::from(eps)).sqrt()) as f32
}

/// out = x / rms(x) · weight for each row of `x` (rows of `weight.len()`).
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let d = weight.len();
    for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let scale = rms_scale(row, eps);
        for ((o, &v), &w) in o.iter_mut().zip(row).zip(weight) {
            *o = v * scale * w;
        }
    }
}

/// gate = silu(gate) · up, elementwise.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}

/// In place: v = softmax(v).
pub fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    let inv = 1.0 / sum;
    v.iter_mut().for_each(|x| *x *= inv);
}

/// How rotary positions pair a head's dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopePairs {
    /// (2i, 2i + 1): GGUF's permuted Llama Q/K.
    Adjacent,
    /// (i, i + half): Hugging Face checkpoints.
    Halves,
}

/// cos and sin of `position`'s angles for a head of `2 · inv_freq.len()`
/// dimensions, computed in f64.
pub fn rope_angles(position: usize, inv_freq: &[f64], cos: &mut [f32], sin: &mut [f32]) {
    for ((f, c), s) in inv_freq.iter().zip(cos.iter_mut()).zip(sin.iter_mut()) {
        let angle = position as f64 * f;
        *c = angle.cos() as f32;
        *s = angle.sin() as f32;
    }
}

/// Rotates one head vector by the angles whose cos/sin are given.
pub fn rope(head: &mut [f32], cos: &[f32], sin: &[f32], pairs: RopePairs) {
    let half = head.len() / 2;
    for i in 0..half {
        let (a, b) = match pairs {
            RopePairs::Adjacent => (2 * i, 2 * i + 1),
            RopePairs::Halves => (i, i + half),
        };
        let (x0, x1) = (head[a], head[b]);
        head[a] = x0 * cos[i] - x1 * sin[i];
        head[b] = x0 * sin[i] + x1 * cos[i];
    }
}

/// out[j] = scale · (q · row j), row j being `rows[j·stride..][..q.len()]`:
/// one query's attention scores over cached keys.
pub fn attention_scores(q: &[f32], rows: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    let hd = q.len();
    assert!(out.is_empty() || (out.len() - 1) * stride + hd <= rows.len());
    match Isa::active() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::active` returns only a family this CPU supports; the
        // rows are in bounds (checked above).
        Isa::Avx512 | Isa::Avx512Vnni => unsafe {
            super::x86_avx512::scores(q, rows, stride, scale, out)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { super::x86_avx2::scores(q, rows, stride, scale, out) },
        _ => {
            for (j, o) in out.iter_mut().enumerate() {
                *o = scale * portable::dot(q, &rows[j * stride..][..hd]);
            }
        }
    }
}

/// out = Σ_j w[j] · row j, row j being `rows[j·stride..][..out.len()]`: the
/// values weighted by one query's attention probabilities.
pub fn weighted_sum(w: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    let hd = out.len();
    assert!(w.is_empty() || (w.len() - 1) * stride + hd <= rows.len());
    match Isa::active() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::active` returns only a family this CPU supports; the
        // rows are in bounds (checked above).
        Isa::Avx512 | Isa::Avx512Vnni => unsafe {
            super::x86_avx512::weighted_sum(w, rows, stride, out)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { super::x86_avx2::weighted_sum(w, rows, stride, out) },
        _ => {
            out.fill(0.0);
            for (j, &wj) in w.iter().enumerate() {
                portable::axpy(wj, &rows[j * stride..][..hd], out);
            }
        }
    }
}
