//! Running one question through several methods on the local model, one
//! method after another, streaming every step as plain data.

use std::ops::ControlFlow;

use promptlab_backend::{Backend, BackendError, Call, Capabilities, Reply};
use promptlab_methods::runner;

use crate::cancel::CancelToken;
use crate::protocol::{CompareRequest, Event, RequestId};

/// Runs each method of `request` in turn on `backend`; the cancel token
/// stops the call in flight and leaves the remaining methods unrun.
pub(crate) fn compare(
    backend: &mut dyn Backend,
    request: &CompareRequest,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) {
    let id = request.id;
    let mut backend = CompareBackend {
        inner: backend,
        cancel,
        sink,
        id,
        method: 0,
    };
    for (method, spec) in request.methods.iter().enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        backend.method = method;
        let result = runner::run(
            spec,
            &request.inputs,
            &mut backend,
            &request.options,
            |event| sink(Event::Method { id, method, event }),
        );
        sink(Event::MethodDone { id, method, result });
    }
    sink(Event::CompareFinished {
        id,
        stopped: cancel.is_cancelled(),
    });
}

/// The backend as a comparison uses it: announces each call's prompt and
/// stops at the cancel token (before a call, and between tokens).
struct CompareBackend<'a> {
    inner: &'a mut dyn Backend,
    cancel: &'a CancelToken,
    sink: &'a dyn Fn(Event),
    id: RequestId,
    method: usize,
}

impl Backend for CompareBackend<'_> {
    fn call(
        &mut self,
        call: &Call,
        on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Reply, BackendError> {
        if self.cancel.is_cancelled() {
            return Err(BackendError::Cancelled);
        }
        (self.sink)(Event::MethodPrompt {
            id: self.id,
            method: self.method,
            prompt: call.prompt.clone(),
        });
        let cancel = self.cancel;
        self.inner.call(call, &mut |text| {
            if cancel.is_cancelled() {
                ControlFlow::Break(())
            } else {
                on_text(text)
            }
        })
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}
