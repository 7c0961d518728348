//! One key with its modifiers: parsed from config.yaml's spelling
//! (`ctrl+r`, `f2`, `alt+enter`, …), written back the same way for help and
//! hints, and compared with crossterm's key events.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Why a key's spelling does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("empty key")]
    Empty,
    #[error("unknown modifier `{}`", crate::text::clip_end(.0, 40))]
    UnknownModifier(String),
    #[error("unknown key `{}`", crate::text::clip_end(.0, 40))]
    UnknownKey(String),
}

/// A key with modifiers, comparable with crossterm's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) code: KeyCode,
    pub(crate) modifiers: KeyModifiers,
}

impl Key {
    pub(crate) fn from_event(event: &KeyEvent) -> Key {
        let mut modifiers = event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        // Shift is part of the character for printable keys.
        if !matches!(event.code, KeyCode::Char(_)) {
            modifiers |= event.modifiers & KeyModifiers::SHIFT;
        }
        let code = match event.code {
            KeyCode::Char(c) if modifiers.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        Key { code, modifiers }
    }

    /// Parses `ctrl+r`, `alt+enter`, `shift+tab`, `f2`, `esc`, `x`.
    pub(crate) fn parse(text: &str) -> Result<Key, KeyError> {
        let lower = text.trim().to_ascii_lowercase();
        let mut parts: Vec<&str> = lower.split('+').collect();
        // "ctrl++" binds the plus key.
        if lower.ends_with("++") {
            parts.truncate(parts.len() - 2);
            parts.push("+");
        }
        let name = parts
            .pop()
            .filter(|n| !n.is_empty())
            .ok_or(KeyError::Empty)?;
        let mut modifiers = KeyModifiers::NONE;
        for m in parts {
            modifiers |= match m {
                "ctrl" | "control" => KeyModifiers::CONTROL,
                "alt" | "meta" => KeyModifiers::ALT,
                "shift" => KeyModifiers::SHIFT,
                other => return Err(KeyError::UnknownModifier(other.to_string())),
            };
        }
        let code = match name {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            f if f.starts_with('f') && f.len() > 1 => {
                let n: u8 = f[1..]
                    .parse()
                    .map_err(|_| KeyError::UnknownKey(f.to_string()))?;
                KeyCode::F(n)
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            other => return Err(KeyError::UnknownKey(other.to_string())),
        };
        Ok(Key { code, modifiers })
    }

    /// The key as config.yaml writes it.
    pub(crate) fn label(&self) -> String {
        let mut out = String::new();
        for (flag, name) in [
            (KeyModifiers::CONTROL, "ctrl+"),
            (KeyModifiers::ALT, "alt+"),
            (KeyModifiers::SHIFT, "shift+"),
        ] {
            if self.modifiers.contains(flag) {
                out.push_str(name);
            }
        }
        match self.code {
            KeyCode::Enter => out.push_str("enter"),
            KeyCode::Esc => out.push_str("esc"),
            KeyCode::Tab => out.push_str("tab"),
            KeyCode::Up => out.push_str("up"),
            KeyCode::Down => out.push_str("down"),
            KeyCode::Left => out.push_str("left"),
            KeyCode::Right => out.push_str("right"),
            KeyCode::PageUp => out.push_str("pageup"),
            KeyCode::PageDown => out.push_str("pagedown"),
            KeyCode::F(n) => out.push_str(&format!("f{n}")),
            KeyCode::Char(' ') => out.push_str("space"),
            KeyCode::Char(c) => out.push(c),
            other => out.push_str(&format!("{other:?}").to_ascii_lowercase()),
        }
        out
    }
}
