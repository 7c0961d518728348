//! Every kernel family against the plain reference, for every weight format,
//! with odd sizes, tails and token counts on both sides of the GEMM switch.

use half::f16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::matmul::{matmul_with, GEMM_MIN_TOKENS};
use super::{ops, reference, Isa, Matrix, WeightFormat, BLOCK};

fn f16_bytes(v: f32) -> [u8; 2] {
    f16::from_f32(v).to_bits().to_le_bytes()
}

/// Random stored bytes of `format` for a rows × cols matrix.
fn random_matrix(format: &str, rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Matrix {
    let blocks = rows * cols / BLOCK;
    let mut bytes = Vec::new();
    match format {
        "q4_0" => {
            for _ in 0..blocks {
                bytes.extend(f16_bytes(rng.random_range(0.001..0.05)));
                bytes.extend((0..16).map(|_| rng.random::<u8>()));
            }
            Matrix::from_q4_0_bytes(rows, cols, &bytes).unwrap()
        }
        "q4_1" => {
            for _ in 0..blocks {
                bytes.extend(f16_bytes(rng.random_range(0.001..0.05)));
                bytes.extend(f16_bytes(rng.random_range(-0.4..0.0)));
                bytes.extend((0..16).map(|_| rng.random::<u8>()));
            }
            Matrix::from_q4_1_bytes(rows, cols, &bytes).unwrap()
        }
        "q8_0" => {
            for _ in 0..blocks {
                bytes.extend(f16_bytes(rng.random_range(0.0001..0.01)));
                bytes.extend((0..32).map(|_| rng.random::<u8>()));
            }
            Matrix::from_q8_0_bytes(rows, cols, &bytes).unwrap()
        }
        "f16" => {
            for _ in 0..rows * cols {
                bytes.extend(f16_bytes(rng.random_range(-1.0..1.0)));
            }
            Matrix::from_f16_bytes(rows, cols, &bytes).unwrap()
        }
        "f32" => {
            let values = (0..rows * cols)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            Matrix::from_f32(rows, cols, values).unwrap()
        }
        other => panic!("no format {other}"),
    }
}

fn random_vec(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-2.0f32..2.0)).collect()
}

/// The most the VNNI kernels' 21-bit activations may move a row's dot
/// product: each x is off by at most max|x of its block| / 2²¹, times |w|.
fn split_activation_bound(m: &Matrix, row: usize, x: &[f32]) -> f64 {
    let mut w = vec![0f32; m.cols()];
    m.dequantize_rows(row, &mut w);
    w.chunks(BLOCK)
        .zip(x.chunks(BLOCK))
        .map(|(wb, xb)| {
            let amax = xb.iter().fold(0f32, |a, v| a.max(v.abs()));
            wb.iter().map(|v| f64::from(v.abs())).sum::<f64>() * f64::from(amax) / 2097152.0
        })
        .sum()
}

/// |fast − reference| within 1e-5 of Σ|w·x| (f32 summation in another
/// order), plus for the VNNI kernels on quantized rows the bound of their
/// 21-bit activations, for every output.
fn assert_close(what: &str, isa: Isa, m: &Matrix, x: &[f32], t: usize, fast: &[f32]) {
    let exact = reference::matmul(m, x, t);
    let k = m.cols();
    let split =
        isa == Isa::Avx512Vnni && matches!(m.format(), WeightFormat::Q4 | WeightFormat::Q8_0);
    for i in 0..t {
        for r in 0..m.rows() {
            let xi = &x[i * k..(i + 1) * k];
            let scale = reference::row_abs_dot(m, r, xi);
            let mut bound = 1e-5 * scale + 1e-6;
            if split && t < GEMM_MIN_TOKENS {
                bound += split_activation_bound(m, r, xi);
            }
            let (a, b) = (fast[i * m.rows() + r], exact[i * m.rows() + r]);
            assert!(
                (f64::from(a) - f64::from(b)).abs() <= bound,
                "{what}: token {i} row {r}: {a} vs reference {b} (scale {scale}, bound {bound})"
            );
        }
    }
}

#[test]
fn every_kernel_family_matches_the_reference_for_every_format() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let isas = Isa::all_supported();
    eprintln!("kernel families on this CPU: {isas:?}");
    for format in ["q4_0", "q4_1", "q8_0", "f16", "f32"] {
        let col_choices: &[usize] = if format.starts_with('q') {
            &[32, 64, 96, 160, 576]
        } else {
            &[1, 7, 16, 31, 33, 100, 576]
        };
        for &cols in col_choices {
            for rows in [1, 3, 17, 40, 130] {
                let m = random_matrix(format, rows, cols, &mut rng);
                for t in [1, 2, 3, GEMM_MIN_TOKENS, GEMM_MIN_TOKENS + 5] {
                    let x = random_vec(t * cols, &mut rng);
                    for &isa in &isas {
                        let mut y = vec![f32::NAN; t * rows];
                        matmul_with(isa, &m, &x, t, &mut y);
                        let what = format!("{} {format} {rows}×{cols}, {t} tokens", isa.name());
                        assert_close(&what, isa, &m, &x, t, &y);
                    }
                }
            }
        }
    }
}

#[test]
fn extreme_blocks_sum_without_overflow() {
    // Every weight -128 and every activation at its block's largest value:
    // the largest dot product a block of 32 can have, in an odd number of
    // blocks so the scalar tail runs too.
    for cols in [32, 96] {
        let mut bytes = Vec::new();
        for _ in 0..cols / BLOCK {
            bytes.extend(f16_bytes(0.01));
            bytes.extend([0x80u8; 32]);
        }
        let m = Matrix::from_q8_0_bytes(1, cols, &bytes).unwrap();
        let x = vec![1.5f32; cols];
        for isa in Isa::all_supported() {
            let mut y = vec![f32::NAN; 1];
            matmul_with(isa, &m, &x, 1, &mut y);
            assert_close(
                &format!("{} extreme q8_0 ×{cols}", isa.name()),
                isa,
                &m,
                &x,
                1,
                &y,
            );
        }
    }
}

#[test]
fn blocks_dequantize_as_the_gguf_layouts_define() {
    // One block each, quants 0..16 in the low nibbles, 15..=0 in the high.
    let nibbles: Vec<u8> = (0..16u8).map(|j| j | ((15 - j) << 4)).collect();
    let expect = |f: &dyn Fn(f32) -> f32| -> Vec<f32> {
        (0..16)
            .map(|j| f(j as f32))
            .chain((0..16).map(|j| f(15.0 - j as f32)))
            .collect()
    };
    let mut q41 = Vec::new();
    q41.extend(f16_bytes(0.5));
    q41.extend(f16_bytes(-1.0));
    q41.extend(&nibbles);
    let m = Matrix::from_q4_1_bytes(1, 32, &q41).unwrap();
    assert_eq!(m.to_f32(), expect(&|q| 0.5 * q - 1.0));

    let mut q40 = Vec::new();
    q40.extend(f16_bytes(0.25));
    q40.extend(&nibbles);
    let m = Matrix::from_q4_0_bytes(1, 32, &q40).unwrap();
    assert_eq!(m.to_f32(), expect(&|q| 0.25 * (q - 8.0)));

    let mut q80 = Vec::new();
    q80.extend(f16_bytes(0.125));
    q80.extend((0..32).map(|i| (i as i8 - 16) as u8));
    let m = Matrix::from_q8_0_bytes(1, 32, &q80).unwrap();
    let want: Vec<f32> = (0..32).map(|i| 0.125 * (i as f32 - 16.0)).collect();
    assert_eq!(m.to_f32(), want);
    assert_eq!(m.format(), WeightFormat::Q8_0);
}

#[test]
fn wrong_sizes_are_refused_not_read_past() {
    assert!(Matrix::from_q4_1_bytes(2, 32, &[0; 39]).is_err());
    assert!(Matrix::from_q4_1_bytes(1, 33, &[0; 20]).is_err());
    assert!(Matrix::from_q8_0_bytes(usize::MAX, 64, &[0; 68]).is_err());
    assert!(Matrix::from_f16_bytes(3, 3, &[0; 17]).is_err());
    assert!(Matrix::from_f32(2, 2, vec![0.0; 3]).is_err());
}

#[test]
fn stacking_mixed_formats_keeps_every_row() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let a = random_matrix("q4_1", 3, 64, &mut rng);
    let b = random_matrix("q8_0", 2, 64, &mut rng);
    let same = Matrix::stack(&[a.clone(), a.clone()]).unwrap();
    assert_eq!(same.format(), WeightFormat::Q4);
    assert_eq!(same.to_f32(), [a.to_f32(), a.to_f32()].concat());
    let mixed = Matrix::stack(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(mixed.format(), WeightFormat::F32);
    assert_eq!(mixed.rows(), 5);
    assert_eq!(mixed.to_f32(), [a.to_f32(), b.to_f32()].concat());
    let narrow = random_matrix("f32", 1, 32, &mut rng);
    assert!(Matrix::stack(&[a, narrow]).is_none());
}

#[test]
fn small_ops_match_their_definitions() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for n in [1, 5, 16, 33, 64, 100] {
        let (a, b) = (random_vec(n, &mut rng), random_vec(n, &mut rng));
        let exact: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        assert!(
            (f64::from(ops::dot(&a, &b)) - exact).abs() < 1e-4,
            "dot of {n}"
        );
        let mut y = b.clone();
        ops::axpy(0.5, &a, &mut y);
        for i in 0..n {
            assert!((y[i] - (b[i] + 0.5 * a[i])).abs() < 1e-6, "axpy of {n}");
        }
    }
    let mut v = vec![1.0, 2.0, 3.0, f32::NEG_INFINITY];
    ops::softmax(&mut v);
    assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6 && v[3] == 0.0 && v[2] > v[1]);

    let x = vec![3.0, -4.0];
    let mut out = vec![0.0; 2];
    ops::rms_norm(&x, &[1.0, 2.0], 0.0, &mut out);
    let rms = (12.5f32).sqrt();
    assert!((out[0] - 3.0 / rms).abs() < 1e-6 && (out[1] + 8.0 / rms).abs() < 1e-6);

    let mut g = vec![0.0, 1.0];
    ops::silu_mul(&mut g, &[2.0, 3.0]);
    assert!(g[0] == 0.0 && (g[1] - 3.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);

    // Rotating by 90° maps (x0, x1) to (−x1, x0) in either pairing.
    let (cos, sin) = ([0.0, 1.0], [1.0, 0.0]);
    let mut head = vec![1.0, 2.0, 3.0, 4.0];
    ops::rope(&mut head, &cos, &sin, ops::RopePairs::Adjacent);
    assert_eq!(head, vec![-2.0, 1.0, 3.0, 4.0]);
    let mut head = vec![1.0, 2.0, 3.0, 4.0];
    ops::rope(&mut head, &cos, &sin, ops::RopePairs::Halves);
    assert_eq!(head, vec![-3.0, 2.0, 1.0, 4.0]);
}

#[test]
fn attention_scores_and_weighted_sums_match_their_definitions() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for hd in [8, 48, 64, 128] {
        for (n, stride) in [(1, hd), (7, hd * 3), (33, hd + 5)] {
            let rows = random_vec((n - 1) * stride + hd, &mut rng);
            let q = random_vec(hd, &mut rng);
            let mut scores = vec![0.0; n];
            ops::attention_scores(&q, &rows, stride, 0.125, &mut scores);
            for j in 0..n {
                let exact: f32 = (0..hd).map(|d| q[d] * rows[j * stride + d]).sum::<f32>() * 0.125;
                assert!(
                    (scores[j] - exact).abs() < 1e-4,
                    "score {j} of {n}, head {hd}"
                );
            }
            let w = random_vec(n, &mut rng);
            let mut out = vec![f32::NAN; hd];
            ops::weighted_sum(&w, &rows, stride, &mut out);
            for d in 0..hd {
                let exact: f32 = (0..n).map(|j| w[j] * rows[j * stride + d]).sum();
                assert!(
                    (out[d] - exact).abs() < 1e-4,
                    "value {d}, {n} rows, head {hd}"
                );
            }
        }
    }
}
