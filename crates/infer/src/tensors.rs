//! Where an architecture gets its weights: a GGUF file (quantized matrices
//! stay quantized) or Hugging Face safetensors (f32/f16/bf16, memory-mapped,
//! sharded or not), behind one [`TensorSource`] with shape checks.

use std::path::{Path, PathBuf};

use candle_core::quantized::GgmlDType;
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};

use super::error::{first_line, ModelError, Result};
use super::gguf::GgufFile;
use super::kernels::Matrix;

pub trait TensorSource {
    /// The file or folder the weights come from, for errors.
    fn origin(&self) -> &Path;
    fn has(&self, name: &str) -> bool;
    /// A weight matrix of `shape` (out, in) as an f32 tensor, ready for
    /// `x @ W^T`.
    fn dense_matrix(&self, name: &str, shape: &[usize]) -> Result<Tensor>;
    /// A weight matrix of `shape` (out, in) for the kernels: kept in its
    /// stored format where the kernels read it.
    fn matrix(&self, name: &str, shape: &[usize]) -> Result<Matrix> {
        let t = self.dense_matrix(name, shape)?;
        let values = t.flatten_all()?.to_vec1::<f32>()?;
        Matrix::from_f32(shape[0], shape[1], values).map_err(|e| ModelError::BadWeights {
            path: self.origin().to_path_buf(),
            reason: format!("tensor `{name}`: {}", e.0),
        })
    }
    /// Any tensor as f32.
    fn dense(&self, name: &str, shape: &[usize]) -> Result<Tensor>;

    fn shape_error(&self, name: &str, expected: &[usize], actual: &[usize]) -> ModelError {
        ModelError::TensorShape {
            path: self.origin().to_path_buf(),
            name: name.to_string(),
            expected: expected.to_vec(),
            actual: actual.to_vec(),
        }
    }
}

/// Weights from a GGUF file.
pub struct GgufSource<'a> {
    pub file: &'a GgufFile,
    pub device: Device,
    /// Expand quantized matrices to f32.
    pub dequantize: bool,
}

impl TensorSource for GgufSource<'_> {
    fn origin(&self) -> &Path {
        self.file.path()
    }

    fn has(&self, name: &str) -> bool {
        self.file.has_tensor(name)
    }

    fn dense_matrix(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.dense(name, shape)
    }

    /// Q4_0, Q4_1, Q8_0, F16 and F32 stay as stored (repacked); other
    /// formats, and every format when `dequantize` is set, become f32.
    fn matrix(&self, name: &str, shape: &[usize]) -> Result<Matrix> {
        let (dtype, dims, bytes) = self.file.raw_tensor(name)?;
        if dims != shape {
            return Err(self.shape_error(name, shape, &dims));
        }
        let (rows, cols) = (shape[0], shape[1]);
        let repacked = match dtype {
            _ if self.dequantize => None,
            GgmlDType::Q4_0 => Some(Matrix::from_q4_0_bytes(rows, cols, bytes)),
            GgmlDType::Q4_1 => Some(Matrix::from_q4_1_bytes(rows, cols, bytes)),
            GgmlDType::Q8_0 => Some(Matrix::from_q8_0_bytes(rows, cols, bytes)),
            GgmlDType::F16 => Some(Matrix::from_f16_bytes(rows, cols, bytes)),
            GgmlDType::F32 => Some(Matrix::from_f32_bytes(rows, cols, bytes)),
            _ => None,
        };
        let matrix = match repacked {
            Some(m) => m,
            None => {
                let values = self.dense(name, shape)?.flatten_all()?.to_vec1::<f32>()?;
                Matrix::from_f32(rows, cols, values)
            }
        };
        let matrix = matrix.map_err(|e| ModelError::BadGguf {
            path: self.file.path().to_path_buf(),
            reason: format!("tensor `{name}`: {}", e.0),
        })?;
        self.file.release_tensor(name);
        Ok(matrix)
    }

    fn dense(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self
            .file
            .tensor_shaped(name, shape, &self.device)?
            .dequantize(&self.device)?;
        self.file.release_tensor(name);
        Ok(t)
    }
}

/// Weights from safetensors files, under names the architecture asks for
/// (`rename` maps them to the checkpoint's own names).
pub struct SafetensorsSource {
    folder: PathBuf,
    tensors: MmapedSafetensors,
    device: Device,
    rename: fn(&str) -> String,
    /// Matrices stored as (in, out) (GPT-2's Conv1D) are transposed on load.
    transposed: fn(&str) -> bool,
}

impl SafetensorsSource {
    pub fn open(
        folder: &Path,
        files: &[PathBuf],
        rename: fn(&str) -> String,
        transposed: fn(&str) -> bool,
    ) -> Result<Self> {
        let tensors = super::weights::map_safetensors(files)?;
        Ok(Self {
            folder: folder.to_path_buf(),
            tensors,
            device: Device::Cpu,
            rename,
            transposed,
        })
    }

    fn load(&self, name: &str) -> Result<Tensor> {
        let stored = (self.rename)(name);
        let tensor = self.tensors.load(&stored, &self.device).map_err(|e| {
            match self.tensors.get(&stored) {
                Err(_) => ModelError::MissingTensor {
                    path: self.folder.clone(),
                    name: stored.clone(),
                },
                Ok(_) => ModelError::BadWeights {
                    path: self.folder.clone(),
                    reason: format!("tensor `{stored}`: {}", first_line(&e)),
                },
            }
        })?;
        Ok(tensor.to_dtype(DType::F32)?)
    }
}

impl TensorSource for SafetensorsSource {
    fn origin(&self) -> &Path {
        &self.folder
    }

    fn has(&self, name: &str) -> bool {
        self.tensors.get(&(self.rename)(name)).is_ok()
    }

    fn dense_matrix(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let mut t = self.load(name)?;
        if (self.transposed)(name) {
            t = t.t()?.contiguous()?;
        }
        if t.dims() != shape {
            return Err(self.shape_error(&(self.rename)(name), shape, t.dims()));
        }
        Ok(t)
    }

    fn dense(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.load(name)?;
        if t.dims() != shape {
            return Err(self.shape_error(&(self.rename)(name), shape, t.dims()));
        }
        Ok(t)
    }
}
