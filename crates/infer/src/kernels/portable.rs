//! Kernels in plain Rust for any CPU: the same block-folded arithmetic as the
//! SIMD paths, one lane wide.

use half::f16;

use super::matrix::{Data, Matrix, RowScales, BLOCK};

/// out[i] = row (first + i) · x; `xsum[b]` is Σ x over block b (used by Q4).
pub(super) fn matvec(
    m: &Matrix,
    first: usize,
    x: &[f32],
    xsum: &[f32],
    rs: &RowScales,
    out: &mut [f32],
) {
    let cols = m.cols();
    let nb = m.blocks_per_row();
    for (i, o) in out.iter_mut().enumerate() {
        let r = first + i;
        *o = match &m.data {
            Data::F32(v) => dot(&v[r * cols..(r + 1) * cols], x),
            Data::F16(v) => v[r * cols..(r + 1) * cols]
                .iter()
                .zip(x)
                .map(|(&w, &x)| f16::from_bits(w).to_f32() * x)
                .sum(),
            Data::Q8 { quants, .. } => {
                let mut acc = 0f32;
                for b in r * nb..(r + 1) * nb {
                    let xb = &x[(b - r * nb) * BLOCK..][..BLOCK];
                    let q = &quants[b * BLOCK..(b + 1) * BLOCK];
                    let s: f32 = q.iter().zip(xb).map(|(&q, &x)| f32::from(q) * x).sum();
                    acc += rs.d[b - first * nb] * s;
                }
                acc
            }
            Data::Q4 { quants, .. } => {
                let mut acc = 0f32;
                for b in r * nb..(r + 1) * nb {
                    let j = b - r * nb;
                    let xb = &x[j * BLOCK..][..BLOCK];
                    let q = &quants[b * 16..(b + 1) * 16];
                    let mut s = 0f32;
                    for k in 0..16 {
                        s += f32::from(q[k] & 0x0F) * xb[k] + f32::from(q[k] >> 4) * xb[k + 16];
                    }
                    acc += rs.d[b - first * nb] * s + rs.m[b - first * nb] * xsum[j];
                }
                acc
            }
        };
    }
}

pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums, so the compiler can keep them in vector lanes.
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for l in 0..8 {
            acc[l] += a[c * 8 + l] * b[c * 8 + l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    s
}

pub(super) fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}
