use super::*;
use crate::core::pty::screen::{Attributes, CellWidth, Color, Underline};

fn screen(cols: u16, rows: u16) -> AlacrittyScreen {
    AlacrittyScreen::new(GridSize { cols, rows }, DEFAULT_SCROLLBACK_LINES)
}

fn fed(bytes: &[u8]) -> AlacrittyScreen {
    let mut s = screen(20, 5);
    s.feed(bytes);
    s
}

fn reply_to(query: &[u8]) -> String {
    String::from_utf8(fed(query).take_replies()).expect("replies are UTF-8")
}

/// The bytes written back for each query a program may send (zellij's `terminal_reports`
/// practice): a change here changes what programs in the pane see.
#[test]
fn every_query_gets_its_exact_reply() {
    let cases: &[(&str, &[u8], &str)] = &[
        ("DA1", b"\x1b[c", "\x1b[?6c"),
        ("DA1 with 0", b"\x1b[0c", "\x1b[?6c"),
        ("DA2", b"\x1b[>c", "\x1b[>0;2600;1c"),
        ("DSR status", b"\x1b[5n", "\x1b[0n"),
        ("CPR", b"\x1b[3;7H\x1b[6n", "\x1b[3;7R"),
        ("DECRQM private, reset", b"\x1b[?2004$p", "\x1b[?2004;2$y"),
        (
            "DECRQM private, set",
            b"\x1b[?2004h\x1b[?2004$p",
            "\x1b[?2004;1$y",
        ),
        ("DECRQM private, unknown", b"\x1b[?9999$p", "\x1b[?9999;0$y"),
        ("DECRQM ANSI insert mode", b"\x1b[4h\x1b[4$p", "\x1b[4;1$y"),
        (
            "OSC 10 (BEL)",
            b"\x1b]10;?\x07",
            "\x1b]10;rgb:e5e5/e5e5/e5e5\x07",
        ),
        (
            "OSC 11 (ST)",
            b"\x1b]11;?\x1b\\",
            "\x1b]11;rgb:0000/0000/0000\x1b\\",
        ),
        ("OSC 12", b"\x1b]12;?\x07", "\x1b]12;rgb:e5e5/e5e5/e5e5\x07"),
        (
            "OSC 4 ANSI",
            b"\x1b]4;1;?\x07",
            "\x1b]4;1;rgb:cdcd/0000/0000\x07",
        ),
        (
            "OSC 4 cube",
            b"\x1b]4;196;?\x07",
            "\x1b]4;196;rgb:ffff/0000/0000\x07",
        ),
        (
            "OSC 4 grey",
            b"\x1b]4;244;?\x07",
            "\x1b]4;244;rgb:8080/8080/8080\x07",
        ),
        (
            "OSC 11 after the child set it",
            b"\x1b]11;#102030\x07\x1b]11;?\x07",
            "\x1b]11;rgb:1010/2020/3030\x07",
        ),
        ("XTVERSION", b"\x1b[>q", "\x1bP>|boocode(0.1.0)\x1b\\"),
        (
            "XTVERSION with 0",
            b"\x1b[>0q",
            "\x1bP>|boocode(0.1.0)\x1b\\",
        ),
        ("CSI 18 t", b"\x1b[18t", "\x1b[8;5;20t"),
        // Never answered: the user's clipboard is not the child's to read.
        ("OSC 52 query", b"\x1b]52;c;?\x07", ""),
        // Like tmux 3.3a: no kitty keyboard protocol, no pixel sizes.
        ("kitty keyboard query", b"\x1b[?u", ""),
        ("CSI 14 t", b"\x1b[14t", ""),
    ];
    for (name, query, reply) in cases {
        assert_eq!(reply_to(query), *reply, "{name}");
    }
}

#[test]
fn replies_keep_the_order_of_their_queries_across_feeds() {
    assert_eq!(
        reply_to(b"\x1b[5n\x1b[>q\x1b[c"),
        "\x1b[0n\x1bP>|boocode(0.1.0)\x1b\\\x1b[?6c"
    );
    let mut s = screen(20, 5);
    for chunk in [&b"\x1b[>"[..], b"q\x1b", b"[5", b"n"] {
        s.feed(chunk);
    }
    assert_eq!(s.take_replies(), b"\x1bP>|boocode(0.1.0)\x1b\\\x1b[0n");
    assert!(s.take_replies().is_empty(), "replies are handed over once");
}

#[test]
fn titles_bells_and_clipboard_stores_become_signals_in_order() {
    let mut s =
        fed(b"\x1b]0;first\x07\x07\x1b]2;second\x1b\\\x1b]1;icon\x07\x1b]52;c;aGVsbG8=\x07");
    assert_eq!(
        s.take_signals(),
        vec![
            ScreenSignal::Title(Some("first".into())),
            ScreenSignal::Bell,
            ScreenSignal::Title(Some("second".into())),
            ScreenSignal::ClipboardStore {
                text: "hello".into()
            },
        ]
    );
    assert_eq!(s.title().as_deref(), Some("second"));
    assert!(s.take_signals().is_empty());
}

#[test]
fn cells_carry_width_combining_marks_colours_and_attributes() {
    let s =
        fed("\x1b[1;2;3;4:3;5;7;8;9;31;48;5;200m中e\u{301}\x1b[0;38;2;1;2;3;4:2mx\tz".as_bytes());
    let row = s.row(0);
    assert_eq!(row.len(), 20);
    assert_eq!((row[0].ch, row[0].width), ('中', CellWidth::Wide));
    assert_eq!(row[1].width, CellWidth::WideSpacer);
    assert_eq!(
        (row[2].ch, row[2].combining.as_slice()),
        ('e', &['\u{301}'][..])
    );
    assert_eq!(row[2].fg, Color::Indexed(1));
    assert_eq!(row[2].bg, Color::Indexed(200));
    assert_eq!(
        row[2].attrs,
        Attributes {
            bold: true,
            dim: true,
            italic: true,
            underline: Underline::Curly,
            blink: false,
            inverse: true,
            hidden: true,
            strikeout: true,
        }
    );
    assert_eq!(row[3].fg, Color::Rgb(1, 2, 3));
    assert_eq!(row[3].attrs.underline, Underline::Double);
    // The cell a tab crossed is blank on screen.
    assert_eq!((row[4].ch, row[8].ch), (' ', 'z'));
    assert_eq!(s.line_text(0).trim_end(), "中e\u{301}x    z");
}

#[test]
fn history_is_addressed_by_negative_lines_and_capped_by_the_scrollback_setting() {
    let mut s = AlacrittyScreen::new(GridSize { cols: 10, rows: 3 }, 4);
    for n in 1..=9 {
        s.feed(format!("line {n}\r\n").as_bytes());
    }
    // Lines 1-9 and an empty line: 3 on screen, 4 kept, 3 dropped.
    assert_eq!(s.history_len(), 4);
    assert_eq!(s.line_text(-1).trim_end(), "line 7");
    assert_eq!(s.line_text(-4).trim_end(), "line 4");
    assert_eq!(s.line_text(0).trim_end(), "line 8");
    // Out of range: blank, never a panic.
    assert_eq!(s.row(-5), vec![Cell::default(); 10]);
    assert_eq!(s.row(3), vec![Cell::default(); 10]);
    assert!(!s.is_wrapped(-9));
}

#[test]
fn wrapped_lines_are_marked_and_reflow_on_resize() {
    let mut s = screen(5, 3);
    s.feed(b"abcdefg");
    assert!(s.is_wrapped(0));
    assert!(!s.is_wrapped(1));
    s.resize(GridSize { cols: 10, rows: 3 });
    assert_eq!(s.size(), GridSize { cols: 10, rows: 3 });
    assert_eq!(s.line_text(0).trim_end(), "abcdefg");
}

#[test]
fn cursor_shape_visibility_and_blinking_follow_the_child() {
    let mut s = fed(b"ab\x1b[5 q");
    assert_eq!(
        s.cursor(),
        Cursor {
            col: 2,
            row: 0,
            visible: true,
            shape: CursorShape::Bar,
            blinking: true
        }
    );
    s.feed(b"\x1b[4 q\x1b[?25l");
    let cursor = s.cursor();
    assert_eq!(
        (cursor.shape, cursor.blinking, cursor.visible),
        (CursorShape::Underline, false, false)
    );
}

#[test]
fn input_modes_are_reported() {
    let s = fed(b"\x1b[?1h\x1b=\x1b[?2004h\x1b[?1004h\x1b[?1002h\x1b[?1006h\x1b[?1049h");
    assert_eq!(
        s.modes(),
        TerminalModes {
            app_cursor: true,
            app_keypad: true,
            bracketed_paste: true,
            focus_events: true,
            mouse: MouseTracking::Drag,
            mouse_sgr: true,
            mouse_utf8: false,
            alternate_scroll: true,
            alt_screen: true,
        }
    );
}

#[test]
fn modes_1047_and_47_switch_screens_and_leave_the_cursor_where_it_is() {
    for mode in ["1047", "47"] {
        let mut s = fed(b"primary\r\n");
        s.feed(format!("\x1b[?{mode}halt text").as_bytes());
        assert!(s.modes().alt_screen, "{mode}");
        assert_eq!(s.line_text(1).trim_end(), "alt text", "{mode}");
        s.feed(format!("\x1b[?{mode}l!").as_bytes());
        assert!(!s.modes().alt_screen, "{mode}");
        assert_eq!(s.line_text(0).trim_end(), "primary", "{mode}");
        // tmux keeps the cursor at column 8 of row 1 and prints `!` there.
        assert_eq!(s.line_text(1).trim_end(), "        !", "{mode}");
    }
}

#[test]
fn synchronized_output_is_shown_at_once() {
    let s = fed(b"\x1b[?2026hvisible");
    assert_eq!(s.line_text(0).trim_end(), "visible");
}

#[test]
fn the_engine_can_move_to_a_pane_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<AlacrittyScreen>();
}
