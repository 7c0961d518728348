//! The command palette's view: the filter being typed, then the matching
//! commands with their keys, the one under the cursor highlighted.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::overlay;
use crate::keymap::ConfigKeyInfo;
use crate::palette::Palette;
use crate::text::clip_end;
use crate::theme::Theme;

const WIDTH: u16 = 70;

pub(crate) fn render(
    frame: &mut Frame,
    palette: &Palette,
    commands: &[ConfigKeyInfo],
    theme: &Theme,
    area: Rect,
) {
    let shown = palette.matches(commands);
    // Rows for commands: the screen less borders, the filter and the hint.
    let room = usize::from(area.height.saturating_sub(6)).max(1);
    let first = palette.cursor.saturating_sub(room - 1);
    let text_room = usize::from(WIDTH.min(area.width)).saturating_sub(2 + 2 + 16);
    let mut lines = vec![Line::from(vec![
        Span::styled("> ", theme.title),
        Span::raw(format!("{}▍", palette.filter)),
    ])];
    if shown.is_empty() {
        lines.push(Line::styled("no command matches", theme.dim));
    }
    for (i, command) in shown.iter().enumerate().skip(first).take(room) {
        let mut style = ratatui::style::Style::default();
        if i == palette.cursor {
            style = style.add_modifier(Modifier::REVERSED);
        }
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{:<width$}",
                    clip_end(command.description, text_room),
                    width = text_room
                ),
                style,
            ),
            Span::styled(format!("  {:>14}", command.key), theme.title),
        ]));
    }
    lines.push(Line::styled(
        "type to filter · ↑↓ choose · Enter runs · Esc closes",
        theme.dim,
    ));
    overlay::draw(frame, area, WIDTH, " commands ", lines);
}
