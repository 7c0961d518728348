//! Text made safe and short for the screen: control characters replaced,
//! whitespace folded onto one line.

/// Text safe to draw: tabs become spaces and other control characters
/// (which would reach the terminal as escape sequences) a visible U+FFFD.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '\t' => vec![' '; 4],
            '\n' => vec!['\n'],
            c if c.is_control() => vec!['\u{FFFD}'],
            c => vec![c],
        })
        .collect()
}

/// Whitespace (line breaks included) folded to single spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Plain lines of `text`, made printable.
pub(crate) fn text_lines(text: &str) -> Vec<ratatui::text::Line<'static>> {
    printable(text)
        .split('\n')
        .map(|l| ratatui::text::Line::raw(l.to_string()))
        .collect()
}

/// The last `room` characters of `text`, with "…" in front when cut.
pub(crate) fn clip_start(text: &str, room: usize) -> String {
    let count = text.chars().count();
    if count <= room {
        return text.to_string();
    }
    let tail: String = text.chars().skip(count - room + 1).collect();
    format!("…{tail}")
}

/// The first `room` characters of `text`, with "…" at the end when cut.
pub(crate) fn clip_end(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let head: String = text.chars().take(room.saturating_sub(1)).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_the_room_and_marks_the_cut() {
        assert_eq!(clip_start("abcdef", 4), "…def");
        assert_eq!(clip_end("abcdef", 4), "abc…");
        assert_eq!(clip_end("abc", 4), "abc");
        assert_eq!(clip_start("", 0), "");
        assert_eq!(clip_end("été", 2), "é…");
    }
}
