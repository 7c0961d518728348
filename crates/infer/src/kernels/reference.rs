//! The plain definitions every fast kernel is tested against: dequantize a
//! row with [`Matrix::dequantize_rows`] and sum its products with x in f64.

use super::Matrix;

/// row `row` of `m` · x, summed in f64.
pub fn row_dot(m: &Matrix, row: usize, x: &[f32]) -> f64 {
    let mut w = vec![0f32; m.cols()];
    m.dequantize_rows(row, &mut w);
    w.iter()
        .zip(x)
        .map(|(&w, &x)| f64::from(w) * f64::from(x))
        .sum()
}

/// Σ |w·x| over a row: the scale a rounding error of the row's dot product is
/// measured against.
pub fn row_abs_dot(m: &Matrix, row: usize, x: &[f32]) -> f64 {
    let mut w = vec![0f32; m.cols()];
    m.dequantize_rows(row, &mut w);
    w.iter()
        .zip(x)
        .map(|(&w, &x)| (f64::from(w) * f64::from(x)).abs())
        .sum()
}

/// y (t × rows) = x (t × cols) · mᵀ, each entry by [`row_dot`].
pub fn matmul(m: &Matrix, x: &[f32], t: usize) -> Vec<f32> {
    let k = m.cols();
    let mut y = Vec::with_capacity(t * m.rows());
    for i in 0..t {
        for r in 0..m.rows() {
            y.push(row_dot(m, r, &x[i * k..(i + 1) * k]) as f32);
        }
    }
    y
}
