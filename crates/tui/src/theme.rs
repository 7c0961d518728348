//! Colours, chosen for what the terminal can show: true colour where
//! COLORTERM says so, 256 colours where TERM does, the 16 basic ANSI
//! colours otherwise, and none at all under NO_COLOR. Only the attention
//! heatmaps use true colour; everything else keeps to 256. Owns every style the
//! views use, the Markdown renderer's included.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    Mono,
    Basic16,
    Indexed256,
    TrueColor,
}

impl Palette {
    /// From the environment: NO_COLOR, then COLORTERM / TERM.
    pub(crate) fn detect() -> Palette {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        if !var("NO_COLOR").is_empty() {
            Palette::Mono
        } else if matches!(var("COLORTERM").as_str(), "truecolor" | "24bit") {
            Palette::TrueColor
        } else if var("TERM").contains("256") {
            Palette::Indexed256
        } else {
            Palette::Basic16
        }
    }
}

/// The colours of rendered Markdown (the renderer adds bold, italic and
/// underline itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkdownStyles {
    /// By heading level, repeating from level 4.
    pub headings: [Style; 3],
    pub code_block: Style,
    pub inline_code: Style,
    pub link: Style,
    pub list_marker: Style,
    /// Code fences, rules, quote bars and link targets.
    pub faint: Style,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub palette: Palette,
    pub user: Style,
    pub assistant: Style,
    pub title: Style,
    pub dim: Style,
    pub border: Style,
    pub focused_border: Style,
    pub warning: Style,
    pub status_model: Style,
    /// The hint in an empty text field.
    pub placeholder: Style,
    pub markdown: MarkdownStyles,
}

impl Theme {
    pub fn new(palette: Palette) -> Theme {
        let fg = |c: Color| match palette {
            Palette::Mono => Style::default(),
            _ => Style::default().fg(c),
        };
        let bold = Modifier::BOLD;
        Theme {
            palette,
            user: fg(Color::Cyan).add_modifier(bold),
            assistant: fg(Color::Green).add_modifier(bold),
            title: fg(Color::Yellow).add_modifier(bold),
            dim: fg(Color::DarkGray).add_modifier(Modifier::DIM),
            border: fg(Color::DarkGray),
            focused_border: fg(Color::Cyan).add_modifier(bold),
            warning: fg(Color::Yellow),
            status_model: match palette {
                Palette::Mono => Style::default().add_modifier(Modifier::REVERSED),
                _ => Style::default().fg(Color::Black).bg(Color::Green),
            },
            placeholder: fg(Color::DarkGray),
            markdown: MarkdownStyles {
                headings: [fg(Color::Cyan), fg(Color::Magenta), fg(Color::Blue)],
                code_block: fg(Color::Green),
                inline_code: fg(Color::Yellow),
                link: fg(Color::Blue),
                list_marker: fg(Color::Cyan),
                faint: fg(Color::DarkGray),
            },
        }
    }

    /// The colour of a token with this log-probability: confident tokens
    /// green, unlikely ones red (underlined without colour).
    pub(crate) fn probability(&self, logprob: f32) -> Style {
        let p = logprob.exp();
        match self.palette {
            Palette::Mono => {
                if p < 0.1 {
                    Style::default().add_modifier(Modifier::UNDERLINED)
                } else {
                    Style::default()
                }
            }
            Palette::Basic16 => Style::default().fg(if p >= 0.8 {
                Color::Green
            } else if p >= 0.5 {
                Color::LightGreen
            } else if p >= 0.2 {
                Color::Yellow
            } else if p >= 0.05 {
                Color::LightRed
            } else {
                Color::Red
            }),
            Palette::Indexed256 | Palette::TrueColor => {
                // The 256-colour cube's red→yellow→green ramp (indices 196..46).
                const RAMP: [u8; 8] = [196, 202, 208, 214, 220, 190, 118, 46];
                let i = ((p.clamp(0.0, 1.0) * (RAMP.len() - 1) as f32).round()) as usize;
                Style::default().fg(Color::Indexed(RAMP[i]))
            }
        }
    }
}

/// A colour not in the 16 basic ones must never be used: the app works in
/// 16-colour terminals.
pub fn is_basic(color: Color) -> bool {
    !matches!(color, Color::Rgb(..) | Color::Indexed(_))
}
