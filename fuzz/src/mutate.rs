//! A small deterministic mutator for the replay test and for quick runs
//! without libFuzzer: bit flips, boundary values at aligned offsets (sizes,
//! counts and lengths in binary formats), chunk deletion, duplication and
//! splicing between inputs, and words from the inputs themselves (keys of a
//! YAML or JSON file, names in a GGUF header) inserted or swapped in.

/// xorshift64*: fixed seed in, the same inputs out on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Values that break size arithmetic, as little-endian words.
const BOUNDARIES: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0xffff_ffff_ffff_ffff,
];

/// Text that breaks parsers of YAML, JSON and templates.
const TEXT_BITS: &[&str] = &[
    "\n",
    " ",
    "\"",
    "'",
    ":",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "!!binary ",
    "~",
    "null",
    "-1",
    "0",
    "1e309",
    "NaN",
    ".nan",
    "-.inf",
    "18446744073709551615",
    "99999999999999999999",
    "{{",
    "}}",
    "{%",
    "%}",
    "{% for x in range(99999999) %}",
    "\u{1b}]2;x\u{7}",
    "\u{0}",
    "é",
    "\u{feff}",
    "\t",
    "\r\n",
];

/// `data` changed by one to four mutations; `pool` holds other inputs to
/// splice from and take words from.
pub fn mutate(data: &[u8], pool: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut out = data.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate_once(&mut out, pool, rng);
    }
    out
}

fn mutate_once(out: &mut Vec<u8>, pool: &[Vec<u8>], rng: &mut Rng) {
    let len = out.len();
    match rng.below(9) {
        0 if len > 0 => {
            let at = rng.below(len);
            out[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = rng.below(len);
            out[at] = rng.next_u64() as u8;
        }
        2 if len >= 8 => {
            // A boundary value over a 1-, 2-, 4- or 8-byte word.
            let width = 1 << rng.below(4);
            let at = rng.below(len / width) * width;
            let value = BOUNDARIES[rng.below(BOUNDARIES.len())].to_le_bytes();
            let end = (at + width).min(len);
            out[at..end].copy_from_slice(&value[..end - at]);
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(64));
            out.drain(at..at + n);
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(256));
            let chunk: Vec<u8> = out[at..at + n].to_vec();
            let to = rng.below(len + 1);
            out.splice(
                to..to,
                chunk.iter().copied().cycle().take(n * (1 + rng.below(4))),
            );
        }
        5 if !pool.is_empty() => {
            // Splice: this input's head, another's tail.
            let other = &pool[rng.below(pool.len())];
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            out.truncate(cut);
            out.extend_from_slice(&other[from..]);
        }
        6 => {
            let bit = TEXT_BITS[rng.below(TEXT_BITS.len())].as_bytes();
            let at = rng.below(len + 1);
            out.splice(at..at, bit.iter().copied());
        }
        7 if !pool.is_empty() => {
            // A word (letters, digits, `_`, `.`) from some input, put here.
            let other = &pool[rng.below(pool.len())];
            if let Some(word) = pick_word(other, rng) {
                let at = rng.below(len + 1);
                out.splice(at..at, word.iter().copied());
            }
        }
        _ if len > 0 => out.truncate(rng.below(len)),
        _ => out.push(rng.next_u64() as u8),
    }
}

/// A word of `data` near a random place, if there is one.
fn pick_word<'a>(data: &'a [u8], rng: &mut Rng) -> Option<&'a [u8]> {
    if data.is_empty() {
        return None;
    }
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut at = rng.below(data.len());
    while at < data.len() && !is_word(data[at]) {
        at += 1;
    }
    let start = at;
    while at < data.len() && is_word(data[at]) && at - start < 48 {
        at += 1;
    }
    (at > start).then(|| &data[start..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let pool = vec![b"model_type: llama".to_vec(), vec![0u8; 40]];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50)
                .map(|i| mutate(&pool[i % 2], &pool, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        // Mutations change inputs (nearly always) and never panic on empty ones.
        let changed = run(3)
            .iter()
            .enumerate()
            .filter(|(i, m)| **m != pool[i % 2])
            .count();
        assert!(changed > 40, "{changed}");
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            mutate(&[], &[], &mut rng);
        }
    }
}
