//! A backend for running fuzzed method files: each call gets one of a few
//! replies of the shapes methods parse (an answer line, a choice, a vote, a
//! number, code, a long ramble, nothing), chosen by the call's prompt, so
//! runs are deterministic and reach every kind of step.

use std::ops::ControlFlow;

use promptlab_backend::{Backend, BackendError, Call, Capabilities, Reply};

const REPLIES: &[&str] = &[
    "The answer is 42.",
    "Let's think step by step. 12 + 30 = 42.\nTherefore, the answer (arabic numerals) is 42.",
    "(B)",
    "yes",
    "",
    "```python\nprint(12 + 30)\n```",
    "Step 1: add.\nStep 2: check.\nSo the answer is 42.",
    "{\"answer\": 42, \"steps\": [1, 2]}",
    "Thought: I should add.\nAction: Finish[42]",
    "1. twelve\n2. thirty\n3. forty-two\n\nsure: 0.9",
];

#[derive(Default)]
pub(crate) struct Scripted {
    calls: usize,
}

/// Calls one run may make before the backend refuses more (the runner's
/// own bounds should stop far earlier).
const MAX_CALLS: usize = 2000;

impl Backend for Scripted {
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError> {
        self.calls += 1;
        if self.calls > MAX_CALLS {
            return Err(BackendError::Failed(format!("more than {MAX_CALLS} calls")));
        }
        let pick = call.prompt.bytes().fold(self.calls, |h, b| {
            h.wrapping_mul(31).wrapping_add(b as usize)
        });
        let long = "and so on ".repeat(40);
        let text = match pick % (REPLIES.len() + 1) {
            i if i < REPLIES.len() => REPLIES[i].to_string(),
            _ => long,
        };
        let budget = call.sampling.max_tokens.max(1);
        let text: String = text.split_inclusive(' ').take(budget).collect();
        for piece in text.split_inclusive(' ') {
            if on_text(piece).is_break() {
                return Err(BackendError::Cancelled);
            }
        }
        Ok(Reply {
            generated_tokens: text.split_whitespace().count(),
            prompt_tokens: call.prompt.split_whitespace().count(),
            text,
            ..Reply::default()
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
}
