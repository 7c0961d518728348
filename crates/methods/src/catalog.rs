//! The catalogue: every method file shipped under `surveys/methods/`
//! (embedded at build time), parsed and checked.

use std::path::Path;

use super::spec::{MethodSpec, SpecError};

include!(concat!(env!("OUT_DIR"), "/method_files.rs"));

/// All shipped methods, in section order; the first bad file is an error.
pub fn all() -> Result<Vec<MethodSpec>, SpecError> {
    let mut methods = METHOD_FILES
        .iter()
        .map(|(name, text)| MethodSpec::parse(text, &Path::new("surveys/methods").join(name)))
        .collect::<Result<Vec<_>, _>>()?;
    methods.sort_by_key(|m| section_key(&m.section));
    Ok(methods)
}

/// "2.10" sorts after "2.9".
fn section_key(section: &str) -> Vec<u32> {
    section
        .split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

/// The methods named by `ids`; an unknown id lists the known ones.
pub fn select(methods: &[MethodSpec], ids: &[String]) -> Result<Vec<MethodSpec>, String> {
    ids.iter()
        .map(|id| {
            methods
                .iter()
                .find(|m| &m.id == id)
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "unknown method `{id}` (known: {})",
                        methods
                            .iter()
                            .map(|m| m.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
        })
        .collect()
}
