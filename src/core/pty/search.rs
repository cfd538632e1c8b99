//! Regex search over a terminal's history and screen, for the pane's `Ctrl-b /`.
//!
//! Each logical line (rows joined where the engine wrapped them, trailing blanks dropped) is
//! searched on its own, so a match never runs from one output line into the next but does cross
//! a wrap. Matches come back as cell ranges in display columns (a wide character counts two), one
//! range per row the match touches.

use regex::Regex;

use super::cell_text::{cell_columns, push_cell, trimmed_len};
use super::screen::{CellWidth, ScreenEngine};

/// The longest pattern accepted, in characters.
pub const MAX_PATTERN_CHARS: usize = 200;
/// The most matches kept; past it the ones nearest the bottom (the newest output) are kept.
pub const MAX_MATCHES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("search pattern is {chars} characters long; at most {MAX_PATTERN_CHARS} are allowed")]
    PatternTooLong { chars: usize },
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
}

/// A compiled search pattern.
#[derive(Debug, Clone)]
pub struct ScrollbackSearch {
    regex: Regex,
}

/// The part of a match on one row: columns `start_col..end_col` of `line` (screen-relative, as
/// [`ScreenEngine::row`] numbers lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchSpan {
    pub line: i32,
    pub start_col: u16,
    pub end_col: u16,
}

/// One match: a span per row it touches, top to bottom (more than one only across a wrap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchMatch {
    spans: Vec<MatchSpan>,
}

impl SearchMatch {
    pub fn spans(&self) -> &[MatchSpan] {
        &self.spans
    }

    /// The row the match starts on: where the view goes to show it.
    pub fn line(&self) -> i32 {
        self.spans.first().map_or(0, |span| span.line)
    }

    fn last_line(&self) -> i32 {
        self.spans.last().map_or(0, |span| span.line)
    }
}

/// The matches of one search, top to bottom, and the one the user is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResults {
    matches: Vec<SearchMatch>,
    truncated: bool,
    current: Option<usize>,
}

impl ScrollbackSearch {
    pub fn new(pattern: &str) -> Result<Self, SearchError> {
        let chars = pattern.chars().count();
        if chars > MAX_PATTERN_CHARS {
            return Err(SearchError::PatternTooLong { chars });
        }
        let regex = Regex::new(pattern).map_err(|err| SearchError::InvalidRegex(one_line(&err)))?;
        Ok(Self { regex })
    }

    /// Every match in history and on screen, top to bottom; the current one is the bottom-most.
    pub fn find_all<E: ScreenEngine + ?Sized>(&self, engine: &E) -> SearchResults {
        let top = -i32::try_from(engine.history_len()).unwrap_or(i32::MAX);
        let bottom = i32::from(engine.size().rows) - 1;
        let mut line = LogicalLine::default();
        let mut line_matches = Vec::new();
        // Newest first, so the cap keeps the matches nearest the bottom.
        let mut newest_first: Vec<SearchMatch> = Vec::new();
        let mut truncated = false;
        let mut end = bottom;
        'lines: while end >= top {
            let mut start = end;
            while start > top && engine.is_wrapped(start - 1) {
                start -= 1;
            }
            line.load(engine, start, end);
            line_matches.clear();
            line_matches.extend(
                self.regex
                    .find_iter(&line.text)
                    .filter(|found| !found.is_empty())
                    .map(|found| line.span_of(found.start(), found.end())),
            );
            for found in line_matches.drain(..).rev() {
                if newest_first.len() == MAX_MATCHES {
                    truncated = true;
                    break 'lines;
                }
                newest_first.push(found);
            }
            end = start - 1;
        }
        newest_first.reverse();
        let current = newest_first.len().checked_sub(1);
        SearchResults {
            matches: newest_first,
            truncated,
            current,
        }
    }
}

impl SearchResults {
    pub fn matches(&self) -> &[SearchMatch] {
        &self.matches
    }

    /// Whether matches were dropped because there were more than [`MAX_MATCHES`].
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    pub fn current(&self) -> Option<&SearchMatch> {
        self.current.map(|index| &self.matches[index])
    }

    /// Moves to the next match down, from the last back to the first.
    pub fn select_next(&mut self) -> Option<&SearchMatch> {
        let count = self.matches.len();
        self.current = self.current.map(|index| (index + 1) % count);
        self.current()
    }

    /// Moves to the next match up, from the first back to the last.
    pub fn select_previous(&mut self) -> Option<&SearchMatch> {
        let count = self.matches.len();
        self.current = self.current.map(|index| (index + count - 1) % count);
        self.current()
    }

    /// Moves to the last match that starts on or above `line` (the one a search upward from
    /// there finds first), or to the bottom-most match when none does.
    pub fn select_at_or_above(&mut self, line: i32) -> Option<&SearchMatch> {
        let below = self.matches.partition_point(|found| found.line() <= line);
        self.current = below.checked_sub(1).or(self.matches.len().checked_sub(1));
        self.current()
    }

    /// "3/17": the current match's number, top to bottom, and how many there are ("10000+" when
    /// capped); "0/0" without matches.
    pub fn position(&self) -> String {
        let number = self.current.map_or(0, |index| index + 1);
        let more = if self.truncated { "+" } else { "" };
        format!("{number}/{}{more}", self.matches.len())
    }

    /// The spans to highlight on `line`, each with whether it belongs to the current match.
    pub fn spans_on(&self, line: i32) -> impl Iterator<Item = (MatchSpan, bool)> + '_ {
        let first = self
            .matches
            .partition_point(|found| found.last_line() < line);
        self.matches[first..]
            .iter()
            .enumerate()
            .take_while(move |(_, found)| found.line() <= line)
            .flat_map(move |(offset, found)| {
                let is_current = self.current == Some(first + offset);
                found
                    .spans
                    .iter()
                    .filter(move |span| span.line == line)
                    .map(move |span| (*span, is_current))
            })
    }
}

/// The text of rows joined by wraps, with where each cell's text starts in it.
#[derive(Default)]
struct LogicalLine {
    text: String,
    cells: Vec<CellAt>,
}

/// A cell whose text starts at byte `byte` of the logical line.
struct CellAt {
    byte: usize,
    line: i32,
    col: u16,
    columns: u16,
}

impl LogicalLine {
    /// Reads rows `start..=end`, where every row but the last wraps into the next.
    fn load<E: ScreenEngine + ?Sized>(&mut self, engine: &E, start: i32, end: i32) {
        self.text.clear();
        self.cells.clear();
        for line in start..=end {
            let row = engine.row(line);
            // A wrapped row's trailing blanks are text that continues; only the end is trimmed.
            let used = if line == end {
                trimmed_len(&row)
            } else {
                row.len()
            };
            for (col, cell) in row[..used].iter().enumerate() {
                if cell.width == CellWidth::WideSpacer {
                    continue;
                }
                self.cells.push(CellAt {
                    byte: self.text.len(),
                    line,
                    col: u16::try_from(col).unwrap_or(u16::MAX),
                    columns: cell_columns(cell),
                });
                push_cell(&mut self.text, cell);
            }
        }
    }

    /// The rows and columns of the cells holding bytes `start..end` (a non-empty match).
    fn span_of(&self, start: usize, end: usize) -> SearchMatch {
        let first = self
            .cells
            .partition_point(|cell| cell.byte <= start)
            .saturating_sub(1);
        let last = self
            .cells
            .partition_point(|cell| cell.byte < end)
            .saturating_sub(1);
        let mut spans: Vec<MatchSpan> = Vec::with_capacity(1);
        for cell in &self.cells[first..=last] {
            let end_col = cell.col + cell.columns;
            match spans.last_mut() {
                Some(span) if span.line == cell.line => span.end_col = end_col,
                _ => spans.push(MatchSpan {
                    line: cell.line,
                    start_col: cell.col,
                    end_col,
                }),
            }
        }
        SearchMatch { spans }
    }
}

/// The regex crate's syntax errors span several lines (the pattern, a caret, the message); the
/// search prompt has one, so keep the message.
fn one_line(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pty::alacritty::AlacrittyScreen;
    use crate::core::pty::screen::GridSize;
    use crate::core::pty::test_screen::TestScreen;

    fn span(line: i32, start_col: u16, end_col: u16) -> MatchSpan {
        MatchSpan {
            line,
            start_col,
            end_col,
        }
    }

    fn all_spans(results: &SearchResults) -> Vec<Vec<MatchSpan>> {
        results
            .matches()
            .iter()
            .map(|found| found.spans().to_vec())
            .collect()
    }

    fn search(pattern: &str, screen: &dyn ScreenEngine) -> SearchResults {
        ScrollbackSearch::new(pattern)
            .expect("valid pattern")
            .find_all(screen)
    }

    #[test]
    fn finds_matches_in_history_and_on_screen_top_to_bottom() {
        // Four lines on a two-row screen: lines -2 and -1 are history.
        let screen = TestScreen::with_lines(20, 2, &["error one", "ok", "an error", "error"]);
        let results = search("error", &screen);
        assert_eq!(
            all_spans(&results),
            vec![
                vec![span(-2, 0, 5)],
                vec![span(0, 3, 8)],
                vec![span(1, 0, 5)]
            ]
        );
        assert_eq!(results.position(), "3/3");
        assert!(!results.truncated());
    }

    #[test]
    fn several_matches_on_one_line_in_order() {
        let screen = TestScreen::with_lines(20, 1, &["ab ab  ab"]);
        let results = search("ab", &screen);
        assert_eq!(
            all_spans(&results),
            vec![
                vec![span(0, 0, 2)],
                vec![span(0, 3, 5)],
                vec![span(0, 7, 9)]
            ]
        );
    }

    #[test]
    fn columns_count_wide_characters_as_two() {
        let screen = TestScreen::with_lines(20, 1, &["日本 ok 語x"]);
        assert_eq!(all_spans(&search("ok", &screen)), vec![vec![span(0, 5, 7)]]);
        assert_eq!(all_spans(&search("本", &screen)), vec![vec![span(0, 2, 4)]]);
        assert_eq!(
            all_spans(&search("語x", &screen)),
            vec![vec![span(0, 8, 11)]]
        );
    }

    #[test]
    fn combining_marks_stay_with_their_cell() {
        // "e" + U+0301 takes one cell.
        let screen = TestScreen::with_lines(20, 1, &["cafe\u{301} bar"]);
        assert_eq!(
            all_spans(&search("cafe\u{301}", &screen)),
            vec![vec![span(0, 0, 4)]]
        );
        assert_eq!(
            all_spans(&search("bar", &screen)),
            vec![vec![span(0, 5, 8)]]
        );
    }

    #[test]
    fn a_match_across_a_wrap_is_split_over_two_rows() {
        let screen = TestScreen::with_rows(
            10,
            3,
            &[("xxxxxxhell", true), ("o world", false), ("hello", false)],
        );
        let results = search("hello", &screen);
        assert_eq!(
            all_spans(&results),
            vec![vec![span(0, 6, 10), span(1, 0, 1)], vec![span(2, 0, 5)]]
        );
    }

    #[test]
    fn matches_do_not_run_from_one_unwrapped_line_into_the_next() {
        let screen = TestScreen::with_lines(10, 2, &["xxxxxxhell", "o world"]);
        assert!(search("hello", &screen).matches().is_empty());
        assert!(search("hell  *o", &screen).matches().is_empty());
    }

    #[test]
    fn anchors_apply_to_logical_lines_without_trailing_blanks() {
        let screen = TestScreen::with_rows(6, 3, &[("abc de", true), ("f", false), ("ghi", false)]);
        assert_eq!(all_spans(&search("f$", &screen)), vec![vec![span(1, 0, 1)]]);
        assert_eq!(
            all_spans(&search("^ghi$", &screen)),
            vec![vec![span(2, 0, 3)]]
        );
        assert!(search("^f", &screen).matches().is_empty());
    }

    #[test]
    fn empty_matches_are_skipped() {
        let screen = TestScreen::with_lines(10, 2, &["aaa", "b"]);
        assert_eq!(all_spans(&search("a*", &screen)), vec![vec![span(0, 0, 3)]]);
    }

    #[test]
    fn stepping_wraps_around_both_ways_and_position_follows() {
        let screen = TestScreen::with_lines(10, 3, &["x", "x", "x"]);
        let mut results = search("x", &screen);
        assert_eq!(results.position(), "3/3");
        assert_eq!(results.select_next().map(SearchMatch::line), Some(0));
        assert_eq!(results.position(), "1/3");
        assert_eq!(results.select_next().map(SearchMatch::line), Some(1));
        assert_eq!(results.select_previous().map(SearchMatch::line), Some(0));
        assert_eq!(results.select_previous().map(SearchMatch::line), Some(2));
        assert_eq!(results.position(), "3/3");
    }

    #[test]
    fn selecting_from_a_line_finds_the_nearest_match_above() {
        let screen = TestScreen::with_lines(10, 5, &["x", "", "x", "", "x"]);
        let mut results = search("x", &screen);
        assert_eq!(
            results.select_at_or_above(3).map(SearchMatch::line),
            Some(2)
        );
        assert_eq!(
            results.select_at_or_above(2).map(SearchMatch::line),
            Some(2)
        );
        assert_eq!(
            results.select_at_or_above(1).map(SearchMatch::line),
            Some(0)
        );
        assert_eq!(results.position(), "1/3");
    }

    #[test]
    fn no_matches_is_zero_of_zero_and_stepping_stays_put() {
        let screen = TestScreen::with_lines(10, 2, &["abc"]);
        let mut results = search("zzz", &screen);
        assert_eq!(results.position(), "0/0");
        assert_eq!(results.select_next(), None);
        assert_eq!(results.select_previous(), None);
        assert_eq!(results.select_at_or_above(0), None);
    }

    #[test]
    fn spans_on_a_line_mark_the_current_match() {
        let screen = TestScreen::with_rows(5, 3, &[("xx ab", true), ("cd", false), ("abc", false)]);
        let mut results = search("abc|x", &screen);
        // The current match is the one split over the wrap.
        results.select_at_or_above(0);
        let on = |line| results.spans_on(line).collect::<Vec<_>>();
        assert_eq!(
            on(0),
            vec![
                (span(0, 0, 1), false),
                (span(0, 1, 2), false),
                (span(0, 3, 5), true)
            ]
        );
        assert_eq!(on(1), vec![(span(1, 0, 1), true)]);
        assert_eq!(on(2), vec![(span(2, 0, 3), false)]);
    }

    #[test]
    fn matches_past_the_cap_drop_the_oldest() {
        let lines: Vec<String> = (0..MAX_MATCHES / 4 + 1).map(|_| "x x x x".into()).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let screen = TestScreen::with_lines(10, 2, &refs);
        let results = search("x", &screen);
        assert_eq!(results.matches().len(), MAX_MATCHES);
        assert!(results.truncated());
        assert_eq!(results.position(), format!("{MAX_MATCHES}/{MAX_MATCHES}+"));
        // The four matches of the bottom line are all kept; the topmost line's are dropped.
        let bottom = i32::from(screen.size().rows) - 1;
        let last_four: Vec<_> = results.matches()[MAX_MATCHES - 4..]
            .iter()
            .map(|found| found.spans()[0])
            .collect();
        assert_eq!(
            last_four,
            vec![
                span(bottom, 0, 1),
                span(bottom, 2, 3),
                span(bottom, 4, 5),
                span(bottom, 6, 7)
            ]
        );
        let top = -i32::try_from(screen.history_len()).expect("small history");
        assert!(results.matches()[0].line() > top);
    }

    #[test]
    fn a_pattern_over_the_limit_is_refused_naming_the_limit() {
        let long = "a".repeat(MAX_PATTERN_CHARS + 1);
        let err = ScrollbackSearch::new(&long).expect_err("too long");
        assert_eq!(err, SearchError::PatternTooLong { chars: 201 });
        assert!(err.to_string().contains("at most 200"), "{err}");
        // The limit counts characters, not bytes.
        assert!(ScrollbackSearch::new(&"é".repeat(MAX_PATTERN_CHARS)).is_ok());
    }

    #[test]
    fn an_invalid_regex_is_reported_in_one_line() {
        let err = ScrollbackSearch::new("(abc").expect_err("unclosed group");
        let message = err.to_string();
        assert_eq!(message, "invalid regex: unclosed group");
        assert!(!message.contains('\n'));
    }

    #[test]
    fn searches_the_real_engine_across_history_wraps_and_wide_characters() {
        let mut screen = AlacrittyScreen::new(GridSize { cols: 10, rows: 3 }, 100);
        // "xxxxxxxneedle" wraps after ten columns; "日本needle" fills the row exactly.
        screen.feed(
            "alpha\r\nneedle one\r\nbeta\r\ngamma\r\nxxxxxxxneedle\r\n日本needle\r\nend".as_bytes(),
        );
        assert_eq!(screen.history_len(), 5);
        let results = search("needle", &screen);
        assert_eq!(
            all_spans(&results),
            vec![
                vec![span(-4, 0, 6)],
                vec![span(-1, 7, 10), span(0, 0, 3)],
                vec![span(1, 4, 10)]
            ]
        );
        assert_eq!(results.position(), "3/3");
    }
}
