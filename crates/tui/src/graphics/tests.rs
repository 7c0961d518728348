//! The encoders read back by decoders written from the protocols' specs,
//! and the overlay's redraw rules.

use std::io::Read as _;

use base64::Engine as _;
use ratatui::layout::Rect;

use super::*;

/// A 4 × 3 picture: a gradient with black and white corners.
fn picture(area: Rect) -> Placement {
    let grey = vec![0, 85, 170, 255, 255, 170, 85, 0, 0, 0, 255, 255];
    Placement {
        area,
        width: 4,
        height: 3,
        grey,
    }
}

/// A sixel decoder from the DEC spec: raster size, registers (grey
/// percentages, read back as 0–255), `#k` selects, `!n` repeats, `$`
/// returns, `-` moves down a band.
fn decode_sixel(sequence: &str) -> (usize, usize, Vec<Option<u8>>) {
    let body = sequence
        .strip_prefix("\x1bP0;1;0q")
        .and_then(|s| s.strip_suffix("\x1b\\"))
        .expect("a sixel DCS sequence");
    let chars: Vec<char> = body.chars().collect();
    let number = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
        chars[start..*i]
            .iter()
            .collect::<String>()
            .parse::<usize>()
            .expect("a number")
    };
    let mut i = 0;
    assert_eq!(chars[i], '"');
    i += 1;
    let mut raster = Vec::new();
    loop {
        raster.push(number(&mut i));
        if chars[i] != ';' {
            break;
        }
        i += 1;
    }
    let (w, h) = (raster[2], raster[3]);
    let mut pixels = vec![None; w * h];
    let mut registers = std::collections::HashMap::new();
    let (mut x, mut band, mut colour) = (0, 0, 0u8);
    while i < chars.len() {
        match chars[i] {
            '#' => {
                i += 1;
                let k = number(&mut i);
                if chars.get(i) == Some(&';') {
                    let mut fields = Vec::new();
                    while chars.get(i) == Some(&';') {
                        i += 1;
                        fields.push(number(&mut i));
                    }
                    assert_eq!(fields[0], 2, "RGB registers");
                    assert!(fields[1] == fields[2] && fields[2] == fields[3], "grey");
                    registers.insert(k, (fields[1] * 255 / 100) as u8);
                } else {
                    colour = registers[&k];
                }
            }
            '$' => {
                x = 0;
                i += 1;
            }
            '-' => {
                x = 0;
                band += 1;
                i += 1;
            }
            c => {
                let count = if c == '!' {
                    i += 1;
                    number(&mut i)
                } else {
                    1
                };
                let bits = chars[i] as u32 - 63;
                i += 1;
                for _ in 0..count {
                    for bit in 0..6 {
                        let y = band * 6 + bit;
                        if bits & (1 << bit) != 0 && y < h && x < w {
                            assert!(pixels[y * w + x].is_none(), "({x}, {y}) painted twice");
                            pixels[y * w + x] = Some(colour);
                        }
                    }
                    x += 1;
                }
            }
        }
    }
    (w, h, pixels)
}

#[test]
fn sixel_paints_every_pixel_once_in_its_grey_at_the_cells_size() {
    let area = Rect::new(3, 2, 2, 1);
    let graphics = Graphics {
        protocol: Protocol::Sixel,
        cell: (6, 9),
    };
    let sequence = graphics.encode(&picture(area), 1);
    let sixel = sequence
        .strip_prefix("\x1b[3;4H")
        .expect("moved to the cells");
    let (w, h, pixels) = decode_sixel(sixel);
    // Two cells of 6 × 9 pixels.
    assert_eq!((w, h), (12, 9));
    let source = picture(area);
    for y in 0..h {
        for x in 0..w {
            let want = source.grey[(y * 3 / 9) * 4 + x * 4 / 12];
            let got = pixels[y * w + x].expect("every pixel painted");
            // 16 registers: within half a step of 255 / 15.
            assert!(
                (i32::from(got) - i32::from(want)).abs() <= 9,
                "({x}, {y}): {got} for {want}"
            );
        }
    }
    // A flat run is written once with its count.
    let flat = sixel::encode(40, 6, &[255; 240]);
    assert!(flat.contains("#15!40~"), "{flat}");
}

/// The fields and payloads of every kitty APC in `s`.
fn kitty_commands(s: &str) -> Vec<(String, String)> {
    s.split("\x1b_G")
        .skip(1)
        .map(|part| {
            let body = part.split("\x1b\\").next().expect("terminated");
            let (keys, payload) = body.split_once(';').unwrap_or((body, ""));
            (keys.to_string(), payload.to_string())
        })
        .collect()
}

#[test]
fn kitty_sends_the_rgb_in_chunks_and_scales_it_to_the_cells() {
    let big = Placement {
        area: Rect::new(0, 0, 28, 14),
        width: 40,
        height: 40,
        grey: (0..1600).map(|i| (i % 256) as u8).collect(),
    };
    let graphics = Graphics {
        protocol: Protocol::Kitty,
        cell: (10, 20),
    };
    let sequence = graphics.encode(&big, 7);
    assert!(sequence.starts_with("\x1b[1;1H\x1b_G"));
    let commands = kitty_commands(&sequence);
    // 4,800 bytes of RGB are 6,400 of base64: two chunks.
    assert_eq!(commands.len(), 2);
    assert_eq!(
        commands[0].0,
        "a=T,f=24,s=40,v=40,c=28,r=14,i=7,C=1,q=2,m=1"
    );
    assert_eq!(commands[1].0, "m=0,q=2");
    let data: String = commands.iter().map(|(_, p)| p.as_str()).collect();
    let rgb = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    assert_eq!(rgb.len(), 4800);
    assert!(rgb.chunks(3).zip(&big.grey).all(|(px, &g)| px == [g, g, g]));
}

#[test]
fn iterm2_sends_a_png_of_the_picture_stretched_over_the_cells() {
    let graphics = Graphics {
        protocol: Protocol::Iterm2,
        cell: (10, 20),
    };
    let sequence = graphics.encode(&picture(Rect::new(1, 1, 4, 2)), 1);
    let body = sequence
        .strip_prefix("\x1b[2;2H\x1b]1337;File=")
        .and_then(|s| s.strip_suffix('\x07'))
        .expect("an OSC 1337 file");
    let (args, data) = body.split_once(':').expect("arguments, then data");
    let png = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    assert_eq!(
        args,
        format!(
            "inline=1;size={};width=4;height=2;preserveAspectRatio=0",
            png.len()
        )
    );
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 4);
    assert_eq!(u32::from_be_bytes([png[20], png[21], png[22], png[23]]), 3);
    let len = u32::from_be_bytes([png[33], png[34], png[35], png[36]]) as usize;
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&png[41..41 + len])
        .read_to_end(&mut raw)
        .expect("zlib");
    // Row 2 (filter byte, then RGB): 0, 0, 255, 255.
    assert_eq!(
        &raw[26..],
        &[0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255]
    );
}

#[test]
fn the_overlay_draws_only_changes_and_asks_for_a_redraw_when_a_cell_picture_goes() {
    let a = picture(Rect::new(0, 0, 4, 2));
    let b = picture(Rect::new(5, 0, 4, 2));
    let mut sixel = Overlay::new(Graphics {
        protocol: Protocol::Sixel,
        cell: (2, 3),
    });
    let mut out = Vec::new();
    assert_eq!(
        sixel.show(&[a.clone(), b.clone()], &mut out).unwrap(),
        Shown::Drawn
    );
    let written = String::from_utf8(out.clone()).unwrap();
    assert!(written.starts_with("\x1b7") && written.ends_with("\x1b8"));
    assert_eq!(written.matches("\x1bP0;1;0q").count(), 2);
    out.clear();
    assert_eq!(
        sixel.show(&[a.clone(), b.clone()], &mut out).unwrap(),
        Shown::Unchanged
    );
    assert!(out.is_empty());
    // New pixels in the same cells draw over the old.
    let mut brighter = a.clone();
    brighter.grey = vec![255; 12];
    assert_eq!(
        sixel.show(&[brighter, b.clone()], &mut out).unwrap(),
        Shown::Drawn
    );
    // One gone: the frame is redrawn first, then the rest drawn again.
    out.clear();
    assert_eq!(
        sixel.show(std::slice::from_ref(&b), &mut out).unwrap(),
        Shown::NeedsRedraw
    );
    assert!(out.is_empty());
    assert_eq!(
        sixel.show(std::slice::from_ref(&b), &mut out).unwrap(),
        Shown::Drawn
    );

    // Kitty takes its floating pictures off itself, also when none are left.
    let mut kitty = Overlay::new(Graphics {
        protocol: Protocol::Kitty,
        cell: (2, 3),
    });
    out.clear();
    assert_eq!(kitty.show(&[a, b], &mut out).unwrap(), Shown::Drawn);
    out.clear();
    assert_eq!(kitty.show(&[], &mut out).unwrap(), Shown::Drawn);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\x1b7\x1b_Ga=d,d=A,q=2\x1b\\\x1b8"
    );
}
