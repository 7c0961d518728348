//! A real-weights cross-check of the two load paths: SmolLM2's GGUF tensors
//! written out as a Hugging Face checkpoint (dequantized to f32, Q/K
//! un-permuted back to the half-split rotary layout, tokenizer.json from the
//! GGUF vocabulary) give the same next-token distribution as the GGUF.

mod common;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use promptlab_infer::arch::hf::llama_hf_name;
use promptlab_infer::arch::Logits;
use promptlab_infer::gguf::GgufFile;
use promptlab_infer::sampling::log_softmax;
use promptlab_infer::{LoadedModel, Precision};

const N_HEADS: usize = 9;
const N_KV_HEADS: usize = 3;
const HEAD_DIM: usize = 64;

/// llama.cpp stores Q/K rows permuted for adjacent-pair rotation:
/// gguf = hf.reshape(heads, 2, hd/2, d).swap(1, 2); this undoes it.
fn unpermute(w: &Tensor, heads: usize) -> Tensor {
    let (rows, cols) = w.dims2().unwrap();
    w.reshape((heads, HEAD_DIM / 2, 2, cols))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .reshape((rows, cols))
        .unwrap()
}

fn write_hf_checkpoint(gguf: &Path, model: &LoadedModel, dir: &Path) {
    let file = GgufFile::open(gguf).unwrap();
    let mut tensors = HashMap::new();
    for name in file.tensor_names() {
        let mut t = file
            .tensor(&name, &Device::Cpu)
            .unwrap()
            .dequantize(&Device::Cpu)
            .unwrap();
        if name.ends_with("attn_q.weight") {
            t = unpermute(&t, N_HEADS);
        } else if name.ends_with("attn_k.weight") {
            t = unpermute(&t, N_KV_HEADS);
        }
        tensors.insert(llama_hf_name(&name), t);
    }
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors")).unwrap();
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 576, "intermediate_size": 1536,
        "num_attention_heads": N_HEADS, "num_key_value_heads": N_KV_HEADS,
        "num_hidden_layers": 30, "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "vocab_size": 49152,
        "tie_word_embeddings": true, "eos_token_id": 2,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    model
        .tokenizer
        .inner()
        .save(dir.join("tokenizer.json"), false)
        .unwrap();
    let tok_config = serde_json::json!({"eos_token": "<|im_end|>", "bos_token": null});
    std::fs::write(dir.join("tokenizer_config.json"), tok_config.to_string()).unwrap();
}

fn next_token_logprobs(model: &LoadedModel, text: &str) -> Vec<f32> {
    let ids = model.tokenizer.encode(text).unwrap();
    let logits = model
        .forward(&ids, &mut model.new_cache(), None, Logits::Last)
        .unwrap();
    log_softmax(&logits.flatten_all().unwrap().to_vec1::<f32>().unwrap())
}

#[test]
fn gguf_and_its_safetensors_export_give_the_same_next_token_distribution() {
    let gguf = common::default_model_path();
    let exact = LoadedModel::load_with(&gguf, Precision::F32).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_hf_checkpoint(&gguf, &exact, dir.path());
    let hf = LoadedModel::load(dir.path()).unwrap();
    for text in [
        "The capital of France is",
        "def add(a, b):\n    return",
        "1, 2, 3, 4,",
    ] {
        assert_eq!(
            hf.tokenizer.encode(text).unwrap(),
            exact.tokenizer.encode(text).unwrap()
        );
        let a = next_token_logprobs(&exact, text);
        let b = next_token_logprobs(&hf, text);
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        eprintln!("{text:?}: largest log-probability difference {worst:e} over the vocabulary");
        // Same weights, same f32 arithmetic up to operation order.
        assert!(worst < 1e-3, "{text:?}: {worst}");
    }
}
