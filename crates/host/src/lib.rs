//! Facts about the host shared by the crates: which Python interpreter to run.

/// The environment variable naming the Python interpreter to run.
pub const PYTHON_VAR: &str = "PROMPTLAB_PYTHON";

/// The Python interpreter to run: `$PROMPTLAB_PYTHON`, else `python3` (looked
/// up on PATH by whoever starts it). Read on every call, so a change to the
/// variable is seen by the next caller.
pub fn python_command() -> String {
    std::env::var(PYTHON_VAR).unwrap_or_else(|_| "python3".to_string())
}
