//! Sixel: the picture in bands six pixels high; in each band, for every
//! grey register used, a row of characters whose six bits say which of
//! the band's pixels take that grey (`$` back to the band's start, `-` to
//! the next band), runs of one character written `!count`. Sixel pixels
//! are the terminal's own, so the picture is first scaled (nearest
//! neighbour) to the cells it covers.

use super::Placement;

/// Grey registers: 0 black … `LEVELS − 1` white.
const LEVELS: usize = 16;

/// `p` scaled to `cols × cell.0` by `rows × cell.1` pixels.
pub(crate) fn scaled(p: &Placement, cell: (u16, u16)) -> (usize, usize, Vec<u8>) {
    let width = usize::from(p.area.width) * usize::from(cell.0.max(1));
    let height = usize::from(p.area.height) * usize::from(cell.1.max(1));
    let mut grey = Vec::with_capacity(width * height);
    for y in 0..height {
        let sy = y * p.height / height;
        for x in 0..width {
            grey.push(p.grey[sy * p.width + x * p.width / width]);
        }
    }
    (width, height, grey)
}

fn level(g: u8) -> usize {
    (usize::from(g) * (LEVELS - 1) + 127) / 255
}

/// Appends `count` copies of `c`, as a run where that is shorter.
fn push_run(out: &mut String, c: char, count: usize) {
    if count > 3 {
        out.push_str(&format!("!{count}{c}"));
    } else {
        out.extend(std::iter::repeat_n(c, count));
    }
}

/// The DCS sequence drawing a `width × height` grey picture at the cursor.
pub(crate) fn encode(width: usize, height: usize, grey: &[u8]) -> String {
    // P2 = 1: pixels no register paints keep what was there.
    let mut out = format!("\x1bP0;1;0q\"1;1;{width};{height}");
    for k in 0..LEVELS {
        let percent = k * 100 / (LEVELS - 1);
        out.push_str(&format!("#{k};2;{percent};{percent};{percent}"));
    }
    let levels: Vec<usize> = grey.iter().map(|&g| level(g)).collect();
    for band in 0..height.div_ceil(6) {
        let rows = band * 6..((band + 1) * 6).min(height);
        let mut used = [false; LEVELS];
        for y in rows.clone() {
            for &l in &levels[y * width..(y + 1) * width] {
                used[l] = true;
            }
        }
        let mut first = true;
        for (k, _) in used.iter().enumerate().filter(|(_, u)| **u) {
            if !first {
                out.push('$');
            }
            first = false;
            out.push_str(&format!("#{k}"));
            let mut run: Option<(char, usize)> = None;
            for x in 0..width {
                let bits = rows
                    .clone()
                    .enumerate()
                    .filter(|&(_, y)| levels[y * width + x] == k)
                    .fold(0u8, |acc, (bit, _)| acc | (1 << bit));
                let c = char::from(63 + bits);
                run = match run {
                    Some((r, n)) if r == c => Some((r, n + 1)),
                    Some((r, n)) => {
                        push_run(&mut out, r, n);
                        Some((c, 1))
                    }
                    None => Some((c, 1)),
                };
            }
            if let Some((r, n)) = run {
                push_run(&mut out, r, n);
            }
        }
        out.push('-');
    }
    out.push_str("\x1b\\");
    out
}
