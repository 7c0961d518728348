//! The settings panel's view: every field with its value (the one being
//! typed with a cursor), the last error, and the keys.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::overlay;
use crate::settings::{Field, Settings, FIELDS};
use crate::text::{clip_end, clip_start, printable};

/// The panel's width, and its labels'.
const WIDTH: u16 = 70;
const LABEL: usize = 15;
use crate::theme::Theme;

/// `facts`: the seed the newest answer on screen was generated with, and
/// the system prompt the model's chat template adds when none is set.
pub(crate) fn render(
    frame: &mut Frame,
    s: &Settings,
    facts: (Option<u64>, Option<&str>),
    theme: &Theme,
    area: Rect,
) {
    let (last_seed, default_system) = facts;
    // Each value on its one line: the box, less borders and labels.
    let room = usize::from(WIDTH.min(area.width)).saturating_sub(2 + LABEL + 2);
    let one_row = |text: &str| printable(text).replace('\n', "⏎");
    let mut lines: Vec<Line> = FIELDS
        .iter()
        .enumerate()
        .map(|(row, &field)| {
            let value = match (&s.editing, row == s.row) {
                // The end being typed stays in view.
                (Some(text), true) => {
                    format!("{}▍", clip_start(&one_row(text), room.saturating_sub(1)))
                }
                // A seed per answer: the one shown is the one used.
                _ if field == Field::Seed && !s.fixed_seed => match last_seed {
                    Some(seed) => clip_end(&format!("{seed} (last answer; new per answer)"), room),
                    None => "new per answer".into(),
                },
                _ if field == Field::System && s.system.is_empty() => match default_system {
                    Some(text) => clip_end(&format!("(template's) {}", one_row(text)), room),
                    None => "(none)".into(),
                },
                _ => clip_end(&one_row(&s.value(field)), room),
            };
            let style = if row == s.row {
                theme.title.add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(format!("{:>LABEL$}  ", field.label()), theme.dim),
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
    overlay::draw(frame, area, WIDTH, " settings ", lines);
}
