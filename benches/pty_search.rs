//! Scrollback search and copy over a full terminal pane: 10,000 history lines plus a 40-row
//! screen of 120 columns in the alacritty engine. Target: a search in well under 100 ms.
//! Run with `cargo bench --bench pty_search`; figures are recorded in `benches/RESULTS.md`.

use std::hint::black_box;
use std::time::Duration;

use boocode::core::pty::alacritty::AlacrittyScreen;
use boocode::core::pty::screen::{GridSize, ScreenEngine};
use boocode::core::pty::search::ScrollbackSearch;
use boocode::core::pty::selection::{Point, Selection, SelectionKind};
use criterion::{criterion_group, criterion_main, Criterion};

const COLS: u16 = 120;
const ROWS: u16 = 40;
const HISTORY: usize = 10_000;

const WORDS: [&str; 12] = [
    "compiling",
    "boocode",
    "warning:",
    "unused",
    "variable",
    "error[E0308]:",
    "mismatched",
    "types",
    "src/core/pty/search.rs:42:17",
    "note:",
    "expected",
    "found",
];

/// A screen with full history: 120-column lines of build-log words, one in 50 with a long
/// line that wraps.
fn full_screen() -> AlacrittyScreen {
    let mut screen = AlacrittyScreen::new(
        GridSize {
            cols: COLS,
            rows: ROWS,
        },
        HISTORY,
    );
    let mut output = String::new();
    for index in 0..HISTORY + usize::from(ROWS) {
        let mut line = format!("{index:>6} ");
        let target = if index % 50 == 0 { 200 } else { 120 };
        let mut word = index;
        while line.len() + WORDS[word % WORDS.len()].len() < target {
            line.push_str(WORDS[word % WORDS.len()]);
            line.push(' ');
            word = word.wrapping_mul(7).wrapping_add(3);
        }
        output.push_str(line.trim_end());
        output.push_str("\r\n");
    }
    screen.feed(output.as_bytes());
    assert_eq!(screen.history_len(), HISTORY, "history is full");
    screen
}

fn bench_search(c: &mut Criterion) {
    let screen = full_screen();
    let mut group = c.benchmark_group("scrollback_search_10k_lines_120_cols");
    group.measurement_time(Duration::from_secs(10));
    group.sample_size(20);
    for (name, pattern) in [
        ("literal_absent", "segfault"),
        ("literal_common", "warning"),
        ("regex_error_codes", r"error\[E\d{4}\]"),
        ("regex_case_insensitive", r"(?i)MISMATCHED\s+types"),
    ] {
        let search = ScrollbackSearch::new(pattern).expect("valid pattern");
        group.bench_function(name, |b| b.iter(|| black_box(search.find_all(&screen))));
    }
    group.finish();

    let mut selection = Selection::new(
        SelectionKind::Line,
        Point {
            line: -(HISTORY as i32),
            col: 0,
        },
    );
    selection.extend_to(Point {
        line: i32::from(ROWS) - 1,
        col: 0,
    });
    c.bench_function("copy_all_10k_lines_120_cols", |b| {
        b.iter(|| black_box(selection.text(&screen)))
    });
}

criterion_group!(benches, bench_search);
criterion_main!(benches);
