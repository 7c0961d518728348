//! Keys typed into a text field (the chat message, the compare question).
//! The text widget has its own shortcuts; the ones that clash with what the
//! README promises are taken here first, so no key silently deletes text.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_textarea::TextArea;

/// Applies `key` to `area`: Ctrl+J adds a line (the widget would delete to
/// the start of the line), everything else is the widget's own editing.
pub(crate) fn type_key(area: &mut TextArea<'_>, key: KeyEvent) {
    let ctrl_only = key.modifiers == KeyModifiers::CONTROL;
    match key.code {
        KeyCode::Char('j') if ctrl_only => area.insert_newline(),
        _ => {
            area.input(key);
        }
    }
}

/// The rows `area`'s text takes wrapped at `width` columns (a character a
/// column; every line at least one row).
pub(crate) fn wrapped_rows(area: &TextArea<'_>, width: u16) -> usize {
    let width = usize::from(width).max(1);
    area.lines()
        .iter()
        .map(|l| l.chars().count().div_ceil(width).max(1))
        .sum()
}

/// Draws a text field in `block` over `rect` with its lines wrapped (not
/// scrolled sideways), the cursor shown when `focused`, and the rows
/// around the cursor in view. An empty field shows its placeholder.
pub(crate) fn render_wrapped(
    frame: &mut ratatui::Frame,
    field: &TextArea<'_>,
    block: ratatui::widgets::Block<'_>,
    focused: bool,
    placeholder: ratatui::style::Style,
    rect: ratatui::layout::Rect,
) {
    use ratatui::style::{Modifier, Style};
    use ratatui::text::{Line, Span};
    let inner = block.inner(rect);
    let width = usize::from(inner.width).max(1);
    if field.is_empty() {
        let mut shown = field.clone();
        shown.set_block(block);
        shown.set_placeholder_style(placeholder);
        if !focused {
            shown.set_cursor_style(Style::default());
        }
        frame.render_widget(&shown, rect);
        return;
    }
    let (cursor_row, cursor_col) = field.cursor();
    let cursor_style = Style::default().add_modifier(Modifier::REVERSED);
    let mut rows: Vec<Line<'static>> = Vec::new();
    let mut cursor_at = 0usize;
    for (r, line) in field.lines().iter().enumerate() {
        let chars: Vec<char> = crate::text::printable(line).chars().collect();
        // One more cell at the end of the cursor's line, for the cursor.
        let cells = chars.len() + usize::from(r == cursor_row && cursor_col == chars.len());
        let chunks = cells.div_ceil(width).max(1);
        for chunk in 0..chunks {
            let (from, to) = (chunk * width, ((chunk + 1) * width).min(chars.len()));
            let mut spans = Vec::new();
            let mut plain = String::new();
            for (i, &c) in chars.iter().enumerate().take(to).skip(from) {
                if focused && r == cursor_row && i == cursor_col {
                    spans.push(Span::raw(std::mem::take(&mut plain)));
                    spans.push(Span::styled(c.to_string(), cursor_style));
                    cursor_at = rows.len();
                } else {
                    plain.push(c);
                }
            }
            spans.push(Span::raw(plain));
            let at_end = r == cursor_row && cursor_col == chars.len();
            if focused && at_end && (chunk + 1) * width > chars.len() {
                spans.push(Span::styled(" ", cursor_style));
                cursor_at = rows.len();
            }
            rows.push(Line::from(spans));
        }
    }
    let height = usize::from(inner.height).max(1);
    let top = cursor_at.saturating_sub(height - 1);
    let text: Vec<Line<'static>> = rows.into_iter().skip(top).take(height).collect();
    frame.render_widget(ratatui::widgets::Paragraph::new(text).block(block), rect);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_wraps_and_the_cursor_stays_in_view() {
        use ratatui::backend::TestBackend;
        let mut area = TextArea::default();
        area.insert_str(format!("{}END", "word ".repeat(30)));
        assert_eq!(wrapped_rows(&area, 40), 4);
        let mut terminal = ratatui::Terminal::new(TestBackend::new(42, 4)).unwrap();
        terminal
            .draw(|f| {
                let block = ratatui::widgets::Block::bordered();
                render_wrapped(f, &area, block, true, Default::default(), f.area());
            })
            .unwrap();
        let buffer = terminal.backend().buffer();
        let row = |y: u16| {
            (0..42)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        };
        // Two rows of room: the last two rows of text, the cursor after END.
        assert!(row(2).contains("END"), "{:?} {:?}", row(1), row(2));
        assert!(row(1).starts_with("│word"), "{:?}", row(1));
    }

    #[test]
    fn ctrl_j_adds_a_line_and_loses_nothing() {
        let mut area = TextArea::default();
        let ctrl_j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL);
        for (i, word) in ["first", "second", "third"].into_iter().enumerate() {
            if i > 0 {
                type_key(&mut area, ctrl_j);
            }
            for c in word.chars() {
                type_key(
                    &mut area,
                    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
                );
            }
        }
        assert_eq!(area.lines(), ["first", "second", "third"]);
    }
}
