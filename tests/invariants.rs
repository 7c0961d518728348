//! Invariants of the forward pass, sampling and streaming on the default
//! model: cached decode equals a full pass, attention is a causal
//! distribution, temperature 0 is argmax, seeds reproduce, and streamed text
//! is whole UTF-8.

mod common;

use std::ops::ControlFlow;

use promptlab_infer::arch::Logits;
use promptlab_infer::generate::{generate, GenerateRequest};
use promptlab_infer::sampling::{argmax, log_softmax, SamplingParams};
use promptlab_infer::tokenizer::StreamDecoder;

fn request(prompt: &str, sampling: SamplingParams, max_tokens: usize) -> GenerateRequest {
    GenerateRequest {
        prompt_ids: common::default_model().tokenizer.encode(prompt).unwrap(),
        sampling: SamplingParams {
            max_tokens,
            stop: vec![],
            ..sampling
        },
        top_logprobs: 5,
        capture_attention: false,
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn incremental_decode_with_the_cache_equals_a_full_forward_pass() {
    let model = common::default_model();
    let tokens = model
        .tokenizer
        .encode("One, two, three, four, five, six")
        .unwrap();
    let full = model
        .forward(&tokens, &mut model.new_cache(), None, Logits::All)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let split = tokens.len() - 4;
    let mut cache = model.new_cache();
    let first = model
        .forward(&tokens[..split], &mut cache, None, Logits::Last)
        .unwrap();
    let first = first.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(max_abs_diff(&first, &full[split - 1]) < 1e-3);
    for pos in split..tokens.len() {
        let step = model
            .forward(&tokens[pos..pos + 1], &mut cache, None, Logits::Last)
            .unwrap();
        let step = step.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let diff = max_abs_diff(&step, &full[pos]);
        assert!(diff < 1e-3, "position {pos}: max |cached - full| = {diff}");
    }
    assert_eq!(cache.len(), tokens.len());
}

#[test]
fn attention_rows_are_causal_distributions_for_prompt_and_generated_tokens() {
    let model = common::default_model();
    let mut req = request("Paris is the capital of", SamplingParams::greedy(), 6);
    req.capture_attention = true;
    let prompt_len = req.prompt_ids.len();
    let done = generate(model, &req, |_| ControlFlow::Continue(())).unwrap();
    let maps = done.attention.unwrap();
    // Every generated token but the last was fed back through the model.
    assert_eq!(maps.n_queries(), prompt_len + done.token_ids.len() - 1);
    assert!(
        maps.n_queries() > prompt_len,
        "generated tokens are captured too"
    );
    let q = maps.n_queries();
    for layer in 0..maps.n_layers() {
        let dense = maps.dense_layer(layer);
        for head in 0..maps.n_heads() {
            for i in 0..q {
                let row = &dense[(head * q + i) * q..(head * q + i + 1) * q];
                let sum: f32 = row.iter().sum();
                assert!(
                    (sum - 1.0).abs() < 1e-4,
                    "layer {layer} head {head} row {i} sums to {sum}"
                );
                assert!(
                    row[i + 1..].iter().all(|&p| p == 0.0),
                    "row {i} sees the future"
                );
                assert!(row.iter().all(|&p| p >= 0.0));
            }
        }
    }
}

#[test]
fn temperature_zero_picks_the_argmax_and_reports_the_models_logprobs() {
    let model = common::default_model();
    let req = request("The three primary colours are", SamplingParams::greedy(), 5);
    let mut steps = Vec::new();
    let done = generate(model, &req, |s| {
        steps.push(s.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    let mut tokens = req.prompt_ids.clone();
    for step in &steps {
        let logits = model
            .forward(&tokens, &mut model.new_cache(), None, Logits::Last)
            .unwrap();
        let logits = logits.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(step.token_id, argmax(&logits));
        let lp = log_softmax(&logits);
        assert!((step.logprob - lp[step.token_id as usize]).abs() < 1e-3);
        assert_eq!(step.top.len(), 5);
        assert_eq!(step.top[0].0, step.token_id);
        tokens.push(step.token_id);
    }
    assert_eq!(done.token_ids.len(), steps.len());
}

#[test]
fn a_fixed_seed_reproduces_the_same_tokens() {
    let model = common::default_model();
    let sampling = |seed| SamplingParams {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        repeat_penalty: 1.0,
        repeat_last_n: 0,
        seed,
        max_tokens: 12,
        stop: vec![],
    };
    let run = |seed| {
        let req = request("Once upon a time", sampling(seed), 12);
        generate(model, &req, |_| ControlFlow::Continue(()))
            .unwrap()
            .token_ids
    };
    let a = run(42);
    assert_eq!(a, run(42));
    assert!(
        (43..48).any(|s| run(s) != a),
        "other seeds should differ somewhere"
    );
}

#[test]
fn cancelling_from_the_callback_stops_generation() {
    let model = common::default_model();
    let req = request("Count: 1, 2, 3,", SamplingParams::greedy(), 50);
    let mut seen = 0;
    let done = generate(model, &req, |_| {
        seen += 1;
        if seen == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(done.token_ids.len(), 3);
    assert_eq!(done.stop_reason.as_str(), "cancelled");
}

#[test]
fn stop_strings_end_generation_and_are_not_in_the_text() {
    let model = common::default_model();
    let mut req = request("Count: 1, 2, 3,", SamplingParams::greedy(), 40);
    req.sampling.stop = vec!["6".into()];
    let done = generate(model, &req, |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(done.stop_reason.as_str(), "stop");
    assert!(
        done.text.contains('5') && !done.text.contains('6'),
        "{:?}",
        done.text
    );
}

#[test]
fn streamed_text_is_whole_utf8_and_adds_up_to_the_full_decode() {
    let tokenizer = &common::default_model().tokenizer;
    for text in [
        "Café naïve résumé — 東京 🚀🚀",
        "emoji 👩‍👩‍👧 and 日本語のテキスト",
    ] {
        let ids = tokenizer.encode(text).unwrap();
        let mut stream = StreamDecoder::new(tokenizer);
        let mut out = String::new();
        for &id in &ids {
            let delta = stream.push(id);
            assert!(!delta.contains('\u{FFFD}'), "broken UTF-8 in {delta:?}");
            out.push_str(&delta);
        }
        out.push_str(&stream.finish());
        assert_eq!(out, text);
    }
}

#[test]
fn the_chat_template_renders_chatml_with_the_default_system_prompt() {
    use promptlab_infer::chat_template::Message;
    let model = common::default_model();
    let text = model.render_chat(&[Message::new("user", "Hi")]).unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
         <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
}
