//! Why a method run has no result: stopped, refused before it started, or
//! failed at a step. Plain data (cloneable), so it can cross to a UI.

/// Why a method run ended without a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MethodError {
    /// Stopped by the caller (a cancelled backend call).
    #[error("cancelled")]
    Cancelled,
    /// The run failed; the message names the method or step and the cause.
    #[error("{0}")]
    Failed(String),
}

impl MethodError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, MethodError::Cancelled)
    }
}
