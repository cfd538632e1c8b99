//! History past alacritty's window. alacritty keeps every history line as full cells (24 bytes
//! a column), so it keeps only the newest [`WINDOW_LINES`]; older lines move, a batch at a time,
//! into a compact [`HistoryStore`]. Together they are the pane's history: the window's lines on
//! top of the screen, then the store's, up to the configured limit.
//!
//! Nothing may fall off the window's top before it is moved: one parser action scrolls at most
//! a screenful into history, so the move runs before any action that would leave less than a
//! screenful of room, and takes the window down to half its size (whole lines where it can, so
//! a reflow rarely sees a line split between the two).

use alacritty_terminal::grid::Dimensions;
use alacritty_terminal::index::{Column, Line};
use alacritty_terminal::term::cell::Flags;
use alacritty_terminal::term::{Config, Term, TermMode};

use super::cells;
use super::events::EventSink;
use crate::core::pty::history::HistoryStore;
use crate::core::pty::screen::Cell;

/// History lines alacritty keeps itself. Its grid allocates history rows a thousand at a time,
/// so a window this size costs nothing more than the first line of history does.
pub(super) const WINDOW_LINES: usize = 1_000;

/// Where a history line lives.
pub(super) enum HistoryLine {
    /// In alacritty's grid (its screen or its window of history), at this line.
    Grid(Line),
    /// In the store, this many lines up from its newest.
    Stored(usize),
}

pub(super) struct HistoryOverflow {
    store: HistoryStore,
    /// The configured history: window and store together keep at most this many lines.
    limit: usize,
    /// alacritty's own history limit while nothing is being resized.
    window: usize,
    /// Window lines past which the oldest move to the store before the next parser action
    /// (`usize::MAX` when the window holds the whole limit): a screenful below the window's
    /// limit, worked out for the screen's height at each resize.
    move_above: usize,
    /// A resize raised alacritty's limit to `limit` (so reflow loses nothing); it comes back
    /// down once the primary screen shows and the excess has moved to the store.
    raised: bool,
    /// One row's cells or plain text, reused for every line moved.
    row: Vec<Cell>,
    text: String,
}

impl HistoryOverflow {
    /// History of `limit` lines for a screen of `cols` x `rows`, alacritty keeping `window` of
    /// them.
    pub fn new(limit: usize, window: usize, cols: usize, rows: usize) -> HistoryOverflow {
        let mut overflow = HistoryOverflow {
            store: HistoryStore::new(cols, limit),
            limit,
            window: window.min(limit),
            move_above: usize::MAX,
            raised: false,
            row: Vec::with_capacity(cols),
            text: String::with_capacity(cols),
        };
        overflow.follow_height(rows);
        overflow
    }

    /// alacritty's history limit for a screen of `rows`: the window, never less than two
    /// screens (so a screenful of room is always left after a move).
    pub fn window_for(&self, rows: usize) -> usize {
        self.window.max(2 * rows).min(self.limit)
    }

    fn follow_height(&mut self, rows: usize) {
        if self.overflows() {
            self.move_above = self.window_for(rows).saturating_sub(rows);
        }
    }

    /// Whether lines ever leave alacritty's window (the limit is larger than the window).
    fn overflows(&self) -> bool {
        self.limit > self.window
    }

    /// History lines shown above the screen of `term`.
    pub fn history_len(&self, term: &Term<EventSink>) -> usize {
        if term.mode().contains(TermMode::ALT_SCREEN) {
            return 0;
        }
        let window = term.grid().history_size();
        window + self.stored_shown(window)
    }

    /// The store's lines that are shown: the newest ones, within the limit.
    fn stored_shown(&self, window: usize) -> usize {
        self.store.len().min(self.limit.saturating_sub(window))
    }

    /// Where history line `line` (-1 the newest, down to `-len`) is, if it exists.
    pub fn locate(&self, term: &Term<EventSink>, line: i32) -> Option<HistoryLine> {
        if line >= 0 || term.mode().contains(TermMode::ALT_SCREEN) {
            return None;
        }
        let up = line.unsigned_abs() as usize;
        let window = term.grid().history_size();
        if up <= window {
            return Some(HistoryLine::Grid(Line(line)));
        }
        let age = up - window - 1;
        (age < self.stored_shown(window)).then_some(HistoryLine::Stored(age))
    }

    pub fn stored_row(&self, age: usize, cols: usize) -> Vec<Cell> {
        self.store.row(age, cols)
    }

    pub fn stored_is_wrapped(&self, age: usize) -> bool {
        self.store.is_wrapped(age)
    }

    /// Called before every parser action: moves lines to the store when the window has less
    /// than a screenful of room left (or after a resize raised the limit).
    #[inline]
    pub fn make_room(&mut self, term: &mut Term<EventSink>) {
        if self.raised || term.grid().history_size() > self.move_above {
            self.move_to_store(term);
        }
    }

    /// Forgets the stored lines (ED 3, reset): alacritty clears its own.
    pub fn clear(&mut self) {
        self.store.clear();
    }

    /// Before a resize: lets alacritty keep everything a reflow or a shorter screen pushes into
    /// history, until it has moved to the store.
    pub fn raise_for_resize(&mut self, term: &mut Term<EventSink>, config: &mut Config) {
        if !self.overflows() {
            return;
        }
        // Lines past the limit are gone, even if a wider reflow would leave room for them.
        if !term.mode().contains(TermMode::ALT_SCREEN) {
            self.forget_hidden(term);
        }
        config.scrolling_history = self.limit;
        // `set_options` reaches the primary grid's history even while the alternate screen
        // shows; it reports the title again, which the caller drops.
        term.set_options(config.clone());
        self.raised = true;
    }

    /// After a resize: the store reflows to the new width, and what the window cannot keep
    /// moves to the store.
    pub fn after_resize(&mut self, term: &mut Term<EventSink>) {
        self.store.reflow(term.columns());
        self.follow_height(term.screen_lines());
        self.make_room(term);
    }

    /// Moves the window's oldest lines to the store, down to half the window, then sets the
    /// window's limit back. Not while the alternate screen shows (the primary grid's history is
    /// out of reach then; its raised limit keeps everything until it is back).
    fn move_to_store(&mut self, term: &mut Term<EventSink>) {
        if term.mode().contains(TermMode::ALT_SCREEN) {
            return;
        }
        let rows = term.screen_lines();
        let window_limit = self.window_for(rows);
        let keep = (window_limit / 2).min(window_limit.saturating_sub(2 * rows));
        let history = term.grid().history_size();
        if history > keep {
            let count = whole_lines(term, history, history - keep);
            self.store_oldest(term, history, count);
        }
        term.grid_mut().update_history(window_limit);
        self.raised = false;
        self.forget_hidden(term);
    }

    /// Drops the stored lines the limit no longer lets show.
    fn forget_hidden(&mut self, term: &Term<EventSink>) {
        let shown = self.stored_shown(term.grid().history_size());
        self.store.keep_newest(shown);
    }

    /// Moves the `count` oldest of the window's `history` lines to the store, dropping the
    /// store's oldest lines past the limit.
    fn store_oldest(&mut self, term: &mut Term<EventSink>, history: usize, count: usize) {
        let remaining = history - count;
        let room = self.limit.saturating_sub(remaining);
        // Lines that would fall past the limit at once are not worth encoding.
        let dropped = count.saturating_sub(room);
        self.store.keep_newest(room - (count - dropped));
        let grid = term.grid();
        let last_column = Column(grid.columns() - 1);
        for up in (remaining + 1..=history - dropped).rev() {
            let row = &grid[Line(-(up as i32))];
            let wrapped = row[last_column].flags.contains(Flags::WRAPLINE);
            // Only the cells before the trailing blanks, and plain ones straight as text:
            // most output is plain, and every line scrolled off passes through here.
            let used = row[..]
                .iter()
                .rposition(|cell| !cells::is_plain_blank(cell))
                .map_or(0, |last| last + 1);
            let used = &row[..][..used];
            if used.iter().all(cells::is_plain) {
                self.text.clear();
                self.text.extend(used.iter().map(cells::plain_char));
                self.store.push_plain(&self.text, wrapped);
            } else {
                self.row.clear();
                self.row.extend(used.iter().map(cells::cell));
                self.store.push(&self.row, wrapped);
            }
        }
        // Shrinking the limit drops the oldest lines: the ones just copied.
        term.grid_mut().update_history(remaining);
    }
}

/// How many of the window's oldest lines to move, at most `want`: ending at the end of an
/// output line where one ends in the newer half of the batch, so a line is rarely split between
/// the store and the window.
fn whole_lines(term: &Term<EventSink>, history: usize, want: usize) -> usize {
    let grid = term.grid();
    let last_column = Column(grid.columns() - 1);
    let ends_line = |count: usize| {
        let newest_moved = Line(-((history - count + 1) as i32));
        !grid[newest_moved][last_column]
            .flags
            .contains(Flags::WRAPLINE)
    };
    (want.div_ceil(2)..=want)
        .rev()
        .find(|&count| ends_line(count))
        .unwrap_or(want)
}

#[cfg(test)]
#[path = "overflow_tests.rs"]
mod tests;
