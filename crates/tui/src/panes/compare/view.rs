//! The compare pane's view: the method list and the question fields, the
//! compact question line over the columns, the columns' header, the
//! pane's part of the status line and its help. One column is drawn by
//! `column`, the step overlay by `detail`.

use ratatui::layout::{Constraint, Layout, Margin, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::column;
use super::run::{ColumnStatus, CompareRun};
use super::state::{CompareFocus, CompareState};
use crate::keymap::{CompareAction, GlobalAction};
use crate::panes::ViewCx;
use crate::text::{clip_end, one_line, printable};
use crate::theme::Theme;
use crate::widgets::overlay::{self, help_row};
use crate::widgets::pane_block;

/// Narrowest column; fewer columns are shown (with an indicator) when
/// they would be narrower.
pub(crate) const MIN_COLUMN_WIDTH: u16 = 26;

pub(crate) fn render(frame: &mut Frame, c: &CompareState, v: ViewCx, area: Rect) {
    let Some(run) = &c.run else {
        render_setup(frame, c, v, area);
        return;
    };
    let expanded = c.focus != CompareFocus::Columns;
    let setup_height = if expanded {
        (area.height / 2).clamp(5, 12)
    } else {
        2
    };
    let [setup, columns] =
        Layout::vertical([Constraint::Length(setup_height), Constraint::Min(0)]).areas(area);
    if expanded {
        render_setup(frame, c, v, setup);
    } else {
        render_compact_setup(frame, c, v, run, setup);
    }
    render_columns(frame, c, v, run, columns);
}

fn render_setup(frame: &mut Frame, c: &CompareState, v: ViewCx, area: Rect) {
    let theme = v.theme;
    let list_width = (area.width * 2 / 5).clamp(20, 44).min(area.width);
    let [list, fields] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(0)]).areas(area);
    render_method_list(frame, c, theme, list);
    let field_width = fields.width.saturating_sub(2);
    let lines = |area: &tui_textarea::TextArea, most: usize| {
        crate::widgets::text_input::wrapped_rows(area, field_width).clamp(1, most) as u16
    };
    let [question, context, reference, info] = Layout::vertical([
        Constraint::Length(lines(&c.question, 3) + 2),
        Constraint::Length(lines(&c.context, 2) + 2),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .areas(fields);
    for (area, rect, title, focus) in [
        (&c.question, question, " question ", CompareFocus::Question),
        (
            &c.context,
            context,
            " context (optional) ",
            CompareFocus::Context,
        ),
        (
            &c.reference,
            reference,
            " reference answer (optional) ",
            CompareFocus::Reference,
        ),
    ] {
        let focused = c.focus == focus;
        let block = pane_block(title, focused, theme);
        crate::widgets::text_input::render_wrapped(
            frame,
            area,
            block,
            focused,
            theme.placeholder,
            rect,
        );
    }
    let mut text = vec![code_line(c, v)];
    if let Some(error) = &c.catalog_error {
        text.push(Line::styled(format!("catalogue: {error}"), theme.warning));
    }
    text.push(Line::styled(
        format!(
            "{} next part · space selects · {} runs · {} chat · {} keys",
            v.keymap.key_for(CompareAction::NextPart),
            v.keymap.key_for(CompareAction::Run),
            v.keymap.key_for(GlobalAction::SwitchPane),
            v.keymap.key_for(GlobalAction::Help),
        ),
        theme.dim,
    ));
    text.push(Line::styled(
        format!(
            "each model call ≤ {} tokens (max tokens, {})",
            v.settings.sampling.max_tokens,
            v.keymap.key_for(GlobalAction::Settings)
        ),
        theme.dim,
    ));
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }),
        info.inner(Margin::new(1, 0)),
    );
}

/// The code-execution switch, always spelled out.
fn code_line(c: &CompareState, v: ViewCx) -> Line<'static> {
    let theme = v.theme;
    let toggle = v.keymap.key_for(CompareAction::AllowCode);
    if c.allow_code {
        Line::from(vec![
            Span::styled("code execution: ON", theme.warning.add_modifier(Modifier::BOLD)),
            Span::raw(format!(
                " ({toggle}) — model-written Python runs in a sandbox: temporary folder, no network, time limit"
            )),
        ])
    } else {
        Line::from(vec![
            Span::styled("code execution: off", theme.title),
            Span::raw(format!(" ({toggle}) — model-written code is never run")),
        ])
    }
}

fn render_method_list(frame: &mut Frame, c: &CompareState, theme: &Theme, area: Rect) {
    let title = if c.find.is_empty() {
        format!(" methods · {} selected ", c.selected.len())
    } else {
        format!(" methods · find: {} ", c.find)
    };
    let focused = c.focus == CompareFocus::Methods;
    // The notes after the ids, explained on the bottom border.
    let block = pane_block(&title, focused, theme)
        .title_bottom(Line::styled(" ⚙ code ¶ context ✗ can't run ", theme.dim));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let info_height = match inner.height {
        14.. => 4,
        8.. => 3,
        _ => 0,
    };
    let [list_area, info_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(info_height)]).areas(inner);
    let width = usize::from(list_area.width);
    let context_empty = c.context.lines().iter().all(|l| l.trim().is_empty());
    let items: Vec<ListItem> = c
        .methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            // "[x] 2.7  program-of-thoughts ⚙": a mark, the section, the id
            // (cut with "…" only when the list is too narrow) and a
            // one-character note the legend under the list explains.
            let waits = m.inputs.iter().any(|input| input == "context") && context_empty;
            let (mark, note) = match (m.runnable(), m.runs_code()) {
                (false, _) => (" – ", " ✗"),
                (true, true) => (
                    if c.selected.contains(&i) {
                        "[x]"
                    } else {
                        "[ ]"
                    },
                    " ⚙",
                ),
                (true, false) => (
                    if c.selected.contains(&i) {
                        "[x]"
                    } else {
                        "[ ]"
                    },
                    "",
                ),
            };
            let note = if waits && m.runnable() { " ¶" } else { note };
            let style = if !m.runnable() || waits {
                theme.dim
            } else if c.selected.contains(&i) {
                theme.assistant
            } else {
                Style::default()
            };
            let room = width.saturating_sub(4 + 5 + note.chars().count());
            ListItem::new(Line::from(vec![
                Span::styled(format!("{mark} "), style),
                Span::styled(format!("{:<5}", m.section), theme.dim),
                Span::styled(clip_end(&m.id, room), style),
                Span::styled(note, theme.dim),
            ]))
        })
        .collect();
    let highlight = if focused {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    };
    let mut list_state = ListState::default().with_selected(Some(c.cursor));
    frame.render_stateful_widget(
        List::new(items).highlight_style(highlight),
        list_area,
        &mut list_state,
    );
    if let Some(m) = c.methods.get(c.cursor) {
        let text = match &m.not_runnable {
            Some(reason) => Line::styled(format!("not runnable: {reason}"), theme.dim),
            None => Line::from(vec![
                Span::styled(m.name.clone(), theme.title),
                Span::styled(
                    format!(
                        " · {} call(s) · needs {}{}",
                        m.calls_per_item(),
                        m.inputs.join(" + "),
                        if m.runs_code() {
                            " · runs model-written code"
                        } else {
                            ""
                        }
                    ),
                    theme.dim,
                ),
            ]),
        };
        frame.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: true }).block(
                Block::default()
                    .borders(Borders::TOP)
                    .border_style(theme.border),
            ),
            info_area,
        );
    }
}

/// The question and switches in two lines, while the columns have focus.
fn render_compact_setup(
    frame: &mut Frame,
    c: &CompareState,
    v: ViewCx,
    run: &CompareRun,
    area: Rect,
) {
    let theme = v.theme;
    let mut first = vec![
        Span::styled(" Q: ", theme.title),
        Span::raw(printable(&one_line(&run.question))),
    ];
    if let Some(reference) = &run.reference {
        first.push(Span::styled("  │ reference: ", theme.dim));
        first.push(Span::raw(printable(&one_line(reference))));
    }
    if run.context.is_some() {
        first.push(Span::styled("  │ with context", theme.dim));
    }
    let mut second = vec![Span::raw(" ")];
    second.extend(code_line(c, v).spans);
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

fn render_columns(frame: &mut Frame, c: &CompareState, v: ViewCx, run: &CompareRun, area: Rect) {
    let theme = v.theme;
    let n = run.columns.len();
    if n == 0 || area.height == 0 {
        return;
    }
    let [header, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let visible = usize::from((area.width / MIN_COLUMN_WIDTH).max(1)).min(n);
    let selected = c.column.min(n - 1);
    let first = if selected < visible {
        0
    } else {
        selected + 1 - visible
    };
    let mut spans = vec![Span::raw(" ")];
    let runs = c.earlier.len() + 1 + c.later.len();
    if runs > 1 {
        spans.push(Span::styled(
            format!(
                "run {}/{runs} ({} {}) · ",
                c.earlier.len() + 1,
                v.keymap.key_for(CompareAction::PrevRun),
                v.keymap.key_for(CompareAction::NextRun)
            ),
            theme.title,
        ));
    }
    spans.push(run_status(run, v));
    if visible < n {
        let shown = if visible == 1 {
            format!("column {}", first + 1)
        } else {
            format!("columns {}–{}", first + 1, first + visible)
        };
        spans.push(Span::styled(
            format!(
                "  {}{shown} of {n}{}",
                if first > 0 { "◀ " } else { "" },
                if first + visible < n { " ▶" } else { "" },
            ),
            theme.warning,
        ));
    }
    if c.focus == CompareFocus::Columns {
        spans.push(Span::styled(
            format!(
                "  ←→ column · ↑↓ step · {} opens",
                v.keymap.key_for(CompareAction::Run)
            ),
            theme.dim,
        ));
    } else {
        spans.push(Span::styled(
            format!(
                "  {} to the columns",
                v.keymap.key_for(CompareAction::NextPart)
            ),
            theme.dim,
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), header);
    let rects = Layout::horizontal(vec![Constraint::Ratio(1, visible as u32); visible]).split(body);
    for (slot, rect) in rects.iter().enumerate() {
        let index = first + slot;
        let focused = c.focus == CompareFocus::Columns && index == selected;
        column::render(frame, theme, run, index, focused, *rect);
    }
}

fn run_status(run: &CompareRun, v: ViewCx) -> Span<'static> {
    let theme = v.theme;
    let n = run.columns.len();
    let done = run
        .columns
        .iter()
        .filter(|c| !matches!(c.status, ColumnStatus::Waiting | ColumnStatus::Running))
        .count();
    if run.stopping {
        Span::styled("stopping…", theme.warning)
    } else if run.running {
        let current = run
            .columns
            .iter()
            .position(|c| c.status == ColumnStatus::Running)
            .map_or(String::new(), |i| format!(" {}", run.columns[i].spec.id));
        Span::styled(
            format!(
                "running{current} ({}/{n}) · {} stops",
                (done + 1).min(n),
                v.keymap.key_for(CompareAction::Stop)
            ),
            theme.warning,
        )
    } else if run
        .columns
        .iter()
        .any(|c| matches!(c.status, ColumnStatus::NotRun | ColumnStatus::Stopped))
    {
        Span::styled("stopped", theme.warning)
    } else {
        Span::styled(format!("done: {n} method(s)"), theme.title)
    }
}

/// The pane's part of the status line: calls and tokens of the last run.
pub(crate) fn status_spans(c: &CompareState) -> Vec<Span<'static>> {
    let run = c.run.as_ref();
    let (calls, prompt, generated) = run.map_or((0, 0, 0), |r| {
        r.columns
            .iter()
            .fold((0, 0, 0), |(c, p, g), col| match &col.result {
                Some(m) => (c + m.calls, p + m.prompt_tokens, g + m.generated_tokens),
                None => (
                    c + col.calls,
                    p + col.prompt_tokens,
                    g + col.generated_tokens,
                ),
            })
    });
    vec![Span::raw(format!(
        " compare · {calls} calls · {prompt}+{generated} tok "
    ))]
}

/// The compare pane's keys.
pub(crate) fn render_help(frame: &mut Frame, v: ViewCx, area: Rect) {
    let theme = v.theme;
    let row = |keys: String, what: &str| help_row(&keys, 14, theme.title, what);
    let k = |a: crate::keymap::Bound| v.keymap.key_for(a);
    let mut lines = vec![
        row(k(GlobalAction::SwitchPane.into()), "back to the chat"),
        row(
            k(CompareAction::NextPart.into()),
            "next part: methods → question → context → reference → columns",
        ),
        row(
            "space".into(),
            "select a method in the list (typing jumps to an id)",
        ),
        row(
            k(CompareAction::Run.into()),
            "run the selected methods (in the columns: open the step)",
        ),
        row(k(CompareAction::Rerun.into()), "run again"),
        row(
            k(CompareAction::Stop.into()),
            "stop the run (the rest is not run)",
        ),
        row(
            k(CompareAction::AllowCode.into()),
            "code execution on/off (off at start; runs sandboxed when on)",
        ),
        row(
            "←→  ↑↓".into(),
            "columns: choose a column, a step or a call",
        ),
        row(
            k(CompareAction::Copy.into()),
            "copy the selected call's output or step's answer",
        ),
        row(
            k(CompareAction::Export.into()),
            "export the finished run as Markdown and JSON lines",
        ),
        row(
            format!(
                "{} {}",
                k(CompareAction::PrevRun.into()),
                k(CompareAction::NextRun.into())
            ),
            "the run before / after this one",
        ),
        row(
            k(GlobalAction::Settings.into()),
            "settings: max tokens caps every model call",
        ),
        row(k(GlobalAction::Quit.into()), "quit"),
    ];
    lines.push(Line::default());
    lines.push(Line::styled(
        "step overlay: ↑↓ PgUp/PgDn scroll · ←→ previous/next · Esc closes",
        theme.dim,
    ));
    lines.push(Line::styled(
        "keys are set in config.yaml (keys:) · any key closes",
        theme.dim,
    ));
    overlay::draw(frame, area, 84, " keys: compare ", lines);
}
