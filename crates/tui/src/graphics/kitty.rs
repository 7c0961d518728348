//! The kitty graphics protocol: a picture sent as raw RGB in base64
//! chunks of at most 4096 bytes (`m=1` on all but the last), shown at the
//! cursor over `c` × `r` cells (the terminal scales it), the cursor left
//! where it was (`C=1`), replies off (`q=2`).

use base64::Engine as _;

use super::Placement;

/// Removes every picture on screen and frees its data.
pub(crate) const DELETE_ALL: &str = "\x1b_Ga=d,d=A,q=2\x1b\\";

/// The most base64 bytes one escape sequence carries.
const CHUNK: usize = 4096;

/// The sequence that transmits `p` as image `id` and shows it at the cursor.
pub(crate) fn place(p: &Placement, id: u32) -> String {
    let rgb: Vec<u8> = p.grey.iter().flat_map(|&g| [g, g, g]).collect();
    let data = base64::engine::general_purpose::STANDARD.encode(rgb);
    let mut out = String::with_capacity(data.len() + 128);
    let chunks: Vec<&str> = data
        .as_bytes()
        .chunks(CHUNK)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let more = u8::from(i + 1 < chunks.len());
        if i == 0 {
            out.push_str(&format!(
                "\x1b_Ga=T,f=24,s={w},v={h},c={c},r={r},i={id},C=1,q=2,m={more};",
                w = p.width,
                h = p.height,
                c = p.area.width,
                r = p.area.height,
            ));
        } else {
            out.push_str(&format!("\x1b_Gm={more},q=2;"));
        }
        out.push_str(chunk);
        out.push_str("\x1b\\");
    }
    out
}
