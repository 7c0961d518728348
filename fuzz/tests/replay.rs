//! Every fuzz target over its seeds (the committed corpus, past findings
//! and the shipped files of its kind), then over deterministic mutations of
//! them: what the fuzzers found stays fixed, on every `cargo test`. A
//! failing input is written out and named.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use promptlab_fuzz::mutate::{mutate, Rng};
use promptlab_fuzz::{seeds, target};

/// Mutated inputs per target (`PROMPTLAB_FUZZ_MUTATIONS` overrides).
fn mutations(default: usize) -> usize {
    std::env::var("PROMPTLAB_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn replay(name: &str, default_mutations: usize) {
    let run = target(name).expect("a target");
    let files = seeds(name);
    assert!(!files.is_empty(), "no seeds for {name}");
    let pool: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).expect("a seed"))
        .collect();
    let start = Instant::now();
    let check = |input: &[u8], what: &str| {
        if catch_unwind(AssertUnwindSafe(|| run(input))).is_err() {
            let out = std::env::temp_dir().join(format!("promptlab-fuzz-{name}-failing"));
            std::fs::write(&out, input).expect("writing the failing input");
            panic!(
                "target {name} failed on {what}; the input is in {} (copy it to fuzz/findings/{name}/ once fixed)",
                out.display()
            );
        }
    };
    for (file, data) in files.iter().zip(&pool) {
        check(data, &file.display().to_string());
    }
    let n = mutations(default_mutations);
    let mut rng = Rng::new(0x5eed ^ name.len() as u64);
    for i in 0..n {
        let base = &pool[rng.below(pool.len())];
        let input = mutate(base, &pool, &mut rng);
        check(&input, &format!("mutation {i}"));
    }
    eprintln!(
        "{name}: {} seeds and {n} mutations in {:.1} s",
        pool.len(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn gguf() {
    replay("gguf", 4000);
}

#[test]
fn hf_config() {
    replay("hf_config", 4000);
}

#[test]
fn safetensors() {
    replay("safetensors", 4000);
}

#[test]
fn tokenizer() {
    replay("tokenizer", 4000);
}

#[test]
fn config_yaml() {
    replay("config_yaml", 20000);
}

#[test]
fn method_yaml() {
    replay("method_yaml", 20000);
}

#[test]
fn conversation() {
    replay("conversation", 10000);
}

#[test]
fn markdown() {
    replay("markdown", 5000);
}
