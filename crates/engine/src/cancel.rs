//! Cancel tokens: one per request, so stopping one request never touches
//! another queued behind it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag shared by the sender and the work: set once, read between
/// tokens and between steps.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for work that polls one.
    pub(crate) fn flag(&self) -> &AtomicBool {
        &self.0
    }
}
