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
