//! AVX-512 kernels (16 f32 lanes). Callers check [`super::Isa::Avx512`] is
//! supported before calling anything here.

use std::arch::x86_64::*;

use super::matrix::{Data, Matrix, RowScales, BLOCK};

/// out[i] = row (first + i) · x; `xsum[b]` is Σ x over block b (used by Q4).
///
/// # Safety
/// The CPU must have AVX-512 F and BW, AVX2 and FMA; `x` must hold
/// `m.cols()` values and `xsum` one per block; rows `first..first + out.len()`
/// must exist.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
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

/// Σ_b d_b · (q_b · x_b) over a row's Q4 blocks (the minimum term is added
/// by the caller).
///
/// # Safety
/// AVX-512 F and BW; `quants` holds 16 bytes per scale and `x` 32 values per
/// scale.
#[target_feature(enable = "avx512f,avx512bw")]
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
            let x0 = _mm512_loadu_ps(xp.add(b * BLOCK));
            let x1 = _mm512_loadu_ps(xp.add(b * BLOCK + 16));
            // Weights 0..16 are the low nibbles, 16..32 the high ones.
            let lo = _mm_and_si128(qs, mask);
            let hi = _mm_and_si128(_mm_srli_epi16(qs, 4), mask);
            let w0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo));
            let w1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi));
            let s = _mm512_fmadd_ps(w1, x1, _mm512_mul_ps(w0, x0));
            $acc = _mm512_fmadd_ps(_mm512_set1_ps(*dp.add(b)), s, $acc);
        }};
    }
    let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
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
    _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
}

/// Σ_b d_b · (q_b · x_b) over a row's Q8_0 blocks.
///
/// # Safety
/// AVX-512 F and BW; `quants` holds 32 per scale and `x` 32 values per scale.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn q8_row(scales: &[f32], quants: &[i8], x: &[f32]) -> f32 {
    let nb = scales.len();
    assert!(quants.len() == nb * BLOCK && x.len() >= nb * BLOCK);
    let (qp, xp, dp) = (quants.as_ptr(), x.as_ptr(), scales.as_ptr());
    macro_rules! block {
        ($b:expr, $acc:ident) => {{
            let b = $b;
            let q0 = _mm_loadu_si128(qp.add(b * BLOCK).cast());
            let q1 = _mm_loadu_si128(qp.add(b * BLOCK + 16).cast());
            let x0 = _mm512_loadu_ps(xp.add(b * BLOCK));
            let x1 = _mm512_loadu_ps(xp.add(b * BLOCK + 16));
            let w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0));
            let w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1));
            let s = _mm512_fmadd_ps(w1, x1, _mm512_mul_ps(w0, x0));
            $acc = _mm512_fmadd_ps(_mm512_set1_ps(*dp.add(b)), s, $acc);
        }};
    }
    let (mut acc0, mut acc1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
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
    _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1))
}

/// Σ w·x for half-precision w, 16 at a time (a short tail zero-padded).
///
/// # Safety
/// AVX-512 F; `x` at least as long as `w`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn f16_dot(w: &[u16], x: &[f32]) -> f32 {
    assert!(x.len() >= w.len());
    let mut acc = _mm512_setzero_ps();
    for (wc, xc) in w.chunks(16).zip(x.chunks(16)) {
        let (mut wp, mut xp) = ([0u16; 16], [0f32; 16]);
        let (wv, xv) = if wc.len() == 16 {
            // SAFETY: both chunks hold 16 values.
            unsafe {
                (
                    _mm256_loadu_si256(wc.as_ptr().cast()),
                    _mm512_loadu_ps(xc.as_ptr()),
                )
            }
        } else {
            wp[..wc.len()].copy_from_slice(wc);
            xp[..wc.len()].copy_from_slice(&xc[..wc.len()]);
            // SAFETY: the padded arrays hold 16 values.
            unsafe {
                (
                    _mm256_loadu_si256(wp.as_ptr().cast()),
                    _mm512_loadu_ps(xp.as_ptr()),
                )
            }
        };
        acc = _mm512_fmadd_ps(_mm512_cvtph_ps(wv), xv, acc);
    }
    _mm512_reduce_add_ps(acc)
}

/// Σ a·b.
///
/// # Safety
/// AVX-512 F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    let len = a.len().min(b.len());
    let n = len / 64 * 64;
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm512_setzero_ps(); 4];
    for i in (0..n).step_by(64) {
        for (l, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 64 <= n <= len of both.
            let (av, bv) = unsafe {
                (
                    _mm512_loadu_ps(ap.add(i + 16 * l)),
                    _mm512_loadu_ps(bp.add(i + 16 * l)),
                )
            };
            *acc = _mm512_fmadd_ps(av, bv, *acc);
        }
    }
    let mut rest = n;
    while rest + 16 <= len {
        // SAFETY: rest + 16 <= len.
        let (av, bv) = unsafe { (_mm512_loadu_ps(ap.add(rest)), _mm512_loadu_ps(bp.add(rest))) };
        acc[0] = _mm512_fmadd_ps(av, bv, acc[0]);
        rest += 16;
    }
    let mut s = _mm512_reduce_add_ps(_mm512_add_ps(
        _mm512_add_ps(acc[0], acc[1]),
        _mm512_add_ps(acc[2], acc[3]),
    ));
    for i in rest..len {
        s += a[i] * b[i];
    }
    s
}

/// y += alpha · x.
///
/// # Safety
/// AVX-512 F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    let len = x.len().min(y.len());
    let n = len / 16 * 16;
    let a = _mm512_set1_ps(alpha);
    for i in (0..n).step_by(16) {
        // SAFETY: i + 16 <= n <= len of both.
        unsafe {
            let yp = y.as_mut_ptr().add(i);
            let v = _mm512_fmadd_ps(a, _mm512_loadu_ps(x.as_ptr().add(i)), _mm512_loadu_ps(yp));
            _mm512_storeu_ps(yp, v);
        }
    }
    for i in n..len {
        y[i] += alpha * x[i];
    }
}

/// dst = src as f32, 16 at a time.
///
/// # Safety
/// AVX-512 F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn f16_to_f32(src: &[u16], dst: &mut [f32]) {
    let n = src.len().min(dst.len());
    let whole = n / 16 * 16;
    for i in (0..whole).step_by(16) {
        // SAFETY: i + 16 <= n <= len of both.
        unsafe {
            let h = _mm256_loadu_si256(src.as_ptr().add(i).cast());
            _mm512_storeu_ps(dst.as_mut_ptr().add(i), _mm512_cvtph_ps(h));
        }
    }
    for i in whole..n {
        dst[i] = half::f16::from_bits(src[i]).to_f32();
    }
}

/// out[j] = scale · (q · row j) for the rows at `rows[j·stride..]`.
///
/// # Safety
/// AVX-512 F; `rows` holds `out.len()` rows of `q.len()` at that stride.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn scores(q: &[f32], rows: &[f32], stride: usize, scale: f32, out: &mut [f32]) {
    let hd = q.len();
    assert!(out.is_empty() || (out.len() - 1) * stride + hd <= rows.len());
    match hd {
        // SAFETY: as this function's (the head width matches N).
        64 => unsafe { scores_n::<4>(q, rows, stride, scale, out) },
        // SAFETY: as above.
        128 => unsafe { scores_n::<8>(q, rows, stride, scale, out) },
        _ => {
            for (j, o) in out.iter_mut().enumerate() {
                // SAFETY: as this function's.
                *o = scale * unsafe { dot(q, &rows[j * stride..][..hd]) };
            }
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn scores_n<const N: usize>(
    q: &[f32],
    rows: &[f32],
    stride: usize,
    scale: f32,
    out: &mut [f32],
) {
    let mut qv = [_mm512_setzero_ps(); N];
    for (c, v) in qv.iter_mut().enumerate() {
        // SAFETY: q holds N·16 values.
        *v = unsafe { _mm512_loadu_ps(q.as_ptr().add(16 * c)) };
    }
    for (j, o) in out.iter_mut().enumerate() {
        let mut acc = _mm512_setzero_ps();
        for (c, v) in qv.iter().enumerate() {
            // SAFETY: row j's N·16 values are in `rows` (checked by the caller).
            acc = _mm512_fmadd_ps(
                *v,
                unsafe { _mm512_loadu_ps(rows.as_ptr().add(j * stride + 16 * c)) },
                acc,
            );
        }
        *o = scale * _mm512_reduce_add_ps(acc);
    }
}

/// out = Σ_j w[j] · row j for the rows at `rows[j·stride..]`.
///
/// # Safety
/// AVX-512 F; `rows` holds `w.len()` rows of `out.len()` at that stride.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn weighted_sum(w: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    let hd = out.len();
    assert!(w.is_empty() || (w.len() - 1) * stride + hd <= rows.len());
    match hd {
        // SAFETY: as this function's (the head width matches N).
        64 => unsafe { weighted_sum_n::<4>(w, rows, stride, out) },
        // SAFETY: as above.
        128 => unsafe { weighted_sum_n::<8>(w, rows, stride, out) },
        _ => {
            out.fill(0.0);
            for (j, &wj) in w.iter().enumerate() {
                // SAFETY: as this function's.
                unsafe { axpy(wj, &rows[j * stride..][..hd], out) };
            }
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn weighted_sum_n<const N: usize>(w: &[f32], rows: &[f32], stride: usize, out: &mut [f32]) {
    let mut acc = [_mm512_setzero_ps(); N];
    for (j, &wj) in w.iter().enumerate() {
        let wv = _mm512_set1_ps(wj);
        for (c, a) in acc.iter_mut().enumerate() {
            // SAFETY: row j's N·16 values are in `rows` (checked by the caller).
            *a = _mm512_fmadd_ps(
                wv,
                unsafe { _mm512_loadu_ps(rows.as_ptr().add(j * stride + 16 * c)) },
                *a,
            );
        }
    }
    for (c, a) in acc.iter().enumerate() {
        // SAFETY: out holds N·16 values.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr().add(16 * c), *a) };
    }
}
