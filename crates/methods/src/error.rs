//! Why a method run has no result: stopped, refused before it started, or
//! failed at a step. Plain data (cloneable, comparable), so it can cross to
//! a UI inside an event.
//!
//! The errors of loading a method file ([`crate::spec::SpecError`]), a
//! dataset item ([`crate::item::ItemError`]), choosing methods by id
//! ([`crate::catalog::SelectError`]) and confining a program
//! ([`crate::sandbox::SandboxError`]) live with their modules.

use crate::sandbox::SandboxError;
use crate::spec::one_line;

/// Why a method run ended without a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MethodError {
    /// Stopped by the caller (a cancelled backend call).
    #[error("cancelled")]
    Cancelled,
    /// The file catalogues the method without steps the runner can run.
    #[error(
        "method `{method}` is catalogued but not runnable: {}",
        one_line(reason, 400)
    )]
    NotRunnable { method: String, reason: String },
    /// The method runs model-written code and the user has not allowed it.
    #[error(
        "method `{method}` runs model-written Python, and code execution is off; allow it to run confined (its own temporary folder, no network, a timeout and a memory ceiling)"
    )]
    CodeOff { method: String },
    /// The item lacks an input the method declares.
    #[error("method `{method}` needs the input `{input}`")]
    MissingInput { method: String, input: String },
    /// A step failed; the run stopped there.
    #[error("step `{step}`: {error}")]
    Step { step: String, error: StepError },
}

impl MethodError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, MethodError::Cancelled)
    }
}

/// Why one step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    /// A prompt or program template did not render (e.g. an undefined
    /// variable).
    #[error("template: {}", one_line(.0, 400))]
    Template(String),
    /// The model call failed (the backend's message).
    #[error("{}", one_line(.0, 400))]
    Backend(String),
    /// The program could not be run confined.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// `field` names something that is not an input, the exemplars or an
    /// earlier step's output (the load check refuses such files; a spec
    /// changed in code can still get here).
    #[error("{field}: reads `{name}`, which is not an input or an earlier step")]
    Unreadable { field: &'static str, name: String },
    /// A loop's table tool could not read its table.
    #[error("tool: {0}")]
    Table(String),
    /// `most_steps` needs one chain per answer.
    #[error("most_steps: `{of}` has {chains} items but `{from}` has {answers} answers")]
    Misaligned {
        of: String,
        chains: usize,
        from: String,
        answers: usize,
    },
    /// A `run_code` step with neither `from` nor `program` (the load check
    /// refuses such files).
    #[error("run_code needs one of `from` and `program`")]
    NoProgram,
    /// A search would make more model calls than it may.
    #[error("search: more than {0} model calls (lower depth, breadth or n)")]
    TooManyCalls(usize),
}
