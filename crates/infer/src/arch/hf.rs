//! Hugging Face checkpoints on disk: `config.json` (which architecture,
//! its hyper-parameters) and the safetensors files (single or sharded via
//! `model.safetensors.index.json`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{ModelError, Result};

/// A parsed `config.json`, with typed accessors whose errors name the file
/// and the field.
pub struct HfConfig {
    path: PathBuf,
    json: Value,
}

impl HfConfig {
    pub fn read(folder: &Path) -> Result<Self> {
        let path = folder.join("config.json");
        let json = read_json(&path)?;
        Ok(Self { path, json })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn bad(&self, key: &str, expected: &'static str) -> ModelError {
        ModelError::Metadata {
            path: self.path.clone(),
            key: key.to_string(),
            expected,
        }
    }

    /// `architectures[0]`, else `model_type`.
    pub fn architecture(&self) -> Result<String> {
        if let Some(first) = self.json["architectures"].get(0).and_then(Value::as_str) {
            return Ok(first.to_string());
        }
        self.json["model_type"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.bad("architectures", "a list naming the architecture"))
    }

    pub(crate) fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        match self.json.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|n| Some(n as usize))
                .ok_or_else(|| self.bad(key, "a whole number")),
        }
    }

    pub fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?
            .ok_or_else(|| self.bad(key, "a whole number"))
    }

    pub(crate) fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.json.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.bad(key, "a number")),
        }
    }

    /// `eos_token_id`: a number or a list of numbers.
    pub fn eos_ids(&self) -> Vec<u32> {
        match &self.json["eos_token_id"] {
            Value::Number(n) => n.as_u64().map(|n| vec![n as u32]).unwrap_or_default(),
            Value::Array(list) => list
                .iter()
                .filter_map(|v| v.as_u64().map(|n| n as u32))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A JSON file of a checkpoint; errors name the file, line and column.
pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::BadWeights {
        path: path.to_path_buf(),
        reason: format!(
            "invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ),
    })
}

/// The index of a sharded safetensors checkpoint, beside its shards.
pub const SAFETENSORS_INDEX: &str = "model.safetensors.index.json";

/// The shard file names a safetensors index (`model.safetensors.index.json`)
/// maps tensors to, sorted and without repeats. Errors name the file, and
/// the tensor whose entry is not a file name.
pub fn index_shards(index: &Path) -> Result<Vec<String>> {
    let json = read_json(index)?;
    let bad = |key: String, expected| ModelError::Metadata {
        path: index.to_path_buf(),
        key,
        expected,
    };
    let map = json["weight_map"]
        .as_object()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            bad(
                "weight_map".into(),
                "a non-empty object of tensor name -> shard file",
            )
        })?;
    let mut shards = map
        .iter()
        .map(|(tensor, file)| {
            file.as_str()
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .ok_or_else(|| bad(format!("weight_map.{tensor}"), "a shard file name"))
        })
        .collect::<Result<Vec<String>>>()?;
    shards.sort();
    shards.dedup();
    Ok(shards)
}

/// The safetensors files of a checkpoint folder: the shards its index
/// names, else `model.safetensors`.
pub(crate) fn weight_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let index = folder.join(SAFETENSORS_INDEX);
    if index.exists() {
        return Ok(index_shards(&index)?
            .iter()
            .map(|shard| folder.join(shard))
            .collect());
    }
    let single = folder.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    Err(ModelError::NoWeights {
        folder: folder.to_path_buf(),
    })
}

/// A Hugging Face Llama/Qwen2 name for a GGUF-style tensor name
/// (`blk.3.attn_q.weight` → `model.layers.3.self_attn.q_proj.weight`).
pub fn llama_hf_name(gguf: &str) -> String {
    match gguf {
        "token_embd.weight" => return "model.embed_tokens.weight".into(),
        "output_norm.weight" => return "model.norm.weight".into(),
        "output.weight" => return "lm_head.weight".into(),
        _ => {}
    }
    let Some(rest) = gguf.strip_prefix("blk.") else {
        return gguf.to_string();
    };
    let Some((layer, rest)) = rest.split_once('.') else {
        return gguf.to_string();
    };
    let Some((part, suffix)) = rest.split_once('.') else {
        return gguf.to_string();
    };
    let hf = match part {
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        other => other,
    };
    format!("model.layers.{layer}.{hf}.{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_shards_are_sorted_and_unique() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join(SAFETENSORS_INDEX);
        std::fs::write(
            &index,
            r#"{"metadata": {}, "weight_map": {"a": "m-2.safetensors", "b": "m-1.safetensors", "c": "m-2.safetensors"}}"#,
        )
        .unwrap();
        assert_eq!(
            index_shards(&index).unwrap(),
            ["m-1.safetensors", "m-2.safetensors"]
        );
        assert_eq!(
            weight_files(dir.path()).unwrap(),
            [
                dir.path().join("m-1.safetensors"),
                dir.path().join("m-2.safetensors")
            ]
        );
    }

    #[test]
    fn a_bad_index_names_the_file_and_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join(SAFETENSORS_INDEX);
        for (text, want) in [
            (r#"{"metadata": {}}"#, "`weight_map`"),
            (r#"{"weight_map": {}}"#, "`weight_map`"),
            (r#"{"weight_map": {"a": 3}}"#, "`weight_map.a`"),
            ("{", "invalid JSON"),
        ] {
            std::fs::write(&index, text).unwrap();
            let err = index_shards(&index).unwrap_err().to_string();
            assert!(
                err.contains(SAFETENSORS_INDEX) && err.contains(want),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn gguf_names_map_to_hf_names() {
        assert_eq!(
            llama_hf_name("blk.3.attn_q.bias"),
            "model.layers.3.self_attn.q_proj.bias"
        );
        assert_eq!(
            llama_hf_name("blk.0.ffn_down.weight"),
            "model.layers.0.mlp.down_proj.weight"
        );
        assert_eq!(
            llama_hf_name("token_embd.weight"),
            "model.embed_tokens.weight"
        );
    }
}
