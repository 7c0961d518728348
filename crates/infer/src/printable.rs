//! Strings from model files made safe to print: a GGUF key, architecture or
//! tokenizer name may hold terminal escapes (`ESC[2J`, OSC 52 clipboard
//! writes), so control characters are shown as `\u{…}` escapes instead of
//! reaching the terminal.

use std::fmt::Write;

/// `s` with every control character (C0, DEL, C1) written as `\u{…}`.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Text a model wrote, safe to print: line breaks and tabs kept, every
/// other control character written as `\u{…}`.
pub fn printable_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{printable, printable_text};

    #[test]
    fn model_text_keeps_its_lines_and_loses_its_escapes() {
        assert_eq!(
            printable_text("a\n\tb\u{1b}]2;x\u{7}\r"),
            "a\n\tb\\u{1b}]2;x\\u{7}\\u{d}"
        );
    }

    #[test]
    fn escapes_and_controls_are_written_out_and_the_rest_kept() {
        assert_eq!(printable("llama"), "llama");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(
            printable("\u{1b}]52;c;eA==\u{7}"),
            "\\u{1b}]52;c;eA==\\u{7}"
        );
        assert_eq!(
            printable("tab\tnew\nc1\u{9b}"),
            "tab\\u{9}new\\u{a}c1\\u{9b}"
        );
        assert_eq!(printable("Étoile 東京"), "Étoile 東京");
    }
}
