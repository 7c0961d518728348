//! Tokenizers built from GGUF vocabularies: llama.cpp's own test vectors for
//! each pre-tokenizer family, and round-trip properties on the default model.

mod common;

use promptlab_infer::gguf::GgufFile;
use promptlab_infer::tokenizer::TextTokenizer;
use proptest::prelude::*;

/// Runs every case of `tests/data/llama-vocab/ggml-vocab-NAME.gguf.{inp,out}`.
fn check_vocab(name: &str) {
    let dir = common::repo_path("tests/data/llama-vocab");
    let gguf = dir.join(format!("ggml-vocab-{name}.gguf"));
    let tokenizer = TextTokenizer::from_gguf(&GgufFile::open(&gguf).unwrap()).unwrap();
    let inputs = std::fs::read_to_string(dir.join(format!("ggml-vocab-{name}.gguf.inp"))).unwrap();
    let outputs = std::fs::read_to_string(dir.join(format!("ggml-vocab-{name}.gguf.out"))).unwrap();
    let mut inputs: Vec<&str> = inputs.split("\n__ggml_vocab_test__\n").collect();
    let mut outputs: Vec<&str> = outputs.split('\n').collect();
    assert_eq!(inputs.pop(), Some(""));
    assert_eq!(outputs.pop(), Some(""));
    assert_eq!(inputs.len(), outputs.len());
    assert!(inputs.len() > 40);
    let mut failures = Vec::new();
    for (input, output) in inputs.iter().zip(&outputs) {
        let want: Vec<u32> = output
            .split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect();
        let got = tokenizer.encode_with(input, false).unwrap();
        if got != want {
            failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
        }
        assert_eq!(tokenizer.decode(&got), *input, "round trip of {input:?}");
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {} cases differ:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn starcoder_vectors_match_the_smollm_pre_tokenizer() {
    check_vocab("starcoder");
}

#[test]
fn gpt2_vectors_match() {
    check_vocab("gpt-2");
}

#[test]
fn llama3_vectors_match() {
    check_vocab("llama-bpe");
}

#[test]
fn qwen2_vectors_match() {
    check_vocab("qwen2");
}

#[test]
fn digits_split_one_by_one_in_the_default_model() {
    let t = &common::default_model().tokenizer;
    let ids = t.encode("2024").unwrap();
    assert_eq!(ids.len(), 4);
    assert_eq!(t.decode(&ids), "2024");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_text_round_trips_through_the_default_tokenizer(text in "\\PC{0,40}") {
        let t = &common::default_model().tokenizer;
        let ids = t.encode(&text).unwrap();
        prop_assert_eq!(t.decode(&ids), text);
    }

    #[test]
    fn any_text_with_whitespace_and_digits_round_trips(text in "[ \\t\\n0-9a-zA-Zé東🚀'.,]{0,60}") {
        let t = &common::default_model().tokenizer;
        let ids = t.encode(&text).unwrap();
        prop_assert_eq!(t.decode(&ids), text);
    }
}
