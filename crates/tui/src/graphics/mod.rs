//! Pictures drawn with the terminal's own graphics protocol — kitty,
//! sixel or iTerm2's inline images — where the terminal has one. A frame
//! keeps its half-block pictures (what every other terminal, and every
//! snapshot, sees); views also record where each picture sits
//! ([`Placement`]), and after the frame the [`Overlay`] draws those over
//! their cells, only when they changed.

mod detect;
mod iterm2;
mod kitty;
pub mod png;
mod sixel;

use std::io::Write;

use ratatui::layout::Rect;

pub use detect::{choose, inside_multiplexer, parse, query, query_terminal, Reply, Setting};

/// A terminal graphics protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Kitty,
    Sixel,
    Iterm2,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Kitty => "kitty graphics",
            Protocol::Sixel => "sixel",
            Protocol::Iterm2 => "iTerm2 inline images",
        }
    }
}

/// A grey picture over a rectangle of cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub area: Rect,
    /// Pixels across.
    pub width: usize,
    /// Pixels down.
    pub height: usize,
    /// `width × height` greys (0 black … 255 white), row by row.
    pub grey: Vec<u8>,
}

/// How pictures reach this terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Graphics {
    pub protocol: Protocol,
    /// One cell in pixels (width, height): sixel pictures are scaled to it.
    pub cell: (u16, u16),
}

impl Graphics {
    /// The sequence that moves the cursor to `p`'s cells and draws it
    /// there (as picture `id`, where the protocol numbers them).
    pub fn encode(&self, p: &Placement, id: u32) -> String {
        let at = format!("\x1b[{};{}H", p.area.y + 1, p.area.x + 1);
        let picture = match self.protocol {
            Protocol::Kitty => kitty::place(p, id),
            Protocol::Iterm2 => iterm2::place(p),
            Protocol::Sixel => {
                let (width, height, grey) = sixel::scaled(p, self.cell);
                sixel::encode(width, height, &grey)
            }
        };
        at + &picture
    }
}

/// What [`Overlay::show`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// The pictures on screen are the ones asked for.
    Unchanged,
    /// They were drawn.
    Drawn,
    /// A sixel or iTerm2 picture went away: it lives in the cells, so the
    /// frame must be drawn again in full (clear, draw) before `show` is
    /// called again.
    NeedsRedraw,
}

/// The pictures on screen over the frame.
#[derive(Debug)]
pub struct Overlay {
    pub graphics: Graphics,
    shown: Vec<Placement>,
}

impl Overlay {
    pub fn new(graphics: Graphics) -> Overlay {
        Overlay {
            graphics,
            shown: Vec::new(),
        }
    }

    /// Draws `placements` over the frame just drawn, unless they are on
    /// screen already. The cursor is saved and restored around them.
    pub fn show(
        &mut self,
        placements: &[Placement],
        out: &mut impl Write,
    ) -> std::io::Result<Shown> {
        if placements == self.shown.as_slice() {
            return Ok(Shown::Unchanged);
        }
        let mut sequence = String::from("\x1b7");
        if self.graphics.protocol == Protocol::Kitty {
            // Kitty's pictures float over the text: take the old ones off.
            sequence.push_str(kitty::DELETE_ALL);
        } else {
            let gone = self
                .shown
                .iter()
                .any(|old| !placements.iter().any(|new| new.area == old.area));
            if gone {
                self.shown.clear();
                return Ok(Shown::NeedsRedraw);
            }
        }
        for (i, p) in placements.iter().enumerate() {
            let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
            sequence.push_str(&self.graphics.encode(p, id));
        }
        sequence.push_str("\x1b8");
        out.write_all(sequence.as_bytes())?;
        out.flush()?;
        self.shown = placements.to_vec();
        Ok(Shown::Drawn)
    }

    /// The screen was cleared (a resize, a full redraw): the next
    /// [`show`](Self::show) draws everything again.
    pub fn forget(&mut self) {
        self.shown.clear();
    }
}

#[cfg(test)]
mod tests;
