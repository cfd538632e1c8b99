//! Mouse events as the reports a child that enabled mouse tracking reads (xterm ctlseqs, "Mouse
//! Tracking"), in the pane's own coordinates; and the wheel as cursor keys under alternate scroll.

use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::keys::{plain_cursor_key, ESC};
use super::screen::{GridSize, MouseTracking, TerminalModes};

/// Added to the button code of a motion report.
const MOTION: u8 = 32;
/// The button code of the wheel's first direction (up); down, left and right follow.
const WHEEL: u8 = 64;
/// The legacy encodings' button code for "a button was released" (they cannot say which).
const LEGACY_RELEASE: u8 = 3;
/// Legacy reports add 32 to each value so it is printable.
const LEGACY_OFFSET: u32 = 32;
/// The largest coordinate a legacy report can carry in one byte (255 − 32).
const MAX_X10_COORDINATE: u32 = 223;
/// The largest coordinate the UTF-8 form (1005) can carry (2047 − 32, two UTF-8 bytes).
const MAX_UTF8_COORDINATE: u32 = 2015;
/// Lines one wheel notch scrolls under alternate scroll, as xterm and tmux do.
const LINES_PER_NOTCH: usize = 3;

/// The report for `event` (in outer-terminal cells) for a pane whose top-left cell is at
/// `pane_origin` (column, row), or `None` when the child did not ask for this kind of event,
/// the event is outside the pane, or the encoding cannot carry its position.
pub fn encode_mouse(
    event: &MouseEvent,
    pane_origin: (u16, u16),
    pane_size: GridSize,
    modes: &TerminalModes,
) -> Option<Vec<u8>> {
    let wanted = match event.kind {
        MouseEventKind::Moved => modes.mouse == MouseTracking::Motion,
        MouseEventKind::Drag(_) => {
            matches!(modes.mouse, MouseTracking::Drag | MouseTracking::Motion)
        }
        _ => modes.mouse != MouseTracking::Off,
    };
    if !wanted {
        return None;
    }
    let x = pane_coordinate(event.column, pane_origin.0, pane_size.cols)?;
    let y = pane_coordinate(event.row, pane_origin.1, pane_size.rows)?;
    let released = matches!(event.kind, MouseEventKind::Up(_));
    let button = button_code(event.kind, modes.mouse_sgr) + modifier_bits(event.modifiers);
    if modes.mouse_sgr {
        let final_byte = if released { 'm' } else { 'M' };
        return Some(format!("\x1b[<{button};{x};{y}{final_byte}").into_bytes());
    }
    let max = if modes.mouse_utf8 {
        MAX_UTF8_COORDINATE
    } else {
        MAX_X10_COORDINATE
    };
    if x > max || y > max {
        return None;
    }
    let mut bytes = vec![ESC, b'[', b'M'];
    for value in [u32::from(button), x, y] {
        let value = value + LEGACY_OFFSET;
        if modes.mouse_utf8 {
            bytes.extend_from_slice(char::from_u32(value)?.encode_utf8(&mut [0; 4]).as_bytes());
        } else {
            bytes.push(u8::try_from(value).ok()?);
        }
    }
    Some(bytes)
}

/// Under alternate scroll (1007), while the alternate screen is shown and the child tracks no
/// mouse, a wheel notch is three presses of Up or Down: less, man and vim scroll with the wheel.
pub fn wheel_as_keys(event: &MouseEvent, modes: &TerminalModes) -> Option<Vec<u8>> {
    if !modes.alternate_scroll || !modes.alt_screen || modes.mouse != MouseTracking::Off {
        return None;
    }
    let up = match event.kind {
        MouseEventKind::ScrollUp => true,
        MouseEventKind::ScrollDown => false,
        _ => return None,
    };
    Some(plain_cursor_key(up, modes).repeat(LINES_PER_NOTCH))
}

/// The 1-based position inside the pane of outer-terminal cell `cell`, if it is inside.
fn pane_coordinate(cell: u16, origin: u16, extent: u16) -> Option<u32> {
    let offset = cell.checked_sub(origin)?;
    (offset < extent).then_some(u32::from(offset) + 1)
}

/// The button part of the report: 0–2 for left, middle, right; +32 while moving; 64–67 for the
/// wheel. A release is reported with its button under SGR and as "3" in the legacy forms.
fn button_code(kind: MouseEventKind, sgr: bool) -> u8 {
    match kind {
        MouseEventKind::Down(button) => button_number(button),
        MouseEventKind::Up(button) if sgr => button_number(button),
        MouseEventKind::Up(_) => LEGACY_RELEASE,
        MouseEventKind::Drag(button) => button_number(button) + MOTION,
        MouseEventKind::Moved => LEGACY_RELEASE + MOTION,
        MouseEventKind::ScrollUp => WHEEL,
        MouseEventKind::ScrollDown => WHEEL + 1,
        MouseEventKind::ScrollLeft => WHEEL + 2,
        MouseEventKind::ScrollRight => WHEEL + 3,
    }
}

fn button_number(button: MouseButton) -> u8 {
    match button {
        MouseButton::Left => 0,
        MouseButton::Middle => 1,
        MouseButton::Right => 2,
    }
}

fn modifier_bits(mods: KeyModifiers) -> u8 {
    let mut bits = 0;
    if mods.contains(KeyModifiers::SHIFT) {
        bits += 4;
    }
    if mods.contains(KeyModifiers::ALT) {
        bits += 8;
    }
    if mods.contains(KeyModifiers::CONTROL) {
        bits += 16;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    const PANE: GridSize = GridSize { cols: 80, rows: 24 };
    /// The pane's top-left cell in the outer terminal.
    const ORIGIN: (u16, u16) = (10, 5);

    fn event(kind: MouseEventKind, column: u16, row: u16) -> MouseEvent {
        MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }
    }

    fn tracking(mouse: MouseTracking, sgr: bool) -> TerminalModes {
        TerminalModes {
            mouse,
            mouse_sgr: sgr,
            ..TerminalModes::default()
        }
    }

    fn sgr(kind: MouseEventKind, mouse: MouseTracking) -> Option<String> {
        encode_mouse(&event(kind, 12, 8), ORIGIN, PANE, &tracking(mouse, true))
            .map(|bytes| String::from_utf8(bytes).expect("SGR reports are ASCII"))
    }

    const LEFT_DOWN: MouseEventKind = MouseEventKind::Down(MouseButton::Left);

    #[test]
    fn nothing_is_reported_unless_the_child_asked() {
        let modes = TerminalModes::default();
        assert_eq!(
            encode_mouse(&event(LEFT_DOWN, 12, 8), ORIGIN, PANE, &modes),
            None
        );
        assert_eq!(
            sgr(
                MouseEventKind::Drag(MouseButton::Left),
                MouseTracking::Click
            ),
            None
        );
        assert_eq!(sgr(MouseEventKind::Moved, MouseTracking::Click), None);
        assert_eq!(sgr(MouseEventKind::Moved, MouseTracking::Drag), None);
    }

    #[test]
    fn sgr_reports_buttons_press_and_release_in_pane_coordinates() {
        // Cell (12, 8) of the outer terminal is column 3, row 4 of a pane at (10, 5).
        let click = MouseTracking::Click;
        assert_eq!(sgr(LEFT_DOWN, click).as_deref(), Some("\x1b[<0;3;4M"));
        let middle = MouseEventKind::Down(MouseButton::Middle);
        assert_eq!(sgr(middle, click).as_deref(), Some("\x1b[<1;3;4M"));
        let right_up = MouseEventKind::Up(MouseButton::Right);
        assert_eq!(sgr(right_up, click).as_deref(), Some("\x1b[<2;3;4m"));
    }

    #[test]
    fn sgr_reports_the_wheel_as_buttons_64_and_up() {
        let click = MouseTracking::Click;
        assert_eq!(
            sgr(MouseEventKind::ScrollUp, click).as_deref(),
            Some("\x1b[<64;3;4M")
        );
        assert_eq!(
            sgr(MouseEventKind::ScrollDown, click).as_deref(),
            Some("\x1b[<65;3;4M")
        );
        assert_eq!(
            sgr(MouseEventKind::ScrollLeft, click).as_deref(),
            Some("\x1b[<66;3;4M")
        );
        assert_eq!(
            sgr(MouseEventKind::ScrollRight, click).as_deref(),
            Some("\x1b[<67;3;4M")
        );
    }

    #[test]
    fn drag_needs_1002_and_plain_motion_needs_1003() {
        let drag = MouseEventKind::Drag(MouseButton::Left);
        assert_eq!(
            sgr(drag, MouseTracking::Drag).as_deref(),
            Some("\x1b[<32;3;4M")
        );
        assert_eq!(
            sgr(drag, MouseTracking::Motion).as_deref(),
            Some("\x1b[<32;3;4M")
        );
        let moved = MouseEventKind::Moved;
        assert_eq!(
            sgr(moved, MouseTracking::Motion).as_deref(),
            Some("\x1b[<35;3;4M")
        );
    }

    #[test]
    fn modifiers_add_their_bits() {
        let modes = tracking(MouseTracking::Click, true);
        for (mods, code) in [
            (KeyModifiers::SHIFT, 4),
            (KeyModifiers::ALT, 8),
            (KeyModifiers::CONTROL, 16),
            (KeyModifiers::SHIFT | KeyModifiers::CONTROL, 20),
        ] {
            let mut click = event(LEFT_DOWN, 12, 8);
            click.modifiers = mods;
            let report = encode_mouse(&click, ORIGIN, PANE, &modes);
            assert_eq!(report, Some(format!("\x1b[<{code};3;4M").into_bytes()));
        }
    }

    #[test]
    fn events_outside_the_pane_are_not_reported() {
        let modes = tracking(MouseTracking::Motion, true);
        let corner =
            |column, row| encode_mouse(&event(LEFT_DOWN, column, row), ORIGIN, PANE, &modes);
        assert_eq!(corner(10, 5), Some(b"\x1b[<0;1;1M".to_vec()));
        assert_eq!(corner(89, 28), Some(b"\x1b[<0;80;24M".to_vec()));
        assert_eq!(corner(9, 5), None);
        assert_eq!(corner(10, 4), None);
        assert_eq!(corner(90, 5), None);
        assert_eq!(corner(10, 29), None);
    }

    #[test]
    fn legacy_reports_offset_each_value_by_32_and_release_as_button_3() {
        let modes = tracking(MouseTracking::Click, false);
        let report = |kind| encode_mouse(&event(kind, 12, 8), ORIGIN, PANE, &modes);
        assert_eq!(report(LEFT_DOWN), Some(vec![ESC, b'[', b'M', 32, 35, 36]));
        let up = MouseEventKind::Up(MouseButton::Left);
        assert_eq!(report(up), Some(vec![ESC, b'[', b'M', 35, 35, 36]));
        assert_eq!(
            report(MouseEventKind::ScrollDown),
            Some(vec![ESC, b'[', b'M', 97, 35, 36])
        );
    }

    #[test]
    fn legacy_reports_cannot_carry_columns_past_223() {
        let wide = GridSize {
            cols: 300,
            rows: 24,
        };
        let modes = tracking(MouseTracking::Click, false);
        let at = |column| encode_mouse(&event(LEFT_DOWN, column, 0), (0, 0), wide, &modes);
        assert_eq!(at(222), Some(vec![ESC, b'[', b'M', 32, 255, 33]));
        assert_eq!(at(223), None);
    }

    #[test]
    fn utf8_reports_carry_large_coordinates_as_utf8_characters() {
        let wide = GridSize {
            cols: 2100,
            rows: 24,
        };
        let modes = TerminalModes {
            mouse_utf8: true,
            ..tracking(MouseTracking::Click, false)
        };
        let at = |column| encode_mouse(&event(LEFT_DOWN, column, 0), (0, 0), wide, &modes);
        assert_eq!(at(2), Some(vec![ESC, b'[', b'M', 32, 35, 33]));
        // Column 300 is 332 = U+014C, two UTF-8 bytes.
        let mut want = vec![ESC, b'[', b'M', 32];
        want.extend_from_slice("\u{14c}".as_bytes());
        want.push(33);
        assert_eq!(at(299), Some(want));
        assert!(at(2014).is_some());
        assert_eq!(at(2015), None);
    }

    #[test]
    fn sgr_wins_over_utf8_when_both_are_set() {
        let modes = TerminalModes {
            mouse_utf8: true,
            ..tracking(MouseTracking::Click, true)
        };
        let report = encode_mouse(&event(LEFT_DOWN, 12, 8), ORIGIN, PANE, &modes);
        assert_eq!(report, Some(b"\x1b[<0;3;4M".to_vec()));
    }

    #[test]
    fn wheel_scrolls_by_cursor_keys_under_alternate_scroll() {
        let modes = TerminalModes {
            alternate_scroll: true,
            alt_screen: true,
            ..TerminalModes::default()
        };
        let up = event(MouseEventKind::ScrollUp, 0, 0);
        let down = event(MouseEventKind::ScrollDown, 0, 0);
        assert_eq!(
            wheel_as_keys(&up, &modes),
            Some(b"\x1b[A\x1b[A\x1b[A".to_vec())
        );
        assert_eq!(
            wheel_as_keys(&down, &modes),
            Some(b"\x1b[B\x1b[B\x1b[B".to_vec())
        );
        let app_cursor = TerminalModes {
            app_cursor: true,
            ..modes
        };
        assert_eq!(
            wheel_as_keys(&up, &app_cursor),
            Some(b"\x1bOA\x1bOA\x1bOA".to_vec())
        );
        assert_eq!(wheel_as_keys(&event(LEFT_DOWN, 0, 0), &modes), None);
    }

    #[test]
    fn wheel_is_not_turned_into_keys_off_the_alternate_screen_or_while_tracking() {
        let on = TerminalModes {
            alternate_scroll: true,
            alt_screen: true,
            ..TerminalModes::default()
        };
        let up = event(MouseEventKind::ScrollUp, 0, 0);
        let main_screen = TerminalModes {
            alt_screen: false,
            ..on
        };
        let mode_off = TerminalModes {
            alternate_scroll: false,
            ..on
        };
        let tracked = TerminalModes {
            mouse: MouseTracking::Click,
            ..on
        };
        for modes in [main_screen, mode_off, tracked] {
            assert_eq!(wheel_as_keys(&up, &modes), None, "{modes:?}");
        }
    }
}
