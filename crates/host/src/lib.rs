//! Facts about the host shared by the crates: which Python interpreter to
//! run, and whether the process that left a file behind is gone.

/// The environment variable naming the Python interpreter to run.
pub const PYTHON_VAR: &str = "PROMPTLAB_PYTHON";

/// The Python interpreter to run: `$PROMPTLAB_PYTHON`, else `python3` (looked
/// up on PATH by whoever starts it). Read on every call, so a change to the
/// variable is seen by the next caller.
pub fn python_command() -> String {
    std::env::var(PYTHON_VAR).unwrap_or_else(|_| "python3".to_string())
}

/// Whether the process `pid` that made `path` (a file or folder named after
/// it) is gone, so what it left may be removed. On Linux, by the process
/// table; elsewhere, by the file being a day old.
pub fn maker_is_gone(pid: u32, path: &std::path::Path) -> bool {
    if pid == std::process::id() {
        return false;
    }
    if cfg!(target_os = "linux") {
        return !std::path::Path::new(&format!("/proc/{pid}")).exists();
    }
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > 24 * 3600)
}
