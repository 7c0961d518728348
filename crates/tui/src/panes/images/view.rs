//! The images pane's view: the models as tabs, the grid of images with
//! their labels, the training chart beside it (the loss of every step as a
//! sparkline, each finished epoch's measure), and a caption saying what is
//! on show and where a scrub is.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline, Wrap};
use ratatui::Frame;

use super::picture;
use super::state::{ImagesState, RunKind, View, SAMPLES};
use super::update::KEYS;
use crate::panes::ViewCx;
use crate::theme::Theme;
use crate::widgets::overlay::{draw, help_row};
use promptlab_engine::images::ModelKind;

/// The training panel's width, when the pane is wide enough for one.
const PANEL: u16 = 28;

pub(crate) fn render(frame: &mut Frame, s: &ImagesState, v: ViewCx, area: Rect) {
    let theme = v.theme;
    let [tabs, body, caption] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(tab_line(s, theme)), tabs);
    let show_panel = body.width >= 60 && s.training.model == Some(s.model);
    let (grid_area, panel) = if show_panel {
        let [g, p] =
            Layout::horizontal([Constraint::Min(1), Constraint::Length(PANEL)]).areas(body);
        (g, Some(p))
    } else {
        (body, None)
    };
    render_grid(frame, s, v, grid_area);
    if let Some(panel) = panel {
        render_training(frame, s, theme, panel);
    }
    // After the grid: it says how many images fit.
    frame.render_widget(Paragraph::new(caption_line(s, theme)), caption);
}

fn tab_line(s: &ImagesState, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("images ", theme.title)];
    for (i, model) in ModelKind::ALL.iter().enumerate() {
        let text = format!("{} {} ", i + 1, model.title());
        if *model == s.model {
            spans.push(Span::styled(text, theme.focused_border));
        } else {
            spans.push(Span::styled(text, theme.dim));
        }
    }
    spans.push(Span::raw(format!("· {} (d)", s.dataset.title())));
    if View::of(s.model).len() > 1 {
        spans.push(Span::raw(format!(" · {} (v)", s.view.name())));
    }
    Line::from(spans)
}

fn caption_line(s: &ImagesState, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    if let Some((caption, _)) = s.on_show() {
        spans.push(Span::raw(caption.to_string()));
    }
    if let Some(total) = s.on_show().map(|(_, images)| images.len()) {
        let shown = s.grid_shown.get();
        if shown > 0 && shown < total {
            spans.push(Span::styled(
                format!("  · {shown} of {total} fit"),
                theme.dim,
            ));
        }
    }
    if s.shipped_only {
        spans.push(Span::styled("  · shipped checkpoint (c)", theme.dim));
    }
    if s.frames.len() > 1 {
        let at = s.frame_at.unwrap_or(s.frames.len() - 1) + 1;
        spans.push(Span::styled(
            format!("  · frame {at}/{} ([ ] scrub)", s.frames.len()),
            theme.dim,
        ));
    }
    Line::from(spans)
}

fn render_grid(frame: &mut Frame, s: &ImagesState, v: ViewCx, area: Rect) {
    let theme = v.theme;
    let Some((_, images)) = s.on_show() else {
        frame.render_widget(
            Paragraph::new(intro(s, theme)).wrap(Wrap { trim: false }),
            area,
        );
        return;
    };
    let columns = match s.view {
        View::Walk => picture::Columns::AtMost(promptlab_engine::images::WALK_GRID.0),
        View::Reconstruct => picture::Columns::MultipleOf(2),
        View::Samples | View::Interpolate => picture::Columns::Any,
    };
    let Some(fit) = picture::fit(
        area.width as usize,
        area.height as usize,
        images.len(),
        columns,
    ) else {
        frame.render_widget(
            Paragraph::new("too small for an image (28 × 8 cells at least)"),
            area,
        );
        return;
    };
    s.grid_shown.set(fit.shown(images.len()));
    let lines = picture::grid(images, fit, theme.palette, theme.title, theme.dim);
    frame.render_widget(Paragraph::new(lines), area);
    *s.placements.borrow_mut() = picture::placements(images, fit, area);
}

fn intro(s: &ImagesState, theme: &Theme) -> Vec<Line<'static>> {
    let what = match s.model {
        ModelKind::Cnn => "s labels 16 test images with the classifier",
        ModelKind::PixelCnn | ModelKind::RowLstm => "s draws 16 samples pixel by pixel, row by row",
        ModelKind::Ddpm => "s denoises 16 samples in 50 steps ([ ] scrubs through them)",
        ModelKind::Vae => "s draws 16 samples, v walks its latent space or reconstructs",
        ModelKind::Dcgan => "s draws 16 samples, v goes between two seeds",
    };
    let mut lines = vec![
        Line::from(format!("The {} on {}.", s.model.title(), s.dataset.title())),
        Line::from(format!(
            "{what}; t trains your own (from scratch the first time, then on from it)."
        )),
        Line::from(
            "Samples come from your checkpoint once you have one, else the shipped one (c: always the shipped).",
        ),
    ];
    if s.running() {
        lines.push(Line::from(Span::styled("working…", theme.dim)));
    }
    lines.push(Line::from(Span::styled(
        "F1 lists every key of this pane",
        theme.dim,
    )));
    lines
}

fn render_training(frame: &mut Frame, s: &ImagesState, theme: &Theme, area: Rect) {
    let t = &s.training;
    let running = s.run.as_ref().is_some_and(|r| r.kind == RunKind::Train);
    let title = if running {
        " training "
    } else {
        " last training "
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border)
        .title(Span::styled(title, theme.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [status, chart, epochs] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(4),
        Constraint::Min(0),
    ])
    .areas(inner);
    let mut lines = Vec::new();
    match t.at {
        Some((epoch, step, steps)) => lines.push(Line::from(format!(
            "epoch {epoch}/{} step {step}/{steps}",
            t.target
        ))),
        None => lines.push(Line::from(if running { "starting…" } else { "" })),
    }
    if let Some(loss) = t.losses.last() {
        lines.push(Line::from(format!("loss {loss:.4}")));
    }
    frame.render_widget(Paragraph::new(lines), status);
    let data = loss_bars(&t.losses, chart.width as usize);
    frame.render_widget(
        Sparkline::default().data(&data).style(theme.assistant),
        chart,
    );
    let lines: Vec<Line> = t
        .epochs
        .iter()
        .rev()
        .take(epochs.height as usize)
        .map(|e| {
            Line::from(format!(
                "{:>2} loss {} {} {}",
                e.epoch,
                number(e.train_loss),
                short_metric(&e.metric),
                number(e.value),
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), epochs);
}

/// The whole run's losses in `width` bars: each the mean of its share of
/// the steps, scaled between the least and the greatest bar (1 … 100).
pub(crate) fn loss_bars(losses: &[f32], width: usize) -> Vec<u64> {
    if losses.is_empty() || width == 0 {
        return Vec::new();
    }
    let bars = width.min(losses.len());
    let means: Vec<f32> = (0..bars)
        .map(|i| {
            let part = &losses[i * losses.len() / bars..(i + 1) * losses.len() / bars];
            part.iter().sum::<f32>() / part.len().max(1) as f32
        })
        .collect();
    let (lo, hi) = means
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &m| {
            (a.min(m), b.max(m))
        });
    means
        .iter()
        .map(|&m| {
            if hi > lo {
                (1.0 + 99.0 * (m - lo) / (hi - lo)) as u64
            } else {
                50
            }
        })
        .collect()
}

/// Four significant figures or so, in few characters.
fn number(v: f32) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The measure's name as the narrow panel shows it.
fn short_metric(metric: &str) -> &str {
    match metric {
        "accuracy" => "acc",
        "neg_elbo_nats" => "−elbo",
        "nll_nats" => "nll",
        "mean_max_prob" => "mmp",
        "test_noise_mse" => "mse",
        other => other,
    }
}

pub(crate) fn render_help(frame: &mut Frame, s: &ImagesState, v: ViewCx, area: Rect) {
    use crate::keymap::GlobalAction;
    let theme = v.theme;
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(keys, what)| help_row(keys, 10, theme.title, what))
        .collect();
    lines.push(help_row(
        &v.keymap.key_for(GlobalAction::Help),
        10,
        theme.title,
        "this help",
    ));
    lines.push(help_row(
        &v.keymap.key_for(GlobalAction::Images),
        10,
        theme.title,
        "back to the pane before",
    ));
    lines.push(help_row(
        &v.keymap.key_for(GlobalAction::Quit),
        10,
        theme.title,
        "quit (a training run keeps its last epoch's checkpoint)",
    ));
    lines.push(Line::from(""));
    let pictures = s.graphics.map_or("half blocks", |p| p.name());
    lines.push(Line::from(Span::styled(
        format!("pictures: {pictures} (`graphics:` in the config sets it)"),
        theme.dim,
    )));
    lines.push(Line::from(Span::styled(
        format!("any key closes this help · a sample is {SAMPLES} images"),
        theme.dim,
    )));
    draw(frame, area, 78, "images pane keys", lines);
}
