//! The catalogue: every method file shipped under `surveys/methods/`
//! (embedded at build time), parsed and checked, and choosing methods
//! from it by id.

use std::path::Path;

use super::spec::{MethodSpec, SpecError};

include!(concat!(env!("OUT_DIR"), "/method_files.rs"));

/// All shipped methods, in section order; the first bad file is an error.
/// They are built into the binary, so they are parsed once per process.
pub fn all() -> Result<Vec<MethodSpec>, SpecError> {
    static PARSED: std::sync::OnceLock<Result<Vec<MethodSpec>, SpecError>> =
        std::sync::OnceLock::new();
    PARSED
        .get_or_init(|| {
            let mut methods = METHOD_FILES
                .iter()
                .map(|(name, text)| {
                    MethodSpec::parse(text, &Path::new("surveys/methods").join(name))
                })
                .collect::<Result<Vec<_>, _>>()?;
            methods.sort_by_key(|m| section_key(&m.section));
            Ok(methods)
        })
        .clone()
}

/// "2.10" sorts after "2.9".
fn section_key(section: &str) -> Vec<u32> {
    section
        .split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

/// An id that names no method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown method `{id}` (known: {known})")]
pub struct SelectError {
    pub id: String,
    /// The known ids, comma-separated.
    pub known: String,
}

/// The method called `id`; an unknown id lists the known ones.
pub fn find<'m>(methods: &'m [MethodSpec], id: &str) -> Result<&'m MethodSpec, SelectError> {
    methods
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| SelectError {
            id: id.to_string(),
            known: methods
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The methods named by `ids`, in that order; an unknown id lists the
/// known ones.
pub fn select(methods: &[MethodSpec], ids: &[String]) -> Result<Vec<MethodSpec>, SelectError> {
    ids.iter().map(|id| find(methods, id).cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_file_loads_and_ids_select_them() {
        let methods = all().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(methods.len(), METHOD_FILES.len());
        let first = methods[0].id.clone();
        let chosen = select(&methods, &[first.clone(), first.clone()]).unwrap();
        assert_eq!(chosen.len(), 2);
        assert_eq!(find(&methods, &first).unwrap().id, first);
        let err = select(&methods, &["no-such-method".to_string()]).unwrap_err();
        assert_eq!(err.id, "no-such-method");
        let text = err.to_string();
        assert!(
            text.starts_with("unknown method `no-such-method` (known: "),
            "{text}"
        );
        assert!(text.contains(&first), "{text}");
    }
}
