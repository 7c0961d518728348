//! How good a generator's samples are, judged by the CNN classifier: its
//! mean max-probability, the histogram of the classes it assigns and that
//! histogram's entropy, the share it labels with ≥ 90% confidence, and a
//! Fréchet distance ("LeNet-FID") between Gaussians fitted to the
//! classifier's 128 penultimate features of the samples and of the test
//! set: ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½), as FID does with
//! Inception features.

use crate::cnn::{images_tensor, Classifier};
use crate::cnn_train::{argmax, probabilities};
use crate::data::{CLASSES, PIXELS};
use crate::error::Result;

/// A max-probability at or above this counts as a confident label.
pub const CONFIDENT: f32 = 0.9;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SampleJudgement {
    pub samples: usize,
    pub mean_max_prob: f64,
    pub confident_share: f64,
    pub class_histogram: [usize; CLASSES],
    /// Entropy of the class histogram, in nats (ln 10 ≈ 2.303 when even).
    pub class_entropy: f64,
    pub fid: f64,
}

/// Each sample's label and confidence.
pub fn labels(judge: &Classifier, pixels: &[f32]) -> Result<Vec<(usize, f32)>> {
    let probs = probabilities(judge, pixels)?;
    Ok(probs
        .chunks_exact(CLASSES)
        .map(|row| {
            let best = argmax(row);
            (best, row[best])
        })
        .collect())
}

/// Judges `samples` (n × 784) against the `reference` images (the test set).
pub fn judge(judge: &Classifier, samples: &[f32], reference: &[f32]) -> Result<SampleJudgement> {
    let labelled = labels(judge, samples)?;
    let n = labelled.len().max(1) as f64;
    let mut histogram = [0usize; CLASSES];
    for &(class, _) in &labelled {
        histogram[class] += 1;
    }
    let class_entropy = histogram
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum();
    Ok(SampleJudgement {
        samples: labelled.len(),
        mean_max_prob: labelled.iter().map(|&(_, p)| f64::from(p)).sum::<f64>() / n,
        confident_share: labelled.iter().filter(|&&(_, p)| p >= CONFIDENT).count() as f64 / n,
        class_histogram: histogram,
        class_entropy,
        fid: frechet_distance(&features(judge, samples)?, &features(judge, reference)?),
    })
}

/// The classifier's penultimate features, one row (of `dim`) per image.
pub struct Features {
    pub dim: usize,
    pub rows: Vec<f64>,
}

pub fn features(judge: &Classifier, pixels: &[f32]) -> Result<Features> {
    let mut rows = Vec::new();
    let mut dim = 0;
    for chunk in pixels.chunks(500 * PIXELS) {
        let f = judge.features(&images_tensor(chunk)?)?; // (b, hidden)
        dim = f.dim(1)?;
        rows.extend(
            f.flatten_all()?
                .to_vec1::<f32>()?
                .into_iter()
                .map(f64::from),
        );
    }
    Ok(Features { dim, rows })
}

/// Mean (dim) and covariance (dim × dim, unbiased) of feature rows.
fn moments(f: &Features) -> (Vec<f64>, Vec<f64>) {
    let d = f.dim;
    let n = f.rows.len() / d.max(1);
    let mut mean = vec![0f64; d];
    for row in f.rows.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v / n as f64;
        }
    }
    let mut cov = vec![0f64; d * d];
    for row in f.rows.chunks_exact(d) {
        for i in 0..d {
            let di = row[i] - mean[i];
            for j in i..d {
                cov[i * d + j] += di * (row[j] - mean[j]);
            }
        }
    }
    let denom = (n.max(2) - 1) as f64;
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] / denom;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    (mean, cov)
}

/// The Fréchet distance between Gaussians fitted to `a` and `b`.
pub fn frechet_distance(a: &Features, b: &Features) -> f64 {
    let d = a.dim;
    let (m1, s1) = moments(a);
    let (m2, s2) = moments(b);
    let mean_term: f64 = m1.iter().zip(&m2).map(|(x, y)| (x - y) * (x - y)).sum();
    let trace = |s: &[f64]| (0..d).map(|i| s[i * d + i]).sum::<f64>();
    // (Σ₁^½ Σ₂ Σ₁^½) is symmetric, and its square root's trace is the sum
    // of the square roots of its eigenvalues.
    let root1 = sym_sqrt(&s1, d);
    let middle = matmul(&matmul(&root1, &s2, d), &root1, d);
    let cross: f64 = symmetric_eigenvalues(&middle, d)
        .iter()
        .map(|&l| l.max(0.0).sqrt())
        .sum();
    mean_term + trace(&s1) + trace(&s2) - 2.0 * cross
}

fn matmul(a: &[f64], b: &[f64], d: usize) -> Vec<f64> {
    let mut out = vec![0f64; d * d];
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            for j in 0..d {
                out[i * d + j] += aik * b[k * d + j];
            }
        }
    }
    out
}

/// The square root of a symmetric positive semi-definite matrix.
fn sym_sqrt(s: &[f64], d: usize) -> Vec<f64> {
    let (values, vectors) = jacobi(s, d);
    let mut out = vec![0f64; d * d];
    for (k, &l) in values.iter().enumerate() {
        let r = l.max(0.0).sqrt();
        for i in 0..d {
            for j in 0..d {
                out[i * d + j] += r * vectors[i * d + k] * vectors[j * d + k];
            }
        }
    }
    out
}

fn symmetric_eigenvalues(s: &[f64], d: usize) -> Vec<f64> {
    jacobi(s, d).0
}

/// Eigenvalues and eigenvectors (columns) of symmetric `s`, by cyclic
/// Jacobi rotations until the off-diagonal part is negligible.
fn jacobi(s: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = s.to_vec();
    let mut v = vec![0f64; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum();
        if off <= 1e-22 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s_ = t * c;
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s_ * akq;
                    a[k * d + q] = s_ * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s_ * aqk;
                    a[q * d + k] = s_ * apk + c * aqk;
                }
                for k in 0..d {
                    let vkp = v[k * d + p];
                    let vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s_ * vkq;
                    v[k * d + q] = s_ * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(dim: usize, rows: Vec<f64>) -> Features {
        Features { dim, rows }
    }

    #[test]
    fn the_frechet_distance_of_a_set_to_itself_is_zero_and_of_a_shift_its_square() {
        let rows: Vec<f64> = (0..400)
            .map(|i| ((i * 37 % 101) as f64 / 10.0).sin())
            .collect();
        let a = features(4, rows.clone());
        assert!(frechet_distance(&a, &a).abs() < 1e-8);
        let shifted = features(4, rows.iter().map(|v| v + 2.0).collect());
        // Same covariance, means 2 apart in each of 4 dimensions: 4 · 2².
        assert!((frechet_distance(&a, &shifted) - 16.0).abs() < 1e-6);
    }

    #[test]
    fn one_dimensional_gaussians_match_the_closed_form() {
        // N(0, 1) against N(0, 4): (1 + 4 − 2·2) = 1, over exact samples.
        let a = features(1, vec![-1.0, 1.0]);
        let b = features(1, vec![-2.0, 2.0]);
        // Unbiased variances: 2 and 8; (√2 − √8)² = 2.
        assert!((frechet_distance(&a, &b) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn jacobi_finds_the_eigenvalues_of_a_known_matrix() {
        let s = [2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0];
        let mut values = jacobi(&s, 3).0;
        values.sort_by(f64::total_cmp);
        for (got, want) in values.iter().zip([1.0, 3.0, 5.0]) {
            assert!((got - want).abs() < 1e-10, "{values:?}");
        }
    }
}
