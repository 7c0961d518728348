//! Prefill's f32 GEMM on AVX-512: y (t × n) = x (t × k) · Wᵀ with W's rows
//! dequantized a panel of 32 at a time into a k-major panel (k × 32), and a
//! 12 × 32 register block of y (24 accumulators) that broadcasts x and loads
//! two vectors of the panel per step of k. Panels are the pool's tasks.

use std::arch::x86_64::*;
use std::cell::RefCell;

use super::matrix::Matrix;

/// Output columns (rows of W) per panel: two 16-lane vectors.
const NR: usize = 32;
/// Rows of x per register block.
const MR: usize = 12;

thread_local! {
    /// Per thread: dequantized rows of a panel, and the panel k-major.
    static PANEL: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint column ranges of one output (see `gemm`).
unsafe impl Sync for OutPtr {}

/// y = x · Wᵀ for t tokens.
///
/// # Safety
/// The CPU must have AVX-512 F; `x` holds t × cols(W) values and `y`
/// t × rows(W).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn gemm(w: &Matrix, x: &[f32], t: usize, y: &mut [f32]) {
    let (n, k) = (w.rows(), w.cols());
    assert!(x.len() == t * k && y.len() == t * n);
    let panels = n.div_ceil(NR);
    let out = OutPtr(y.as_mut_ptr());
    let out = &out;
    super::pool::Pool::global().run(panels, &|p| {
        let first = p * NR;
        let cols = NR.min(n - first);
        PANEL.with_borrow_mut(|(rows, panel)| {
            rows.resize(NR * k, 0.0);
            panel.resize(NR * k, 0.0);
            w.dequantize_rows(first, &mut rows[..cols * k]);
            rows[cols * k..].fill(0.0);
            // (32 × k) → (k × 32), a gathered column of 16 rows at a time.
            // SAFETY: the CPU has AVX-512 F; indices j·k + kk stay inside
            // `rows` (32 × k values) and `panel` holds k × 32.
            unsafe { transpose_panel(rows, k, panel) };
            for i0 in (0..t).step_by(MR) {
                let m = MR.min(t - i0);
                // SAFETY: rows i0..i0 + m of x and of y exist; this task
                // alone writes y's columns first..first + cols; the CPU has
                // AVX-512 F (this function's contract).
                unsafe {
                    block(
                        m,
                        &x[i0 * k..],
                        k,
                        panel,
                        out.0.add(i0 * n + first),
                        n,
                        cols,
                    )
                };
            }
        });
    });
}

/// One register block of m ≤ 12 rows.
///
/// # Safety
/// AVX-512 F; `x` holds m rows of k; `panel` k × 32; `y` points at m rows of
/// stride `ldy` with `cols` ≤ 32 writable values each.
#[target_feature(enable = "avx512f")]
unsafe fn block(
    m: usize,
    x: &[f32],
    k: usize,
    panel: &[f32],
    y: *mut f32,
    ldy: usize,
    cols: usize,
) {
    macro_rules! rows {
        ($($m:literal)*) => {
            match m {
                // SAFETY: as this function's.
                $($m => unsafe { block_n::<$m>(x, k, panel, y, ldy, cols) },)*
                _ => unreachable!("a register block has 1 to 12 rows"),
            }
        };
    }
    rows!(1 2 3 4 5 6 7 8 9 10 11 12)
}

#[target_feature(enable = "avx512f")]
unsafe fn block_n<const M: usize>(
    x: &[f32],
    k: usize,
    panel: &[f32],
    y: *mut f32,
    ldy: usize,
    cols: usize,
) {
    assert!(x.len() >= (M - 1) * k + k && panel.len() >= k * NR && cols <= NR);
    let mut acc = [[_mm512_setzero_ps(); 2]; M];
    let (xp, pp) = (x.as_ptr(), panel.as_ptr());
    for kk in 0..k {
        // SAFETY: kk < k, so the panel's row kk (32 values) and x's
        // values (i, kk), i < M, are in bounds (checked above).
        unsafe {
            let w0 = _mm512_loadu_ps(pp.add(kk * NR));
            let w1 = _mm512_loadu_ps(pp.add(kk * NR + 16));
            for (i, a) in acc.iter_mut().enumerate() {
                let xv = _mm512_set1_ps(*xp.add(i * k + kk));
                a[0] = _mm512_fmadd_ps(xv, w0, a[0]);
                a[1] = _mm512_fmadd_ps(xv, w1, a[1]);
            }
        }
    }
    let lo = ((1u32 << cols.min(16)) - 1) as __mmask16;
    let hi = ((1u32 << cols.saturating_sub(16)) - 1) as __mmask16;
    for (i, a) in acc.iter().enumerate() {
        // SAFETY: row i of y has `cols` writable values (the masks cover
        // only those).
        unsafe {
            _mm512_mask_storeu_ps(y.add(i * ldy), lo, a[0]);
            _mm512_mask_storeu_ps(y.add(i * ldy + 16), hi, a[1]);
        }
    }
}

/// panel[kk·32 + j] = rows[j·k + kk] for j < 32, kk < k.
///
/// # Safety
/// AVX-512 F; `rows` and `panel` hold 32 × k values.
#[target_feature(enable = "avx512f")]
unsafe fn transpose_panel(rows: &[f32], k: usize, panel: &mut [f32]) {
    assert!(rows.len() >= NR * k && panel.len() >= NR * k && NR * k < i32::MAX as usize);
    let stride = k as i32;
    let index = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(stride),
    );
    let (rp, pp) = (rows.as_ptr(), panel.as_mut_ptr());
    for kk in 0..k {
        // SAFETY: lanes read rows[(j)·k + kk] and rows[(16 + j)·k + kk] for
        // j < 16, all below 32·k; the stores fill panel[kk·32 .. kk·32 + 32].
        unsafe {
            let lo = _mm512_i32gather_ps::<4>(index, rp.add(kk));
            let hi = _mm512_i32gather_ps::<4>(index, rp.add(16 * k + kk));
            _mm512_storeu_ps(pp.add(kk * NR), lo);
            _mm512_storeu_ps(pp.add(kk * NR + 16), hi);
        }
    }
}
