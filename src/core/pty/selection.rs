//! Copy-mode selection over a terminal's history and screen: what is highlighted and the text it
//! copies, the way xterm and tmux copy (trailing blanks dropped, wrapped rows rejoined).

use std::ops::RangeInclusive;

use super::cell_text::{push_cell, trimmed_len};
use super::screen::{CellWidth, ScreenEngine};

/// A cell position: a line as [`ScreenEngine::row`] numbers them (negative in history) and a
/// 0-based display column. Ordered top to bottom, then left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Point {
    pub line: i32,
    pub col: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionKind {
    /// The text from one point to the other, like dragging in xterm.
    Char,
    /// Whole lines.
    Line,
    /// The rectangle with the two points at opposite corners.
    Block,
}

/// A selection from where it was started (the anchor) to where the cursor is now (the head);
/// either may come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    pub kind: SelectionKind,
    pub anchor: Point,
    pub head: Point,
}

impl Selection {
    /// A selection of one cell (or one line) at `at`.
    pub fn new(kind: SelectionKind, at: Point) -> Self {
        Self {
            kind,
            anchor: at,
            head: at,
        }
    }

    /// Moves the head, keeping the anchor.
    pub fn extend_to(&mut self, head: Point) {
        self.head = head;
    }

    /// The lines the selection touches, top to bottom.
    pub fn lines(&self) -> RangeInclusive<i32> {
        let (start, end) = self.ordered();
        start.line..=end.line
    }

    /// Whether the cell at `line`, `col` is selected (for highlighting).
    pub fn contains(&self, line: i32, col: u16) -> bool {
        if !self.lines().contains(&line) {
            return false;
        }
        match self.kind {
            SelectionKind::Line => true,
            SelectionKind::Char => {
                let (start, end) = self.ordered();
                (start..=end).contains(&Point { line, col })
            }
            SelectionKind::Block => self.block_columns().contains(&col),
        }
    }

    /// The selected text: rows end in a newline except where a wrapped row continues (not in a
    /// block, whose rows are always separate), trailing blanks are dropped, a wide character
    /// counts once and combining marks stay. Lines no longer in history are skipped.
    pub fn text<E: ScreenEngine + ?Sized>(&self, engine: &E) -> String {
        let top = -i32::try_from(engine.history_len()).unwrap_or(i32::MAX);
        let bottom = i32::from(engine.size().rows) - 1;
        let lines = self.lines();
        let first = (*lines.start()).max(top);
        let last = (*lines.end()).min(bottom);
        let mut text = String::new();
        for line in first..=last {
            let row = engine.row(line);
            let Some(last_col) = row.len().checked_sub(1) else {
                continue;
            };
            let (mut from, to) = self.columns_on(line, last_col);
            // A selection that starts on a wide character's right half takes the character.
            if from > 0 && from <= to && row[from].width == CellWidth::WideSpacer {
                from -= 1;
            }
            let cells = row.get(from..=to).unwrap_or_default();
            let continues =
                line < last && self.kind != SelectionKind::Block && engine.is_wrapped(line);
            // A wrapped row's trailing blanks are text that goes on in the next row.
            let used = if continues {
                cells.len()
            } else {
                trimmed_len(cells)
            };
            for cell in &cells[..used] {
                push_cell(&mut text, cell);
            }
            if line < last && !continues {
                text.push('\n');
            }
        }
        text
    }

    /// The start and end in reading order.
    fn ordered(&self) -> (Point, Point) {
        if self.anchor <= self.head {
            (self.anchor, self.head)
        } else {
            (self.head, self.anchor)
        }
    }

    fn block_columns(&self) -> RangeInclusive<u16> {
        let left = self.anchor.col.min(self.head.col);
        let right = self.anchor.col.max(self.head.col);
        left..=right
    }

    /// The first and last selected column of `line` (an empty range when from > to), within a
    /// row whose last column is `last_col`.
    fn columns_on(&self, line: i32, last_col: usize) -> (usize, usize) {
        let (from, to) = match self.kind {
            SelectionKind::Line => (0, last_col),
            SelectionKind::Char => {
                let (start, end) = self.ordered();
                let from = if line == start.line {
                    usize::from(start.col)
                } else {
                    0
                };
                let to = if line == end.line {
                    usize::from(end.col)
                } else {
                    last_col
                };
                (from, to)
            }
            SelectionKind::Block => {
                let columns = self.block_columns();
                (usize::from(*columns.start()), usize::from(*columns.end()))
            }
        };
        (from, to.min(last_col))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pty::alacritty::AlacrittyScreen;
    use crate::core::pty::screen::GridSize;
    use crate::core::pty::test_screen::TestScreen;

    fn at(line: i32, col: u16) -> Point {
        Point { line, col }
    }

    fn select(kind: SelectionKind, anchor: Point, head: Point) -> Selection {
        let mut selection = Selection::new(kind, anchor);
        selection.extend_to(head);
        selection
    }

    #[test]
    fn line_selection_copies_whole_lines_without_trailing_blanks() {
        let screen = TestScreen::with_lines(10, 3, &["abc   ", "  def", "ghi"]);
        let selection = select(SelectionKind::Line, at(1, 4), at(0, 7));
        assert_eq!(selection.text(&screen), "abc\n  def");
    }

    #[test]
    fn char_selection_runs_from_point_to_point_inclusive_in_either_direction() {
        let screen = TestScreen::with_lines(12, 2, &["hello world", "second line"]);
        let forward = select(SelectionKind::Char, at(0, 6), at(1, 5));
        assert_eq!(forward.text(&screen), "world\nsecond");
        let backward = select(SelectionKind::Char, at(1, 5), at(0, 6));
        assert_eq!(backward.text(&screen), "world\nsecond");
        let one_line = select(SelectionKind::Char, at(0, 2), at(0, 3));
        assert_eq!(one_line.text(&screen), "ll");
    }

    #[test]
    fn char_selection_past_the_end_of_a_line_drops_the_blanks() {
        let screen = TestScreen::with_lines(12, 2, &["ab", "cd"]);
        let selection = select(SelectionKind::Char, at(0, 1), at(0, 11));
        assert_eq!(selection.text(&screen), "b");
    }

    #[test]
    fn wrapped_rows_are_joined_without_a_newline_and_keep_their_blanks() {
        let screen = TestScreen::with_rows(
            5,
            4,
            &[
                ("abcde", true),
                ("fg", false),
                ("hi   ", true),
                ("jk", false),
            ],
        );
        let lines = select(SelectionKind::Line, at(0, 0), at(3, 0));
        assert_eq!(lines.text(&screen), "abcdefg\nhi   jk");
        let across_wrap = select(SelectionKind::Char, at(0, 3), at(1, 0));
        assert_eq!(across_wrap.text(&screen), "def");
    }

    #[test]
    fn block_selection_copies_the_rectangle_one_row_per_line() {
        let screen =
            TestScreen::with_rows(6, 3, &[("abcdef", true), ("ghijkl", false), ("mn", false)]);
        let block = select(SelectionKind::Block, at(2, 3), at(0, 1));
        assert_eq!(block.text(&screen), "bcd\nhij\nn");
    }

    #[test]
    fn wide_characters_count_once_and_their_right_half_selects_them() {
        let screen = TestScreen::with_lines(10, 1, &["日本語x"]);
        let left_half = select(SelectionKind::Char, at(0, 2), at(0, 2));
        assert_eq!(left_half.text(&screen), "本");
        let from_right_half = select(SelectionKind::Char, at(0, 3), at(0, 6));
        assert_eq!(from_right_half.text(&screen), "本語x");
        let whole = select(SelectionKind::Line, at(0, 0), at(0, 0));
        assert_eq!(whole.text(&screen), "日本語x");
    }

    #[test]
    fn combining_marks_are_kept() {
        let screen = TestScreen::with_lines(10, 1, &["cafe\u{301}!"]);
        let selection = select(SelectionKind::Char, at(0, 3), at(0, 4));
        assert_eq!(selection.text(&screen), "e\u{301}!");
    }

    #[test]
    fn selections_reach_into_history_and_skip_lines_no_longer_kept() {
        let screen = TestScreen::with_lines(10, 1, &["old", "older?", "now"]);
        let selection = select(SelectionKind::Line, at(-5, 0), at(0, 0));
        assert_eq!(selection.text(&screen), "old\nolder?\nnow");
        let history_only = select(SelectionKind::Char, at(-2, 1), at(-1, 2));
        assert_eq!(history_only.text(&screen), "ld\nold");
    }

    #[test]
    fn empty_lines_inside_a_selection_stay_as_empty_lines() {
        let screen = TestScreen::with_lines(6, 3, &["a", "", "b"]);
        let lines = select(SelectionKind::Line, at(0, 0), at(2, 0));
        assert_eq!(lines.text(&screen), "a\n\nb");
        let block = select(SelectionKind::Block, at(0, 0), at(2, 0));
        assert_eq!(block.text(&screen), "a\n\nb");
    }

    #[test]
    fn contains_follows_the_kind() {
        let char_kind = select(SelectionKind::Char, at(2, 5), at(0, 3));
        assert!(char_kind.contains(0, 3));
        assert!(!char_kind.contains(0, 2));
        assert!(char_kind.contains(1, 0));
        assert!(char_kind.contains(1, 79));
        assert!(char_kind.contains(2, 5));
        assert!(!char_kind.contains(2, 6));
        assert!(!char_kind.contains(3, 0));

        let line_kind = select(SelectionKind::Line, at(-1, 5), at(0, 3));
        assert!(line_kind.contains(-1, 0));
        assert!(line_kind.contains(0, 79));
        assert!(!line_kind.contains(1, 0));

        let block = select(SelectionKind::Block, at(2, 5), at(0, 3));
        assert!(block.contains(1, 4));
        assert!(block.contains(0, 5));
        assert!(!block.contains(1, 2));
        assert!(!block.contains(1, 6));
        assert_eq!(block.lines(), 0..=2);
    }

    #[test]
    fn copies_from_the_real_engine_joining_its_wrapped_rows() {
        let mut screen = AlacrittyScreen::new(GridSize { cols: 10, rows: 3 }, 100);
        screen.feed("needle one\r\nbeta\r\nxxxxxxxneedle\r\n日本needle\r\nend".as_bytes());
        // History: "needle one" (-3), "beta" (-2), "xxxxxxxnee" (-1, wrapped); screen: "dle",
        // "日本needle", "end".
        let lines = select(SelectionKind::Line, at(-1, 0), at(1, 0));
        assert_eq!(lines.text(&screen), "xxxxxxxneedle\n日本needle");
        let stream = select(SelectionKind::Char, at(-3, 7), at(-2, 1));
        assert_eq!(stream.text(&screen), "one\nbe");
        let block = select(SelectionKind::Block, at(-1, 2), at(1, 3));
        assert_eq!(block.text(&screen), "xx\ne\n本");
    }
}
