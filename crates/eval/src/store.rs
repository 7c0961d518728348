//! The result store: one JSON line per finished trial, keyed by a hash of
//! everything that can change its answer, appended and synced to disk
//! before the next trial starts. A rerun reuses every stored trial; a
//! line torn by a kill mid-write is dropped when the store is opened, so
//! a SIGKILL loses at most the trial in flight.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::{CallTranscript, Tokens};

/// What running a trial produced, before any assertion judged it (so a
/// changed assertion re-judges without calling the model again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub calls: Vec<CallTranscript>,
    pub output: String,
    pub answer: Option<String>,
    pub tokens: Tokens,
    pub ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The direct reply's perplexity, where log-probabilities were known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perplexity: Option<f64>,
    /// Measured attention shares: (span text, share).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attention: Vec<(String, f64)>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    generation: Generation,
}

pub struct Store {
    path: PathBuf,
    file: File,
    done: HashMap<String, Generation>,
}

/// The store's file in a run's folder.
pub const FILE_NAME: &str = "store.jsonl";

impl Store {
    /// Opens (or creates) the store in `dir`; with `reuse` off, what it
    /// holds is not read (it is still appended to).
    pub fn open(dir: &Path, reuse: bool) -> io::Result<Store> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        // A last line without its newline was torn by a kill: drop it.
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        if whole < text.len() {
            file.set_len(whole as u64)?;
            file.seek(SeekFrom::End(0))?;
        }
        let mut done = HashMap::new();
        if reuse {
            for line in text[..whole].lines() {
                if let Ok(Line { key, generation }) = serde_json::from_str::<Line>(line) {
                    done.insert(key, generation);
                }
            }
        }
        Ok(Store { path, file, done })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, key: &str) -> Option<&Generation> {
        self.done.get(key)
    }

    pub fn len(&self) -> usize {
        self.done.len()
    }

    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }

    /// Appends a finished trial and syncs it to disk.
    pub fn put(&mut self, key: &str, generation: &Generation) -> io::Result<()> {
        let line = serde_json::to_string(&Line {
            key: key.to_string(),
            generation: generation.clone(),
        })
        .map_err(io::Error::other)?;
        self.file.write_all(format!("{line}\n").as_bytes())?;
        self.file.sync_data()?;
        self.done.insert(key.to_string(), generation.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(output: &str) -> Generation {
        Generation {
            calls: Vec::new(),
            output: output.into(),
            answer: Some(output.into()),
            tokens: Tokens::default(),
            ms: 1.0,
            error: None,
            perplexity: None,
            attention: Vec::new(),
        }
    }

    #[test]
    fn trials_survive_a_reopen_and_a_torn_line_is_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(dir.path(), true).expect("open");
        store.put("a", &generation("one")).expect("put");
        store.put("b", &generation("two")).expect("put");
        drop(store);
        // A kill in the middle of writing a third line.
        let path = dir.path().join(FILE_NAME);
        let mut file = OpenOptions::new().append(true).open(&path).expect("append");
        file.write_all(b"{\"key\":\"c\",\"genera").expect("write");
        drop(file);
        let mut store = Store::open(dir.path(), true).expect("reopen");
        assert_eq!(store.len(), 2);
        assert_eq!(store.get("b").map(|g| g.output.as_str()), Some("two"));
        store.put("c", &generation("three")).expect("put");
        drop(store);
        let store = Store::open(dir.path(), true).expect("reopen");
        assert_eq!(store.len(), 3);
        assert_eq!(store.get("c").map(|g| g.output.as_str()), Some("three"));
        assert!(Store::open(dir.path(), false).expect("open").is_empty());
    }
}
