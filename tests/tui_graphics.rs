//! The terminal app's pictures through a terminal's graphics protocol: the
//! real binary on a pseudo-terminal whose other end this test plays. It
//! answers the app's graphics queries as a sixel terminal, a kitty
//! terminal, iTerm2 or a terminal without graphics would, opens the images
//! pane, samples, and reads the pictures the app writes.

#![allow(unsafe_code)]

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// 100 × 30 cells of 10 × 20 pixels.
const COLS: u16 = 100;
const ROWS: u16 = 30;

/// The app on a pseudo-terminal, and everything it wrote.
struct Terminal {
    master: File,
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    _dir: tempfile::TempDir,
}

impl Terminal {
    fn start(env: &[(&str, &str)]) -> Terminal {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        common::link_image_datasets(&d.join("cache"));

        let size = libc::winsize {
            ws_row: ROWS,
            ws_col: COLS,
            ws_xpixel: COLS * 10,
            ws_ypixel: ROWS * 20,
        };
        let (mut master, mut slave) = (0, 0);
        // SAFETY: both out-pointers are valid; no name or termios is asked for.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty returned two open descriptors that nothing else owns.
        let (master, slave) = unsafe { (File::from_raw_fd(master), File::from_raw_fd(slave)) };
        let io = |f: &File| Stdio::from(f.try_clone().expect("dup"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_promptlab"));
        command
            .args(["--model"])
            .arg(common::default_model_path())
            .current_dir(d)
            .env("HOME", d)
            .env("XDG_DATA_HOME", d.join("data"))
            .env("XDG_CONFIG_HOME", d.join("config"))
            .env("PROMPTLAB_CACHE_DIR", d.join("cache"))
            .env("TERM", "xterm-256color")
            .env_remove("TERM_PROGRAM")
            .env_remove("LC_TERMINAL")
            .env_remove("TMUX")
            .stdin(io(&slave))
            .stdout(io(&slave))
            .stderr(io(&slave));
        for (k, v) in env {
            command.env(k, v);
        }
        // SAFETY: setsid and ioctl are async-signal-safe; the child makes
        // the pseudo-terminal (its stdin) its controlling terminal.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("the app starts");
        drop(slave);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().expect("dup");
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("output").extend_from_slice(&buf[..n]);
            }
        });
        Terminal {
            master,
            child,
            output,
            _dir: dir,
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().expect("output")).into_owned()
    }

    fn len(&self) -> usize {
        self.output.lock().expect("output").len()
    }

    /// Waits until what the app wrote after byte `from` satisfies `done`.
    fn wait_for(&self, what: &str, from: usize, timeout: Duration, done: impl Fn(&str) -> bool) {
        let start = Instant::now();
        loop {
            let all = self.output.lock().expect("output").clone();
            let text = String::from_utf8_lossy(&all[from.min(all.len())..]).into_owned();
            if done(&text) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}; the app wrote (last 2,000 bytes): {:?}",
                &text[text.len().saturating_sub(2000)..]
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, bytes: &str) {
        self.master.write_all(bytes.as_bytes()).expect("typing");
        self.master.flush().expect("typing");
    }

    /// Answers the graphics queries with `reply`, opens the images pane and
    /// samples from the VAE; returns where the samples' output starts.
    fn sample(&mut self, reply: &str) -> usize {
        self.wait_for("the graphics queries", 0, Duration::from_secs(20), |s| {
            s.contains("\x1b_Gi=31,s=1,v=1,a=q") && s.contains("\x1b[16t\x1b[c")
        });
        self.send(reply);
        self.wait_for("the first frame", 0, Duration::from_secs(20), |s| {
            s.contains("\x1b[?1049h") && s.contains("help")
        });
        self.send("\x1b[17~"); // F6
        self.wait_for("the images pane", 0, Duration::from_secs(10), |s| {
            s.contains("CNN")
        });
        let from = self.len();
        self.send("s");
        self.wait_for("labelled samples", from, Duration::from_secs(60), |s| {
            s.contains("labelled")
        });
        // The pictures follow the frame.
        std::thread::sleep(Duration::from_millis(500));
        from
    }

    fn quit(mut self) {
        self.send("\x11"); // Ctrl+Q
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "the app exited with {status}");
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the app did not quit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Each sixel DCS in `s`: its raster size and the grey registers it paints.
fn sixels(s: &str) -> Vec<((usize, usize), Vec<usize>)> {
    s.split("\x1bP0;1;0q")
        .skip(1)
        .map(|part| {
            let body = part.split("\x1b\\").next().expect("terminated");
            let raster: Vec<usize> = body[1..]
                .split(|c: char| !c.is_ascii_digit() && c != ';')
                .next()
                .expect("raster")
                .split(';')
                .map(|n| n.parse().expect("a number"))
                .collect();
            // `#k` alone selects register k to paint with; `#k;2;…` defines it.
            let painted: Vec<usize> = body
                .split('#')
                .skip(1)
                .filter_map(|sel| {
                    let digits: String = sel.chars().take_while(char::is_ascii_digit).collect();
                    let defined = sel[digits.len()..].starts_with(';');
                    (!defined).then(|| digits.parse().expect("a register"))
                })
                .collect();
            ((raster[2], raster[3]), painted)
        })
        .collect()
}

#[test]
fn a_sixel_terminal_gets_each_sample_as_a_sixel_picture_over_its_cells() {
    let mut t = Terminal::start(&[]);
    let from = t.sample("\x1b[6;20;10t\x1b[?62;4;22c");
    let after = &t.output()[from..];
    let pictures = sixels(after);
    // 16 samples at half size: 14 × 7 cells of 10 × 20 pixels each.
    assert_eq!(pictures.len(), 16, "{:?}", &after[..after.len().min(3000)]);
    for (size, painted) in &pictures {
        assert_eq!(*size, (140, 140));
        // A digit: black ground, bright strokes (a VAE's are soft), greys between.
        assert!(painted.contains(&0), "{painted:?}");
        assert!(painted.iter().any(|&k| k >= 10), "{painted:?}");
        assert!(painted.len() >= 4, "{painted:?}");
    }
    // The help covers the grid: the frame is redrawn without pictures.
    let from = t.len();
    t.send("\x1bOP"); // F1
    t.wait_for("the help", from, Duration::from_secs(10), |s| {
        s.contains("images pane keys")
    });
    std::thread::sleep(Duration::from_millis(300));
    let help = &t.output()[from..];
    assert!(help.contains("\x1b[2J"), "cleared before the help");
    assert!(help.contains("pictures: sixel"), "the help says how");
    assert!(sixels(help).is_empty());
    // Closing it draws them again.
    let from = t.len();
    t.send("x");
    t.wait_for("the pictures again", from, Duration::from_secs(10), |s| {
        sixels(s).len() == 16
    });
    t.quit();
}

#[test]
fn a_kitty_terminal_gets_the_rgb_and_the_pictures_go_with_the_pane() {
    let mut t = Terminal::start(&[]);
    let from = t.sample("\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[?62;22c");
    let after = t.output()[from..].to_string();
    let starts: Vec<&str> = after.split("\x1b_Ga=T,").skip(1).collect();
    assert_eq!(starts.len(), 16);
    for start in &starts {
        assert!(start.starts_with("f=24,s=28,v=28,c=14,r=7,"), "{start:.60}");
        // 28 × 28 RGB = 2,352 bytes, 3,136 of base64: one chunk.
        let (keys, rest) = start.split_once(';').expect("keys, then data");
        assert!(keys.ends_with("m=0"), "{keys}");
        let data = rest.split("\x1b\\").next().expect("terminated");
        let rgb = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64");
        assert_eq!(rgb.len(), 28 * 28 * 3);
        assert!(rgb.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]));
        assert!(rgb.iter().any(|&v| v > 200) && rgb.iter().any(|&v| v < 30));
    }
    // Leaving the pane takes them off.
    let from = t.len();
    t.send("\x1b[17~"); // F6
    t.wait_for("the pictures removed", from, Duration::from_secs(10), |s| {
        s.contains("\x1b_Ga=d,d=A,q=2\x1b\\")
    });
    assert!(!t.output()[from..].contains("a=T,"));
    t.quit();
}

#[test]
fn iterm2_gets_inline_pngs_and_a_plain_terminal_gets_half_blocks_only() {
    let mut t = Terminal::start(&[("TERM_PROGRAM", "iTerm.app")]);
    let from = t.sample("\x1b[?62;22c");
    let after = t.output()[from..].to_string();
    let files: Vec<&str> = after.split("\x1b]1337;File=").skip(1).collect();
    assert_eq!(files.len(), 16);
    for file in &files {
        let (args, rest) = file.split_once(':').expect("arguments, then data");
        assert!(args.starts_with("inline=1;size="), "{args}");
        assert!(
            args.ends_with(";width=14;height=7;preserveAspectRatio=0"),
            "{args}"
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(rest.split('\x07').next().expect("terminated"))
            .expect("base64");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[16..24], &[0, 0, 0, 28, 0, 0, 0, 28]);
    }
    t.quit();

    let mut plain = Terminal::start(&[]);
    let from = plain.sample("\x1b[?62;22c");
    let after = plain.output()[from..].to_string();
    assert!(after.contains('▀'), "half blocks");
    for marker in ["\x1bP", "\x1b_G", "\x1b]1337;"] {
        assert!(
            !after.contains(marker),
            "{marker:?} sent to a plain terminal"
        );
    }
    plain.quit();
}
