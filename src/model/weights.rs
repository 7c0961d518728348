//! Memory-mapped model files: the only `unsafe` in promptlab.

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
}
