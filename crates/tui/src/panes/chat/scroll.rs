//! Where the messages pane is scrolled to, kept as a turn of the visible
//! branch and a row inside it rather than as lines from the end, and the
//! window of turns a frame lays out for it: only the turns on screen, so
//! scrolling, selecting and streaming in a conversation of any length cost
//! what one screen costs.

use std::collections::HashMap;
use std::ops::Range;

/// The scroll position of the messages pane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Scroll {
    /// The newest lines at the bottom, following a streaming answer.
    #[default]
    Newest,
    /// Row `row` of turn `pos` (of the visible branch) at the top of the
    /// pane; a row before the turn or past its end counts on into the
    /// neighbouring turns.
    At { pos: usize, row: isize },
}

/// What the last frame showed, for the keys that move from there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Shown {
    /// The turn at the top of the pane, and its first row shown.
    pub(crate) first: usize,
    pub(crate) first_row: usize,
    /// The turn at the bottom of the pane.
    pub(crate) last: usize,
    /// The newest line is on screen.
    pub(crate) at_newest: bool,
}

impl Shown {
    /// Whether turn `pos`'s first row (its header) is on screen.
    pub(crate) fn shows_start_of(&self, pos: usize) -> bool {
        (pos > self.first || (pos == self.first && self.first_row == 0)) && pos <= self.last
    }
}

/// The turns to lay out for `scroll` in a pane `height` rows tall, of `n`
/// turns whose heights `rows` gives (asked at most once per turn, only for
/// turns near the screen): the range of turns, the rows of the first to
/// skip, and what ends up shown. When the turns from the position down do
/// not fill the pane, the newest line goes to the bottom.
pub(crate) fn window(
    n: usize,
    height: usize,
    scroll: Scroll,
    rows: impl FnMut(usize) -> usize,
) -> (Range<usize>, usize, Shown) {
    if n == 0 {
        let shown = Shown {
            at_newest: true,
            ..Shown::default()
        };
        return (0..0, 0, shown);
    }
    let mut known: HashMap<usize, usize> = HashMap::new();
    let mut rows = rows;
    let mut h = |pos: usize| *known.entry(pos).or_insert_with(|| rows(pos));
    let (mut start, mut end, mut top, mut total);
    match scroll {
        Scroll::Newest => {
            (start, end, top, total) = (n, n, 0, 0);
        }
        Scroll::At { pos, row } => {
            let (mut p, mut r) = (pos.min(n - 1), row);
            while r < 0 && p > 0 {
                p -= 1;
                r += h(p) as isize;
            }
            let mut r = r.max(0) as usize;
            while r >= h(p) && p + 1 < n {
                r -= h(p);
                p += 1;
            }
            r = r.min(h(p).saturating_sub(1));
            (start, end, top, total) = (p, p, r, 0);
            while end < n && total < top + height {
                total += h(end);
                end += 1;
            }
        }
    }
    if end == n && total < top + height {
        // Not enough below: the newest line at the bottom, turns above it.
        while start > 0 && total < height {
            start -= 1;
            total += h(start);
        }
        top = total.saturating_sub(height);
    }
    // Which turns the rows top..top+height fall in.
    let (mut first, mut first_row, mut last) = (start, 0, start);
    let mut at = 0;
    let bottom_row = (top + height).min(total).saturating_sub(1);
    for pos in start..end {
        let rows = h(pos);
        if (at..at + rows).contains(&top) {
            (first, first_row) = (pos, top - at);
        }
        if at <= bottom_row {
            last = pos;
        }
        at += rows;
    }
    let shown = Shown {
        first,
        first_row,
        last,
        at_newest: end == n && total - top <= height,
    };
    (start..end, top, shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Turn `pos` is `pos % 5 + 1` rows tall; records which were laid out.
    fn run(n: usize, height: usize, scroll: Scroll) -> (Range<usize>, usize, Shown, Vec<usize>) {
        let asked = RefCell::new(Vec::new());
        let (range, top, shown) = window(n, height, scroll, |pos| {
            asked.borrow_mut().push(pos);
            pos % 5 + 1
        });
        (range, top, shown, asked.into_inner())
    }

    #[test]
    fn newest_fills_the_pane_from_the_bottom() {
        // Turns 99, 98, 97 are 5, 4, 3 rows: 12 rows for a pane of 10.
        let (range, top, shown, asked) = run(100, 10, Scroll::Newest);
        assert_eq!(range, 97..100);
        assert_eq!(top, 2);
        assert_eq!(asked.len(), 3);
        assert_eq!(
            shown,
            Shown {
                first: 97,
                first_row: 2,
                last: 99,
                at_newest: true
            }
        );
    }

    #[test]
    fn a_position_lays_out_only_what_is_near_it() {
        let (range, top, shown, asked) = run(1_000_000, 10, Scroll::At { pos: 500, row: 0 });
        assert_eq!(range.start, 500);
        assert_eq!(top, 0);
        assert!(asked.len() < 10, "{asked:?}");
        assert_eq!((shown.first, shown.first_row), (500, 0));
        assert!(!shown.at_newest);
        assert!(shown.shows_start_of(500) && shown.shows_start_of(shown.last));
        assert!(!shown.shows_start_of(499));
    }

    #[test]
    fn rows_before_or_past_a_turn_count_into_its_neighbours() {
        // Turn 9 is 5 rows, turn 8 is 4: three rows up from turn 10 is row
        // 2 of turn 9.
        let (_, top, shown, _) = run(100, 10, Scroll::At { pos: 10, row: -3 });
        assert_eq!((shown.first, shown.first_row), (9, 2));
        assert_eq!(top, 2);
        // Turn 10 is 1 row, 11 is 2: row 2 of turn 10 is row 1 of turn 11.
        let (_, _, shown, _) = run(100, 10, Scroll::At { pos: 10, row: 2 });
        assert_eq!((shown.first, shown.first_row), (11, 1));
        // Before the first turn is the first turn's top.
        let (range, top, shown, _) = run(100, 10, Scroll::At { pos: 1, row: -50 });
        assert_eq!(
            (range.start, top, shown.first, shown.first_row),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn near_the_end_the_newest_line_stays_at_the_bottom() {
        let newest = run(100, 10, Scroll::Newest);
        let near_end = run(100, 10, Scroll::At { pos: 99, row: 0 });
        assert_eq!(
            (newest.0.clone(), newest.1, newest.2),
            (near_end.0, near_end.1, near_end.2)
        );
        // Past the end too.
        let past = run(100, 10, Scroll::At { pos: 5000, row: 40 });
        assert_eq!((newest.0, newest.1), (past.0, past.1));
    }

    #[test]
    fn a_short_conversation_shows_whole() {
        let (range, top, shown, _) = run(3, 24, Scroll::At { pos: 2, row: 0 });
        assert_eq!((range, top), (0..3, 0));
        assert_eq!((shown.first, shown.last, shown.at_newest), (0, 2, true));
        let (range, top, shown, _) = run(0, 24, Scroll::Newest);
        assert_eq!((range, top, shown.at_newest), (0..0, 0, true));
    }
}
