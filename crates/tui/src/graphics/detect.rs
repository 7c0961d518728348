//! Finding out which graphics protocol the terminal speaks. Three queries
//! go out at once — kitty's (a one-pixel picture it only checks), the cell
//! size in pixels (`CSI 16 t`) and the primary device attributes
//! (`CSI c`, which every terminal answers, so its reply ends the wait); a
//! sixel terminal lists attribute 4 there. iTerm2 and WezTerm are known
//! by their environment. What the user set in `graphics:` wins.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Graphics, Protocol};

/// `graphics:` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    /// Ask the terminal.
    #[default]
    Auto,
    /// Half blocks only (also what a terminal without graphics gets).
    HalfBlocks,
    Kitty,
    Sixel,
    Iterm2,
}

/// Kitty's query: a one-pixel picture it only checks.
const KITTY_QUERY: &str = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\";
/// The cell size in pixels, then the device attributes (answered last).
const CELL_AND_ATTRIBUTES_QUERY: &str = "\x1b[16t\x1b[c";

/// Whether the program runs inside tmux or GNU screen. Both take an APC
/// (`ESC _ … ESC \`) as a new window title, so kitty's query would rename
/// the user's pane; neither passes kitty pictures through anyway.
pub fn inside_multiplexer(env: impl Fn(&str) -> Option<String>) -> bool {
    let term = env("TERM").unwrap_or_default();
    env("TMUX").is_some()
        || env("STY").is_some()
        || term.starts_with("screen")
        || term.starts_with("tmux")
}

/// The queries to write together: all three, or without kitty's inside a
/// multiplexer.
pub fn query(env: impl Fn(&str) -> Option<String>) -> String {
    if inside_multiplexer(env) {
        CELL_AND_ATTRIBUTES_QUERY.to_string()
    } else {
        format!("{KITTY_QUERY}{CELL_AND_ATTRIBUTES_QUERY}")
    }
}

/// What the terminal answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reply {
    /// Kitty's query came back `OK`.
    pub kitty: bool,
    /// The device attributes list 4.
    pub sixel: bool,
    /// One cell in pixels (width, height), when the terminal said.
    pub cell: Option<(u16, u16)>,
    /// The device attributes arrived (the last reply of the three).
    pub complete: bool,
}

/// The replies found in `bytes` (other bytes, keys typed meanwhile, are
/// skipped).
pub fn parse(bytes: &[u8]) -> Reply {
    let mut reply = Reply::default();
    let text = String::from_utf8_lossy(bytes);
    let mut rest = text.as_ref();
    while let Some(at) = rest.find('\x1b') {
        rest = &rest[at + 1..];
        if let Some(apc) = rest.strip_prefix("_G") {
            // ESC _ G i=31;OK ESC \
            let body = apc.split('\x1b').next().unwrap_or("");
            reply.kitty |= body.starts_with("i=31;") && body.ends_with("OK");
        } else if let Some(csi) = rest.strip_prefix('[') {
            let end = csi.find(|c: char| c.is_ascii_alphabetic() || c == '~');
            let Some(end) = end else { break };
            let (params, kind) = (&csi[..end], &csi[end..=end]);
            match kind {
                "c" if params.starts_with('?') => {
                    reply.sixel |= params[1..].split(';').any(|p| p == "4");
                    reply.complete = true;
                }
                "t" => {
                    let fields: Vec<u16> =
                        params.split(';').filter_map(|p| p.parse().ok()).collect();
                    if let [6, h, w] = fields[..] {
                        if h > 0 && w > 0 {
                            reply.cell = Some((w, h));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    reply
}

/// The cell size when nothing says: a common 10 × 20 pixels.
const DEFAULT_CELL: (u16, u16) = (10, 20);

/// The graphics to draw with, from the setting, the environment (`env`
/// reads a variable) and the terminal's reply (`None`: it was not asked,
/// not being a terminal). `window_cell` is the cell size the kernel knows
/// (from the window's size in pixels), if any.
pub fn choose(
    setting: Setting,
    env: impl Fn(&str) -> Option<String>,
    reply: Option<&Reply>,
    window_cell: Option<(u16, u16)>,
) -> Option<Graphics> {
    let cell = reply
        .and_then(|r| r.cell)
        .or(window_cell)
        .unwrap_or(DEFAULT_CELL);
    let with = |protocol| Some(Graphics { protocol, cell });
    match setting {
        Setting::HalfBlocks => None,
        Setting::Kitty => with(Protocol::Kitty),
        Setting::Sixel => with(Protocol::Sixel),
        Setting::Iterm2 => with(Protocol::Iterm2),
        Setting::Auto => {
            let reply = reply?;
            let var = |k: &str| env(k).unwrap_or_default();
            let iterm2 = matches!(var("TERM_PROGRAM").as_str(), "iTerm.app" | "WezTerm")
                || var("LC_TERMINAL") == "iTerm2";
            if iterm2 {
                with(Protocol::Iterm2)
            } else if reply.kitty {
                with(Protocol::Kitty)
            } else if reply.sixel {
                with(Protocol::Sixel)
            } else {
                None
            }
        }
    }
}

/// How long the terminal has to answer.
const WAIT: Duration = Duration::from_millis(1000);

/// Sends [`query`] (for this process's environment) and reads the replies from standard input, which must
/// be the terminal in raw mode, before anything else reads it. `None`
/// when standard input is not a terminal.
#[allow(unsafe_code)]
pub fn query_terminal(out: &mut impl std::io::Write) -> std::io::Result<Option<Reply>> {
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(0) } != 1 {
        return Ok(None);
    }
    out.write_all(query(|k| std::env::var(k).ok()).as_bytes())?;
    out.flush()?;
    let start = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 256];
    while bytes.len() < 64 * 1024 {
        let left = WAIT.saturating_sub(start.elapsed());
        if left.is_zero() {
            break;
        }
        let mut fd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `fd` is one valid pollfd for the length 1 given.
        let ready = unsafe { libc::poll(&mut fd, 1, ms) };
        if ready <= 0 {
            break;
        }
        // SAFETY: `buf` is writable for the length given.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        let Ok(n) = usize::try_from(n) else { break };
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        if parse(&bytes).complete {
            break;
        }
    }
    let reply = parse(&bytes);
    tracing::info!("terminal graphics reply: {reply:?}");
    Ok(Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn replies_are_read_from_whatever_arrives() {
        let kitty = parse(b"\x1b_Gi=31;OK\x1b\\\x1b[6;18;9t\x1b[?62;22c");
        assert_eq!(
            kitty,
            Reply {
                kitty: true,
                sixel: false,
                cell: Some((9, 18)),
                complete: true
            }
        );
        let sixel = parse(b"x\x1b[?62;4;6;22c");
        assert!(sixel.sixel && !sixel.kitty && sixel.complete);
        assert_eq!(sixel.cell, None);
        // A kitty error, attribute 42 (not 4), and no reply yet.
        let neither = parse(b"\x1b_Gi=31;ENOTSUPPORTED\x1b\\\x1b[?1;42c");
        assert!(!neither.kitty && !neither.sixel && neither.complete);
        assert!(!parse(b"\x1b[6;20;10t").complete);
    }

    #[test]
    fn inside_tmux_or_screen_no_apc_goes_out() {
        let env_of = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let plain = query(env_of(&[("TERM", "xterm-256color")]));
        assert!(plain.starts_with("\x1b_G") && plain.ends_with("\x1b[c"));
        for pairs in [
            &[("TMUX", "/tmp/tmux-0/default,1,0"), ("TERM", "xterm")][..],
            &[("TERM", "tmux-256color")][..],
            &[("TERM", "screen.xterm-256color")][..],
            &[("STY", "1.pts-0.host"), ("TERM", "xterm")][..],
        ] {
            let q = query(env_of(pairs));
            assert!(!q.contains("\x1b_"), "{pairs:?}: {q:?}");
            assert!(q.ends_with("\x1b[16t\x1b[c"), "{pairs:?}: {q:?}");
        }
    }

    #[test]
    fn the_setting_wins_and_auto_follows_the_terminal() {
        let sixel = Reply {
            sixel: true,
            complete: true,
            ..Reply::default()
        };
        let chosen = |setting, reply: Option<&Reply>| {
            choose(setting, no_env, reply, None).map(|g| g.protocol)
        };
        assert_eq!(chosen(Setting::Auto, Some(&sixel)), Some(Protocol::Sixel));
        assert_eq!(chosen(Setting::Auto, Some(&Reply::default())), None);
        assert_eq!(chosen(Setting::Auto, None), None);
        assert_eq!(chosen(Setting::HalfBlocks, Some(&sixel)), None);
        assert_eq!(chosen(Setting::Kitty, None), Some(Protocol::Kitty));
        let both = Reply {
            kitty: true,
            ..sixel
        };
        assert_eq!(chosen(Setting::Auto, Some(&both)), Some(Protocol::Kitty));
        let iterm = |k: &str| (k == "TERM_PROGRAM").then(|| "iTerm.app".to_string());
        let g = choose(Setting::Auto, iterm, Some(&both), Some((8, 16)));
        assert_eq!(
            g.map(|g| (g.protocol, g.cell)),
            Some((Protocol::Iterm2, (8, 16)))
        );
        // The terminal's own cell size beats the kernel's.
        let sized = Reply {
            cell: Some((7, 14)),
            ..sixel
        };
        let g = choose(Setting::Auto, no_env, Some(&sized), Some((8, 16)));
        assert_eq!(g.map(|g| g.cell), Some((7, 14)));
    }
}
