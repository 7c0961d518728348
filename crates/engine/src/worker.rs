//! The engine thread: loads the model, then serves queued requests one at
//! a time. A panic inside a request is caught and becomes that request's
//! `Failed` event; the thread goes on to the next request.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use promptlab_backend::{Backend, LocalBackend};
use promptlab_infer::error::ModelError;
use promptlab_infer::LoadedModel;

use crate::cancel::CancelToken;
use crate::chat::chat;
use crate::compare::compare;
use crate::eval::eval;
use crate::inspect::{inspect, read_out};
use crate::job::{JobContext, JobEnd};
use crate::protocol::{Command, Event, RequestError, RequestId};

/// What travels from the handle to the thread.
pub(crate) enum Message {
    Run {
        command: Command,
        cancel: CancelToken,
    },
    Shutdown,
}

/// Cancel tokens of the requests sent and not yet finished.
pub(crate) type Tokens = Arc<Mutex<HashMap<RequestId, CancelToken>>>;

pub(crate) fn run(
    load: impl FnOnce() -> Result<LoadedModel, ModelError>,
    messages: Receiver<Message>,
    tokens: Tokens,
    sink: &dyn Fn(Event),
) {
    let start = std::time::Instant::now();
    let model = match catch_unwind(AssertUnwindSafe(load)) {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(e)) => Err(RequestError::from(e)),
        Err(panic) => Err(RequestError::Panicked(panic_message(panic.as_ref()))),
    };
    let model = match model {
        Ok(model) => {
            sink(Event::Loaded {
                info: model.info.clone(),
                load_ms: start.elapsed().as_secs_f64() * 1000.0,
                capabilities: LocalBackend::new(&model).capabilities(),
            });
            Ok(model)
        }
        Err(e) => {
            sink(Event::LoadFailed(e.clone()));
            Err(e)
        }
    };
    // One backend for every request, so each reuses what earlier ones
    // computed (the conversation so far, shared prompt beginnings).
    let mut backend = model.as_ref().ok().map(LocalBackend::new);
    while let Ok(Message::Run { command, cancel }) = messages.recv() {
        let id = command.id();
        let outcome = match &mut backend {
            Some(_) if cancel.is_cancelled() => Err(RequestError::Cancelled),
            Some(backend) => serve(backend, command, &cancel, sink),
            None => match &model {
                Err(e) => Err(RequestError::NotRunning(Arc::new(e.clone()))),
                Ok(_) => Err(RequestError::Cancelled),
            },
        };
        if let Err(error) = outcome {
            sink(Event::Failed { id, error });
        }
        lock(&tokens).remove(&id);
    }
}

/// The images lane: serves image work in turn until shutdown. Other
/// commands never arrive here (the handle routes them).
pub(crate) fn run_images(messages: Receiver<Message>, tokens: Tokens, sink: &dyn Fn(Event)) {
    while let Ok(Message::Run { command, cancel }) = messages.recv() {
        let id = command.id();
        let outcome = match command {
            _ if cancel.is_cancelled() => Err(RequestError::Cancelled),
            Command::Images(request) => catch(|| crate::images::serve(request, &cancel, sink)),
            other => Err(RequestError::Unsupported(format!(
                "{other:?} is not image work"
            ))),
        };
        if let Err(error) = outcome {
            sink(Event::Failed { id, error });
        }
        lock(&tokens).remove(&id);
    }
}

/// Runs `work`, turning a panic into [`RequestError::Panicked`].
fn catch(work: impl FnOnce() -> Result<(), RequestError>) -> Result<(), RequestError> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::error!("request panicked: {message}");
            Err(RequestError::Panicked(message))
        }
    }
}

/// Serves one request, turning a panic into [`RequestError::Panicked`].
fn serve(
    backend: &mut LocalBackend<'_>,
    command: Command,
    cancel: &CancelToken,
    sink: &dyn Fn(Event),
) -> Result<(), RequestError> {
    let work = || match command {
        Command::Chat(request) => chat(backend, request, cancel, sink),
        Command::Compare(request) => {
            compare(backend, &request, cancel, sink);
            Ok(())
        }
        Command::Inspect(request) => inspect(backend.model, request, cancel, sink),
        Command::Readout(request) => read_out(backend.model, request, cancel, sink),
        Command::Eval(request) => eval(backend, request, cancel, sink),
        Command::Job { id, job } => {
            let progress = |progress| sink(Event::JobProgress { id, progress });
            let mut ctx = JobContext {
                backend,
                cancel,
                progress: &progress,
            };
            let (summary, stopped) = match job.run(&mut ctx) {
                Ok(JobEnd::Done(summary)) => (summary, false),
                Ok(JobEnd::Stopped(summary)) => (summary, true),
                Err(e) => return Err(RequestError::Job(Arc::from(e))),
            };
            sink(Event::JobFinished {
                id,
                summary,
                stopped,
            });
            Ok(())
        }
        Command::Images(_) => Err(RequestError::Unsupported(
            "image work runs on the images lane".into(),
        )),
    };
    catch(work)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// The token map, even if a thread panicked while holding it (the map is
/// only ever inserted into or removed from, so it stays consistent).
pub(crate) fn lock(tokens: &Tokens) -> std::sync::MutexGuard<'_, HashMap<RequestId, CancelToken>> {
    tokens
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
