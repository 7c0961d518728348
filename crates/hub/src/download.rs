//! Downloading from the Hugging Face Hub through hf-hub into the standard
//! cache, with a progress line (bytes, rate, ETA) on stderr. Interrupted
//! downloads resume from their `.part` file; a file gets its cache name
//! only when complete. `HF_HUB_OFFLINE=1` forbids all of it; `HF_TOKEN` is
//! sent to the Hub and never printed.

use std::path::PathBuf;
use std::time::Instant;

use hf_hub::api::sync::{ApiBuilder, ApiError, ApiRepo};
use hf_hub::api::Progress;
use hf_hub::{Repo, RepoType};
use promptlab_infer::arch::hf::{index_shards, SAFETENSORS_INDEX};
use promptlab_infer::error::first_line;

use crate::error::{HubError, Result};

/// Whether `HF_HUB_OFFLINE` forbids the network.
pub(crate) fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .map(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        })
        .unwrap_or(false)
}

/// Files of a checkpoint folder fetched besides the weights, when present.
const SIDE_FILES: &[&str] = &[
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
];

fn api_repo(repo: &str, revision: Option<&str>) -> Result<ApiRepo> {
    let mut builder = ApiBuilder::from_cache(crate::resolve::hf_cache())
        .with_progress(false)
        .with_retries(3);
    if let Ok(endpoint) = std::env::var("HF_ENDPOINT") {
        builder = builder.with_endpoint(endpoint.trim_end_matches('/').to_string());
    }
    if let Ok(token) = std::env::var("HF_TOKEN") {
        if !token.is_empty() {
            builder = builder.with_token(Some(token));
        }
    }
    let api = builder.build().map_err(|e| HubError::HubSetup {
        reason: first_line(&e),
    })?;
    let revision = revision.unwrap_or("main").to_string();
    Ok(api.repo(Repo::with_revision(
        repo.to_string(),
        RepoType::Model,
        revision,
    )))
}

/// A failed Hub request about `what` (a repository, or `repo/file`), told
/// apart by the HTTP status the Hub answered with.
fn hub_error(what: String, e: ApiError) -> HubError {
    let reason = first_line(&e);
    match refusal_status(e) {
        Some(404) => HubError::HubNotFound { what },
        Some(status @ (401 | 403)) => HubError::HubDenied { what, status },
        Some(status) => HubError::HubStatus { what, status },
        None => HubError::Hub { what, reason },
    }
}

/// The HTTP status of the Hub's answer, when the request failed because the
/// Hub answered with an error status (not the network, not the disk).
fn refusal_status(e: ApiError) -> Option<u16> {
    match e {
        // `ureq::Error::Status(code, response)`; a transport error has none.
        ApiError::RequestError(e) => e.into_response().map(|response| response.status()),
        ApiError::TooManyRetries(e) => refusal_status(*e),
        _ => None,
    }
}

/// Downloads `repo` (a whole checkpoint folder, or just `file`) and returns
/// the local path: the file, or the snapshot folder.
pub(crate) fn download(repo: &str, revision: Option<&str>, file: Option<&str>) -> Result<PathBuf> {
    if offline() {
        return Err(HubError::Offline {
            spec: repo.to_string(),
            cache: crate::resolve::hf_cache().path().clone(),
        });
    }
    let api = api_repo(repo, revision)?;
    let info = api
        .info()
        .map_err(|e| hub_error(format!("repository `{repo}`"), e))?;
    let available: Vec<&str> = info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
    let fetch = |name: &str| -> Result<PathBuf> {
        api.download_with_progress(name, ProgressLine::default())
            .map_err(|e| hub_error(format!("{repo}/{name}"), e))
    };
    if let Some(file) = file {
        if !available.contains(&file) {
            return Err(HubError::NoSuchFile {
                repo: repo.to_string(),
                file: file.to_string(),
                ggufs: ggufs(&available),
            });
        }
        return fetch(file);
    }
    let weights = checkpoint_weights(repo, &available, &fetch)?;
    let mut config_path = None;
    for name in SIDE_FILES.iter().filter(|f| available.contains(f)) {
        let path = fetch(name)?;
        if *name == "config.json" {
            config_path = Some(path);
        }
    }
    let config_path = config_path.ok_or_else(|| HubError::NoConfig {
        repo: repo.to_string(),
    })?;
    for name in weights {
        fetch(&name)?;
    }
    Ok(config_path.parent().map(PathBuf::from).unwrap_or_default())
}

/// The weight files of a checkpoint: the shards its index names, or
/// `model.safetensors`.
fn checkpoint_weights(
    repo: &str,
    available: &[&str],
    fetch: &dyn Fn(&str) -> Result<PathBuf>,
) -> Result<Vec<String>> {
    if available.contains(&SAFETENSORS_INDEX) {
        let shards = index_shards(&fetch(SAFETENSORS_INDEX)?)?;
        if let Some(missing) = shards.iter().find(|s| !available.contains(&s.as_str())) {
            return Err(HubError::MissingShard {
                repo: repo.to_string(),
                shard: missing.clone(),
            });
        }
        return Ok(shards);
    }
    if available.contains(&"model.safetensors") {
        return Ok(vec!["model.safetensors".into()]);
    }
    let ggufs = ggufs(available);
    if !ggufs.is_empty() {
        return Err(HubError::NameAGguf {
            repo: repo.to_string(),
            ggufs,
        });
    }
    Err(HubError::NoWeights {
        repo: repo.to_string(),
    })
}

/// The GGUF files among a repository's files.
fn ggufs(available: &[&str]) -> Vec<String> {
    available
        .iter()
        .filter(|f| f.ends_with(".gguf"))
        .map(|f| f.to_string())
        .collect()
}

/// One progress line on stderr per file: bytes, rate and time left.
#[derive(Default)]
struct ProgressLine {
    name: String,
    total: usize,
    done: usize,
    started: Option<Instant>,
    /// Bytes already on disk when this attempt began (a resumed download).
    resumed_from: usize,
    /// The next update is the first of an attempt: it reports the bytes
    /// already on disk.
    first_update: bool,
    last_print: Option<Instant>,
}

impl ProgressLine {
    fn print(&self, end: &str) {
        let elapsed = self
            .started
            .map_or(0.0, |s| s.elapsed().as_secs_f64())
            .max(1e-3);
        let rate = (self.done - self.resumed_from) as f64 / elapsed;
        let left = if rate > 0.0 {
            format!(
                "{:.0}s",
                (self.total.saturating_sub(self.done)) as f64 / rate
            )
        } else {
            "?".into()
        };
        eprint!(
            "\rpromptlab: {} {:.1}/{:.1} MB {:.1} MB/s ETA {left}   {end}",
            self.name,
            self.done as f64 / 1e6,
            self.total as f64 / 1e6,
            rate / 1e6
        );
    }
}

impl Progress for ProgressLine {
    fn init(&mut self, size: usize, filename: &str) {
        self.name = filename.to_string();
        self.total = size;
        self.started = Some(Instant::now());
        self.first_update = true;
    }

    fn update(&mut self, size: usize) {
        if std::mem::take(&mut self.first_update) {
            self.resumed_from = size;
            self.done = size;
        } else {
            self.done += size;
        }
        let due = self
            .last_print
            .is_none_or(|t| t.elapsed().as_millis() >= 250);
        if due {
            self.last_print = Some(Instant::now());
            self.print("");
        }
    }

    fn finish(&mut self) {
        self.print("\n");
    }
}
