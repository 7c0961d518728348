//! AVX-512 VNNI kernels for Q4 and Q8_0 rows, without rounding activations
//! to 8 bits: each 32-value block of x is scaled to 21-bit integers
//! X = round(x / s) (|X| ≤ 2²⁰, s = max|x| / 2²⁰) and split into three
//! signed bytes X = 2¹⁴·A + 2⁷·H + L (H, L in 0..128), so three `vpdpbusd`
//! multiply the weights' bytes by A, H and L and `(q·A·2⁷ + q·H)·2⁷ + q·L`
//! is the exact integer q·X. Each x value is then off by at most
//! s/2 = max|x| / 2²¹ of its block (5·10⁻⁷, about f32's own 6·10⁻⁸ times
//! eight), not 1/254 as with 8-bit activations.

use std::arch::x86_64::*;

use super::matrix::{Data, Matrix, BLOCK};

/// The largest |X| of a block: 2²⁰, so that Σ of four (w + 128)·X for Q8_0
/// weights stays inside i32.
const X_MAX: f32 = 1_048_576.0;

/// One activation vector in the split 21-bit form, reused across every row.
#[derive(Debug, Default)]
pub(super) struct SplitActivations {
    /// A per value (X >> 14).
    top: Vec<i8>,
    /// H per value ((X >> 7) & 127).
    hi: Vec<i8>,
    /// L per value (X & 127).
    lo: Vec<i8>,
    /// s per block.
    scale: Vec<f32>,
    /// 128 · Σ X over each group of 4 values (what `vpdpbusd` sums per lane),
    /// to take out the +128 that makes Q8_0 weights unsigned.
    sum4_128: Vec<i32>,
}

impl SplitActivations {
    /// X of value `i`.
    fn value(&self, i: usize) -> i32 {
        (i32::from(self.top[i]) << 14) + (i32::from(self.hi[i]) << 7) + i32::from(self.lo[i])
    }

    /// Splits `x` (whole blocks of 32).
    pub(super) fn fill(&mut self, x: &[f32]) {
        self.top.clear();
        self.hi.clear();
        self.lo.clear();
        self.scale.clear();
        self.sum4_128.clear();
        for block in x.chunks_exact(BLOCK) {
            let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = if amax > 0.0 && amax.is_finite() {
                amax / X_MAX
            } else {
                0.0
            };
            let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
            self.scale.push(s);
            let mut group = 0i32;
            for (j, &v) in block.iter().enumerate() {
                let q = ((v * inv).round() as i32).clamp(-(X_MAX as i32), X_MAX as i32);
                self.top.push((q >> 14) as i8);
                self.hi.push(((q >> 7) & 127) as i8);
                self.lo.push((q & 127) as i8);
                group += q;
                if j % 4 == 3 {
                    self.sum4_128.push(group * 128);
                    group = 0;
                }
            }
        }
    }
}

/// out[i] = row (first + i) · x for Q4 and Q8_0 matrices (`xsum[b]` is the
/// exact Σ x of block b, for Q4's minimum term); false for other formats,
/// which the caller runs with the f32 kernels.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, VL and VNNI; `act` must be
/// `x` filled by [`SplitActivations::fill`] with `m.cols()` values, and rows
/// `first..first + out.len()` must exist.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn matvec(
    m: &Matrix,
    first: usize,
    act: &SplitActivations,
    xsum: &[f32],
    out: &mut [f32],
) -> bool {
    let nb = m.blocks_per_row();
    let filled = act.scale.len() >= nb && act.hi.len() >= nb * BLOCK;
    assert!(first + out.len() <= m.rows());
    match &m.data {
        Data::Q4 { .. } | Data::Q8 { .. } => assert!(filled, "activations not split"),
        Data::F32(_) | Data::F16(_) => return false,
    }
    match &m.data {
        Data::Q4 {
            scales,
            mins,
            quants,
        } => {
            for (i, o) in out.iter_mut().enumerate() {
                let r = first + i;
                let row = r * nb..(r + 1) * nb;
                *o = q4_row(
                    &scales[row.clone()],
                    &mins[row],
                    &quants[r * nb * 16..(r + 1) * nb * 16],
                    act,
                    xsum,
                );
            }
            true
        }
        Data::Q8 { scales, quants } => {
            for (i, o) in out.iter_mut().enumerate() {
                let r = first + i;
                *o = q8_row(
                    &scales[r * nb..(r + 1) * nb],
                    &quants[r * nb * BLOCK..(r + 1) * nb * BLOCK],
                    act,
                );
            }
            true
        }
        _ => false,
    }
}

/// Mask of the first `n` ≤ 16 lanes.
fn first_lanes(n: usize) -> __mmask16 {
    ((1u32 << n.min(16)) - 1) as __mmask16
}

/// Blocks `from..from + 16` of a row: the f16 values at `h` as f32 (zero
/// past `n`, the row's length).
///
/// # Safety
/// AVX-512 F, BW and VL; `h` points at the row's first value.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn f16_chunk(h: *const u16, n: usize, from: usize) -> __m512 {
    let k = first_lanes(n - from);
    // SAFETY: the masked load reads only lanes below n − from, in the row.
    _mm512_cvtph_ps(unsafe { _mm256_maskz_loadu_epi16(k, h.add(from).cast()) })
}

/// f32 values `from..from + 16` of `v` (zero past its end).
///
/// # Safety
/// AVX-512 F.
#[target_feature(enable = "avx512f")]
unsafe fn f32_chunk(v: &[f32], from: usize) -> __m512 {
    let k = first_lanes(v.len() - from);
    // SAFETY: the masked load reads only lanes in bounds.
    unsafe { _mm512_maskz_loadu_ps(k, v.as_ptr().add(from)) }
}

/// Σ_b d_b · s_b · (q_b · X_b) + m_b · Σx_b over a row's Q4 blocks.
///
/// # Safety
/// AVX-512 F, BW, VL and VNNI; `quants` holds 16 bytes per scale, `mins` one
/// per scale; `act` and `xsum` hold at least the row's blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q4_row(
    scales: &[u16],
    mins: &[u16],
    quants: &[u8],
    act: &SplitActivations,
    xsum: &[f32],
) -> f32 {
    let nb = scales.len();
    assert!(
        quants.len() == nb * 16
            && mins.len() == nb
            && act.hi.len() >= nb * BLOCK
            && act.scale.len() >= nb
            && xsum.len() >= nb
    );
    let (qp, ap, hp, lp) = (
        quants.as_ptr(),
        act.top.as_ptr(),
        act.hi.as_ptr(),
        act.lo.as_ptr(),
    );
    let mask = _mm256_set1_epi8(0x0F);
    let mut acc = _mm512_setzero_ps();
    let mut tail = 0f32;
    for chunk in (0..nb).step_by(16) {
        // SAFETY: the chunks read only values of this row's blocks.
        let (d, m, s, xs) = unsafe {
            (
                f16_chunk(scales.as_ptr(), nb, chunk),
                f16_chunk(mins.as_ptr(), nb, chunk),
                f32_chunk(&act.scale[..nb], chunk),
                f32_chunk(&xsum[..nb], chunk),
            )
        };
        // The minimum term m_b · Σx_b joins the lanes' sum.
        acc = _mm512_fmadd_ps(m, xs, acc);
        let mut ds = [0f32; 16];
        // SAFETY: `ds` holds 16 values.
        unsafe { _mm512_storeu_ps(ds.as_mut_ptr(), _mm512_mul_ps(d, s)) };
        let end = (chunk + 16).min(nb);
        let mut b = chunk;
        while b + 2 <= end {
            // SAFETY: blocks b and b + 1 are in the row: 32 quant bytes at
            // b·16 and 64 activation bytes at b·32 are in bounds.
            let (q, a, h, l) = unsafe {
                (
                    _mm256_loadu_si256(qp.add(b * 16).cast()),
                    _mm512_loadu_si512(ap.add(b * BLOCK).cast()),
                    _mm512_loadu_si512(hp.add(b * BLOCK).cast()),
                    _mm512_loadu_si512(lp.add(b * BLOCK).cast()),
                )
            };
            // q = [q_b | q_b+1]; lo/hi nibbles are weights 0..16 / 16..32.
            let lo = _mm256_and_si256(q, mask);
            let hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
            let w = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); // lo_b lo_b1 hi_b hi_b1
            let w = _mm512_shuffle_i64x2(w, w, 0b11_01_10_00); // lo_b hi_b lo_b1 hi_b1
            let t = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, a);
            let t = _mm512_dpbusd_epi32(_mm512_slli_epi32(t, 7), w, h);
            let t = _mm512_dpbusd_epi32(_mm512_slli_epi32(t, 7), w, l);
            let sc = _mm512_mask_blend_ps(
                0xFF00,
                _mm512_set1_ps(ds[b - chunk]),
                _mm512_set1_ps(ds[b + 1 - chunk]),
            );
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), sc, acc);
            b += 2;
        }
        if b < end {
            // An odd last block, one value at a time.
            let q = &quants[b * 16..(b + 1) * 16];
            let x = |k: usize| act.value(b * BLOCK + k);
            let mut dot = 0i32;
            for (j, &byte) in q.iter().enumerate() {
                dot += i32::from(byte & 0x0F) * x(j) + i32::from(byte >> 4) * x(j + 16);
            }
            tail += ds[b - chunk] * dot as f32;
        }
    }
    _mm512_reduce_add_ps(acc) + tail
}

/// Σ_b d_b · s_b · (q_b · X_b) over a row's Q8_0 blocks.
///
/// # Safety
/// AVX-512 F, BW and VNNI; `quants` holds 32 per scale; `act` holds at least
/// the row's blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn q8_row(scales: &[u16], quants: &[i8], act: &SplitActivations) -> f32 {
    let nb = scales.len();
    assert!(
        quants.len() == nb * BLOCK && act.hi.len() >= nb * BLOCK && act.sum4_128.len() >= nb * 8
    );
    let (qp, ap, hp, lp, cp) = (
        quants.as_ptr(),
        act.top.as_ptr(),
        act.hi.as_ptr(),
        act.lo.as_ptr(),
        act.sum4_128.as_ptr(),
    );
    let flip = _mm512_set1_epi8(-128);
    let mut acc = _mm512_setzero_ps();
    let mut tail = 0f32;
    for chunk in (0..nb).step_by(16) {
        let mut ds = [0f32; 16];
        // SAFETY: the chunks read only values of this row's blocks; `ds`
        // holds 16 values.
        unsafe {
            let d = f16_chunk(scales.as_ptr(), nb, chunk);
            let s = f32_chunk(&act.scale[..nb], chunk);
            _mm512_storeu_ps(ds.as_mut_ptr(), _mm512_mul_ps(d, s));
        }
        let end = (chunk + 16).min(nb);
        let mut b = chunk;
        while b + 2 <= end {
            // SAFETY: blocks b and b + 1 are in the row: 64 quants and 64
            // activation bytes at b·32, 16 group sums at b·8, in bounds.
            let (q, a, h, l, c) = unsafe {
                (
                    _mm512_loadu_si512(qp.add(b * BLOCK).cast()),
                    _mm512_loadu_si512(ap.add(b * BLOCK).cast()),
                    _mm512_loadu_si512(hp.add(b * BLOCK).cast()),
                    _mm512_loadu_si512(lp.add(b * BLOCK).cast()),
                    _mm512_loadu_si512(cp.add(b * 8).cast()),
                )
            };
            // w + 128 is unsigned; Σ(w + 128)·X − 128·ΣX = Σ w·X per lane.
            let w = _mm512_xor_si512(q, flip);
            let t = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, a);
            let t = _mm512_dpbusd_epi32(_mm512_slli_epi32(t, 7), w, h);
            let t = _mm512_dpbusd_epi32(_mm512_slli_epi32(t, 7), w, l);
            let t = _mm512_sub_epi32(t, c);
            let sc = _mm512_mask_blend_ps(
                0xFF00,
                _mm512_set1_ps(ds[b - chunk]),
                _mm512_set1_ps(ds[b + 1 - chunk]),
            );
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), sc, acc);
            b += 2;
        }
        if b < end {
            // 32 products of 8 × 21 bits can pass i32 (a constant block of
            // activations at their block's largest value): sum in i64.
            let mut dot = 0i64;
            for j in 0..BLOCK {
                dot += i64::from(quants[b * BLOCK + j]) * i64::from(act.value(b * BLOCK + j));
            }
            tail += ds[b - chunk] * dot as f32;
        }
    }
    _mm512_reduce_add_ps(acc) + tail
}
