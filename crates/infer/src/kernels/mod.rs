//! promptlab's own CPU kernels for the forward pass.
//!
//! Weight matrices stay in their stored quantization (repacked at load into
//! [`Matrix`]) and are multiplied by f32 activations that are never rounded:
//! a Q4_1 weight is `d·q + m`, so a row · x is `Σ_b d_b·(q_b · x_b) + m_b·Σx_b`
//! with the per-block sums of x computed once per activation vector. Decode
//! (a few tokens) runs matrix-vector kernels over several rows per task;
//! prefill dequantizes a tile of weights at a time into f32 and runs a tiled
//! f32 GEMM, so its work is compute-bound FMA.
//!
//! Where the CPU has AVX-512 VNNI, quantized rows are integer dot products
//! over activations split into 21-bit integers per block (see `x86_vnni`):
//! still not rounded to 8 bits, and within 5·10⁻⁷ of each value.
//!
//! Every fast path (AVX2+FMA+F16C, AVX-512, VNNI) has a plain scalar reference in
//! [`reference`] beside it and a portable fallback in `portable`; [`Isa::active`]
//! chooses at run time, so one binary runs on every x86-64. On aarch64 and other
//! targets the portable code runs (the compiler vectorizes what it can).
#![allow(unsafe_code)]

mod isa;
pub mod matmul;
pub mod matrix;
pub mod ops;
pub mod pool;
mod portable;
pub mod reference;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;
#[cfg(target_arch = "x86_64")]
mod x86_gemm512;
#[cfg(target_arch = "x86_64")]
mod x86_vnni;

pub use isa::Isa;
pub use matrix::{Matrix, WeightFormat, BLOCK};
