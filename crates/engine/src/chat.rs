//! Answering a chat turn on a [`ChatBackend`], streaming its progress as
//! plain-data events of the request.

use std::ops::ControlFlow;

use promptlab_backend::{ChatBackend, ChatProgress};

use crate::cancel::CancelToken;
use crate::protocol::{ChatRequest, Event, RequestError};

/// Generates the answer to `request`; the cancel token stops it between
/// tokens (it then finishes as cancelled).
pub(crate) fn chat(
    backend: &mut dyn ChatBackend,
    request: ChatRequest,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) -> Result<(), RequestError> {
    let id = request.id;
    let end = backend.chat(&request.call, &mut |progress| match progress {
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
            sink(Event::Token { id, token });
            if cancel.is_cancelled() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    })?;
    sink(Event::Finished { id, finished: end });
    Ok(())
}
