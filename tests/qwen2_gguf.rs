//! The Qwen2 GGUF path (q/k/v biases, half-split rotary layout, the qwen2
//! pre-tokenizer): the tiny Qwen2 checkpoint converted to a GGUF file the way
//! llama.cpp lays one out must give the independent reference's logits.

mod common;

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;
use promptlab_infer::arch::hf::llama_hf_name;
use promptlab_infer::arch::Logits;
use promptlab_infer::LoadedModel;

const LAYERS: usize = 2;

fn gguf_names() -> Vec<String> {
    let mut names = vec![
        "token_embd.weight".to_string(),
        "output_norm.weight".to_string(),
    ];
    for i in 0..LAYERS {
        for part in [
            "attn_norm",
            "ffn_norm",
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "ffn_gate",
            "ffn_up",
            "ffn_down",
        ] {
            names.push(format!("blk.{i}.{part}.weight"));
        }
        for part in ["attn_q", "attn_k", "attn_v"] {
            names.push(format!("blk.{i}.{part}.bias"));
        }
    }
    names
}

fn write_gguf(folder: &Path, out: &Path) {
    let weights =
        candle_core::safetensors::load(folder.join("model.safetensors"), &Device::Cpu).unwrap();
    let tensors: Vec<(String, QTensor)> = gguf_names()
        .into_iter()
        .map(|name| {
            let t = weights[&llama_hf_name(&name)]
                .to_dtype(candle_core::DType::F32)
                .unwrap();
            (name, QTensor::quantize(&t, GgmlDType::F32).unwrap())
        })
        .collect();
    let tokenizer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("tokenizer.json")).unwrap())
            .unwrap();
    let vocab = tokenizer["model"]["vocab"].as_object().unwrap();
    let mut tokens = vec![String::new(); vocab.len()];
    for (token, id) in vocab {
        tokens[id.as_u64().unwrap() as usize] = token.clone();
    }
    let specials: Vec<u64> = tokenizer["added_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    let merges: Vec<Value> = tokenizer["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            serde_json::Value::Array(pair) => Value::String(format!(
                "{} {}",
                pair[0].as_str().unwrap(),
                pair[1].as_str().unwrap()
            )),
            other => Value::String(other.as_str().unwrap().to_string()),
        })
        .collect();
    let template: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(folder.join("tokenizer_config.json")).unwrap(),
    )
    .unwrap();
    let meta: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("qwen2".into())),
        ("qwen2.block_count", Value::U32(LAYERS as u32)),
        ("qwen2.context_length", Value::U32(128)),
        ("qwen2.embedding_length", Value::U32(64)),
        ("qwen2.feed_forward_length", Value::U32(128)),
        ("qwen2.attention.head_count", Value::U32(4)),
        ("qwen2.attention.head_count_kv", Value::U32(2)),
        ("qwen2.rope.freq_base", Value::F32(1_000_000.0)),
        ("qwen2.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("qwen2".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            Value::Array(
                (0..vocab.len() as u64)
                    .map(|i| Value::I32(if specials.contains(&i) { 3 } else { 1 }))
                    .collect(),
            ),
        ),
        ("tokenizer.ggml.merges", Value::Array(merges)),
        ("tokenizer.ggml.eos_token_id", Value::U32(1)),
        (
            "tokenizer.chat_template",
            Value::String(template["chat_template"].as_str().unwrap().into()),
        ),
    ];
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(
        &mut std::fs::File::create(out).unwrap(),
        &meta_refs,
        &tensor_refs,
    )
    .unwrap();
}

#[test]
fn a_qwen2_gguf_matches_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qwen2.gguf");
    write_gguf(&common::repo_path("tests/data/tiny-hf/qwen2"), &path);
    let model = LoadedModel::load(&path).unwrap();
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::repo_path("tests/golden/tiny_hf_reference.json")).unwrap(),
    )
    .unwrap();
    let g = &golden["models"]["qwen2"];
    let ids: Vec<u32> = g["token_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(
        model.tokenizer.encode(g["text"].as_str().unwrap()).unwrap(),
        ids
    );
    let logits = model
        .forward(&ids, &mut model.new_cache(), None, Logits::All)
        .unwrap();
    let ours = logits.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let want: Vec<f32> = g["logits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
        })
        .collect();
    let worst = ours
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-3, "largest logit difference {worst}");
    assert_eq!(model.tokenizer.eos_ids(), &[1]);
}
