//! A GGUF file opened for loading: its metadata and tensor table checked
//! against the file's length up front, with typed accessors whose errors name
//! the file and the key or tensor.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use candle_core::quantized::{gguf_file, QTensor};
use candle_core::Device;

use super::error::{first_line, ModelError, Result};
use super::weights::MappedFile;

pub struct GgufFile {
    path: PathBuf,
    map: MappedFile,
    content: gguf_file::Content,
}

impl GgufFile {
    /// Maps the file and reads its header; refuses a file whose tensors reach
    /// past its end (a truncated download) before any tensor is read.
    pub fn open(path: &Path) -> Result<Self> {
        let map = MappedFile::open(path)?;
        let bytes = map.bytes();
        if bytes.len() < 4 || &bytes[..4] != b"GGUF" {
            return Err(ModelError::BadGguf {
                path: path.to_path_buf(),
                reason: "it does not start with the GGUF magic bytes".into(),
            });
        }
        super::gguf_check::check_header(bytes).map_err(|reason| ModelError::BadGguf {
            path: path.to_path_buf(),
            reason,
        })?;
        let content =
            gguf_file::Content::read(&mut Cursor::new(bytes)).map_err(|e| ModelError::BadGguf {
                path: path.to_path_buf(),
                reason: format!("header: {}", first_line(&e)),
            })?;
        let file_len = bytes.len() as u64;
        for (name, info) in &content.tensor_infos {
            let elems = info.shape.elem_count();
            let block = info.ggml_dtype.block_size();
            let size = (elems / block * info.ggml_dtype.type_size()) as u64;
            let end = content
                .tensor_data_offset
                .saturating_add(info.offset)
                .saturating_add(size);
            if end > file_len {
                return Err(ModelError::Truncated {
                    path: path.to_path_buf(),
                    tensor: name.clone(),
                    needed: end,
                    actual: file_len,
                });
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            map,
            content,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn size_bytes(&self) -> u64 {
        self.map.bytes().len() as u64
    }

    pub(crate) fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// (storage type, element count) of every tensor.
    pub(crate) fn tensor_summary(&self) -> Vec<(String, usize)> {
        self.content
            .tensor_infos
            .values()
            .map(|i| (format!("{:?}", i.ggml_dtype), i.shape.elem_count()))
            .collect()
    }

    /// Every tensor's name, sorted.
    pub fn tensor_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.content.tensor_infos.keys().cloned().collect();
        names.sort();
        names
    }

    fn info(&self, name: &str) -> Result<&gguf_file::TensorInfo> {
        self.content
            .tensor_infos
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor {
                path: self.path.clone(),
                name: name.to_string(),
            })
    }

    /// Reads one tensor, still quantized, onto `device`.
    pub fn tensor(&self, name: &str, device: &Device) -> Result<QTensor> {
        let info = self.info(name)?;
        info.read(
            &mut Cursor::new(self.map.bytes()),
            self.content.tensor_data_offset,
            device,
        )
        .map_err(|e| ModelError::BadGguf {
            path: self.path.clone(),
            reason: format!("tensor `{name}`: {}", first_line(&e)),
        })
    }

    /// A tensor's storage type, shape (candle order: rows, cols) and its
    /// bytes in the mapped file, not copied. The byte range was checked
    /// against the file's length when it was opened.
    pub(crate) fn raw_tensor(
        &self,
        name: &str,
    ) -> Result<(candle_core::quantized::GgmlDType, Vec<usize>, &[u8])> {
        let info = self.info(name)?;
        let elems = info.shape.elem_count();
        let size = elems / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
        let start = usize::try_from(self.content.tensor_data_offset)
            .ok()
            .and_then(|o| o.checked_add(usize::try_from(info.offset).ok()?));
        let bytes = start
            .and_then(|s| self.map.bytes().get(s..s.checked_add(size)?))
            .ok_or_else(|| ModelError::BadGguf {
                path: self.path.clone(),
                reason: format!("tensor `{name}` reaches past the end of the file"),
            })?;
        Ok((info.ggml_dtype, info.shape.dims().to_vec(), bytes))
    }

    /// Drops a tensor's file pages from memory once it has been copied out.
    pub(crate) fn release_tensor(&self, name: &str) {
        if let Ok((_, _, bytes)) = self.raw_tensor(name) {
            let start = bytes.as_ptr() as usize - self.map.bytes().as_ptr() as usize;
            self.map.release(start, bytes.len());
        }
    }

    /// Reads a tensor and checks its shape (candle order: rows, cols).
    pub(crate) fn tensor_shaped(
        &self,
        name: &str,
        shape: &[usize],
        device: &Device,
    ) -> Result<QTensor> {
        let t = self.tensor(name, device)?;
        if t.shape().dims() != shape {
            return Err(ModelError::TensorShape {
                path: self.path.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                actual: t.shape().dims().to_vec(),
            });
        }
        Ok(t)
    }

    fn value(&self, key: &str) -> Option<&gguf_file::Value> {
        self.content.metadata.get(key)
    }

    fn missing(&self, key: &str, expected: &'static str) -> ModelError {
        ModelError::Metadata {
            path: self.path.clone(),
            key: key.to_string(),
            expected,
        }
    }

    pub fn string(&self, key: &str) -> Result<&str> {
        self.opt_string(key)
            .ok_or_else(|| self.missing(key, "a string"))
    }

    pub(crate) fn opt_string(&self, key: &str) -> Option<&str> {
        self.value(key)
            .and_then(|v| v.to_string().ok())
            .map(|s| s.as_str())
    }

    pub fn u32(&self, key: &str) -> Result<u32> {
        self.opt_u32(key)
            .ok_or_else(|| self.missing(key, "an unsigned integer"))
    }

    pub(crate) fn opt_u32(&self, key: &str) -> Option<u32> {
        use gguf_file::Value::*;
        match self.value(key)? {
            U8(v) => Some(*v as u32),
            U16(v) => Some(*v as u32),
            U32(v) => Some(*v),
            U64(v) => u32::try_from(*v).ok(),
            I8(v) => u32::try_from(*v).ok(),
            I16(v) => u32::try_from(*v).ok(),
            I32(v) => u32::try_from(*v).ok(),
            I64(v) => u32::try_from(*v).ok(),
            _ => None,
        }
    }

    pub fn f32(&self, key: &str) -> Result<f32> {
        self.opt_f32(key)
            .ok_or_else(|| self.missing(key, "a float"))
    }

    pub(crate) fn opt_f32(&self, key: &str) -> Option<f32> {
        match self.value(key)? {
            gguf_file::Value::F32(v) => Some(*v),
            gguf_file::Value::F64(v) => Some(*v as f32),
            _ => None,
        }
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Option<bool> {
        self.value(key).and_then(|v| v.to_bool().ok())
    }

    /// An array of strings (vocabulary, merges).
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        let values = self
            .value(key)
            .and_then(|v| v.to_vec().ok())
            .ok_or_else(|| self.missing(key, "an array of strings"))?;
        values
            .iter()
            .map(|v| v.to_string().map(|s| s.as_str()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| self.missing(key, "an array of strings"))
    }

    /// An array of integers (token types).
    pub(crate) fn opt_i32s(&self, key: &str) -> Option<Vec<i32>> {
        let values = self.value(key)?.to_vec().ok()?;
        values.iter().map(|v| v.to_i32().ok()).collect()
    }
}
