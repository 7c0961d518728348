//! `promptlab models list | pull | info | rm`: the model caches as a user
//! sees them.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::config::Config;
use promptlab_hub::{self as hub, hf_cache, models_dir};
use promptlab_infer::inspect::describe;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// What is cached (Hugging Face cache and promptlab's), with sizes and aliases
    List,
    /// Resolve a model spec, downloading or fetching it if needed, and print its path
    Pull {
        /// Alias, path or Hub spec (default: config's `model`)
        spec: Option<String>,
    },
    /// Architecture, parameters, storage types, context length, chat template, tokenizer
    Info {
        /// Alias, path or Hub spec (default: config's `model`)
        spec: Option<String>,
    },
    /// Delete a cached model (a Hub repository, or an alias's cached files)
    Rm { spec: String },
}

pub fn run(command: &ModelsCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        ModelsCommand::List => list(config),
        ModelsCommand::Pull { spec } => {
            println!("{}", resolve(spec.as_deref(), config)?.display());
            Ok(())
        }
        ModelsCommand::Info { spec } => {
            let path = resolve(spec.as_deref(), config)?;
            let d = describe(&path)?;
            println!("path          {}", path.display());
            println!("format        {}", d.format);
            println!("architecture  {}", d.architecture);
            println!(
                "parameters    {} ({:.1}M)",
                d.parameters,
                d.parameters as f64 / 1e6
            );
            let dtypes: Vec<String> = d.dtypes.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
            println!("storage       {}", dtypes.join(", "));
            match d.context_length {
                Some(n) => println!("context       {n} tokens"),
                None => println!("context       unknown"),
            }
            println!(
                "chat template {}",
                if d.chat_template { "yes" } else { "no" }
            );
            println!("tokenizer     {}", d.tokenizer);
            println!("size          {}", megabytes(d.bytes));
            Ok(())
        }
        ModelsCommand::Rm { spec } => rm(spec, config),
    }
}

fn resolve(spec: Option<&str>, config: &Config) -> anyhow::Result<PathBuf> {
    let spec = spec.unwrap_or(&config.model);
    Ok(hub::resolve(spec, &config.models, &mut |line| {
        eprintln!("promptlab: {line}")
    })?)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn dir_size(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| dir_size(&e.path()))
                    .sum()
            })
            .unwrap_or(0),
        Ok(m) if m.is_file() => m.len(),
        _ => 0,
    }
}

/// Cached Hub repositories: (repo id, folder).
fn hub_repos() -> Vec<(String, PathBuf)> {
    let mut repos: Vec<(String, PathBuf)> = std::fs::read_dir(hf_cache().path())
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let id = hub::repo_of_hf_cache_folder(&e.file_name().to_string_lossy())?;
                    Some((id, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    repos.sort();
    repos
}

/// The aliases that point at `what` (a Hub repo id or a promptlab-cache file name).
fn aliases_for(config: &Config, what: &str) -> Vec<String> {
    config
        .models
        .iter()
        .filter(|(_, a)| {
            a.hub.as_ref().is_some_and(|h| h.repo == what)
                || a.mirror
                    .as_ref()
                    .is_some_and(|m| m.member.rsplit('/').next() == Some(what))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

fn list(config: &Config) -> anyhow::Result<()> {
    println!("Hugging Face cache: {}", hf_cache().path().display());
    let repos = hub_repos();
    if repos.is_empty() {
        println!("  (empty)");
    }
    for (id, folder) in &repos {
        let aliases = aliases_for(config, id);
        let aliases = if aliases.is_empty() {
            String::new()
        } else {
            format!("  ← {}", aliases.join(", "))
        };
        println!(
            "  {id:<50} {:>10}{aliases}",
            megabytes(dir_size(&folder.join("blobs")))
        );
    }
    println!("promptlab cache: {}", models_dir().display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(models_dir())
        .map(|e| {
            e.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        println!("  (empty)");
    }
    for file in files {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let aliases = aliases_for(config, &name);
        let aliases = if aliases.is_empty() {
            String::new()
        } else {
            format!("  ← {}", aliases.join(", "))
        };
        println!("  {name:<50} {:>10}{aliases}", megabytes(dir_size(&file)));
    }
    Ok(())
}

fn rm(spec: &str, config: &Config) -> anyhow::Result<()> {
    let mut targets: Vec<PathBuf> = Vec::new();
    let repo_folder = |id: &str| hf_cache().path().join(hub::hf_cache_folder(id));
    if let Some(alias) = config.models.get(spec) {
        if let Some(hub) = &alias.hub {
            targets.push(repo_folder(&hub.repo));
        }
        if let Some(m) = &alias.mirror {
            targets.push(hub::mirror::cached_path(m, &models_dir()));
        }
    } else if spec.contains('/') && !Path::new(spec).exists() {
        let id = spec.split([':', '@']).next().unwrap_or(spec);
        targets.push(repo_folder(id));
    } else {
        anyhow::bail!(
            "`{spec}` is not a cached model (give an alias or a Hub repo id; files outside the caches are yours to delete)"
        );
    }
    let mut removed = 0;
    for target in targets.iter().filter(|t| t.exists()) {
        let size = dir_size(target);
        if target.is_dir() {
            std::fs::remove_dir_all(target)?;
        } else {
            std::fs::remove_file(target)?;
        }
        println!("removed {} ({})", target.display(), megabytes(size));
        removed += 1;
    }
    if removed == 0 {
        anyhow::bail!(
            "`{spec}` is not in any cache (looked for {})",
            targets
                .iter()
                .map(|t| t.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
