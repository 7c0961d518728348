//! Times one matrix-vector product per kernel family and weight format on
//! this CPU (one thread): `cargo run --release -p promptlab-infer --example kernel_speed`.
//! Reports ns per 32-weight block, to compare kernel variants.

use std::time::Instant;

use promptlab_infer::kernels::matmul::matvec_with;
use promptlab_infer::kernels::{Isa, Matrix};

fn main() {
    let rows: usize = std::env::var("ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3072);
    let cols = 576;
    let blocks = rows * cols / 32;
    let mut q41 = Vec::new();
    let mut q80 = Vec::new();
    for b in 0..blocks {
        q41.extend(half::f16::from_f32(0.01).to_bits().to_le_bytes());
        q41.extend(half::f16::from_f32(-0.1).to_bits().to_le_bytes());
        q41.extend((0..16).map(|j| (b * 7 + j * 13) as u8));
        q80.extend(half::f16::from_f32(0.01).to_bits().to_le_bytes());
        q80.extend((0..32).map(|j| (b * 5 + j * 11) as u8));
    }
    let matrices = [
        (
            "q4_1",
            Matrix::from_q4_1_bytes(rows, cols, &q41).expect("q4_1"),
        ),
        (
            "q8_0",
            Matrix::from_q8_0_bytes(rows, cols, &q80).expect("q8_0"),
        ),
    ];
    let x: Vec<f32> = (0..cols).map(|i| (i as f32 * 0.37).sin()).collect();
    let mut y = vec![0f32; rows];
    for isa in Isa::all_supported() {
        for (name, m) in &matrices {
            let reps = (600_000_000 / (rows * cols)).max(3);
            matvec_with(isa, m, &x, &mut y);
            let start = Instant::now();
            for _ in 0..reps {
                matvec_with(isa, m, &x, &mut y);
            }
            let ns = start.elapsed().as_nanos() as f64 / (reps * blocks) as f64;
            println!("{:<9} {name}: {ns:.2} ns per block", isa.name());
        }
    }
}
