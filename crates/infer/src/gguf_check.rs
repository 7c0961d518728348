//! A pass over a GGUF file's header before anything is allocated from it:
//! every string, array and tensor table it declares must fit in the file,
//! arrays nest at most a few levels, the alignment is a power of two and
//! every tensor's shape is small enough to exist. A hostile or corrupt
//! header then gets a one-line error naming the key or tensor, instead of a
//! huge allocation, a division by zero or a panic deeper in the reader.

/// Arrays inside arrays deeper than this are refused.
const MAX_ARRAY_DEPTH: usize = 3;
/// GGML's limit on tensor dimensions.
const MAX_DIMS: u32 = 4;
/// The longest key or tensor name accepted (llama.cpp allows 64-byte tensor
/// names; keys are dotted words): longer ones are refused, not printed.
const MAX_NAME: usize = 256;

/// What is wrong with a header, in words (the caller adds the file name).
pub(crate) type Problem = String;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Version 1 uses 32-bit counts and lengths.
    v1: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8], Problem> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| format!("{} reaches past the end of the file", what()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, Problem> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, Problem> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A count or length: 32 bits in version 1, 64 after.
    fn count(&mut self, what: &dyn Fn() -> String) -> Result<u64, Problem> {
        if self.v1 {
            self.u32(what).map(u64::from)
        } else {
            self.u64(what)
        }
    }

    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.at) as u64
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<&'a [u8], Problem> {
        let len = self.count(what)?;
        if len > self.remaining() {
            return Err(format!(
                "{} declares a string of {len} bytes, longer than the rest of the file",
                what()
            ));
        }
        self.take(len as usize, what)
    }

    /// A key or tensor name: a string of at most [`MAX_NAME`] bytes.
    fn name(&mut self, what: &dyn Fn() -> String) -> Result<&'a [u8], Problem> {
        let name = self.string(what)?;
        if name.len() > MAX_NAME {
            return Err(format!(
                "{} is {} bytes long (at most {MAX_NAME})",
                what(),
                name.len()
            ));
        }
        Ok(name)
    }

    /// Skips one value of GGUF type `kind`.
    fn value(
        &mut self,
        kind: u32,
        depth: usize,
        what: &dyn Fn() -> String,
    ) -> Result<Option<u64>, Problem> {
        let fixed = match kind {
            0 | 1 | 7 => Some(1),
            2 | 3 => Some(2),
            4..=6 => Some(4),
            10..=12 => Some(8),
            _ => None,
        };
        if let Some(n) = fixed {
            let b = self.take(n, what)?;
            let mut a = [0u8; 8];
            a[..n].copy_from_slice(b);
            return Ok(Some(u64::from_le_bytes(a)));
        }
        match kind {
            8 => {
                self.string(what)?;
            }
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(format!(
                        "{} nests arrays more than {MAX_ARRAY_DEPTH} deep",
                        what()
                    ));
                }
                let elem = self.u32(what)?;
                let count = self.count(what)?;
                // Every element takes at least a byte (strings and arrays
                // their length), so a count past the file's end is a lie.
                let least = match elem {
                    2 | 3 => 2,
                    4..=6 => 4,
                    8..=12 => {
                        if self.v1 {
                            4
                        } else {
                            8
                        }
                    }
                    _ => 1,
                };
                if count.saturating_mul(least) > self.remaining() {
                    return Err(format!(
                        "{} declares an array of {count} elements, longer than the rest of the file",
                        what()
                    ));
                }
                for _ in 0..count {
                    self.value(elem, depth + 1, what)?;
                }
            }
            other => return Err(format!("{} has an unknown value type {other}", what())),
        }
        Ok(None)
    }
}

/// Checks the header of the GGUF file `bytes` (which start with the magic).
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), Problem> {
    let mut r = Reader {
        bytes,
        at: 4,
        v1: false,
    };
    let version = r.u32(&|| "the version".into())?;
    if !(1..=3).contains(&version) {
        return Err(format!("version {version} (expected 1, 2 or 3)"));
    }
    r.v1 = version == 1;
    let tensors = r.count(&|| "the tensor count".into())?;
    let keys = r.count(&|| "the metadata count".into())?;
    // A metadata entry takes at least 12 bytes, a tensor entry at least 24.
    if keys.saturating_mul(12) > r.remaining() {
        return Err(format!(
            "it declares {keys} metadata entries, more than the file holds"
        ));
    }
    if tensors.saturating_mul(24) > r.remaining() {
        return Err(format!(
            "it declares {tensors} tensors, more than the file holds"
        ));
    }
    for i in 0..keys {
        let key = r.name(&|| format!("metadata entry {i}'s key"))?;
        let key = crate::printable::printable(&String::from_utf8_lossy(key));
        let what = || format!("metadata `{key}`");
        let kind = r.u32(&what)?;
        let value = r.value(kind, 0, &what)?;
        if key == "general.alignment" {
            match value {
                Some(a) if kind == 4 && a.is_power_of_two() && a <= 1 << 20 => {}
                _ => {
                    return Err(format!(
                        "metadata `general.alignment` is {} (expected a power of two up to 1 MiB, as a u32)",
                        value.map_or("not a number".into(), |a| a.to_string())
                    ))
                }
            }
        }
    }
    let file_bits = (bytes.len() as u64).saturating_mul(8);
    for i in 0..tensors {
        let name = r.name(&|| format!("tensor entry {i}'s name"))?;
        let name = crate::printable::printable(&String::from_utf8_lossy(name));
        let what = || format!("tensor `{name}`");
        let dims = r.u32(&what)?;
        if dims == 0 || dims > MAX_DIMS {
            return Err(format!(
                "{} has {dims} dimensions (expected 1 to {MAX_DIMS})",
                what()
            ));
        }
        let mut elems = 1u64;
        for _ in 0..dims {
            let d = r.count(&what)?;
            elems = elems.saturating_mul(d);
        }
        // The smallest format takes over 2 bits a weight.
        if elems == 0 || elems.saturating_mul(2) > file_bits {
            return Err(format!(
                "{} has {elems} elements, which a file of {} bytes cannot hold",
                what(),
                bytes.len()
            ));
        }
        r.u32(&what)?; // storage type: candle names unknown ones
        r.u64(&what)?; // offset: checked against the file by the caller
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Vec<u8> {
        let mut out = (s.len() as u64).to_le_bytes().to_vec();
        out.extend(s.as_bytes());
        out
    }

    /// A version-3 header with `entries` (key, type, value bytes) and one
    /// 32-element F32 tensor, padded with `pad` zero bytes.
    fn header(entries: &[(&str, u32, Vec<u8>)], dims: &[u64], pad: usize) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(1u64.to_le_bytes());
        b.extend((entries.len() as u64).to_le_bytes());
        for (k, t, v) in entries {
            b.extend(string(k));
            b.extend(t.to_le_bytes());
            b.extend(v);
        }
        b.extend(string("w"));
        b.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(0u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(vec![0u8; pad]);
        b
    }

    #[test]
    fn a_sound_header_passes() {
        let arch = ("general.architecture", 8, string("llama"));
        let align = ("general.alignment", 4, 32u32.to_le_bytes().to_vec());
        assert_eq!(check_header(&header(&[arch, align], &[32], 128)), Ok(()));
    }

    #[test]
    fn hostile_headers_are_refused_by_name() {
        let refuse = |bytes: Vec<u8>, needle: &str| {
            let e = check_header(&bytes).unwrap_err();
            assert!(e.contains(needle), "{e:?} lacks {needle:?}");
        };
        let align = |v: u32| ("general.alignment", 4, v.to_le_bytes().to_vec());
        refuse(header(&[align(0)], &[32], 128), "`general.alignment` is 0");
        refuse(
            header(&[align(48)], &[32], 128),
            "`general.alignment` is 48",
        );
        // An array claiming 2⁶⁰ strings.
        let mut huge = 8u32.to_le_bytes().to_vec();
        huge.extend((1u64 << 60).to_le_bytes());
        refuse(
            header(&[("tokenizer.ggml.tokens", 9, huge)], &[32], 128),
            "`tokenizer.ggml.tokens` declares an array",
        );
        // A string longer than the file.
        let mut long = (1u64 << 40).to_le_bytes().to_vec();
        long.extend(b"x");
        refuse(
            header(&[("general.name", 8, long)], &[32], 128),
            "`general.name` declares a string",
        );
        // A key too long to be one, refused without quoting it.
        let key = "k".repeat(5000);
        let e = check_header(&header(&[(&key, 4, vec![0; 4])], &[32], 128)).unwrap_err();
        assert!(e.contains("key is 5000 bytes long (at most 256)"), "{e}");
        assert!(e.len() < 200, "{e}");
        // Arrays of arrays of arrays of arrays.
        let mut nested = Vec::new();
        for _ in 0..4 {
            nested.extend(9u32.to_le_bytes());
            nested.extend(1u64.to_le_bytes());
        }
        nested.extend(4u32.to_le_bytes());
        nested.extend(0u64.to_le_bytes());
        refuse(header(&[("deep", 9, nested)], &[32], 128), "nests arrays");
        refuse(
            header(&[("odd", 13, vec![0; 8])], &[32], 128),
            "unknown value type 13",
        );
        refuse(header(&[], &[1 << 40, 1 << 40], 128), "tensor `w` has");
        refuse(header(&[], &[], 128), "0 dimensions");
        refuse(header(&[], &[1, 1, 1, 1, 1], 128), "5 dimensions");
        let mut cut = header(&[align(32)], &[32], 0);
        cut.truncate(cut.len() - 3);
        refuse(cut, "reaches past the end of the file");
        let mut many = b"GGUF".to_vec();
        many.extend(3u32.to_le_bytes());
        many.extend(u64::MAX.to_le_bytes());
        many.extend(0u64.to_le_bytes());
        refuse(many, "tensors, more than the file holds");
    }
}
