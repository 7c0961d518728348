//! A fake method backend: scripted replies, streamed a word at a time, with
//! every call kept and an optional hook run as each call starts.

use std::collections::VecDeque;
use std::ops::ControlFlow;

use promptlab_backend::{Backend, BackendError, Call, Capabilities, Reply};

pub struct Scripted {
    replies: VecDeque<String>,
    /// Every call made, in order.
    pub calls: Vec<Call>,
    on_call: Box<dyn FnMut(&Call)>,
}

impl Scripted {
    pub fn new(replies: &[&str]) -> Self {
        Self {
            replies: replies.iter().map(|s| s.to_string()).collect(),
            calls: Vec::new(),
            on_call: Box::new(|_| {}),
        }
    }

    /// Runs `hook` as each call starts, before its tokens.
    pub fn on_call(mut self, hook: impl FnMut(&Call) + 'static) -> Self {
        self.on_call = Box::new(hook);
        self
    }
}

impl Backend for Scripted {
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError> {
        (self.on_call)(call);
        self.calls.push(call.clone());
        let text = self
            .replies
            .pop_front()
            .ok_or_else(|| BackendError::Failed("no scripted reply left".into()))?;
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
