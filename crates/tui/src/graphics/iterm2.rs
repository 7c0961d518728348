//! iTerm2's inline images (also WezTerm's): a PNG in base64 inside one
//! OSC 1337 sequence, stretched over the placement's cells.

use base64::Engine as _;

use super::{png, Placement};

/// The sequence that shows `p` at the cursor.
pub(crate) fn place(p: &Placement) -> String {
    let rgb: Vec<u8> = p.grey.iter().flat_map(|&g| [g, g, g]).collect();
    let file = png::encode(p.width, p.height, &rgb);
    format!(
        "\x1b]1337;File=inline=1;size={size};width={w};height={h};preserveAspectRatio=0:{data}\x07",
        size = file.len(),
        w = p.area.width,
        h = p.area.height,
        data = base64::engine::general_purpose::STANDARD.encode(&file),
    )
}
