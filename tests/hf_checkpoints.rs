//! Hugging Face checkpoints (GPT-2, Llama, Qwen2): tiny random-weight
//! models in the real on-disk formats — f32, sharded f16, bf16 — made by
//! `tests/reference/tiny_hf_reference.py`, placed in a temporary Hugging
//! Face cache and loaded through the normal resolver with HF_HUB_OFFLINE=1.
//! Logits and attention agree with that script's independent numpy forward
//! passes (`tests/golden/tiny_hf_reference.json`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use promptlab::config::Config;
use promptlab_hub::resolve;
use promptlab_infer::arch::Logits;
use promptlab_infer::LoadedModel;
use serde_json::Value;

/// Weights are widened to f32 exactly; only f32 arithmetic differs from the
/// float64 reference.
const LOGIT_TOL: f32 = 1e-3;
const ATTN_TOL: f32 = 1e-4;

fn golden() -> &'static Value {
    static G: OnceLock<Value> = OnceLock::new();
    G.get_or_init(|| {
        let text =
            std::fs::read_to_string(common::repo_path("tests/golden/tiny_hf_reference.json"))
                .unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

/// A Hugging Face cache holding the three checkpoints as `tiny/<name>`,
/// laid out as hf-hub and huggingface_hub write it.
fn hf_cache() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let sha = "1111111111111111111111111111111111111111";
        for name in ["gpt2", "llama", "qwen2"] {
            let repo = dir.path().join(format!("models--tiny--{name}"));
            let snapshot = repo.join("snapshots").join(sha);
            copy_dir(
                &common::repo_path(&format!("tests/data/tiny-hf/{name}")),
                &snapshot,
            );
            std::fs::create_dir_all(repo.join("refs")).unwrap();
            std::fs::write(repo.join("refs/main"), sha).unwrap();
        }
        std::env::set_var("HF_HUB_CACHE", dir.path());
        std::env::set_var("HF_HUB_OFFLINE", "1");
        dir
    })
    .path()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn load(name: &str) -> LoadedModel {
    hf_cache();
    let config = Config::from_layers(None, Path::new("")).unwrap();
    let folder = resolve(&format!("tiny/{name}"), &config.models, &mut |_| {}).unwrap();
    LoadedModel::load(&folder).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn floats(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().unwrap() as f32],
    }
}

fn check(name: &str) {
    let model = load(name);
    let g = &golden()["models"][name];
    let text = g["text"].as_str().unwrap();
    let want_ids: Vec<u32> = g["token_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(
        model.tokenizer.encode_with(text, false).unwrap(),
        want_ids,
        "{name} tokens"
    );
    let mut maps = model.new_attention_maps();
    let logits = model
        .forward(
            &want_ids,
            &mut model.new_cache(),
            Some(&mut maps),
            Logits::All,
        )
        .unwrap();
    let ours = logits.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let want = floats(&g["logits"]);
    assert_eq!(ours.len(), want.len());
    let worst = ours
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("{name}: largest logit difference {worst:e}");
    assert!(worst <= LOGIT_TOL, "{name}: logits differ by {worst}");
    let ours: Vec<f32> = (0..maps.n_layers())
        .flat_map(|l| maps.dense_layer(l))
        .collect();
    let want = floats(&g["attn"]);
    assert_eq!(ours.len(), want.len());
    let worst = ours
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst <= ATTN_TOL, "{name}: attention differs by {worst}");
}

#[test]
fn gpt2_f32_matches_the_reference() {
    check("gpt2");
}

#[test]
fn llama_sharded_f16_matches_the_reference() {
    check("llama");
}

#[test]
fn qwen2_bf16_with_qkv_bias_matches_the_reference() {
    check("qwen2");
}

#[test]
fn cached_decode_equals_the_full_pass_for_gpt2() {
    let model = load("gpt2");
    let ids: Vec<u32> = golden()["models"]["gpt2"]["token_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let full = model
        .forward(&ids, &mut model.new_cache(), None, Logits::All)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let mut cache = model.new_cache();
    model
        .forward(&ids[..4], &mut cache, None, Logits::Last)
        .unwrap();
    for pos in 4..ids.len() {
        let step = model
            .forward(&ids[pos..pos + 1], &mut cache, None, Logits::Last)
            .unwrap();
        let step = step.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let diff = step
            .iter()
            .zip(&full[pos])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-4, "position {pos}: {diff}");
    }
}

#[test]
fn chat_templates_and_end_tokens_come_from_tokenizer_config() {
    use promptlab_infer::chat_template::Message;
    let model = load("qwen2");
    let text = model.render_chat(&[Message::new("user", "hi")]).unwrap();
    assert_eq!(
        text,
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(model.tokenizer.eos_ids(), &[1]);
    assert!(
        load("gpt2").render_chat(&[]).is_err(),
        "gpt2 has no chat template"
    );
}

/// A copy of a tiny checkpoint to break on purpose.
fn broken_copy(name: &str, edit: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join(name);
    copy_dir(
        &common::repo_path(&format!("tests/data/tiny-hf/{name}")),
        &folder,
    );
    edit(&folder);
    (dir, folder)
}

fn load_error(folder: &Path) -> String {
    match LoadedModel::load(folder) {
        Ok(_) => panic!("{} should not load", folder.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_unsupported_architecture_lists_the_supported_ones() {
    let (_d, folder) = broken_copy("gpt2", |f| {
        let p = f.join("config.json");
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("GPT2LMHeadModel", "MambaForCausalLM");
        std::fs::write(p, text).unwrap();
    });
    let err = load_error(&folder);
    assert!(err.contains("`MambaForCausalLM` is not supported"), "{err}");
    assert!(
        err.contains("GPT2LMHeadModel") && err.contains("Qwen2ForCausalLM"),
        "{err}"
    );
}

#[test]
fn a_missing_shard_is_named() {
    let (_d, folder) = broken_copy("llama", |f| {
        std::fs::remove_file(f.join("model-00002-of-00002.safetensors")).unwrap();
    });
    let err = load_error(&folder);
    assert!(
        err.contains("model-00002-of-00002.safetensors") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn a_shape_mismatch_names_the_tensor() {
    let (_d, folder) = broken_copy("qwen2", |f| {
        let p = f.join("config.json");
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("\"intermediate_size\": 128", "\"intermediate_size\": 96");
        std::fs::write(p, text).unwrap();
    });
    let err = load_error(&folder);
    assert!(
        err.contains("mlp.gate_proj.weight") && err.contains("expected [96, 64]"),
        "{err}"
    );
}

#[test]
fn a_folder_without_weights_says_what_it_expected() {
    let (_d, folder) = broken_copy("gpt2", |f| {
        std::fs::remove_file(f.join("model.safetensors")).unwrap();
    });
    let err = load_error(&folder);
    assert!(
        err.contains("no weights") && err.contains("model.safetensors"),
        "{err}"
    );
}

#[test]
fn an_unknown_repo_is_not_in_the_cache() {
    hf_cache();
    let config = Config::from_layers(None, Path::new("")).unwrap();
    let err = resolve("tiny/nothing-here", &config.models, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("not in the Hugging Face cache"), "{err}");
}

/// GPT-2's own tokenizer files, as a checkpoint without tokenizer.json.
fn gpt2_tokenizer() -> &'static promptlab_infer::tokenizer::TextTokenizer {
    use promptlab_infer::tokenizer::{HfTokenizerConfig, TextTokenizer};
    static T: OnceLock<TextTokenizer> = OnceLock::new();
    T.get_or_init(|| {
        let folder = common::repo_path("tests/data/gpt2-tokenizer");
        let config = HfTokenizerConfig {
            eos_token: Some("<|endoftext|>".into()),
            ..HfTokenizerConfig::default()
        };
        TextTokenizer::from_hf(&folder, &config, &[]).unwrap()
    })
}

#[test]
fn gpt2_vocab_and_merges_give_gpt2s_known_encodings() {
    let t = gpt2_tokenizer();
    assert_eq!(t.vocab_size(), 50257);
    // Encodings GPT-2 is known for.
    assert_eq!(t.encode_with("Hello world", false).unwrap(), [15496, 995]);
    assert_eq!(t.encode_with("<|endoftext|>", false).unwrap(), [50256]);
    assert_eq!(t.eos_ids(), &[50256]);
    // And llama.cpp's GPT-2 test vectors, which use the same vocabulary.
    let dir = common::repo_path("tests/data/llama-vocab");
    let inputs = std::fs::read_to_string(dir.join("ggml-vocab-gpt-2.gguf.inp")).unwrap();
    let outputs = std::fs::read_to_string(dir.join("ggml-vocab-gpt-2.gguf.out")).unwrap();
    let inputs: Vec<&str> = inputs.split("\n__ggml_vocab_test__\n").collect();
    let outputs: Vec<&str> = outputs.split('\n').collect();
    for (input, output) in inputs.iter().zip(&outputs).take(inputs.len() - 1) {
        let want: Vec<u32> = output
            .split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect();
        assert_eq!(t.encode_with(input, false).unwrap(), want, "{input:?}");
        assert_eq!(t.decode(&want), *input);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(100))]
    #[test]
    fn gpt2_tokenizer_round_trips(text in "\\PC{0,40}") {
        let t = gpt2_tokenizer();
        let ids = t.encode_with(&text, false).unwrap();
        proptest::prop_assert_eq!(t.decode(&ids), text);
    }
}
