//! A guard run before any YAML a user hands promptlab is parsed: the YAML
//! parser takes time quadratic in the nesting of flow collections
//! (`[[[[…` or `{a: {b: …`), minutes for a 400 KB file, before its own
//! recursion limit refuses it. This scan is linear and refuses such files
//! at once, naming the line.

/// Flow collections nested deeper than this are refused (no method file
/// or config comes near it; the parser's own limit is 128).
pub const MAX_FLOW_DEPTH: usize = 64;

/// The 1-based line where flow collections first nest deeper than
/// [`MAX_FLOW_DEPTH`], if they do. Quoted scalars and comments are skipped;
/// a bracket inside a plain scalar counts too (erring on refusing).
pub fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut chars = text.chars().peekable();
    let mut previous = '\n';
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '#' if previous.is_whitespace() => {
                // A comment runs to the end of the line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
                previous = '\n';
                continue;
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        // An escape takes the next character (a line break too).
                        '\\' => line += usize::from(chars.next() == Some('\n')),
                        '\n' => line += 1,
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' if !previous.is_alphanumeric() => {
                while let Some(c) = chars.next() {
                    match c {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                        }
                        '\'' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(line);
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_found_at_once_and_the_rest_passes() {
        let deep = format!("a: 1\nb: {}{}", "[".repeat(200_000), "]".repeat(200_000));
        assert_eq!(too_deep(&deep), Some(2));
        assert_eq!(
            too_deep(&format!("a: {}1{}", "[".repeat(64), "]".repeat(64))),
            None
        );
        // Brackets in quotes and comments are not nesting.
        let quoted = format!(
            "a: \"{}\"\nb: '{}' # {}\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100)
        );
        assert_eq!(too_deep(&quoted), None);
        assert_eq!(too_deep("a: 'it''s [' \nb: [1, [2, {c: 3}]]\n"), None);
        assert_eq!(too_deep(include_str!("../../../config.yaml")), None);
    }
}
