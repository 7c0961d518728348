//! y = x · Wᵀ over a [`Matrix`], threaded: matrix-vector kernels for a few
//! tokens (each task a run of rows), and for many a tiled f32 GEMM over
//! weights dequantized one tile at a time.

use std::cell::RefCell;

use rayon::prelude::*;

use super::matrix::{Data, Matrix, RowScales, BLOCK};
use super::{portable, Isa};

/// From this many tokens on, a product dequantizes weight tiles and runs an
/// f32 GEMM instead of one matrix-vector product per token.
pub const GEMM_MIN_TOKENS: usize = 4;

/// Bytes of f32 weights dequantized per GEMM tile.
const TILE_BYTES: usize = 4 << 20;

/// Per thread: what one activation vector is turned into before its rows.
#[derive(Default)]
struct Prepared {
    /// Σ x per block (Q4's minimum term).
    xsum: Vec<f32>,
    /// x split into 21-bit integers (the VNNI kernels).
    #[cfg(target_arch = "x86_64")]
    split: super::x86_vnni::SplitActivations,
}

thread_local! {
    static PREPARED: RefCell<Prepared> = RefCell::new(Prepared::default());
    /// The f32 scales of the rows a task runs.
    static ROW_SCALES: RefCell<RowScales> = RefCell::new(RowScales::default());
    /// A GEMM tile of dequantized weights.
    static TILE: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// y (t × rows) = x (t × cols) · Wᵀ with the active kernels.
pub fn matmul(w: &Matrix, x: &[f32], t: usize, y: &mut [f32]) {
    matmul_with(Isa::active(), w, x, t, y);
}

/// As [`matmul`], with the given kernel family (the portable one where this
/// CPU lacks it).
pub fn matmul_with(isa: Isa, w: &Matrix, x: &[f32], t: usize, y: &mut [f32]) {
    let (n, k) = (w.rows(), w.cols());
    assert_eq!(x.len(), t * k, "activations for {t} tokens of {k}");
    assert_eq!(y.len(), t * n, "outputs for {t} tokens of {n}");
    let isa = if isa.supported() { isa } else { Isa::Portable };
    #[cfg(target_arch = "x86_64")]
    if t >= GEMM_MIN_TOKENS && matches!(isa, Isa::Avx512 | Isa::Avx512Vnni) {
        // SAFETY: the CPU has AVX-512 F (checked just above); x and y are
        // sized for t tokens (asserted above).
        unsafe { super::x86_gemm512::gemm(w, x, t, y) };
        return;
    }
    if t >= GEMM_MIN_TOKENS {
        gemm_tiles(w, x, t, y);
    } else {
        for i in 0..t {
            matvec_with(isa, w, &x[i * k..(i + 1) * k], &mut y[i * n..(i + 1) * n]);
        }
    }
}

/// y (rows) = W · x for one activation vector, rows split across threads.
pub fn matvec_with(isa: Isa, w: &Matrix, x: &[f32], y: &mut [f32]) {
    let isa = if isa.supported() { isa } else { Isa::Portable };
    PREPARED.with_borrow_mut(|p| {
        p.xsum.clear();
        if matches!(w.data, Data::Q4 { .. }) {
            p.xsum
                .extend(x.chunks_exact(BLOCK).map(|b| b.iter().sum::<f32>()));
        }
        #[cfg(target_arch = "x86_64")]
        if isa == Isa::Avx512Vnni && matches!(w.data, Data::Q4 { .. } | Data::Q8 { .. }) {
            p.split.fill(x);
        }
        let p = &*p;
        let per_task = rows_per_task(w.rows());
        if per_task >= w.rows() {
            kernel(isa, w, 0, x, p, y);
        } else {
            super::pool::for_each_chunk_mut(y, per_task, |c, out| {
                kernel(isa, w, c * per_task, x, p, out)
            });
        }
    });
}

/// Rows per matrix-vector task: a few tasks per thread, none tiny.
fn rows_per_task(rows: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    if threads == 1 {
        return rows;
    }
    (rows / (threads * 4)).clamp(32, 1024).next_multiple_of(8)
}

fn kernel(isa: Isa, w: &Matrix, first: usize, x: &[f32], p: &Prepared, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512Vnni {
        // SAFETY: callers pass only an `isa` this CPU supports
        // (`matvec_with` checks); `p.split` was filled from `x` for quantized
        // matrices, and `out` is sized for these rows of `w`.
        if unsafe { super::x86_vnni::matvec(w, first, &p.split, &p.xsum, out) } {
            return;
        }
    }
    ROW_SCALES.with_borrow_mut(|rs| {
        row_scales(isa, w, first, out.len(), rs);
        run_rows(isa, w, first, x, p, rs, out);
    });
}

/// The f32 scales (and minimums) of rows `first..first + rows` into `rs`.
fn row_scales(isa: Isa, w: &Matrix, first: usize, rows: usize, rs: &mut RowScales) {
    let nb = w.blocks_per_row();
    let range = first * nb..(first + rows) * nb;
    let convert = |src: &[u16], dst: &mut Vec<f32>| {
        dst.clear();
        dst.resize(src.len(), 0.0);
        match isa {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: callers pass only an `isa` this CPU supports.
            Isa::Avx512 | Isa::Avx512Vnni => unsafe { super::x86_avx512::f16_to_f32(src, dst) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe { super::x86_avx2::f16_to_f32(src, dst) },
            _ => dst
                .iter_mut()
                .zip(src)
                .for_each(|(d, &s)| *d = super::matrix::f32_of(s)),
        }
    };
    match &w.data {
        Data::Q4 { scales, mins, .. } => {
            convert(&scales[range.clone()], &mut rs.d);
            convert(&mins[range], &mut rs.m);
        }
        Data::Q8 { scales, .. } => convert(&scales[range], &mut rs.d),
        Data::F32(_) | Data::F16(_) => {}
    }
}

fn run_rows(
    isa: Isa,
    w: &Matrix,
    first: usize,
    x: &[f32],
    p: &Prepared,
    rs: &RowScales,
    out: &mut [f32],
) {
    let xsum = &p.xsum;
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: callers pass only an `isa` this CPU supports
        // (`matvec_with` checks; VNNI implies AVX-512 F and BW); `x`,
        // `xsum`, `rs`, `out` are sized for these rows of `w`.
        Isa::Avx512 | Isa::Avx512Vnni => unsafe {
            super::x86_avx512::matvec(w, first, x, xsum, rs, out)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { super::x86_avx2::matvec(w, first, x, xsum, rs, out) },
        _ => portable::matvec(w, first, x, xsum, rs, out),
    }
}

/// y = x · Wᵀ as f32 GEMMs over tiles of W dequantized in turn (f32
/// weights are used in place).
fn gemm_tiles(w: &Matrix, x: &[f32], t: usize, y: &mut [f32]) {
    let (n, k) = (w.rows(), w.cols());
    let threads = rayon::current_num_threads().max(1);
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let run = |tile: &[f32], first: usize, rows: usize, y: &mut [f32]| {
        assert!(tile.len() >= rows * k && first + rows <= n && y.len() == t * n);
        // SAFETY: dst is y[i * n + first + j] for i < t, j < rows (in
        // bounds: first + rows <= n); lhs is x[i * k + kk] (x holds t × k);
        // rhs element (kk, j) is tile[j * k + kk] (tile holds rows × k). The
        // pointers come from live slices that outlive the call.
        unsafe {
            gemm::gemm(
                t,
                rows,
                k,
                y.as_mut_ptr().add(first),
                1,
                n as isize,
                false,
                x.as_ptr(),
                1,
                k as isize,
                tile.as_ptr(),
                k as isize,
                1,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                parallelism,
            );
        }
    };
    if let Data::F32(values) = &w.data {
        run(values, 0, n, y);
        return;
    }
    let tile_rows = (TILE_BYTES / (4 * k)).clamp(16, n.max(16));
    TILE.with_borrow_mut(|tile| {
        tile.resize(tile_rows * k, 0.0);
        for first in (0..n).step_by(tile_rows) {
            let rows = tile_rows.min(n - first);
            let part = &mut tile[..rows * k];
            part.par_chunks_mut(16 * k)
                .enumerate()
                .for_each(|(i, chunk)| w.dequantize_rows(first + i * 16, chunk));
            run(part, first, rows, y);
        }
    });
}
