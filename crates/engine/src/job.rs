//! Long jobs (a batch evaluation, a training run): work that runs on the
//! engine thread beside chat and compare, reports progress, and stops when
//! its cancel token fires.

use promptlab_backend::ChatBackend;

use crate::cancel::CancelToken;
use crate::protocol::Progress;

/// What a job sees while it runs.
pub struct JobContext<'a> {
    /// What the engine runs on (the local model, or a remote server).
    pub backend: &'a mut dyn ChatBackend,
    pub cancel: &'a CancelToken,
    pub(crate) progress: &'a dyn Fn(Progress),
}

impl JobContext<'_> {
    /// Reports progress (sent as `Event::JobProgress`).
    pub fn progress(&self, done: u64, total: Option<u64>, message: impl Into<String>) {
        (self.progress)(Progress {
            done,
            total,
            message: message.into(),
        });
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// How a job ended, with a one-line summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// All the work is done.
    Done(String),
    /// It returned early because it was cancelled.
    Stopped(String),
}

/// A job's own failure (its message becomes [`crate::RequestError::Job`]).
pub type JobError = Box<dyn std::error::Error + Send + Sync>;

/// A long job. `run` should check [`JobContext::cancelled`] between units
/// of work and return early when it is set.
pub trait Job: Send {
    /// A short name for logs.
    fn name(&self) -> &str;

    /// Does the work; says how it ended, or why it failed.
    fn run(self: Box<Self>, ctx: &mut JobContext<'_>) -> Result<JobEnd, JobError>;
}
