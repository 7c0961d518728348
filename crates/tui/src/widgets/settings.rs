//! The settings panel's view: every field with its value (the one being
//! typed with a cursor), the last error, and the keys.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::overlay;
use crate::settings::{Settings, FIELDS};
use crate::text::printable;
use crate::theme::Theme;

pub(crate) fn render(frame: &mut Frame, s: &Settings, theme: &Theme, area: Rect) {
    let mut lines: Vec<Line> = FIELDS
        .iter()
        .enumerate()
        .map(|(row, &field)| {
            let value = match (&s.editing, row == s.row) {
                (Some(text), true) => format!("{}▍", printable(text)),
                _ => printable(&s.value(field)),
            };
            let style = if row == s.row {
                theme.title.add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(format!("{:>15}  ", field.label()), theme.dim),
                Span::styled(value, style),
            ])
        })
        .collect();
    lines.push(Line::default());
    if let Some(error) = &s.error {
        lines.push(Line::styled(error.clone(), theme.warning));
    }
    lines.push(Line::styled(
        "↑↓ choose · ←→ adjust · Enter type a value · Esc close",
        theme.dim,
    ));
    overlay::draw(frame, area, 70, " settings ", lines);
}
