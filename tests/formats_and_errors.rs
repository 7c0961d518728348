//! Loading tiny random-weight GGUF files in every supported weight format,
//! and refusing broken or unsupported files with a one-line error.

mod common;

use candle_core::quantized::{gguf_file, GgmlDType};
use common::tiny_gguf::{self, TinySpec};
use promptlab_infer::arch::Logits;
use promptlab_infer::LoadedModel;

fn write_tiny(dir: &std::path::Path, name: &str, spec: &TinySpec) -> std::path::PathBuf {
    let path = dir.join(name);
    tiny_gguf::write(&path, spec);
    path
}

fn logits(model: &LoadedModel, text: &str) -> Vec<f32> {
    let ids = model.tokenizer.encode(text).unwrap();
    model
        .forward(&ids, &mut model.new_cache(), None, Logits::Last)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn every_weight_format_loads_and_tracks_the_f32_model() {
    let dir = tempfile::tempdir().unwrap();
    let reference =
        LoadedModel::load(&write_tiny(dir.path(), "f32.gguf", &TinySpec::default())).unwrap();
    let want = logits(&reference, "abba, a cab");
    // (format, least cosine similarity of its logits to the f32 model's)
    let formats = [
        (GgmlDType::F16, 0.999),
        (GgmlDType::Q8_0, 0.99),
        (GgmlDType::Q6K, 0.98),
        (GgmlDType::Q5K, 0.95),
        (GgmlDType::Q4K, 0.9),
        (GgmlDType::Q4_1, 0.9),
        (GgmlDType::Q4_0, 0.9),
    ];
    for (dtype, least) in formats {
        let spec = TinySpec {
            dtype,
            ..TinySpec::default()
        };
        let path = write_tiny(dir.path(), &format!("{dtype:?}.gguf"), &spec);
        let model = LoadedModel::load(&path).unwrap_or_else(|e| panic!("{dtype:?}: {e}"));
        let got = logits(&model, "abba, a cab");
        let c = cosine(&got, &want);
        assert!(c >= least, "{dtype:?}: cosine {c} < {least}");
        assert!(got.iter().all(|v| v.is_finite()));
    }
}

fn load_error(spec: &TinySpec) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tiny(dir.path(), "bad.gguf", spec);
    match LoadedModel::load(&path) {
        Ok(_) => panic!("loading should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_unsupported_architecture_is_named_with_the_supported_ones() {
    let err = load_error(&TinySpec {
        architecture: "mamba".into(),
        ..TinySpec::default()
    });
    assert!(
        err.contains("architecture `mamba` is not supported"),
        "{err}"
    );
    assert!(err.contains("supported: llama"), "{err}");
}

#[test]
fn a_missing_tensor_is_named() {
    let err = load_error(&TinySpec {
        omit_tensor: Some("blk.1.ffn_up.weight".into()),
        ..TinySpec::default()
    });
    assert!(
        err.contains("tensor `blk.1.ffn_up.weight` is missing"),
        "{err}"
    );
}

#[test]
fn a_tensor_of_the_wrong_shape_is_named_with_both_shapes() {
    let err = load_error(&TinySpec {
        misshape_tensor: Some("blk.0.attn_k.weight".into()),
        ..TinySpec::default()
    });
    assert!(err.contains("blk.0.attn_k.weight"), "{err}");
    assert!(err.contains("[256, 256], expected [128, 256]"), "{err}");
}

#[test]
fn a_truncated_file_is_refused_before_reading_tensors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_tiny(dir.path(), "whole.gguf", &TinySpec::default());
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.gguf");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = LoadedModel::load(&cut).err().unwrap().to_string();
    assert!(err.contains("cut.gguf"), "{err}");
    assert!(err.contains("truncated"), "{err}");
    // Cut inside the header too.
    std::fs::write(&cut, &bytes[..200]).unwrap();
    let err = LoadedModel::load(&cut).err().unwrap().to_string();
    assert!(
        err.contains("cut.gguf") && err.contains("not a readable GGUF file"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_gguf_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, b"PK\x03\x04 this is a zip, not a model").unwrap();
    let err = LoadedModel::load(&path).err().unwrap().to_string();
    assert!(err.contains("does not start with the GGUF magic"), "{err}");
}

#[test]
fn tiny_model_chat_template_and_special_tokens_work() {
    use promptlab_infer::chat_template::Message;
    let dir = tempfile::tempdir().unwrap();
    let model = LoadedModel::load(&write_tiny(dir.path(), "t.gguf", &TinySpec::default())).unwrap();
    let text = model.render_chat(&[Message::new("user", "ab")]).unwrap();
    let ids = model.tokenizer.encode(&text).unwrap();
    // <|im_start|> is id 257, "ab" merges to 256, <|im_end|> is 258.
    assert_eq!(ids[0], 257);
    assert!(ids.contains(&256) && ids.contains(&258));
    assert_eq!(model.tokenizer.decode(&ids), text);
}

fn with_metadata(key: &str, value: gguf_file::Value) -> TinySpec {
    TinySpec {
        metadata: vec![(key.to_string(), value)],
        ..TinySpec::default()
    }
}

#[test]
fn extreme_hyper_parameters_are_refused_in_one_line_naming_the_field() {
    use gguf_file::Value::{F32, U32};
    let cases = [
        ("llama.block_count", U32(u32::MAX), "blk.2."),
        ("llama.block_count", U32(0), "block count"),
        ("llama.context_length", U32(0), "context length"),
        ("llama.context_length", U32(1), "context length"),
        ("llama.attention.head_count", U32(0), "head count"),
        ("llama.attention.head_count_kv", U32(3), "head count"),
        ("llama.rope.freq_base", F32(f32::NAN), "rope frequency base"),
        ("llama.rope.freq_base", F32(-1.0), "rope frequency base"),
        (
            "llama.attention.layer_norm_rms_epsilon",
            F32(f32::INFINITY),
            "RMSNorm epsilon",
        ),
        ("llama.embedding_length", U32(u32::MAX), "head dimension"),
        ("llama.embedding_length", U32(1 << 30), "shape"),
        ("llama.feed_forward_length", U32(u32::MAX), "shape"),
        ("general.alignment", U32(0), "general.alignment"),
        ("general.alignment", U32(24), "general.alignment"),
    ];
    for (key, value, needle) in cases {
        let e = load_error(&with_metadata(key, value.clone()));
        assert!(
            e.contains("bad.gguf") && e.contains(needle) && !e.contains('\n'),
            "{key} = {value:?}: {e}"
        );
    }
}

#[test]
fn a_huge_context_length_allocates_nothing_up_front_and_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = with_metadata("llama.context_length", gguf_file::Value::U32(u32::MAX));
    let model = LoadedModel::load(&write_tiny(dir.path(), "long.gguf", &spec)).unwrap();
    assert_eq!(model.context_length(), u32::MAX as usize);
    assert!(logits(&model, "abba").iter().all(|v| v.is_finite()));
}

#[test]
fn terminal_escapes_in_file_strings_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TinySpec {
        architecture: "evil\u{1b}[2J\u{1b}]52;c;eA==\u{7}".into(),
        ..TinySpec::default()
    };
    let path = write_tiny(dir.path(), "evil.gguf", &spec);
    let e = LoadedModel::load(&path).err().unwrap().to_string();
    assert!(!e.chars().any(char::is_control), "{e:?}");
    assert!(e.contains("evil\\u{1b}[2J"), "{e}");
    let info = common::promptlab(&["models", "info", path.to_str().unwrap()]);
    let shown = String::from_utf8_lossy(&info.stdout) + String::from_utf8_lossy(&info.stderr);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown:?}"
    );
    assert!(shown.contains("evil\\u{1b}"), "{shown}");
}
