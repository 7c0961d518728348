//! Writes the seed corpora under `fuzz/corpus/` and the base checkpoint
//! under `fuzz/base/hf/` (run it again when a format changes; its outputs
//! are committed): tiny GGUF models in every stored format, a tiny Qwen2
//! checkpoint and its files, conversations and Markdown. The method and
//! config targets also start from the shipped `surveys/methods/` and
//! `config.yaml` (see `seed_dirs` in the crate), so nothing is copied.

use std::path::Path;

use candle_core::quantized::GgmlDType;

// The test suite's tiny-model writer, shared; a tool, so it may unwrap.
#[allow(dead_code, clippy::unwrap_used)]
#[path = "../../../tests/common/tiny_gguf.rs"]
mod tiny_gguf;

fn main() {
    let root = promptlab_fuzz::crate_dir();
    let corpus = root.join("corpus");
    gguf_seeds(&corpus.join("gguf"));
    hf_base(&root.join("base/hf"), &corpus);
    conversation_seeds(&corpus.join("conversation"));
    markdown_seeds(&corpus.join("markdown"));
    yaml_seeds(&corpus);
    println!("seeds written under {}", corpus.display());
}

fn put(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("a corpus folder");
    std::fs::write(dir.join(name), bytes).expect("a seed");
}

/// One tiny Llama per stored format (32 wide: one quantization block).
fn gguf_seeds(dir: &Path) {
    std::fs::create_dir_all(dir).expect("the gguf corpus");
    let dims = tiny_gguf::Dims {
        d_model: 32,
        n_heads: 2,
        n_kv_heads: 1,
        head_dim: 16,
        d_ff: 64,
        n_layers: 1,
    };
    for (name, dtype) in [
        ("f32", GgmlDType::F32),
        ("f16", GgmlDType::F16),
        ("q8_0", GgmlDType::Q8_0),
        ("q4_0", GgmlDType::Q4_0),
        ("q4_1", GgmlDType::Q4_1),
    ] {
        let spec = tiny_gguf::TinySpec {
            dims,
            dtype,
            ..tiny_gguf::TinySpec::default()
        };
        tiny_gguf::write(&dir.join(format!("tiny-{name}.gguf")), &spec);
    }
}

/// Deterministic values in [-scale, scale) as little-endian f32 bytes.
fn floats(n: usize, seed: u64, scale: f32) -> Vec<u8> {
    let mut rng = promptlab_fuzz::mutate::Rng::new(seed);
    (0..n)
        .flat_map(|_| {
            let unit = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
            ((unit * 2.0 - 1.0) * scale).to_le_bytes()
        })
        .collect()
}

/// A Qwen2 checkpoint 16 wide, one layer, the tokenizer of the tiny test
/// checkpoints: the base folder the HF targets change one file of, and
/// those files as their seeds.
fn hf_base(base: &Path, corpus: &Path) {
    let tiny = promptlab_fuzz::crate_dir().join("../tests/data/tiny-hf");
    let (hidden, ff, heads, kv, head_dim, vocab) =
        (16usize, 32usize, 2usize, 1usize, 8usize, 300usize);
    let config = serde_json::json!({
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_act": "silu",
        "hidden_size": hidden,
        "intermediate_size": ff,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "num_hidden_layers": 1,
        "vocab_size": vocab,
        "rms_norm_eps": 1e-5,
        "max_position_embeddings": 64,
        "rope_theta": 1000000.0,
        "tie_word_embeddings": true,
        "torch_dtype": "float32",
        "bos_token_id": null,
        "eos_token_id": 1
    });
    let config = serde_json::to_vec_pretty(&config).expect("json");
    let shapes: Vec<(&str, Vec<usize>)> = vec![
        ("model.embed_tokens.weight", vec![vocab, hidden]),
        ("model.layers.0.input_layernorm.weight", vec![hidden]),
        (
            "model.layers.0.post_attention_layernorm.weight",
            vec![hidden],
        ),
        (
            "model.layers.0.self_attn.q_proj.weight",
            vec![heads * head_dim, hidden],
        ),
        (
            "model.layers.0.self_attn.q_proj.bias",
            vec![heads * head_dim],
        ),
        (
            "model.layers.0.self_attn.k_proj.weight",
            vec![kv * head_dim, hidden],
        ),
        ("model.layers.0.self_attn.k_proj.bias", vec![kv * head_dim]),
        (
            "model.layers.0.self_attn.v_proj.weight",
            vec![kv * head_dim, hidden],
        ),
        ("model.layers.0.self_attn.v_proj.bias", vec![kv * head_dim]),
        (
            "model.layers.0.self_attn.o_proj.weight",
            vec![hidden, heads * head_dim],
        ),
        ("model.layers.0.mlp.gate_proj.weight", vec![ff, hidden]),
        ("model.layers.0.mlp.up_proj.weight", vec![ff, hidden]),
        ("model.layers.0.mlp.down_proj.weight", vec![hidden, ff]),
        ("model.norm.weight", vec![hidden]),
    ];
    let data: Vec<Vec<u8>> = shapes
        .iter()
        .enumerate()
        .map(|(i, (_, shape))| floats(shape.iter().product(), i as u64 + 1, 0.5))
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView)> = shapes
        .iter()
        .zip(&data)
        .map(|((name, shape), bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("a tensor view");
            (*name, view)
        })
        .collect();
    let weights = safetensors::serialize(views, None).expect("safetensors");
    let tokenizer = std::fs::read(tiny.join("qwen2/tokenizer.json")).expect("the tiny tokenizer");
    let tokenizer_config =
        std::fs::read(tiny.join("qwen2/tokenizer_config.json")).expect("the tiny tokenizer config");
    put(base, "config.json", &config);
    put(base, "model.safetensors", &weights);
    put(base, "tokenizer.json", &tokenizer);
    put(base, "tokenizer_config.json", &tokenizer_config);
    put(&corpus.join("hf_config"), "qwen2.json", &config);
    for name in ["gpt2", "llama"] {
        let other = std::fs::read(tiny.join(name).join("config.json")).expect("a tiny config");
        put(&corpus.join("hf_config"), &format!("{name}.json"), &other);
    }
    put(&corpus.join("safetensors"), "qwen2.safetensors", &weights);
    put(&corpus.join("tokenizer"), "qwen2.json", &tokenizer);
    let gpt2 = std::fs::read(tiny.join("gpt2/tokenizer.json")).expect("the gpt2 tokenizer");
    put(&corpus.join("tokenizer"), "gpt2.json", &gpt2);
}

/// Conversations: a plain one, one with branches and token alternatives,
/// one cut off.
fn conversation_seeds(dir: &Path) {
    let turn = |role: &str, content: &str, parent: Option<usize>, stop: Option<&str>| {
        serde_json::json!({
            "role": role,
            "content": content,
            "parent": parent,
            "tokens": if role == "assistant" {
                serde_json::json!([{"text": content, "logprob": -0.25, "top": [["x", -1.5], ["y", null]]}])
            } else {
                serde_json::json!([])
            },
            "finished": stop.is_none_or(|s| s == "eos"),
            "stop_reason": stop,
        })
    };
    let conversations = [
        (
            "plain.json",
            serde_json::json!({"version": 1, "system": "Be brief.", "model": "tiny", "leaf": 1,
                "turns": [turn("user", "Hi", None, None), turn("assistant", "Hello **there**.", Some(0), Some("eos"))]}),
        ),
        (
            "branches.json",
            serde_json::json!({"version": 1, "system": "", "model": "tiny", "leaf": 4,
                "turns": [turn("user", "Capital of France?", None, None),
                          turn("assistant", "Paris.", Some(0), Some("eos")),
                          turn("assistant", "It is Paris.", Some(0), Some("length")),
                          turn("user", "And Spain?", Some(1), None),
                          turn("assistant", "Madrid, `ok`:\n- one\n- two", Some(3), Some("cancelled"))]}),
        ),
        (
            "empty.json",
            serde_json::json!({"version": 1, "system": "", "model": "", "leaf": null, "turns": []}),
        ),
    ];
    for (name, value) in conversations {
        put(dir, name, &serde_json::to_vec_pretty(&value).expect("json"));
    }
}

fn markdown_seeds(dir: &Path) {
    let samples = [
        ("mixed.md", "# Title\n\nSome *em* and **strong** and `code`.\n\n- a\n- b\n  1. c\n\n> quoted\n> > deeper\n\n```rust\nfn main() {}\n```\n"),
        ("table.md", "| a | b |\n|---|:-:|\n| 1 | 2 |\n\n[link](http://x) ![img](y)\n\n---\n\nHTML <b>x</b>\n"),
        ("nested.md", "1. one\n   - two\n     > three `four`\n\n***bold em*** ~~strike~~\n\n    indented code\n"),
    ];
    for (name, text) in samples {
        put(dir, name, text.as_bytes());
    }
}

/// A few user configs and one method file beyond the shipped ones.
fn yaml_seeds(corpus: &Path) {
    put(
        &corpus.join("config_yaml"),
        "user.yaml",
        b"model: tiny\nsampling:\n  temperature: 0.7\n  top_k: 20\nkeys:\n  send: enter\n  newline: ctrl+j\npresets:\n  calm:\n    temperature: 0.2\n",
    );
    put(
        &corpus.join("method_yaml"),
        "loops.yaml",
        b"id: loops\nname: Loops\nsection: \"2.1\"\npaper: none\ntasks: [math]\nsteps:\n  - id: plan\n    prompt: \"{% for i in range(3) %}{{ question }} {{ i }}\\n{% endfor %}\"\n  - id: votes\n    sample_n:\n      n: 3\n      prompt: \"{{ plan }} Answer:\"\n  - id: answer\n    vote:\n      from: votes\n",
    );
}
