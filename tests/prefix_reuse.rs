//! Chat turns and method calls reuse what earlier requests computed: a
//! second turn prefills only its new tokens (counted as positions the model
//! runs), regenerating runs only the last prompt token, and the answers are
//! the ones a fresh cache gives.

mod common;

use std::ops::ControlFlow;

use promptlab_backend::{ChatBackend, ChatCall, ChatEnd, ChatProgress, LocalBackend};
use promptlab_infer::chat_template::Message;
use promptlab_infer::generate::StopReason;
use promptlab_infer::sampling::SamplingParams;
use promptlab_infer::LoadedModel;

fn call(messages: &[(&str, &str)]) -> ChatCall {
    ChatCall {
        messages: messages.iter().map(|(r, t)| Message::new(r, t)).collect(),
        assistant_prefix: String::new(),
        sampling: SamplingParams {
            max_tokens: 12,
            ..SamplingParams::greedy()
        },
        top_logprobs: 0,
        capture_attention: false,
    }
}

/// Generated tokens run through the model after they were chosen: all of
/// them when the turn ended at end of turn, all but the last when it ran
/// out of tokens.
fn fed(end: &ChatEnd) -> u64 {
    match end.stop_reason {
        StopReason::Eos => end.generated_tokens as u64,
        _ => end.generated_tokens as u64 - 1,
    }
}

/// Runs one turn; returns its end, its text, and the positions it computed.
fn turn(backend: &mut LocalBackend<'_>, call: &ChatCall) -> (ChatEnd, String, u64) {
    let before = backend.model.positions_computed();
    let mut text = String::new();
    let end = backend
        .chat(call, &mut |p| {
            if let ChatProgress::Token(t) = p {
                text.push_str(&t.text);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    text.push_str(&end.tail);
    (end, text, backend.model.positions_computed() - before)
}

fn prompt_ids(model: &LoadedModel, call: &ChatCall) -> Vec<u32> {
    model
        .tokenizer
        .encode(&model.render_chat(&call.messages).unwrap())
        .unwrap()
}

#[test]
fn a_second_chat_turn_prefills_only_its_new_tokens() {
    // Its own model, so no other test's forward passes enter the count.
    let model = LoadedModel::load(&common::default_model_path()).unwrap();
    let mut backend = LocalBackend::new(&model);
    let system = (
        "system",
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face",
    );
    let first = call(&[system, ("user", "What is the capital of France?")]);
    let (end1, answer1, computed1) = turn(&mut backend, &first);
    assert_eq!(end1.reused_tokens, 0);
    // A fresh start computes the whole prompt and the answer.
    assert_eq!(computed1, end1.prompt_tokens as u64 + fed(&end1));

    let second = call(&[
        system,
        ("user", "What is the capital of France?"),
        ("assistant", &answer1),
        ("user", "And of Italy?"),
    ]);
    let (end2, _, computed2) = turn(&mut backend, &second);
    let ids2 = prompt_ids(&model, &second);
    assert_eq!(end2.prompt_tokens, ids2.len());
    // What the first turn left in the cache: its prompt and its answer.
    let mut seen = prompt_ids(&model, &first);
    seen.extend(model.tokenizer.encode(&answer1).unwrap());
    let shared = seen.iter().zip(&ids2).take_while(|(a, b)| a == b).count();
    let new_tokens = ids2.len() - shared;
    assert!(
        shared > 40 && new_tokens < 20,
        "shared {shared}, new {new_tokens}"
    );
    assert_eq!(end2.reused_tokens, shared);
    assert_eq!(computed2, new_tokens as u64 + fed(&end2));
}

#[test]
fn regenerating_runs_one_prompt_token_and_answers_as_a_fresh_cache_does() {
    let model = LoadedModel::load(&common::default_model_path()).unwrap();
    let question = call(&[("user", "Name a colour.")]);
    let mut backend = LocalBackend::new(&model);
    let (fresh, fresh_text, _) = turn(&mut backend, &question);
    let (again, again_text, computed) = turn(&mut backend, &question);
    assert_eq!(again.reused_tokens, again.prompt_tokens - 1);
    assert_eq!(computed, 1 + fed(&again));
    assert_eq!(again_text, fresh_text);
    assert_eq!(again.generated_tokens, fresh.generated_tokens);
}
