//! Memory-mapped model files: with the code sandbox, the only `unsafe` in
//! promptlab (each block with its SAFETY comment).
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use super::error::{ModelError, Result};

/// A read-only memory map of a whole file.
pub struct MappedFile {
    map: Mmap,
}

impl MappedFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // SAFETY: the map is read-only and promptlab never writes model files
        // while they are open. A file truncated by another process under us
        // would fault on access; model caches are written by atomic rename, so
        // a file in use is never rewritten in place.
        let map = unsafe { Mmap::map(&file) }.map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self { map })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Lets the kernel drop the pages of bytes `start..start + len` from
    /// this process's memory (they stay in the page cache): a tensor already
    /// copied into its kernel layout need not count twice in the peak RSS.
    pub fn release(&self, start: usize, len: usize) {
        #[cfg(unix)]
        {
            const PAGE: usize = 4096;
            let first = start / PAGE * PAGE;
            let end = start.saturating_add(len).min(self.map.len());
            if end <= first {
                return;
            }
            // SAFETY: DONTNEED on a read-only file mapping only drops the
            // pages; the next access reads the same bytes back from the file
            // (which promptlab never writes in place), so every slice of the
            // map stays valid.
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    first,
                    end - first,
                )
            };
        }
        #[cfg(not(unix))]
        let _ = (start, len);
    }
}

/// Memory-maps safetensors files (one, or the shards of a checkpoint).
pub(crate) fn map_safetensors(
    files: &[std::path::PathBuf],
) -> Result<candle_core::safetensors::MmapedSafetensors> {
    for file in files {
        if !file.is_file() {
            return Err(ModelError::Io {
                path: file.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "safetensors file (shard) is missing",
                ),
            });
        }
    }
    // SAFETY: as for `MappedFile::open`: read-only maps of files promptlab
    // never writes in place (caches are filled by atomic rename).
    unsafe { candle_core::safetensors::MmapedSafetensors::multi(files) }.map_err(|e| {
        ModelError::BadWeights {
            path: files.first().cloned().unwrap_or_default(),
            reason: format!(
                "not a readable safetensors file: {}",
                super::error::first_line(&e)
            ),
        }
    })
}
