//! Loading tokenizers again and again on one thread (the engine's, across
//! model loads; the fuzzer's, millions of times) keeps memory flat. The
//! tokenizers library caches each BPE's words in a map per thread that a
//! dropped BPE never leaves, so with its cache on, every tokenizer left
//! its words behind (about 2.8 KB per load of the fuzz target's model, and
//! here about 0.6 MB per tokenizer). This test has its binary to itself:
//! it reads the process's resident memory.

mod common;

use promptlab_infer::gguf::GgufFile;
use promptlab_infer::tokenizer::TextTokenizer;

/// Resident memory of this process in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn tokenizers_loaded_and_dropped_leave_nothing_behind() {
    let gguf = common::repo_path("tests/data/llama-vocab/ggml-vocab-gpt-2.gguf");
    let file = GgufFile::open(&gguf).expect("the GPT-2 vocabulary");
    // 2,000 different words: with a word cache, 2,000 entries a tokenizer.
    let text: String = (0..2000).map(|i| format!("word{i}ing ")).collect();
    let use_one = || {
        let tokenizer = TextTokenizer::from_gguf(&file).expect("a tokenizer");
        assert!(tokenizer.encode_with(&text, false).expect("encodes").len() > 2000);
    };
    // Warm up: the allocator's and the library's own one-off memory.
    for _ in 0..20 {
        use_one();
    }
    let before = resident_kib();
    for _ in 0..200 {
        use_one();
    }
    let grown = resident_kib().saturating_sub(before);
    // With the cache on this grew by 114 MiB; without it, by nothing.
    assert!(
        grown < 16 * 1024,
        "resident memory grew by {grown} KiB over 200 tokenizers"
    );
}
