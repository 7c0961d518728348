//! Rendered Markdown kept per turn between frames: a finished turn is
//! parsed once, and again only when its text or the theme's Markdown
//! colours change. The lines are not laid out to a width (the paragraph
//! wraps them), so a resize renders nothing again.

use std::collections::HashMap;

use ratatui::text::Line;

use crate::markdown;
use crate::text::printable;
use crate::theme::MarkdownStyles;

struct Cached {
    content: String,
    styles: MarkdownStyles,
    lines: Vec<Line<'static>>,
}

/// Turn index → its rendered lines and what they were rendered from.
#[derive(Default)]
pub(crate) struct TurnCache {
    entries: HashMap<usize, Cached>,
    /// How many times Markdown was rendered (for tests).
    renders: usize,
}

impl TurnCache {
    /// The lines of turn `turn` with `content`, from the cache when it holds
    /// them for this content and theme.
    pub(crate) fn lines(
        &mut self,
        turn: usize,
        content: &str,
        styles: &MarkdownStyles,
    ) -> Vec<Line<'static>> {
        if let Some(c) = self.entries.get(&turn) {
            if c.content == content && c.styles == *styles {
                return c.lines.clone();
            }
        }
        let lines = self.render(content, styles);
        self.entries.insert(
            turn,
            Cached {
                content: content.to_string(),
                styles: *styles,
                lines: lines.clone(),
            },
        );
        lines
    }

    /// Renders without keeping the result (a turn still streaming).
    pub(crate) fn render(&mut self, content: &str, styles: &MarkdownStyles) -> Vec<Line<'static>> {
        self.renders += 1;
        markdown::render(&printable(content), styles)
    }

    #[cfg(test)]
    pub(crate) fn renders(&self) -> usize {
        self.renders
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theme::{Palette, Theme};

    #[test]
    fn a_turn_is_rendered_again_only_when_something_changed() {
        let basic = Theme::new(Palette::Basic16).markdown;
        let mono = Theme::new(Palette::Mono).markdown;
        let mut cache = TurnCache::default();
        let first = cache.lines(0, "# Hi", &basic);
        assert_eq!(cache.lines(0, "# Hi", &basic), first);
        assert_eq!(cache.renders(), 1, "the same turn comes from the cache");
        cache.lines(1, "other", &basic);
        assert_eq!(cache.renders(), 2, "each turn has its own entry");
        cache.lines(0, "# Hi there", &basic);
        assert_eq!(cache.renders(), 3, "changed content");
        let plain = cache.lines(0, "# Hi there", &mono);
        assert_eq!(cache.renders(), 4, "another theme");
        assert!(plain[0].spans.iter().all(|s| s.style.fg.is_none()));
        cache.lines(0, "# Hi there", &mono);
        cache.lines(1, "other", &basic);
        assert_eq!(cache.renders(), 4);
    }
}
