//! End-to-end runs of the real `promptlab` binary: the jsonl contract, the
//! attention file, the chat answer, and one-line errors for bad input.

mod common;

use common::promptlab;

use std::process::{Command, Output};

use common::tiny_gguf::{self, TinySpec};
use serde_json::Value;

fn model_arg() -> String {
    common::default_model_path().display().to_string()
}

/// The run failed with exactly one error line mentioning every `needle`.
fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let line = common::one_line_error(out);
    for n in needles {
        assert!(line.contains(n), "missing {n:?} in: {line}");
    }
}

#[test]
fn chat_answers_the_capital_of_france_with_paris() {
    let model = model_arg();
    let out = promptlab(&[
        "generate",
        "--model",
        &model,
        "--chat",
        "--prompt",
        "What is the capital of France?",
        "--temperature",
        "0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Paris"), "{text}");
}

#[test]
fn on_the_default_settings_the_greedy_chat_answer_is_exactly_the_references() {
    let model = model_arg();
    let out = promptlab(&[
        "generate",
        "--model",
        &model,
        "--chat",
        "--prompt",
        "What is the capital of France?",
        "--temperature",
        "0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "The capital of France is Paris.\n"
    );
}

#[test]
fn jsonl_output_follows_the_contract() {
    let model = model_arg();
    let dir = tempfile::tempdir().unwrap();
    let attn = dir.path().join("attn.safetensors");
    let out = promptlab(&[
        "generate",
        "--model",
        &model,
        "--prompt",
        "The capital of France is",
        "--temperature",
        "0",
        "--repeat-penalty",
        "1",
        "--max-tokens",
        "4",
        "--top-logprobs",
        "3",
        "--format",
        "jsonl",
        "--attention",
        attn.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "prompt");
    assert_eq!(
        events[0]["token_ids"],
        serde_json::json!([504, 3575, 282, 4649, 314])
    );
    assert_eq!(events[0]["tokens"][1], " capital");
    let tokens = &events[1..events.len() - 1];
    assert_eq!(tokens.len(), 4);
    for (i, t) in tokens.iter().enumerate() {
        assert_eq!(t["event"], "token");
        assert_eq!(t["index"], i);
        assert_eq!(t["top"].as_array().unwrap().len(), 3);
        assert_eq!(t["top"][0]["token_id"], t["token_id"]);
        assert!(t["logprob"].as_f64().unwrap() <= 0.0);
        assert!(t["top"][0]["text"].is_string());
    }
    assert_eq!(tokens[0]["text"], " Paris");
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["prompt_tokens"], 5);
    assert_eq!(done["generated_tokens"], 4);
    assert_eq!(done["stop_reason"], "length");
    for key in [
        "load_ms",
        "prefill_ms",
        "decode_ms",
        "prefill_tok_s",
        "decode_tok_s",
    ] {
        assert!(done[key].as_f64().unwrap() > 0.0, "{key}");
    }
    // The attention file: one tensor per layer, heads × queries × keys.
    let bytes = std::fs::read(&attn).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), 30);
    let layer = st.tensor("layer.29").unwrap();
    assert_eq!(layer.shape(), &[9, 8, 8]); // 5 prompt + 3 fed-back tokens
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let tokens: Vec<String> =
        serde_json::from_str(&meta.metadata().as_ref().unwrap()["tokens"]).unwrap();
    assert_eq!(tokens.len(), 8);
    assert_eq!(tokens[5], " Paris");
}

#[test]
fn empty_prompt_is_refused() {
    let model = model_arg();
    assert_one_line_error(
        &promptlab(&["generate", "--model", &model, "--prompt", ""]),
        &["prompt is empty"],
    );
}

#[test]
fn a_prompt_longer_than_the_context_is_refused() {
    let model = model_arg();
    let long = "word ".repeat(9000);
    let out = promptlab(&["generate", "--model", &model, "--prompt", &long]);
    assert_one_line_error(&out, &["prompt is 9001 tokens", "context window is 8192"]);
}

#[test]
fn a_missing_prompt_file_is_named() {
    let out = promptlab(&["generate", "--prompt-file", "/nonexistent/prompt.txt"]);
    assert_one_line_error(&out, &["/nonexistent/prompt.txt"]);
}

#[test]
fn a_truncated_model_file_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.gguf");
    let bytes = std::fs::read(common::default_model_path()).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = promptlab(&[
        "generate",
        "--model",
        cut.to_str().unwrap(),
        "--prompt",
        "hi",
    ]);
    assert_one_line_error(&out, &["cut.gguf", "truncated"]);
}

#[test]
fn a_corrupted_model_header_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.gguf");
    let mut bytes = std::fs::read(common::default_model_path()).unwrap()[..4096].to_vec();
    bytes[8..24].copy_from_slice(&[0xff; 16]); // tensor and metadata counts
    std::fs::write(&bad, &bytes).unwrap();
    let out = promptlab(&[
        "generate",
        "--model",
        bad.to_str().unwrap(),
        "--prompt",
        "hi",
    ]);
    assert_one_line_error(&out, &["bad.gguf", "not a readable GGUF file"]);
}

#[test]
fn an_unsupported_architecture_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gemma.gguf");
    tiny_gguf::write(
        &path,
        &TinySpec {
            architecture: "gemma3".into(),
            ..TinySpec::default()
        },
    );
    let out = promptlab(&[
        "generate",
        "--model",
        path.to_str().unwrap(),
        "--prompt",
        "hi",
    ]);
    assert_one_line_error(&out, &["`gemma3` is not supported", "supported: llama"]);
}

#[test]
fn an_unknown_model_spec_lists_the_aliases() {
    let out = promptlab(&["generate", "--model", "no-such-model", "--prompt", "hi"]);
    assert_one_line_error(&out, &["no-such-model", "smollm2-135m-instruct"]);
}

#[test]
fn bad_sampling_values_are_refused() {
    let out = promptlab(&["generate", "--prompt", "hi", "--top-p", "1.5"]);
    assert_one_line_error(&out, &["top-p must be in (0, 1], got 1.5"]);
}

#[test]
fn bench_prints_a_table_and_json() {
    let model = model_arg();
    let out = promptlab(&[
        "bench",
        "--model",
        &model,
        "--threads",
        "1",
        "--prompt-tokens",
        "16",
        "--gen-tokens",
        "4",
        "--runs",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("prefill") && text.contains("decode"));
    let json: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(json["threads"], 1);
    assert!(json["decode_tok_s"].as_f64().unwrap() > 0.0);
    assert!(json["prefill_tok_s"].as_f64().unwrap() > 0.0);
    assert!(json["ttft_ms"].as_f64().unwrap() > 0.0);
    assert!(json["load_ms"].as_f64().unwrap() > 0.0);
    assert!(json["peak_rss_mb"].as_f64().unwrap() > json["weights_mb"].as_f64().unwrap());
    assert_eq!(json["weights"], "stored");
    assert!(
        ["portable", "avx2", "avx512", "avx512-vnni"].contains(&json["kernels"].as_str().unwrap())
    );
    for field in ["first token ms", "load ms", "peak RSS MB", "weights stored"] {
        assert!(text.contains(field), "missing {field:?} in:\n{text}");
    }
}

#[test]
fn a_negative_sampling_number_gets_the_range_not_a_parse_error() {
    for (flag, name) in [("--temperature", "temperature"), ("--top-p", "top-p")] {
        let out = promptlab(&["generate", flag, "-1", "--prompt", "hi"]);
        assert_one_line_error(&out, &[name, "-1"]);
    }
}

#[test]
fn a_corrupt_or_newer_conversation_file_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, "{\"version\": 1, \"turns\": [").unwrap();
    let out = promptlab(&["--load", corrupt.to_str().unwrap()]);
    assert_one_line_error(&out, &["corrupt.json", "line 1"]);
    assert_eq!(
        std::fs::read_to_string(&corrupt).unwrap(),
        "{\"version\": 1, \"turns\": ["
    );

    let newer = dir.path().join("newer.json");
    let text = "{\"version\": 99, \"hologram\": true}";
    std::fs::write(&newer, text).unwrap();
    let out = promptlab(&["--load", newer.to_str().unwrap()]);
    assert_one_line_error(&out, &["newer.json", "newer promptlab", "version 99"]);
    assert_eq!(std::fs::read_to_string(&newer).unwrap(), text);
}

#[test]
fn models_list_info_and_rm_work_on_a_hugging_face_cache() {
    let cache = tempfile::tempdir().unwrap();
    let sha = "2222222222222222222222222222222222222222";
    let repo = cache.path().join("models--tiny--llama");
    let snapshot = repo.join("snapshots").join(sha);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), sha).unwrap();
    let src = common::repo_path("tests/data/tiny-hf/llama");
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), snapshot.join(e.file_name())).unwrap();
    }
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_promptlab"))
            .args(args)
            .env("HF_HUB_CACHE", cache.path())
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap()
    };
    let out = run(&["models", "list"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success() && text.contains("tiny/llama"),
        "{text}"
    );
    let out = run(&["models", "info", "tiny/llama"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("LlamaForCausalLM"), "{text}");
    assert!(text.contains("parameters    112448"), "{text}");
    assert!(
        text.contains("F16 ×21") && text.contains("chat template yes"),
        "{text}"
    );
    let out = run(&[
        "generate",
        "--model",
        "tiny/llama",
        "--prompt",
        "hello",
        "--max-tokens",
        "3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["models", "rm", "tiny/llama"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!repo.exists());
    let out = run(&["models", "rm", "tiny/llama"]);
    assert_one_line_error(&out, &["not in any cache"]);
}

#[test]
fn config_may_come_before_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "sampling:\n  temperature: 0\n").unwrap();
    let config = config.to_str().unwrap();
    let s = |v: &str| v.to_string();
    let forms = [
        vec![s("--config"), s(config), s("models"), s("list")],
        vec![format!("--config={config}"), s("models"), s("list")],
        vec![s("models"), s("--config"), s(config), s("list")],
    ];
    for args in &forms {
        let out = promptlab(&args.iter().map(String::as_str).collect::<Vec<&str>>());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_config_nested_absurdly_deep_is_refused_at_once_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.yaml");
    let deep = format!(
        "model: x\nkeys: {}{}\n",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    std::fs::write(&path, deep).unwrap();
    let out = common::promptlab(&["--config", path.to_str().unwrap(), "models", "list"]);
    assert!(!out.status.success());
    assert_one_line_error(&out, &["deep.yaml", "line 2", "nested deeper than 64"]);
}

#[test]
fn attention_json_is_the_engines_capture_of_prompt_and_answer() {
    let model = model_arg();
    let out = promptlab(&[
        "attention",
        "--model",
        &model,
        "--prompt",
        "The capital of France is",
        "--generate",
        "4",
        "--logit-lens",
        "--top",
        "2",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<u32> = report["token_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let prompt_tokens = report["prompt_tokens"].as_u64().unwrap() as usize;
    assert_eq!(prompt_tokens, 5);
    assert_eq!(
        ids.len(),
        prompt_tokens + 4,
        "every answer token asked for is captured"
    );
    assert_eq!(report["tokens"].as_array().unwrap().len(), ids.len());
    // The same positions captured in-process in one pass give the same rows.
    let engine = common::default_model();
    let mut maps = engine.new_attention_maps();
    engine
        .forward(
            &ids,
            &mut engine.new_cache(),
            Some(&mut maps),
            promptlab_infer::arch::Logits::Last,
        )
        .unwrap();
    let layers = report["attention"].as_array().unwrap();
    assert_eq!(layers.len(), 30);
    for layer in layers {
        let l = layer["layer"].as_u64().unwrap() as usize;
        let heads = layer["rows"].as_array().unwrap();
        assert_eq!(heads.len(), 9);
        for (h, rows) in heads.iter().enumerate() {
            for (q, row) in rows.as_array().unwrap().iter().enumerate() {
                let row: Vec<f32> = row
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect();
                assert_eq!(row.len(), q + 1, "causal: query {q} sees keys 0..={q}");
                let sum: f32 = row.iter().sum();
                assert!((sum - 1.0).abs() < 1e-4, "L{l} H{h} q{q} sums to {sum}");
                for (k, p) in row.iter().enumerate() {
                    let diff = (p - maps.prob(l, h, q, k)).abs();
                    assert!(
                        diff < 1e-4,
                        "L{l} H{h} q{q} k{k}: {p} vs {}",
                        maps.prob(l, h, q, k)
                    );
                }
            }
        }
    }
    // The last layer's lens at the prompt's end is the model's answer.
    let lens = &report["logit_lens"][29][prompt_tokens - 1];
    assert_eq!(lens.as_array().unwrap().len(), 2);
    assert_eq!(lens[0]["token"], " Paris");
    assert_eq!(report["tokens"][prompt_tokens], " Paris");
}

#[test]
fn attention_refuses_a_layer_or_head_the_model_lacks() {
    let model = model_arg();
    for (flag, value, needle) in [
        ("--layer", "30", "layers 0..29"),
        ("--head", "9", "heads 0..8"),
    ] {
        let out = promptlab(&[
            "attention",
            "--model",
            &model,
            "--prompt",
            "hi",
            flag,
            value,
        ]);
        assert_one_line_error(&out, &[flag, needle]);
    }
}

#[test]
fn attention_html_is_self_contained_and_draws_every_head_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("attention.html");
    let model = model_arg();
    let out = promptlab(&[
        "attention",
        "--model",
        &model,
        "--prompt",
        "The capital of France is",
        "--generate",
        "3",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page fetches nothing"
    );
    // The embedded data are the capture's weights (rounded to 4 decimals).
    let start = html.find(r#"type="application/json">"#).unwrap() + 24;
    let end = start + html[start..].find("</script>").unwrap();
    let data: Value = serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap();
    let tokens = data["tokens"].as_array().unwrap().len();
    assert_eq!(tokens, 8, "5 prompt and 3 answer tokens");
    let row = &data["rows"][29][8][tokens - 1];
    let sum: f64 = row
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-3, "L29 H8's last row sums to {sum}");
    // A real browser runs the page: 30 × 9 heatmaps drawn, the head view shown.
    let dom = common::chromium_dom(&page);
    assert!(
        dom.contains(r#"<body data-ready="270">"#),
        "the page did not draw its heads"
    );
    assert!(
        dom.contains(r#"data-shown="0,0""#),
        "the head view is not shown"
    );
}

/// The pixels of a PNG `promptlab attention --png` wrote: (width, height,
/// RGB rows).
fn read_png(path: &std::path::Path) -> (usize, usize, Vec<u8>) {
    use std::io::Read as _;
    let png = std::fs::read(path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    let (mut at, mut idat, mut size) = (8, Vec::new(), (0, 0));
    while at < png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let data = &png[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                let word = |i: usize| u32::from_be_bytes(data[i..i + 4].try_into().unwrap());
                size = (word(0) as usize, word(4) as usize);
                assert_eq!(&data[8..10], &[8, 2], "8-bit RGB");
            }
            b"IDAT" => idat.extend_from_slice(data),
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .unwrap();
    let (w, h) = size;
    let rows: Vec<u8> = raw
        .chunks(1 + 3 * w)
        .flat_map(|row| {
            assert_eq!(row[0], 0, "filter none");
            row[1..].to_vec()
        })
        .collect();
    assert_eq!(rows.len(), w * h * 3);
    (w, h, rows)
}

#[test]
fn attention_png_draws_each_weight_of_the_head_in_its_colour() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("head.png");
    let model = model_arg();
    let out = promptlab(&[
        "attention",
        "--model",
        &model,
        "--prompt",
        "The capital of France is",
        "--generate",
        "3",
        "--layer",
        "3",
        "--head",
        "4",
        "--format",
        "json",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["attention"][0]["rows"][0]
        .as_array()
        .unwrap()
        .clone();
    let n = rows.len();
    let (w, h, rgb) = read_png(&png);
    // Labels take 14 characters of 6 pixels and a gap; cells are 12
    // pixels for a short prompt; the title takes a line above the labels.
    let (margin, cell) = (14 * 6 + 6, 12);
    let top = margin + 9;
    assert_eq!((w, h), (margin + cell * n + 4, top + cell * n + 4));
    let pixel = |x: usize, y: usize| -> [u8; 3] {
        let i = (y * w + x) * 3;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    };
    for (q, row) in rows.iter().enumerate() {
        for k in 0..n {
            let (x, y) = (margin + k * cell + cell / 2, top + q * cell + cell / 2);
            let want = match row.as_array().unwrap().get(k) {
                Some(p) => promptlab_tui::panes::attention::heat_rgb(p.as_f64().unwrap() as f32),
                None => [48, 48, 48],
            };
            assert_eq!(pixel(x, y), want, "query {q} key {k}");
        }
    }
    // Labels are drawn: dark ink in the left margin on the first row.
    assert!((0..margin).any(|x| pixel(x, top + cell / 2) == [20, 20, 20]));

    // Without --head: the grid of every head of layer 3.
    let grid = dir.path().join("grid.png");
    let out = promptlab(&[
        "attention",
        "--model",
        &model,
        "--prompt",
        "Hi",
        "--layer",
        "3",
        "--png",
        grid.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (w, h, _) = read_png(&grid);
    assert!(w > h * 5, "one row of nine maps: {w}×{h}");
}
