//! A weight matrix (rows, cols) as the kernels read it: f32, f16, or blocks
//! of 32 quantized weights with their f16 scales (and minimums) stored apart
//! from the quants, so a row's quants are contiguous and the matrix takes no
//! more memory than the file's blocks.
//!
//! GGUF block layouts read here (little-endian):
//! - Q4_0: f16 d, 16 bytes of nibbles; w = d·(q − 8). Held as Q4 with m = −8d
//!   (exact in f16; a block whose −8d would overflow f16 makes the matrix f32).
//! - Q4_1: f16 d, f16 m, 16 bytes of nibbles; w = d·q + m.
//! - Q8_0: f16 d, 32 signed bytes; w = d·q.
//!
//! In a 16-byte nibble group, byte j holds weight j in its low nibble and
//! weight j + 16 in its high nibble.

use half::f16;

/// Weights per quantized block.
pub const BLOCK: usize = 32;

/// How a matrix's weights are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    F32,
    F16,
    Q8_0,
    /// Q4_0 and Q4_1 (Q4_0 as Q4_1 with m = −8d).
    Q4,
}

impl WeightFormat {
    pub fn name(self) -> &'static str {
        match self {
            WeightFormat::F32 => "f32",
            WeightFormat::F16 => "f16",
            WeightFormat::Q8_0 => "q8_0",
            WeightFormat::Q4 => "q4",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Data {
    F32(Vec<f32>),
    /// IEEE half-precision bits.
    F16(Vec<u16>),
    /// One f16 scale per block; 32 signed quants per block.
    Q8 {
        scales: Vec<u16>,
        quants: Vec<i8>,
    },
    /// One f16 scale and one f16 minimum per block; 16 bytes of nibbles per
    /// block.
    Q4 {
        scales: Vec<u16>,
        mins: Vec<u16>,
        quants: Vec<u8>,
    },
}

/// The f32 scales (and Q4 minimums) of a run of rows, converted once per
/// task so the row kernels broadcast them straight from memory.
#[derive(Debug, Default)]
pub(crate) struct RowScales {
    /// d per block of the rows, row after row.
    pub d: Vec<f32>,
    /// m per block (Q4 only).
    pub m: Vec<f32>,
}

/// A (rows, cols) weight matrix for `y = x · Wᵀ`.
#[derive(Debug, Clone)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    pub(crate) data: Data,
}

/// Why stored bytes cannot be a matrix of the asked shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutError(pub String);

fn f16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

/// An f16 value's f32.
pub(crate) fn f32_of(bits: u16) -> f32 {
    f16::from_bits(bits).to_f32()
}

impl Matrix {
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn format(&self) -> WeightFormat {
        match self.data {
            Data::F32(_) => WeightFormat::F32,
            Data::F16(_) => WeightFormat::F16,
            Data::Q8 { .. } => WeightFormat::Q8_0,
            Data::Q4 { .. } => WeightFormat::Q4,
        }
    }

    /// Blocks per row (quantized formats).
    pub(crate) fn blocks_per_row(&self) -> usize {
        self.cols / BLOCK
    }

    /// Bytes the weights take in memory.
    pub fn bytes(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len() * 4,
            Data::F16(v) => v.len() * 2,
            Data::Q8 { scales, quants } => scales.len() * 2 + quants.len(),
            Data::Q4 {
                scales,
                mins,
                quants,
            } => (scales.len() + mins.len()) * 2 + quants.len(),
        }
    }

    pub fn from_f32(rows: usize, cols: usize, values: Vec<f32>) -> Result<Self, LayoutError> {
        if values.len() != rows * cols {
            return Err(LayoutError(format!(
                "{} values for a {rows}×{cols} matrix",
                values.len()
            )));
        }
        Ok(Self {
            rows,
            cols,
            data: Data::F32(values),
        })
    }

    fn check_bytes(
        rows: usize,
        cols: usize,
        bytes: &[u8],
        block_bytes: usize,
        format: &str,
    ) -> Result<usize, LayoutError> {
        if !cols.is_multiple_of(BLOCK) {
            return Err(LayoutError(format!(
                "{format} rows of {cols} weights (expected a multiple of {BLOCK})"
            )));
        }
        let blocks = rows
            .checked_mul(cols / BLOCK)
            .ok_or_else(|| LayoutError(format!("{rows}×{cols} is too large")))?;
        if blocks.checked_mul(block_bytes) != Some(bytes.len()) {
            return Err(LayoutError(format!(
                "{} bytes of {format} for a {rows}×{cols} matrix (expected {})",
                bytes.len(),
                blocks.saturating_mul(block_bytes)
            )));
        }
        Ok(blocks)
    }

    pub fn from_f16_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Result<Self, LayoutError> {
        if rows.checked_mul(cols).and_then(|n| n.checked_mul(2)) != Some(bytes.len()) {
            return Err(LayoutError(format!(
                "{} bytes of f16 for a {rows}×{cols} matrix",
                bytes.len()
            )));
        }
        let bits = bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        Ok(Self {
            rows,
            cols,
            data: Data::F16(bits),
        })
    }

    pub fn from_f32_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Result<Self, LayoutError> {
        if rows.checked_mul(cols).and_then(|n| n.checked_mul(4)) != Some(bytes.len()) {
            return Err(LayoutError(format!(
                "{} bytes of f32 for a {rows}×{cols} matrix",
                bytes.len()
            )));
        }
        let values = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Self::from_f32(rows, cols, values)
    }

    pub fn from_q8_0_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Result<Self, LayoutError> {
        let blocks = Self::check_bytes(rows, cols, bytes, 34, "Q8_0")?;
        let mut scales = Vec::with_capacity(blocks);
        let mut quants = Vec::with_capacity(blocks * BLOCK);
        for block in bytes.chunks_exact(34) {
            scales.push(f16_at(block, 0));
            quants.extend(block[2..].iter().map(|&b| b as i8));
        }
        Ok(Self {
            rows,
            cols,
            data: Data::Q8 { scales, quants },
        })
    }

    pub fn from_q4_1_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Result<Self, LayoutError> {
        let blocks = Self::check_bytes(rows, cols, bytes, 20, "Q4_1")?;
        let mut scales = Vec::with_capacity(blocks);
        let mut mins = Vec::with_capacity(blocks);
        let mut quants = Vec::with_capacity(blocks * 16);
        for block in bytes.chunks_exact(20) {
            scales.push(f16_at(block, 0));
            mins.push(f16_at(block, 2));
            quants.extend_from_slice(&block[4..]);
        }
        Ok(Self {
            rows,
            cols,
            data: Data::Q4 {
                scales,
                mins,
                quants,
            },
        })
    }

    pub fn from_q4_0_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Result<Self, LayoutError> {
        let blocks = Self::check_bytes(rows, cols, bytes, 18, "Q4_0")?;
        let mut scales = Vec::with_capacity(blocks);
        let mut mins = Vec::with_capacity(blocks);
        let mut quants = Vec::with_capacity(blocks * 16);
        for block in bytes.chunks_exact(18) {
            let d = f16_at(block, 0);
            let min = f16::from_f32(-8.0 * f32_of(d));
            if f32::from(min) != -8.0 * f32_of(d) {
                // −8d overflows f16: hold this matrix as f32 instead.
                return Self::from_f32(rows, cols, dequantize_q4_0(bytes));
            }
            scales.push(d);
            mins.push(min.to_bits());
            quants.extend_from_slice(&block[2..]);
        }
        Ok(Self {
            rows,
            cols,
            data: Data::Q4 {
                scales,
                mins,
                quants,
            },
        })
    }

    /// Writes rows `first..first + out.len() / cols` as f32 into `out`.
    pub fn dequantize_rows(&self, first: usize, out: &mut [f32]) {
        let cols = self.cols;
        let n = out.len() / cols;
        debug_assert!(first + n <= self.rows);
        match &self.data {
            Data::F32(v) => out.copy_from_slice(&v[first * cols..(first + n) * cols]),
            Data::F16(v) => {
                for (o, &b) in out.iter_mut().zip(&v[first * cols..(first + n) * cols]) {
                    *o = f16::from_bits(b).to_f32();
                }
            }
            Data::Q8 { scales, quants } => {
                let b0 = first * cols / BLOCK;
                for (i, block) in out.chunks_exact_mut(BLOCK).enumerate() {
                    let b = b0 + i;
                    let q = &quants[b * BLOCK..(b + 1) * BLOCK];
                    for (o, &q) in block.iter_mut().zip(q) {
                        *o = f32_of(scales[b]) * f32::from(q);
                    }
                }
            }
            Data::Q4 {
                scales,
                mins,
                quants,
            } => {
                let b0 = first * cols / BLOCK;
                for (i, block) in out.chunks_exact_mut(BLOCK).enumerate() {
                    let b = b0 + i;
                    let (d, m) = (f32_of(scales[b]), f32_of(mins[b]));
                    let q = &quants[b * 16..(b + 1) * 16];
                    for j in 0..16 {
                        block[j] = d * f32::from(q[j] & 0x0F) + m;
                        block[j + 16] = d * f32::from(q[j] >> 4) + m;
                    }
                }
            }
        }
    }

    /// The whole matrix as f32 (rows × cols).
    pub fn to_f32(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        self.dequantize_rows(0, &mut out);
        out
    }

    /// The matrices' rows one after another (q, k, v into one projection);
    /// parts of different formats are all expanded to f32. None when their
    /// widths differ or there are none.
    pub fn stack(parts: &[Matrix]) -> Option<Matrix> {
        let first = parts.first()?;
        let cols = first.cols;
        if parts.iter().any(|p| p.cols != cols) {
            return None;
        }
        let rows = parts.iter().map(|p| p.rows).sum();
        let same = parts.iter().all(|p| p.format() == first.format());
        // Every part's `field`, one after another (the parts share a format).
        fn concat<T: Clone>(parts: &[Matrix], field: fn(&Data) -> &[T]) -> Vec<T> {
            parts
                .iter()
                .flat_map(|p| field(&p.data).iter().cloned())
                .collect()
        }
        let data = match &first.data {
            _ if !same => Data::F32(parts.iter().flat_map(|p| p.to_f32()).collect()),
            Data::F32(_) => Data::F32(concat(parts, |d| match d {
                Data::F32(v) => v,
                _ => &[],
            })),
            Data::F16(_) => Data::F16(concat(parts, |d| match d {
                Data::F16(v) => v,
                _ => &[],
            })),
            Data::Q8 { .. } => Data::Q8 {
                scales: concat(parts, |d| match d {
                    Data::Q8 { scales, .. } => scales,
                    _ => &[],
                }),
                quants: concat(parts, |d| match d {
                    Data::Q8 { quants, .. } => quants,
                    _ => &[],
                }),
            },
            Data::Q4 { .. } => Data::Q4 {
                scales: concat(parts, |d| match d {
                    Data::Q4 { scales, .. } => scales,
                    _ => &[],
                }),
                mins: concat(parts, |d| match d {
                    Data::Q4 { mins, .. } => mins,
                    _ => &[],
                }),
                quants: concat(parts, |d| match d {
                    Data::Q4 { quants, .. } => quants,
                    _ => &[],
                }),
            },
        };
        Some(Matrix { rows, cols, data })
    }
}

/// Q4_0 bytes as f32 weights: d·(q − 8).
fn dequantize_q4_0(bytes: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(bytes.len() / 18 * BLOCK);
    for block in bytes.chunks_exact(18) {
        let d = f32_of(f16_at(block, 0));
        let q = &block[2..];
        out.extend((0..16).map(|j| d * (f32::from(q[j] & 0x0F) - 8.0)));
        out.extend((0..16).map(|j| d * (f32::from(q[j] >> 4) - 8.0)));
    }
    out
}
