//! Sequences already run, kept so that a prompt starting like an earlier one
//! — the conversation so far, a method's few-shot exemplars and earlier
//! steps — is not prefilled again: a least-recently-used list of (tokens,
//! KV cache) under a memory cap.

use std::collections::VecDeque;

use super::kv_cache::KvCache;
use super::LoadedModel;

/// Bytes of KV caches kept by default (SmolLM2-135M: about 46 KB a token,
/// so some 5,800 tokens).
pub const DEFAULT_CAP_BYTES: usize = 256 << 20;

/// The fewest shared tokens worth reusing a cached sequence for.
const MIN_SHARED: usize = 4;

/// One cached sequence: the tokens whose keys and values `kv` holds.
struct Entry {
    tokens: Vec<u32>,
    kv: KvCache,
}

pub struct PrefixCache {
    /// Most recently used first.
    entries: VecDeque<Entry>,
    cap_bytes: usize,
}

/// A cache ready for a prompt: `reused` of its first tokens are already in
/// `kv`; the rest must be run.
pub struct Reuse {
    pub kv: KvCache,
    pub reused: usize,
}

impl Default for PrefixCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAP_BYTES)
    }
}

impl PrefixCache {
    pub fn new(cap_bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            cap_bytes,
        }
    }

    /// Takes the cached sequence sharing the longest prefix with `prompt`,
    /// cut back to that prefix (and always short of the whole prompt, so its
    /// last token runs and gives the next token's logits); a fresh cache when
    /// none shares at least a few tokens.
    pub fn take(&mut self, model: &LoadedModel, prompt: &[u32]) -> Reuse {
        let best = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, shared_prefix(&e.tokens, prompt)))
            .max_by_key(|&(_, n)| n);
        match best {
            Some((i, shared)) if shared >= MIN_SHARED => {
                let mut entry = self.entries.remove(i).unwrap_or_else(|| Entry {
                    tokens: Vec::new(),
                    kv: model.new_cache(),
                });
                let reused = shared.min(prompt.len().saturating_sub(1));
                entry.kv.truncate(reused);
                Reuse {
                    kv: entry.kv,
                    reused,
                }
            }
            _ => Reuse {
                kv: model.new_cache(),
                reused: 0,
            },
        }
    }

    /// Keeps `kv`, which holds the keys and values of `tokens`, as the most
    /// recent entry; forgets the least recent ones beyond the memory cap.
    pub fn put(&mut self, tokens: Vec<u32>, kv: KvCache) {
        if kv.len() != tokens.len() || tokens.is_empty() {
            return;
        }
        self.entries.push_front(Entry { tokens, kv });
        let mut total = 0;
        let mut keep = 0;
        for e in &self.entries {
            total += e.kv.bytes();
            if total > self.cap_bytes && keep > 0 {
                break;
            }
            keep += 1;
        }
        self.entries.truncate(keep);
        if self
            .entries
            .front()
            .is_some_and(|e| e.kv.bytes() > self.cap_bytes)
        {
            self.entries.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

fn shared_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
