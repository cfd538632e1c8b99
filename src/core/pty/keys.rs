//! Key presses as the bytes a program on a terminal expects, spelled the way xterm sends them
//! (ctlseqs: "PC-Style Function Keys", "VT220-Style Function Keys", the keypad table and
//! modifyOtherKeys), so vim, less, fzf and readline see the keys they would see in xterm or tmux.
//!
//! Shift-Enter and Ctrl-Enter only reach us when the outer terminal reports them, which crossterm
//! does once the workspace has pushed keyboard enhancement flags (`DISAMBIGUATE_ESCAPE_CODES`);
//! keypad keys are told apart from the main keys only then too.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

use super::screen::TerminalModes;

pub(crate) const ESC: u8 = 0x1b;

/// The bytes to write to the child for `key`, or `None` for keys a terminal sends nothing for
/// (releases and repeats, lone modifiers, media keys, F13 and above).
pub fn encode_key(key: &KeyEvent, modes: &TerminalModes) -> Option<Vec<u8>> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let mods = key.modifiers;
    let param = modifier_param(mods);
    if modes.app_keypad && param.is_none() && key.state.contains(KeyEventState::KEYPAD) {
        if let Some(final_byte) = app_keypad_final(key.code) {
            return Some(vec![ESC, b'O', final_byte]);
        }
    }
    let bytes = match key.code {
        KeyCode::Char(c) => encode_char(c, mods),
        KeyCode::Enter if mods.intersects(KeyModifiers::SHIFT | KeyModifiers::CONTROL) => {
            // modifyOtherKeys: `CSI 27 ; m ; 13 ~`, the only spelling that keeps the modifier.
            format!("\x1b[27;{};13~", param.unwrap_or(1)).into_bytes()
        }
        KeyCode::Enter => alt_prefixed(mods, b"\r"),
        KeyCode::Tab if mods.contains(KeyModifiers::SHIFT) => alt_prefixed(mods, b"\x1b[Z"),
        KeyCode::Tab => alt_prefixed(mods, b"\t"),
        KeyCode::BackTab => alt_prefixed(mods, b"\x1b[Z"),
        KeyCode::Backspace if mods.contains(KeyModifiers::CONTROL) => alt_prefixed(mods, b"\x08"),
        KeyCode::Backspace => alt_prefixed(mods, b"\x7f"),
        KeyCode::Esc => alt_prefixed(mods, &[ESC]),
        KeyCode::Null => alt_prefixed(mods, b"\0"),
        KeyCode::Up => cursor_key(b'A', param, modes),
        KeyCode::Down => cursor_key(b'B', param, modes),
        KeyCode::Right => cursor_key(b'C', param, modes),
        KeyCode::Left => cursor_key(b'D', param, modes),
        KeyCode::Home => cursor_key(b'H', param, modes),
        KeyCode::End => cursor_key(b'F', param, modes),
        KeyCode::KeypadBegin => cursor_key(b'E', param, modes),
        KeyCode::Insert => tilde_key(2, param),
        KeyCode::Delete => tilde_key(3, param),
        KeyCode::PageUp => tilde_key(5, param),
        KeyCode::PageDown => tilde_key(6, param),
        KeyCode::F(n @ 1..=4) => {
            let final_byte = b'P' + (n - 1);
            match param {
                None => vec![ESC, b'O', final_byte],
                Some(m) => csi_with_modifier(m, final_byte),
            }
        }
        KeyCode::F(n @ 5..=12) => tilde_key(function_key_code(n), param),
        _ => return None,
    };
    Some(bytes)
}

/// The cursor keys' bytes for one press of Up (or Down) with no modifier, as the wheel sends
/// them under alternate scroll.
pub(crate) fn plain_cursor_key(up: bool, modes: &TerminalModes) -> Vec<u8> {
    cursor_key(if up { b'A' } else { b'B' }, None, modes)
}

/// xterm's modifier parameter: 1 + shift + 2·alt + 4·ctrl; `None` without any of them.
fn modifier_param(mods: KeyModifiers) -> Option<u8> {
    let mut param = 1;
    if mods.contains(KeyModifiers::SHIFT) {
        param += 1;
    }
    if mods.contains(KeyModifiers::ALT) {
        param += 2;
    }
    if mods.contains(KeyModifiers::CONTROL) {
        param += 4;
    }
    (param > 1).then_some(param)
}

/// A printable character as UTF-8, or its control byte with Ctrl; Alt puts ESC in front.
fn encode_char(c: char, mods: KeyModifiers) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(5);
    if mods.contains(KeyModifiers::ALT) {
        bytes.push(ESC);
    }
    match control_byte(c).filter(|_| mods.contains(KeyModifiers::CONTROL)) {
        Some(byte) => bytes.push(byte),
        None => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
    }
    bytes
}

/// The C0 byte Ctrl turns `c` into: `@ A–Z [ \ ] ^ _` (and lower-case letters) to 0x00–0x1f,
/// `?` to DEL, space to NUL, and the VT220 digits xterm keeps (`2` NUL, `3`–`7` ESC to US,
/// `8` DEL, plus `/` for US).
fn control_byte(c: char) -> Option<u8> {
    match c {
        '@'..='_' | 'a'..='z' => Some(c as u8 & 0x1f),
        ' ' | '2' => Some(0x00),
        '3'..='7' => Some(c as u8 - b'3' + 0x1b),
        '/' => Some(0x1f),
        '?' | '8' => Some(0x7f),
        _ => None,
    }
}

fn alt_prefixed(mods: KeyModifiers, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    if mods.contains(KeyModifiers::ALT) {
        out.push(ESC);
    }
    out.extend_from_slice(bytes);
    out
}

/// Arrows, Home, End and Begin: `CSI X` (`SS3 X` under DECCKM), `CSI 1;m X` when modified.
fn cursor_key(final_byte: u8, param: Option<u8>, modes: &TerminalModes) -> Vec<u8> {
    match param {
        Some(m) => csi_with_modifier(m, final_byte),
        None if modes.app_cursor => vec![ESC, b'O', final_byte],
        None => vec![ESC, b'[', final_byte],
    }
}

fn csi_with_modifier(param: u8, final_byte: u8) -> Vec<u8> {
    let mut bytes = format!("\x1b[1;{param}").into_bytes();
    bytes.push(final_byte);
    bytes
}

/// `CSI n ~`, or `CSI n;m ~` when modified.
fn tilde_key(code: u8, param: Option<u8>) -> Vec<u8> {
    match param {
        Some(m) => format!("\x1b[{code};{m}~").into_bytes(),
        None => format!("\x1b[{code}~").into_bytes(),
    }
}

/// F5–F12's VT220 codes (the gaps at 16 and 22 are historical).
fn function_key_code(n: u8) -> u8 {
    match n {
        5 => 15,
        6..=10 => n + 11,
        _ => n + 12,
    }
}

/// The final byte of `SS3 X` a keypad key sends in application keypad mode (DECKPAM); `None`
/// for the keypad's cursor keys, which follow DECCKM like the main ones.
fn app_keypad_final(code: KeyCode) -> Option<u8> {
    match code {
        KeyCode::Char(digit @ '0'..='9') => Some(b'p' + (digit as u8 - b'0')),
        KeyCode::Char('*') => Some(b'j'),
        KeyCode::Char('+') => Some(b'k'),
        KeyCode::Char(',') => Some(b'l'),
        KeyCode::Char('-') => Some(b'm'),
        KeyCode::Char('.') => Some(b'n'),
        KeyCode::Char('/') => Some(b'o'),
        KeyCode::Char('=') => Some(b'X'),
        KeyCode::Enter => Some(b'M'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    fn plain(code: KeyCode) -> Option<Vec<u8>> {
        encode_key(&press(code, KeyModifiers::NONE), &TerminalModes::default())
    }

    fn with(code: KeyCode, mods: KeyModifiers) -> Option<Vec<u8>> {
        encode_key(&press(code, mods), &TerminalModes::default())
    }

    fn app_cursor() -> TerminalModes {
        TerminalModes {
            app_cursor: true,
            ..TerminalModes::default()
        }
    }

    fn bytes(s: &str) -> Option<Vec<u8>> {
        Some(s.as_bytes().to_vec())
    }

    const CTRL: KeyModifiers = KeyModifiers::CONTROL;
    const ALT: KeyModifiers = KeyModifiers::ALT;
    const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

    #[test]
    fn printable_characters_are_sent_as_utf8() {
        assert_eq!(plain(KeyCode::Char('a')), bytes("a"));
        assert_eq!(with(KeyCode::Char('A'), SHIFT), bytes("A"));
        assert_eq!(plain(KeyCode::Char('é')), bytes("é"));
        assert_eq!(plain(KeyCode::Char('日')), bytes("日"));
        assert_eq!(plain(KeyCode::Char('🦀')), bytes("🦀"));
    }

    #[test]
    fn ctrl_letters_are_c0_controls_whatever_their_case() {
        assert_eq!(with(KeyCode::Char('a'), CTRL), bytes("\x01"));
        assert_eq!(with(KeyCode::Char('c'), CTRL), bytes("\x03"));
        assert_eq!(with(KeyCode::Char('z'), CTRL), bytes("\x1a"));
        assert_eq!(with(KeyCode::Char('A'), CTRL | SHIFT), bytes("\x01"));
        assert_eq!(with(KeyCode::Char('b'), CTRL), bytes("\x02"));
    }

    #[test]
    fn ctrl_symbols_follow_the_ascii_control_table() {
        for (c, byte) in [
            ('@', 0x00),
            (' ', 0x00),
            ('2', 0x00),
            ('[', 0x1b),
            ('3', 0x1b),
            ('\\', 0x1c),
            ('4', 0x1c),
            (']', 0x1d),
            ('5', 0x1d),
            ('^', 0x1e),
            ('6', 0x1e),
            ('_', 0x1f),
            ('7', 0x1f),
            ('/', 0x1f),
            ('?', 0x7f),
            ('8', 0x7f),
        ] {
            assert_eq!(with(KeyCode::Char(c), CTRL), Some(vec![byte]), "Ctrl-{c}");
        }
        // Nothing in the table: the character itself, as xterm sends it.
        assert_eq!(with(KeyCode::Char('1'), CTRL), bytes("1"));
        assert_eq!(with(KeyCode::Char('é'), CTRL), bytes("é"));
    }

    #[test]
    fn alt_puts_esc_before_the_key() {
        assert_eq!(with(KeyCode::Char('x'), ALT), bytes("\x1bx"));
        assert_eq!(with(KeyCode::Char('é'), ALT), bytes("\x1bé"));
        assert_eq!(with(KeyCode::Char('x'), ALT | CTRL), bytes("\x1b\x18"));
        assert_eq!(with(KeyCode::Backspace, ALT), bytes("\x1b\x7f"));
        assert_eq!(with(KeyCode::Enter, ALT), bytes("\x1b\r"));
        assert_eq!(with(KeyCode::Tab, ALT), bytes("\x1b\t"));
        assert_eq!(with(KeyCode::Esc, ALT), bytes("\x1b\x1b"));
    }

    #[test]
    fn editing_keys_send_their_controls() {
        assert_eq!(plain(KeyCode::Enter), bytes("\r"));
        assert_eq!(plain(KeyCode::Tab), bytes("\t"));
        assert_eq!(with(KeyCode::BackTab, SHIFT), bytes("\x1b[Z"));
        assert_eq!(with(KeyCode::Tab, SHIFT), bytes("\x1b[Z"));
        assert_eq!(plain(KeyCode::Backspace), bytes("\x7f"));
        assert_eq!(with(KeyCode::Backspace, CTRL), bytes("\x08"));
        assert_eq!(with(KeyCode::Backspace, CTRL | ALT), bytes("\x1b\x08"));
        assert_eq!(plain(KeyCode::Esc), bytes("\x1b"));
        assert_eq!(plain(KeyCode::Null), bytes("\0"));
    }

    #[test]
    fn shift_and_ctrl_enter_use_modify_other_keys() {
        assert_eq!(with(KeyCode::Enter, SHIFT), bytes("\x1b[27;2;13~"));
        assert_eq!(with(KeyCode::Enter, CTRL), bytes("\x1b[27;5;13~"));
        assert_eq!(with(KeyCode::Enter, CTRL | SHIFT), bytes("\x1b[27;6;13~"));
        assert_eq!(with(KeyCode::Enter, ALT | SHIFT), bytes("\x1b[27;4;13~"));
    }

    #[test]
    fn cursor_keys_follow_decckm() {
        let normal = TerminalModes::default();
        let app = app_cursor();
        for (code, final_byte) in [
            (KeyCode::Up, 'A'),
            (KeyCode::Down, 'B'),
            (KeyCode::Right, 'C'),
            (KeyCode::Left, 'D'),
            (KeyCode::Home, 'H'),
            (KeyCode::End, 'F'),
            (KeyCode::KeypadBegin, 'E'),
        ] {
            let key = press(code, KeyModifiers::NONE);
            assert_eq!(
                encode_key(&key, &normal),
                bytes(&format!("\x1b[{final_byte}"))
            );
            assert_eq!(encode_key(&key, &app), bytes(&format!("\x1bO{final_byte}")));
        }
    }

    #[test]
    fn modified_cursor_keys_use_csi_1_m_in_both_cursor_modes() {
        for modes in [TerminalModes::default(), app_cursor()] {
            let key = |code, mods| encode_key(&press(code, mods), &modes);
            assert_eq!(key(KeyCode::Up, SHIFT), bytes("\x1b[1;2A"));
            assert_eq!(key(KeyCode::Down, ALT), bytes("\x1b[1;3B"));
            assert_eq!(key(KeyCode::Right, ALT | SHIFT), bytes("\x1b[1;4C"));
            assert_eq!(key(KeyCode::Left, CTRL), bytes("\x1b[1;5D"));
            assert_eq!(key(KeyCode::Home, CTRL | SHIFT), bytes("\x1b[1;6H"));
            assert_eq!(key(KeyCode::End, CTRL | ALT), bytes("\x1b[1;7F"));
            assert_eq!(key(KeyCode::Up, CTRL | ALT | SHIFT), bytes("\x1b[1;8A"));
        }
    }

    #[test]
    fn editing_block_keys_use_vt220_tilde_codes() {
        assert_eq!(plain(KeyCode::Insert), bytes("\x1b[2~"));
        assert_eq!(plain(KeyCode::Delete), bytes("\x1b[3~"));
        assert_eq!(plain(KeyCode::PageUp), bytes("\x1b[5~"));
        assert_eq!(plain(KeyCode::PageDown), bytes("\x1b[6~"));
        assert_eq!(with(KeyCode::Delete, CTRL), bytes("\x1b[3;5~"));
        assert_eq!(with(KeyCode::PageUp, SHIFT), bytes("\x1b[5;2~"));
        assert_eq!(with(KeyCode::Insert, ALT), bytes("\x1b[2;3~"));
    }

    #[test]
    fn function_keys() {
        let expected = [
            "\x1bOP", "\x1bOQ", "\x1bOR", "\x1bOS", "\x1b[15~", "\x1b[17~", "\x1b[18~", "\x1b[19~",
            "\x1b[20~", "\x1b[21~", "\x1b[23~", "\x1b[24~",
        ];
        for (n, want) in (1..=12).zip(expected) {
            assert_eq!(plain(KeyCode::F(n)), bytes(want), "F{n}");
        }
        assert_eq!(plain(KeyCode::F(13)), None);
    }

    #[test]
    fn modified_function_keys() {
        assert_eq!(with(KeyCode::F(1), SHIFT), bytes("\x1b[1;2P"));
        assert_eq!(with(KeyCode::F(4), CTRL), bytes("\x1b[1;5S"));
        assert_eq!(with(KeyCode::F(5), SHIFT), bytes("\x1b[15;2~"));
        assert_eq!(with(KeyCode::F(12), CTRL | ALT), bytes("\x1b[24;7~"));
    }

    #[test]
    fn keypad_keys_send_ss3_only_in_application_keypad_mode() {
        let keypad = |code| {
            KeyEvent::new_with_kind_and_state(
                code,
                KeyModifiers::NONE,
                KeyEventKind::Press,
                KeyEventState::KEYPAD,
            )
        };
        let app = TerminalModes {
            app_keypad: true,
            ..TerminalModes::default()
        };
        for (code, want) in [
            (KeyCode::Char('0'), "\x1bOp"),
            (KeyCode::Char('5'), "\x1bOu"),
            (KeyCode::Char('9'), "\x1bOy"),
            (KeyCode::Char('*'), "\x1bOj"),
            (KeyCode::Char('+'), "\x1bOk"),
            (KeyCode::Char(','), "\x1bOl"),
            (KeyCode::Char('-'), "\x1bOm"),
            (KeyCode::Char('.'), "\x1bOn"),
            (KeyCode::Char('/'), "\x1bOo"),
            (KeyCode::Char('='), "\x1bOX"),
            (KeyCode::Enter, "\x1bOM"),
        ] {
            assert_eq!(encode_key(&keypad(code), &app), bytes(want), "{code:?}");
        }
        // Numeric keypad mode, or the main keyboard's keys: the plain characters.
        let numeric = TerminalModes::default();
        assert_eq!(
            encode_key(&keypad(KeyCode::Char('5')), &numeric),
            bytes("5")
        );
        assert_eq!(encode_key(&keypad(KeyCode::Enter), &numeric), bytes("\r"));
        let main_five = press(KeyCode::Char('5'), KeyModifiers::NONE);
        assert_eq!(encode_key(&main_five, &app), bytes("5"));
        // The keypad's arrows follow the cursor mode like the main arrows.
        assert_eq!(encode_key(&keypad(KeyCode::Up), &app), bytes("\x1b[A"));
    }

    #[test]
    fn releases_repeats_and_unencodable_keys_send_nothing() {
        let modes = TerminalModes::default();
        for kind in [KeyEventKind::Release, KeyEventKind::Repeat] {
            let key = KeyEvent::new_with_kind(KeyCode::Char('a'), KeyModifiers::NONE, kind);
            assert_eq!(encode_key(&key, &modes), None);
        }
        assert_eq!(plain(KeyCode::CapsLock), None);
        assert_eq!(plain(KeyCode::Menu), None);
    }
}
