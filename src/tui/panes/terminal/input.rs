//! What a terminal pane does with keys, pastes and the mouse: copy mode takes them while it is
//! on; a pane whose program ended answers `r` and `x`; otherwise they are encoded for the
//! program the way it asked (`core::pty::{keys, paste, mouse}`).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use crate::core::pty::keys::encode_key;
use crate::core::pty::mouse::{encode_mouse, wheel_as_keys};
use crate::core::pty::paste::encode_paste;
use crate::tui::pane::{AppAction, KeyOutcome};

use super::copy::{CopyMode, CopyOutcome};
use super::TerminalPane;

/// Lines one wheel notch scrolls the pane's history.
const WHEEL_LINES: i32 = 3;

pub fn key(pane: &mut TerminalPane, key: KeyEvent) -> KeyOutcome {
    if let (Some(copy), Some(session)) = (&mut pane.copy, &pane.session) {
        let outcome = copy.key(key, &**session.screen());
        return match outcome {
            CopyOutcome::Stay => KeyOutcome::Consumed,
            CopyOutcome::Leave => {
                pane.copy = None;
                KeyOutcome::Consumed
            }
            CopyOutcome::Copy(text) => {
                pane.copy = None;
                KeyOutcome::Actions(vec![AppAction::Copy(text)])
            }
        };
    }
    if pane.ended().is_some() {
        let plain = key.modifiers.difference(KeyModifiers::SHIFT).is_empty();
        return match key.code {
            KeyCode::Char('r') if plain && pane.can_restart() => {
                pane.restart();
                KeyOutcome::Consumed
            }
            KeyCode::Char('x') if plain => KeyOutcome::Actions(vec![AppAction::ClosePane]),
            _ => KeyOutcome::Ignored,
        };
    }
    let Some(session) = &pane.session else {
        return KeyOutcome::Ignored;
    };
    let modes = session.screen().modes();
    match encode_key(&key, &modes) {
        Some(bytes) => pane.write(&bytes),
        None => KeyOutcome::Ignored,
    }
}

pub fn paste(pane: &mut TerminalPane, text: &str) -> KeyOutcome {
    if let Some(copy) = &mut pane.copy {
        return if copy.paste(text) {
            KeyOutcome::Consumed
        } else {
            KeyOutcome::Ignored
        };
    }
    let Some(session) = &pane.session else {
        return KeyOutcome::Ignored;
    };
    if pane.ended().is_some() {
        return KeyOutcome::Ignored;
    }
    let bytes = encode_paste(text, &session.screen().modes());
    pane.write(&bytes)
}

/// Mouse reports go to a program that asked for them; otherwise the wheel scrolls the pane's
/// history (in copy mode, entered on the first notch up) or, on the alternate screen, becomes
/// cursor keys when the program asked for that (less, man).
pub fn mouse(pane: &mut TerminalPane, mouse: MouseEvent, area: Rect) -> KeyOutcome {
    let Some(session) = &pane.session else {
        return KeyOutcome::Ignored;
    };
    if pane.copy.is_none() && pane.ended().is_none() {
        let (modes, size) = {
            let screen = session.screen();
            (screen.modes(), screen.size())
        };
        let report = encode_mouse(&mouse, (area.x, area.y), size, &modes)
            .or_else(|| wheel_as_keys(&mouse, &modes));
        if let Some(bytes) = report {
            return pane.write(&bytes);
        }
    }
    let lines = match mouse.kind {
        MouseEventKind::ScrollUp => -WHEEL_LINES,
        MouseEventKind::ScrollDown => WHEEL_LINES,
        _ => return KeyOutcome::Ignored,
    };
    let screen = session.screen();
    if pane.copy.is_none() {
        if lines > 0 || screen.history_len() == 0 {
            return KeyOutcome::Ignored;
        }
        pane.copy = Some(CopyMode::new(&**screen));
    }
    if let Some(copy) = &mut pane.copy {
        copy.follow(&**screen);
        copy.scroll_by(lines);
    }
    KeyOutcome::Consumed
}
