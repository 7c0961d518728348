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

#[cfg(test)]
mod tests {
    use super::*;

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
