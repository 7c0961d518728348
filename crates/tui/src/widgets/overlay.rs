//! A bordered box centred over the screen and sized to its lines, drawn
//! over what is there: the help overlays and the settings panel.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [rect] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    rect
}

/// Draws `lines` in a box `width` wide, titled `title`, centred on `area`.
pub(crate) fn draw(frame: &mut Frame, area: Rect, width: u16, title: &str, lines: Vec<Line>) {
    let rect = centered(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

/// A help line: the key right-aligned in `width` columns, then what it does.
pub(crate) fn help_row(key: &str, width: usize, style: Style, what: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{key:>width$}  "), style),
        Span::raw(what.to_string()),
    ])
}
