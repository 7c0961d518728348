//! Resolving models from a Hugging Face cache laid out as hf-hub and
//! `huggingface_hub` write it (refs/, snapshots/<commit>/).

use std::path::Path;

use promptlab::config::Config;
use promptlab_hub::resolve;

#[test]
fn files_are_found_by_branch_and_by_commit_hash() {
    let dir = tempfile::tempdir().unwrap();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let repo = dir.path().join("models--owner--name");
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots").join(sha)).unwrap();
    std::fs::write(repo.join("refs/main"), sha).unwrap();
    let file = repo.join("snapshots").join(sha).join("m.Q4_0.gguf");
    std::fs::write(&file, b"GGUF").unwrap();
    std::env::set_var("HF_HUB_CACHE", dir.path());
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let config = Config::from_layers(None, Path::new("")).unwrap();
    let found = resolve("owner/name:m.Q4_0.gguf", &config.models, &mut |_| {}).unwrap();
    assert_eq!(found, file);
    let pinned = resolve(
        &format!("owner/name@{sha}:m.Q4_0.gguf"),
        &config.models,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(pinned, file);
    let err = resolve("owner/name:other.gguf", &config.models, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("not in the Hugging Face cache"), "{err}");
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}
