//! Answering a chat turn on a [`ChatBackend`], streaming its progress as
//! plain-data events of the request.

use std::ops::ControlFlow;

use promptlab_backend::{ChatBackend, ChatCall, ChatProgress};

use crate::cancel::CancelToken;
use crate::protocol::{ChatRequest, Event, FinishedEvent, RequestError, TokenEvent};

/// Generates the answer to `request`; the cancel token stops it between
/// tokens (it then finishes as cancelled).
pub(crate) fn chat(
    backend: &mut dyn ChatBackend,
    request: ChatRequest,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) -> Result<(), RequestError> {
    let id = request.id;
    let call = ChatCall {
        messages: request.messages,
        assistant_prefix: request.assistant_prefix,
        sampling: request.sampling,
        top_logprobs: request.top_logprobs,
    };
    let end = backend.chat(&call, &mut |progress| match progress {
        ChatProgress::Started {
            prompt_tokens,
            dropped_messages,
        } => {
            sink(Event::Started {
                id,
                prompt_tokens,
                dropped_messages,
            });
            ControlFlow::Continue(())
        }
        ChatProgress::Token(token) => {
            sink(Event::Token {
                id,
                token: TokenEvent {
                    text: token.text,
                    logprob: token.logprob,
                    top: token.top,
                },
            });
            if cancel.is_cancelled() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    })?;
    sink(Event::Finished {
        id,
        finished: FinishedEvent {
            stop_reason: end.stop_reason,
            tail: end.tail,
            prompt_tokens: end.prompt_tokens,
            generated_tokens: end.generated_tokens,
            prefill_tok_s: end.prefill_tok_s,
            decode_tok_s: end.decode_tok_s,
        },
    });
    Ok(())
}
