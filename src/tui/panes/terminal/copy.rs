//! Copy mode of a terminal pane (`C-b [`) and its search (`C-b /`): a cursor over scrollback
//! and screen moved with vi keys, character / line / block selection copied with `y` or Enter
//! (OSC 52, through the workspace's clipboard), and a regex search with its matches
//! highlighted, `n`/`N` stepping and "3/17" shown.
//!
//! Lines are numbered as [`ScreenEngine::row`] numbers them (negative in history). Output that
//! arrives meanwhile pushes lines into history; [`CopyMode::follow`] shifts every position by
//! that much, so what the user looks at stays put.

use std::ops::Range;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::core::pty::screen::ScreenEngine;
use crate::core::pty::search::{ScrollbackSearch, SearchResults, MAX_PATTERN_CHARS};
use crate::core::pty::selection::{Point, Selection, SelectionKind};
use crate::tui::panes::{fit, truncate};
use crate::tui::theme::Theme;

/// What a key did in copy mode.
#[derive(Debug, PartialEq)]
pub enum CopyOutcome {
    Stay,
    Leave,
    /// Leave and put this on the clipboard.
    Copy(String),
}

#[derive(Debug)]
pub struct CopyMode {
    cursor: Point,
    /// Lines scrolled back: the top of the view is line `-scroll`.
    scroll: usize,
    selection: Option<Selection>,
    /// The pattern being typed after `/`.
    prompt: Option<String>,
    search: Option<SearchResults>,
    /// History length the positions above refer to.
    history_len: usize,
    /// History length when the search ran: its lines are shifted by the growth since.
    search_history_len: usize,
    rows: u16,
    cols: u16,
    /// An invalid pattern, or no match.
    message: Option<String>,
}

impl CopyMode {
    /// Copy mode with the cursor where the program's is.
    pub fn new(screen: &dyn ScreenEngine) -> CopyMode {
        let cursor = screen.cursor();
        let size = screen.size();
        CopyMode {
            cursor: Point {
                line: i32::from(cursor.row),
                col: cursor.col,
            },
            scroll: 0,
            selection: None,
            prompt: None,
            search: None,
            history_len: screen.history_len(),
            search_history_len: screen.history_len(),
            rows: size.rows,
            cols: size.cols,
            message: None,
        }
    }

    pub fn scroll(&self) -> usize {
        self.scroll
    }

    pub fn prompt_search(&mut self) {
        self.prompt = Some(String::new());
        self.message = None;
    }

    pub fn mode_label(&self) -> &'static str {
        if self.prompt.is_some() {
            "SEARCH"
        } else {
            "COPY"
        }
    }

    /// What the pane's title says: the search position, the selection kind, the keys.
    pub fn title(&self) -> String {
        let mut parts = vec!["copy mode".to_string()];
        if let Some(search) = &self.search {
            parts.push(format!("match {}", search.position()));
        }
        match self.selection.map(|s| s.kind) {
            Some(SelectionKind::Char) => parts.push("selecting".into()),
            Some(SelectionKind::Line) => parts.push("selecting lines".into()),
            Some(SelectionKind::Block) => parts.push("selecting a block".into()),
            None => {}
        }
        parts.push("y copies · q leaves".into());
        parts.join(" · ")
    }

    /// Shifts every position by the lines that went into history since the last look, so
    /// the view stays on the same text while the program writes.
    pub fn follow(&mut self, screen: &dyn ScreenEngine) {
        let now = screen.history_len();
        let size = screen.size();
        self.rows = size.rows;
        self.cols = size.cols;
        if now == self.history_len {
            return;
        }
        let grown = i32::try_from(now).unwrap_or(i32::MAX)
            - i32::try_from(self.history_len).unwrap_or(i32::MAX);
        self.history_len = now;
        self.cursor.line -= grown;
        if let Some(sel) = &mut self.selection {
            sel.anchor.line -= grown;
            sel.head.line -= grown;
        }
        self.scroll = usize::try_from(self.scroll as i64 + i64::from(grown))
            .unwrap_or(0)
            .min(now);
        self.clamp();
    }

    fn top(&self) -> i32 {
        -i32::try_from(self.history_len).unwrap_or(i32::MAX)
    }

    fn bottom(&self) -> i32 {
        i32::from(self.rows) - 1
    }

    /// Keeps the cursor inside the lines that exist and the view around the cursor.
    fn clamp(&mut self) {
        self.cursor.line = self
            .cursor
            .line
            .clamp(self.top(), self.bottom().max(self.top()));
        self.cursor.col = self.cursor.col.min(self.cols.saturating_sub(1));
        let view_top = -i32::try_from(self.scroll).unwrap_or(i32::MAX);
        let view_bottom = view_top + i32::from(self.rows) - 1;
        if self.cursor.line < view_top {
            self.scroll = usize::try_from(-self.cursor.line).unwrap_or(0);
        } else if self.cursor.line > view_bottom {
            self.scroll =
                usize::try_from(-(self.cursor.line - i32::from(self.rows) + 1)).unwrap_or(0);
        }
        if let Some(sel) = &mut self.selection {
            sel.extend_to(self.cursor);
        }
    }

    /// Scrolls the view by `lines` (negative: back into history), taking the cursor along.
    pub fn scroll_by(&mut self, lines: i32) {
        let scroll = (self.scroll as i64 - i64::from(lines)).clamp(0, self.history_len as i64);
        let moved = self.scroll as i64 - scroll;
        self.scroll = scroll as usize;
        self.cursor.line += i32::try_from(moved).unwrap_or(0);
        self.clamp();
    }

    /// Where the cursor is drawn, given the view's scroll; `None` when scrolled out of view.
    pub fn cursor_on_screen(&self, scroll: i32) -> Option<(u16, u16)> {
        let y = u16::try_from(self.cursor.line + scroll).ok()?;
        Some((self.cursor.col, y))
    }

    /// Styles laid over line `line`: the selection and the search matches.
    pub fn highlights(&self, line: i32, theme: &Theme) -> Vec<(Range<u16>, Style)> {
        let mut out = Vec::new();
        if let Some(search) = &self.search {
            let shift = self.search_shift();
            for (span, current) in search.spans_on(line + shift) {
                let style = if current {
                    theme
                        .selection
                        .add_modifier(Modifier::REVERSED | Modifier::BOLD)
                } else {
                    theme.selection.add_modifier(Modifier::UNDERLINED)
                };
                out.push((span.start_col..span.end_col, style));
            }
        }
        if let Some(sel) = &self.selection {
            if sel.lines().contains(&line) {
                let selected: Vec<u16> =
                    (0..self.cols).filter(|c| sel.contains(line, *c)).collect();
                if let (Some(first), Some(last)) = (selected.first(), selected.last()) {
                    out.push((
                        *first..*last + 1,
                        theme.selection.add_modifier(Modifier::REVERSED),
                    ));
                }
            }
        }
        out
    }

    /// Search results number lines as they were when it ran.
    fn search_shift(&self) -> i32 {
        i32::try_from(self.history_len).unwrap_or(i32::MAX)
            - i32::try_from(self.search_history_len).unwrap_or(i32::MAX)
    }

    /// The search prompt or its message on the pane's bottom line.
    pub fn draw_prompt(&self, frame: &mut Frame<'_>, area: Rect, theme: &Theme) {
        if area.height == 0 {
            return;
        }
        let width = usize::from(area.width);
        let line = match (&self.prompt, &self.message) {
            (Some(pattern), message) => {
                // The message first: a long pattern would push it off the line.
                let mut spans = vec![Span::styled("search", theme.accent)];
                if let Some(m) = message {
                    spans.push(Span::styled(format!(" [{m}]"), theme.error));
                }
                spans.push(Span::styled(": ", theme.accent));
                spans.push(Span::styled(pattern.clone(), theme.text));
                Line::from(spans)
            }
            (None, Some(m)) => Line::styled(truncate(m, width), theme.warning),
            (None, None) => return,
        };
        let row = Rect::new(area.x, area.y + area.height - 1, area.width, 1);
        frame.render_widget(Paragraph::new(fit("", width)).style(theme.status_bar), row);
        frame.render_widget(Paragraph::new(line).style(theme.status_bar), row);
    }

    pub fn key(&mut self, key: KeyEvent, screen: &dyn ScreenEngine) -> CopyOutcome {
        self.follow(screen);
        if self.prompt.is_some() {
            return self.prompt_key(key, screen);
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let page = i32::from(self.rows.max(2)) - 1;
        let half = i32::from(self.rows / 2).max(1);
        self.message = None;
        match key.code {
            KeyCode::Char('u') if ctrl => self.scroll_by(-half),
            KeyCode::Char('d') if ctrl => self.scroll_by(half),
            KeyCode::Char('b') if ctrl => self.scroll_by(-page),
            KeyCode::Char('f') if ctrl => self.scroll_by(page),
            KeyCode::Char('v') if ctrl => self.toggle_selection(SelectionKind::Block),
            KeyCode::Char('c') if ctrl => return CopyOutcome::Leave,
            _ if ctrl => {}
            KeyCode::PageUp => self.scroll_by(-page),
            KeyCode::PageDown => self.scroll_by(page),
            KeyCode::Char('h') | KeyCode::Left => {
                self.move_to(self.cursor.line, self.cursor.col.saturating_sub(1))
            }
            KeyCode::Char('l') | KeyCode::Right => {
                self.move_to(self.cursor.line, self.cursor.col.saturating_add(1))
            }
            KeyCode::Char('k') | KeyCode::Up => self.move_to(self.cursor.line - 1, self.cursor.col),
            KeyCode::Char('j') | KeyCode::Down => {
                self.move_to(self.cursor.line + 1, self.cursor.col)
            }
            KeyCode::Char('0') | KeyCode::Home => self.move_to(self.cursor.line, 0),
            KeyCode::Char('$') | KeyCode::End => {
                let end = last_text_column(screen, self.cursor.line);
                self.move_to(self.cursor.line, end);
            }
            KeyCode::Char('g') => self.move_to(self.top(), 0),
            KeyCode::Char('G') => self.move_to(self.bottom(), 0),
            KeyCode::Char('w') => self.word_forward(screen),
            KeyCode::Char('b') => self.word_back(screen),
            KeyCode::Char('v') => self.toggle_selection(SelectionKind::Char),
            KeyCode::Char('V') => self.toggle_selection(SelectionKind::Line),
            KeyCode::Char('/') => self.prompt_search(),
            KeyCode::Char('n') => self.step_search(screen, true),
            KeyCode::Char('N') => self.step_search(screen, false),
            KeyCode::Char('y') | KeyCode::Enter => {
                let selection = self
                    .selection
                    .unwrap_or_else(|| Selection::new(SelectionKind::Line, self.cursor));
                return CopyOutcome::Copy(selection.text(screen));
            }
            KeyCode::Char('q') | KeyCode::Esc => return CopyOutcome::Leave,
            _ => {}
        }
        CopyOutcome::Stay
    }

    fn prompt_key(&mut self, key: KeyEvent, screen: &dyn ScreenEngine) -> CopyOutcome {
        let Some(pattern) = &mut self.prompt else {
            return CopyOutcome::Stay;
        };
        match key.code {
            KeyCode::Esc => {
                self.prompt = None;
                self.message = None;
            }
            KeyCode::Enter => {
                let pattern = pattern.clone();
                self.run_search(&pattern, screen);
            }
            KeyCode::Backspace => {
                pattern.pop();
                self.message = None;
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                pattern.clear();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                if pattern.chars().count() >= MAX_PATTERN_CHARS {
                    self.message = Some(format!("at most {MAX_PATTERN_CHARS} characters"));
                } else {
                    pattern.push(c);
                }
            }
            _ => {}
        }
        CopyOutcome::Stay
    }

    /// Pastes into the search prompt (one line); false when no prompt is open.
    pub fn paste(&mut self, text: &str) -> bool {
        let Some(pattern) = &mut self.prompt else {
            return false;
        };
        let room = MAX_PATTERN_CHARS.saturating_sub(pattern.chars().count());
        pattern.extend(text.chars().filter(|c| !c.is_control()).take(room));
        true
    }

    fn run_search(&mut self, pattern: &str, screen: &dyn ScreenEngine) {
        let search = match ScrollbackSearch::new(pattern) {
            Ok(search) => search,
            Err(e) => {
                self.message = Some(e.to_string());
                return;
            }
        };
        self.prompt = None;
        let mut results = search.find_all(screen);
        self.search_history_len = self.history_len;
        if results.matches().is_empty() {
            self.message = Some(format!("no match for {pattern}"));
            self.search = None;
            return;
        }
        results.select_at_or_above(self.cursor.line);
        self.search = Some(results);
        self.go_to_current_match();
    }

    fn step_search(&mut self, _screen: &dyn ScreenEngine, forward: bool) {
        let Some(search) = &mut self.search else {
            self.message = Some("no search yet: / to search".into());
            return;
        };
        if forward {
            search.select_next();
        } else {
            search.select_previous();
        }
        self.go_to_current_match();
    }

    fn go_to_current_match(&mut self) {
        let shift = self.search_shift();
        let Some(found) = self.search.as_ref().and_then(|s| s.current()) else {
            return;
        };
        let Some(span) = found.spans().first().copied() else {
            return;
        };
        self.move_to(span.line - shift, span.start_col);
    }

    fn move_to(&mut self, line: i32, col: u16) {
        self.cursor = Point { line, col };
        self.clamp();
    }

    fn toggle_selection(&mut self, kind: SelectionKind) {
        self.selection = match self.selection {
            Some(sel) if sel.kind == kind => None,
            Some(mut sel) => {
                sel.kind = kind;
                Some(sel)
            }
            None => Some(Selection::new(kind, self.cursor)),
        };
    }

    fn word_forward(&mut self, screen: &dyn ScreenEngine) {
        let chars = line_chars(screen, self.cursor.line);
        let mut col = usize::from(self.cursor.col);
        let start_kind = chars.get(col).map(|c| word_class(*c));
        while col < chars.len() && Some(word_class(chars[col])) == start_kind {
            col += 1;
        }
        while col < chars.len() && word_class(chars[col]) == 0 {
            col += 1;
        }
        if col >= chars.len() || chars[col..].iter().all(|c| c.is_whitespace()) {
            if self.cursor.line < self.bottom() {
                self.move_to(self.cursor.line + 1, 0);
            }
            return;
        }
        self.move_to(self.cursor.line, u16::try_from(col).unwrap_or(u16::MAX));
    }

    fn word_back(&mut self, screen: &dyn ScreenEngine) {
        let (mut line, mut col) = (self.cursor.line, usize::from(self.cursor.col));
        if col == 0 {
            if line <= self.top() {
                return;
            }
            line -= 1;
            col = usize::from(last_text_column(screen, line)) + 1;
        }
        let chars = line_chars(screen, line);
        col = col.min(chars.len());
        while col > 0 && word_class(chars[col - 1]) == 0 {
            col -= 1;
        }
        let kind = col.checked_sub(1).map(|c| word_class(chars[c]));
        while col > 0 && Some(word_class(chars[col - 1])) == kind {
            col -= 1;
        }
        self.move_to(line, u16::try_from(col).unwrap_or(0));
    }
}

/// One character per column (a wide character's spacer as a space), for word motions.
fn line_chars(screen: &dyn ScreenEngine, line: i32) -> Vec<char> {
    screen
        .row(line)
        .iter()
        .map(|cell| {
            if cell.width == crate::core::pty::screen::CellWidth::WideSpacer {
                ' '
            } else {
                cell.ch
            }
        })
        .collect()
}

/// vi's word classes: blanks, word characters, punctuation.
fn word_class(c: char) -> u8 {
    if c.is_whitespace() {
        0
    } else if c.is_alphanumeric() || c == '_' {
        1
    } else {
        2
    }
}

fn last_text_column(screen: &dyn ScreenEngine, line: i32) -> u16 {
    let chars = line_chars(screen, line);
    let end = chars.iter().rposition(|c| !c.is_whitespace()).unwrap_or(0);
    u16::try_from(end).unwrap_or(0)
}
