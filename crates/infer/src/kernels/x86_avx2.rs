//! AVX2 + FMA + F16C kernels (8 f32 lanes). Callers check
//! [`super::Isa::Avx2`] is supported before calling anything here.

use std::arch::x86_64::*;

use super::matrix::{Data, Matrix, RowScales, BLOCK};

/// out[i] = row (first + i) · x; `xsum[b]` is Σ x over block b (used by Q4).
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C; `x` must hold `m.cols()` values and
/// `xsum` one per block; rows `first..first + out.len()` must exist.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn matvec(
    m: &Matrix,
    first: usize,
    x: &[f32],
    xsum: &[f32],
    rs: &RowScales,
    out: &mut [f32],
) {
    let cols = m.cols();
    let nb = m.blocks_per_row();
    assert!(x.len() >= cols && (first + out.len()) <= m.rows());
    for (i, o) in out.iter_mut().enumerate() {
        let r = first + i;
        *o = match &m.data {
            Data::F32(v) => dot(&v[r * cols..(r + 1) * cols], x),
            Data::F16(v) => f16_dot(&v[r * cols..(r + 1) * cols], x),
            Data::Q8 { quants, .. } => q8_row(
                &rs.d[i * nb..(i + 1) * nb],
                &quants[r * nb * BLOCK..(r + 1) * nb * BLOCK],
                x,
            ),
            Data::Q4 { quants, .. } => {
                q4_row(
                    &rs.d[i * nb..(i + 1) * nb],
                    &quants[r * nb * 16..(r + 1) * nb * 16],
                    x,
                ) + dot(&rs.m[i * nb..(i + 1) * nb], &xsum[..nb])
            }
        };
    }
}

#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

/// Σ_b d_b · (q_b · x_b) over a row's Q4 blocks (the minimum term is added
/// by the caller).
///
/// # Safety
/// AVX2 and FMA; `quants` holds 16 bytes per scale and `x` 32 values per scale.
#[target_feature(enable = "avx2,fma")]
unsafe fn q4_row(scales: &[f32], quants: &[u8], x: &[f32]) -> f32 {
    let nb = scales.len();
    assert!(quants.len() == nb * 16 && x.len() >= nb * BLOCK);
    let mask = _mm_set1_epi8(0x0F);
    let (qp, xp, dp) = (quants.as_ptr(), x.as_ptr(), scales.as_ptr());
    // d_b · (q_b · x_b) for block b, added to `acc`.
    macro_rules! block {
        ($b:expr, $acc:ident) => {{
            let b = $b;
            let qs = _mm_loadu_si128(qp.add(b * 16).cast());
            let x = xp.add(b * BLOCK);
            // Weights 0..16 are the low nibbles, 16..32 the high ones.
            let lo = _mm_and_si128(qs, mask);
            let hi = _mm_and_si128(_mm_srli_epi16(qs, 4), mask);
            let w0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
            let w1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
            let w2 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
            let w3 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
            let mut s = _mm256_mul_ps(w0, _mm256_loadu_ps(x));
            s = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x.add(8)), s);
            s = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x.add(16)), s);
            s = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x.add(24)), s);
            $acc = _mm256_fmadd_ps(_mm256_set1_ps(*dp.add(b)), s, $acc);
        }};
    }
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut b = 0;
    // SAFETY: every block b < nb has 16 quant bytes, 32 activations and a
    // scale in bounds (checked above); the loads are unaligned.
    unsafe {
        while b + 2 <= nb {
            block!(b, acc0);
            block!(b + 1, acc1);
            b += 2;
        }
        if b < nb {
            block!(b, acc0);
        }
    }
    hsum(_mm256_add_ps(acc0, acc1))
}

/// Σ_b d_b · (q_b · x_b) over a row's Q8_0 blocks.
///
/// # Safety
/// AVX2 and FMA; `quants` holds 32 per scale and `x` 32 values per scale.
#[target_feature(enable = "avx2,fma")]
unsafe fn q8_row(scales: &[f32], quants: &[i8], x: &[f32]) -> f32 {
    let nb = scales.len();
    assert!(quants.len() == nb * BLOCK && x.len() >= nb * BLOCK);
    let (qp, xp, dp) = (quants.as_ptr(), x.as_ptr(), scales.as_ptr());
    macro_rules! block {
        ($b:expr, $acc:ident) => {{
            let b = $b;
            let q = qp.add(b * BLOCK);
            let x = xp.add(b * BLOCK);
            let w = |i: usize| {
                _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(q.add(i).cast())))
            };
            let mut s = _mm256_mul_ps(w(0), _mm256_loadu_ps(x));
            s = _mm256_fmadd_ps(w(8), _mm256_loadu_ps(x.add(8)), s);
            s = _mm256_fmadd_ps(w(16), _mm256_loadu_ps(x.add(16)), s);
            s = _mm256_fmadd_ps(w(24), _mm256_loadu_ps(x.add(24)), s);
            $acc = _mm256_fmadd_ps(_mm256_set1_ps(*dp.add(b)), s, $acc);
        }};
    }
    let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut b = 0;
    // SAFETY: every block b < nb has 32 quants, 32 activations and a scale
    // in bounds (checked above); the loads are unaligned.
    unsafe {
        while b + 2 <= nb {
            block!(b, acc0);
            block!(b + 1, acc1);
            b += 2;
        }
        if b < nb {
            block!(b, acc0);
        }
    }
    hsum(_mm256_add_ps(acc0, acc1))
}

/// Σ w·x for half-precision w, 8 at a time (a short tail zero-padded).
///
/// # Safety
/// AVX2, FMA and F16C; `x` at least as long as `w`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn f16_dot(w: &[u16], x: &[f32]) -> f32 {
    assert!(x.len() >= w.len());
    let mut acc = _mm256_setzero_ps();
    for (wc, xc) in w.chunks(8).zip(x.chunks(8)) {
        let (mut wp, mut xp) = ([0u16; 8], [0f32; 8]);
        wp[..wc.len()].copy_from_slice(wc);
        xp[..wc.len()].copy_from_slice(&xc[..wc.len()]);
        // SAFETY: the padded arrays hold 8 values.
        let (h, xv) = unsafe {
            (
                _mm_loadu_si128(wp.as_ptr().cast()),
                _mm256_loadu_ps(xp.as_ptr()),
            )
        };
        acc = _mm256_fmadd_ps(_mm256_cvtph_ps(h), xv, acc);
    }
    hsum(acc)
}

/// Σ a·b.
///
/// # Safety
/// AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    let len = a.len().min(b.len());
    let n = len / 32 * 32;
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    for i in (0..n).step_by(32) {
        for (l, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 32 <= n <= len of both.
            let (av, bv) = unsafe {
                (
                    _mm256_loadu_ps(ap.add(i + 8 * l)),
                    _mm256_loadu_ps(bp.add(i + 8 * l)),
                )
            };
            *acc = _mm256_fmadd_ps(av, bv, *acc);
        }
    }
    let mut rest = n;
    while rest + 8 <= len {
        // SAFETY: rest + 8 <= len.
        let (av, bv) = unsafe { (_mm256_loadu_ps(ap.add(rest)), _mm256_loadu_ps(bp.add(rest))) };
        acc[0] = _mm256_fmadd_ps(av, bv, acc[0]);
        rest += 8;
    }
    let mut s = hsum(_mm256_add_ps(
        _mm256_add_ps(acc[0], acc[1]),
        _mm256_add_ps(acc[2], acc[3]),
    ));
    for i in rest..len {
        s += a[i] * b[i];
    }
    s
}

/// y += alpha · x.
///
/// # Safety
/// AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    let len = x.len().min(y.len());
    let n = len / 8 * 8;
    let a = _mm256_set1_ps(alpha);
    for i in (0..n).step_by(8) {
        // SAFETY: i + 8 <= n <= len of both.
        unsafe {
            let yp = y.as_mut_ptr().add(i);
            let v = _mm256_fmadd_ps(a, _mm256_loadu_ps(x.as_ptr().add(i)), _mm256_loadu_ps(yp));
            _mm256_storeu_ps(yp, v);
        }
    }
    for i in n..len {
        y[i] += alpha * x[i];
    }
}

/// dst = src as f32, 8 at a time.
///
/// # Safety
/// AVX2 and F16C.
#[target_feature(enable = "avx2,f16c")]
pub(super) unsafe fn f16_to_f32(src: &[u16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let whole = n / 8 * 8;
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= n <= len of both.
        unsafe {
            let h = _mm_loadu_si128(src.as_ptr().add(i).cast());
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), _mm256_cvtph_ps(h));
        }
    }
    for i in whole..n {
        dst[i] = half::f16::from_bits(src[i]).to_f32();
    }
}

/// out[j] = scale · (q · row j) for the rows at `rows[j·stride..]`.
///
/// # Safety
/// AVX2 and FMA; `rows` holds `out.len()` rows of `q.len()` at that stride.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn scores(q: &[f32], rows: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    let hd = q.len();
    assert!(out.is_empty() || (out.len() - 1) * stride + hd <= rows.len());
    match hd {
        // SAFETY: as this function's (the head width matches N).
        64 => unsafe { scores_n::<8>(q, rows, stride, scale, out) },
        _ => {
            for (j, o) in out.iter_mut().enumerate() {
                // SAFETY: as this function's.
                *o = scale * unsafe { dot(q, &rows[j * stride..][..hd]) };
            }
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn scores_n<const N: usize>(
    q: &[f32],
    rows: &[f32],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    let mut qv = [_mm256_setzero_ps(); N];
    for (c, v) in qv.iter_mut().enumerate() {
        // SAFETY: q holds N·8 values.
        *v = unsafe { _mm256_loadu_ps(q.as_ptr().add(8 * c)) };
    }
    for (j, o) in out.iter_mut().enumerate() {
        let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for c in (0..N).step_by(2) {
            // SAFETY: row j's N·8 values are in `rows` (checked by the caller).
            unsafe {
                a0 = _mm256_fmadd_ps(
                    qv[c],
                    _mm256_loadu_ps(rows.as_ptr().add(j * stride + 8 * c)),
                    a0,
                );
                a1 = _mm256_fmadd_ps(
                    qv[c + 1],
                    _mm256_loadu_ps(rows.as_ptr().add(j * stride + 8 * c + 8)),
                    a1,
                );
            }
        }
        *o = scale * hsum(_mm256_add_ps(a0, a1));
    }
}

/// out = Σ_j w[j] · row j for the rows at `rows[j·stride..]`.
///
/// # Safety
/// AVX2 and FMA; `rows` holds `w.len()` rows of `out.len()` at that stride.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn weighted_sum(w: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    let hd = out.len();
    assert!(w.is_empty() || (w.len() - 1) * stride + hd <= rows.len());
    match hd {
        // SAFETY: as this function's (the head width matches N).
        64 => unsafe { weighted_sum_n::<8>(w, rows, stride, out) },
        _ => {
            out.fill(0.0);
            for (j, &wj) in w.iter().enumerate() {
                // SAFETY: as this function's.
                unsafe { axpy(wj, &rows[j * stride..][..hd], out) };
            }
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn weighted_sum_n<const N: usize>(w: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    let mut acc = [_mm256_setzero_ps(); N];
    for (j, &wj) in w.iter().enumerate() {
        let wv = _mm256_set1_ps(wj);
        for (c, a) in acc.iter_mut().enumerate() {
            // SAFETY: row j's N·8 values are in `rows` (checked by the caller).
            *a = _mm256_fmadd_ps(
                wv,
                unsafe { _mm256_loadu_ps(rows.as_ptr().add(j * stride + 8 * c)) },
                *a,
            );
        }
    }
    for (c, a) in acc.iter().enumerate() {
        // SAFETY: out holds N·8 values.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(8 * c), *a) };
    }
}
