//! The history window and its store against alacritty keeping the whole history itself: the
//! same bytes must give the same lines, wrap flags, search matches and selections.

use crate::core::pty::alacritty::AlacrittyScreen;
use crate::core::pty::screen::{GridSize, ScreenEngine};
use crate::core::pty::search::ScrollbackSearch;
use crate::core::pty::selection::{Point, Selection, SelectionKind};

const SMALL: GridSize = GridSize { cols: 12, rows: 3 };
const LIMIT: usize = 60;
/// With 3 rows, alacritty keeps 8 lines and moves them down to 2: a move every few lines.
const WINDOW: usize = 8;

/// The engine under test (a small window) and one keeping all history in alacritty.
fn pair() -> (AlacrittyScreen, AlacrittyScreen) {
    (
        AlacrittyScreen::with_window(SMALL, LIMIT, WINDOW),
        AlacrittyScreen::new(SMALL, LIMIT),
    )
}

fn feed_both(pair: &mut (AlacrittyScreen, AlacrittyScreen), bytes: &[u8]) {
    pair.0.feed(bytes);
    pair.1.feed(bytes);
}

/// Every line, history and screen, with its wrap flag.
fn lines(screen: &AlacrittyScreen) -> Vec<(Vec<crate::core::pty::screen::Cell>, bool)> {
    let top = -(screen.history_len() as i32);
    (top..i32::from(screen.size().rows))
        .map(|line| (screen.row(line), screen.is_wrapped(line)))
        .collect()
}

fn assert_same(pair: &(AlacrittyScreen, AlacrittyScreen), context: &str) {
    assert_eq!(pair.0.history_len(), pair.1.history_len(), "{context}");
    assert_eq!(lines(&pair.0), lines(&pair.1), "{context}");
}

/// Output with colours, attributes, wide characters, combining marks, wrapped lines, CSI S
/// and a full-screen erase: everything a history line can hold.
fn varied_output(lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for n in 0..lines {
        let line = match n % 6 {
            0 => format!("plain {n}"),
            1 => format!("\x1b[1;31mred {n}\x1b[0m \x1b[48;2;1;2;3mbg\x1b[0m"),
            2 => format!("wide 中文{n} e\u{301}"),
            3 => format!("wraps across rows {n} and on and on"),
            4 => format!("\x1b[4:3;38;5;200mcurly {n}\x1b[0m\x1b[2S"),
            _ => format!("{n} needle\x1b[2J"),
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn the_store_gives_the_same_lines_as_alacritty_keeping_everything() {
    let mut screens = pair();
    for (step, chunk) in varied_output(200).chunks(97).enumerate() {
        feed_both(&mut screens, chunk);
        assert_same(&screens, &format!("after chunk {step}"));
    }
    assert_eq!(screens.0.history_len(), LIMIT);
}

#[test]
fn one_feed_scrolling_far_past_the_window_loses_nothing() {
    let mut screens = pair();
    // 40 screenfuls in one call, half of them by CSI S.
    let mut bytes = Vec::new();
    for n in 0..40 {
        bytes.extend_from_slice(format!("{n}\r\n\x1b[3S").as_bytes());
    }
    feed_both(&mut screens, &bytes);
    assert_same(&screens, "after one big feed");
}

#[test]
fn search_and_selection_cross_from_the_window_into_the_store() {
    let mut screens = pair();
    feed_both(&mut screens, &varied_output(120));
    let search = ScrollbackSearch::new("needle|red [0-9]+").expect("valid pattern");
    let found = search.find_all(&screens.0);
    assert_eq!(found, search.find_all(&screens.1));
    let oldest = found.matches().first().expect("matches").line();
    assert!(
        oldest < -(WINDOW as i32),
        "the oldest match ({oldest}) is in the store"
    );
    let top = -(screens.0.history_len() as i32);
    for kind in [
        SelectionKind::Char,
        SelectionKind::Line,
        SelectionKind::Block,
    ] {
        let mut selection = Selection::new(kind, Point { line: top, col: 2 });
        selection.extend_to(Point { line: 1, col: 7 });
        assert_eq!(selection.text(&screens.0), selection.text(&screens.1));
    }
}

#[test]
fn resizing_reflows_the_store_like_the_window() {
    // When wider rows join, alacritty fills the screen from its window; only lines still in
    // the window can come back down, so the window must hold a few screens' worth (a pane's
    // holds 500 lines or more).
    let mut screens = (
        AlacrittyScreen::with_window(SMALL, LIMIT, 30),
        AlacrittyScreen::new(SMALL, LIMIT),
    );
    // Lines that end inside the window's moves, so the store and the window split none.
    let mut bytes = Vec::new();
    for n in 0..50 {
        bytes.extend_from_slice(format!("line {n} is long enough to wrap\r\n").as_bytes());
    }
    feed_both(&mut screens, &bytes);
    assert_eq!(screens.0.history_len(), LIMIT, "the store holds half of it");
    for size in [
        GridSize { cols: 7, rows: 3 },
        GridSize { cols: 30, rows: 4 },
        GridSize { cols: 12, rows: 2 },
    ] {
        screens.0.resize(size);
        screens.1.resize(size);
        assert_same(&screens, &format!("at {size:?}"));
        feed_both(&mut screens, b"more\r\n");
        assert_same(&screens, &format!("fed at {size:?}"));
    }
}

#[test]
fn clearing_history_clears_the_store_and_the_alternate_screen_has_none() {
    let mut screens = pair();
    feed_both(&mut screens, &varied_output(40));
    let history = screens.0.history_len();
    assert!(history > WINDOW);
    // The alternate screen: no history while it shows, all of it back after.
    feed_both(&mut screens, b"\x1b[?1049hfull screen\r\n\r\n\r\n\r\n");
    assert_eq!(screens.0.history_len(), 0);
    assert_same(&screens, "on the alternate screen");
    // A resize while it shows lets nothing of the primary history go.
    screens.0.resize(GridSize { cols: 6, rows: 3 });
    screens.1.resize(GridSize { cols: 6, rows: 3 });
    feed_both(&mut screens, b"\x1b[?1049l");
    assert_same(&screens, "back on the primary screen");
    // ED 3 (`clear`) and RIS forget it.
    feed_both(&mut screens, b"\x1b[H\x1b[2J\x1b[3J");
    assert_eq!(screens.0.history_len(), 0);
    assert_same(&screens, "after ED 3");
    feed_both(&mut screens, &varied_output(40));
    feed_both(&mut screens, b"\x1bc");
    assert_eq!(screens.0.history_len(), 0);
    assert_same(&screens, "after RIS");
}

#[test]
fn ten_thousand_lines_keep_exactly_the_configured_history() {
    const ROWS: u16 = 40;
    const LINES: usize = 12_345;
    let mut screen = AlacrittyScreen::new(
        GridSize {
            cols: 120,
            rows: ROWS,
        },
        10_000,
    );
    let line = |n: usize| format!("{n:05} {}", "x".repeat(114));
    let mut bytes = Vec::new();
    for n in 0..LINES {
        bytes.extend_from_slice(line(n).as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    for (fed, chunk) in bytes.chunks(4096).enumerate() {
        screen.feed(chunk);
        let lines_ended = ((fed + 1) * 4096).min(bytes.len()) / 122;
        let expected = lines_ended
            .saturating_sub(usize::from(ROWS) - 1)
            .min(10_000);
        assert_eq!(screen.history_len(), expected, "after chunk {fed}");
    }
    // The screen shows the last 39 lines and the empty line the cursor is on.
    assert_eq!(screen.history_len(), 10_000);
    let newest = LINES - usize::from(ROWS);
    assert_eq!(screen.line_text(-1), line(newest));
    assert_eq!(screen.line_text(-10_000), line(newest - 9_999));
    assert_eq!(screen.line_text(0), line(newest + 1));
    assert_eq!(screen.row(-10_001), screen.row(ROWS.into()));
}
