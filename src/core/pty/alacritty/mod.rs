//! The screen engine on alacritty_terminal (Apache-2.0): its parser and grid behind
//! [`ScreenEngine`], plus the few things tmux does that it does not — the XTVERSION answer and
//! the 47/1047 alternate screens.

mod cells;
mod dispatch;
mod events;
mod overflow;
mod palette;
mod xtversion;

use std::time::Duration;

use alacritty_terminal::event::Event;
use alacritty_terminal::grid::Dimensions;
use alacritty_terminal::index::{Column, Line};
use alacritty_terminal::term::cell::Flags;
use alacritty_terminal::term::{self, Config, Osc52, Term, TermMode};
use alacritty_terminal::vte::ansi::{self, Processor, Timeout};

use super::screen::{
    Cell, Cursor, CursorShape, GridSize, MouseTracking, ScreenEngine, ScreenSignal, TerminalModes,
};
use dispatch::Dispatch;
use events::EventSink;
use overflow::{HistoryLine, HistoryOverflow, WINDOW_LINES};
use xtversion::XtVersionScanner;

/// History lines kept above the screen unless the caller asks otherwise.
pub const DEFAULT_SCROLLBACK_LINES: usize = 10_000;

/// The answer to XTVERSION: `DCS > | name(version) ST`, as xterm spells it.
const XTVERSION_REPLY: &str = concat!("\x1bP>|boocode(", env!("CARGO_PKG_VERSION"), ")\x1b\\");

pub struct AlacrittyScreen {
    term: Term<EventSink>,
    config: Config,
    /// History older than alacritty's window, kept compact.
    overflow: HistoryOverflow,
    parser: Processor<NoSyncUpdates>,
    events: EventSink,
    xtversion: XtVersionScanner,
    title: Option<String>,
    replies: Vec<u8>,
    signals: Vec<ScreenSignal>,
}

/// alacritty's grid dimensions for a [`GridSize`], at least the 2×1 it supports.
struct Dims(GridSize);

impl Dimensions for Dims {
    fn total_lines(&self) -> usize {
        self.screen_lines()
    }

    fn screen_lines(&self) -> usize {
        usize::from(self.0.rows).max(term::MIN_SCREEN_LINES)
    }

    fn columns(&self) -> usize {
        usize::from(self.0.cols).max(term::MIN_COLUMNS)
    }
}

/// Synchronized output (mode 2026) is not buffered: vte's buffering needs a timer to end an
/// update the child never closes, and the pane already draws at most once a frame. tmux 3.3a
/// ignores the mode too, so replays stay comparable.
#[derive(Default)]
struct NoSyncUpdates;

impl Timeout for NoSyncUpdates {
    fn set_timeout(&mut self, _: Duration) {}

    fn clear_timeout(&mut self) {}

    fn pending_timeout(&self) -> bool {
        false
    }
}

impl AlacrittyScreen {
    /// A blank screen of `size` keeping up to `scrollback_lines` lines of history.
    pub fn new(size: GridSize, scrollback_lines: usize) -> Self {
        Self::with_window(size, scrollback_lines, WINDOW_LINES)
    }

    /// Like [`AlacrittyScreen::new`], alacritty itself keeping only `window_lines` of the
    /// history (at least two screens); the rest is kept compact.
    pub fn with_window(size: GridSize, scrollback_lines: usize, window_lines: usize) -> Self {
        let dims = Dims(size);
        let overflow = HistoryOverflow::new(
            scrollback_lines,
            window_lines,
            dims.columns(),
            dims.screen_lines(),
        );
        let config = Config {
            scrolling_history: overflow.window_for(dims.screen_lines()),
            // Stores reach the outer clipboard; a query is never answered, so a child cannot
            // read what the user copied elsewhere.
            osc52: Osc52::OnlyCopy,
            ..Config::default()
        };
        let events = EventSink::default();
        Self {
            term: Term::new(config.clone(), &dims, events.clone()),
            config,
            overflow,
            parser: Processor::new(),
            events,
            xtversion: XtVersionScanner::default(),
            title: None,
            replies: Vec::new(),
            signals: Vec::new(),
        }
    }

    fn parse(&mut self, bytes: &[u8]) {
        let mut dispatch = Dispatch {
            term: &mut self.term,
            overflow: &mut self.overflow,
        };
        self.parser.advance(&mut dispatch, bytes);
        self.collect_events();
    }

    /// Turns what the terminal reported into replies and signals, keeping their order.
    fn collect_events(&mut self) {
        for event in self.events.drain() {
            match event {
                Event::PtyWrite(text) => self.replies.extend_from_slice(text.as_bytes()),
                Event::ColorRequest(index, format) => {
                    if let Some(rgb) = palette::color_at(self.term.colors(), index) {
                        self.replies.extend_from_slice(format(rgb).as_bytes());
                    }
                }
                Event::Title(title) => {
                    self.title = Some(title.clone());
                    self.signals.push(ScreenSignal::Title(Some(title)));
                }
                Event::ResetTitle => {
                    self.title = None;
                    self.signals.push(ScreenSignal::Title(None));
                }
                Event::Bell => self.signals.push(ScreenSignal::Bell),
                Event::ClipboardStore(_, text) => {
                    self.signals.push(ScreenSignal::ClipboardStore { text })
                }
                // Clipboard loads are refused by the OSC 52 policy above; the pixel size
                // (CSI 14 t) is unknown here, and tmux does not answer it either. The rest
                // concern alacritty's own window.
                Event::ClipboardLoad(..)
                | Event::TextAreaSizeRequest(_)
                | Event::MouseCursorDirty
                | Event::CursorBlinkingChange
                | Event::Wakeup
                | Event::Exit
                | Event::ChildExit(_) => {}
            }
        }
    }

    /// Where `line` (negative = history) is now, if it exists.
    fn locate(&self, line: i32) -> Option<HistoryLine> {
        if line >= 0 {
            let on_screen = (line as usize) < self.term.screen_lines();
            return on_screen.then_some(HistoryLine::Grid(Line(line)));
        }
        self.overflow.locate(&self.term, line)
    }
}

impl ScreenEngine for AlacrittyScreen {
    fn feed(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(end) = self.xtversion.find_query_end(rest) {
            self.parse(&rest[..end]);
            self.replies.extend_from_slice(XTVERSION_REPLY.as_bytes());
            rest = &rest[end..];
        }
        self.parse(rest);
    }

    fn resize(&mut self, size: GridSize) {
        let dims = Dims(size);
        if (dims.columns(), dims.screen_lines()) == (self.term.columns(), self.term.screen_lines())
        {
            return;
        }
        self.overflow
            .raise_for_resize(&mut self.term, &mut self.config);
        // Raising the limit reported the title again; every other event was taken after the
        // last feed, so nothing else is dropped.
        drop(self.events.drain());
        self.term.resize(dims);
        self.overflow.after_resize(&mut self.term);
    }

    fn size(&self) -> GridSize {
        GridSize {
            cols: self.term.columns() as u16,
            rows: self.term.screen_lines() as u16,
        }
    }

    fn history_len(&self) -> usize {
        self.overflow.history_len(&self.term)
    }

    fn row(&self, line: i32) -> Vec<Cell> {
        let cols = self.term.columns();
        match self.locate(line) {
            Some(HistoryLine::Grid(line)) => {
                self.term.grid()[line][..].iter().map(cells::cell).collect()
            }
            Some(HistoryLine::Stored(age)) => self.overflow.stored_row(age, cols),
            None => vec![Cell::default(); cols],
        }
    }

    fn is_wrapped(&self, line: i32) -> bool {
        match self.locate(line) {
            Some(HistoryLine::Grid(line)) => self.term.grid()[line]
                [Column(self.term.columns() - 1)]
            .flags
            .contains(Flags::WRAPLINE),
            Some(HistoryLine::Stored(age)) => self.overflow.stored_is_wrapped(age),
            None => false,
        }
    }

    fn cursor(&self) -> Cursor {
        let point = self.term.grid().cursor.point;
        let style = self.term.cursor_style();
        let shape = match style.shape {
            ansi::CursorShape::Underline => CursorShape::Underline,
            ansi::CursorShape::Beam => CursorShape::Bar,
            ansi::CursorShape::Block
            | ansi::CursorShape::HollowBlock
            | ansi::CursorShape::Hidden => CursorShape::Block,
        };
        Cursor {
            col: point.column.0 as u16,
            row: point.line.0.max(0) as u16,
            visible: self.term.mode().contains(TermMode::SHOW_CURSOR)
                && style.shape != ansi::CursorShape::Hidden,
            shape,
            blinking: style.blinking,
        }
    }

    fn modes(&self) -> TerminalModes {
        let mode = *self.term.mode();
        let mouse = if mode.contains(TermMode::MOUSE_MOTION) {
            MouseTracking::Motion
        } else if mode.contains(TermMode::MOUSE_DRAG) {
            MouseTracking::Drag
        } else if mode.contains(TermMode::MOUSE_REPORT_CLICK) {
            MouseTracking::Click
        } else {
            MouseTracking::Off
        };
        TerminalModes {
            app_cursor: mode.contains(TermMode::APP_CURSOR),
            app_keypad: mode.contains(TermMode::APP_KEYPAD),
            bracketed_paste: mode.contains(TermMode::BRACKETED_PASTE),
            focus_events: mode.contains(TermMode::FOCUS_IN_OUT),
            mouse,
            mouse_sgr: mode.contains(TermMode::SGR_MOUSE),
            mouse_utf8: mode.contains(TermMode::UTF8_MOUSE),
            alternate_scroll: mode.contains(TermMode::ALTERNATE_SCROLL),
            alt_screen: mode.contains(TermMode::ALT_SCREEN),
        }
    }

    fn title(&self) -> Option<String> {
        self.title.clone()
    }

    fn take_replies(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.replies)
    }

    fn take_signals(&mut self) -> Vec<ScreenSignal> {
        std::mem::take(&mut self.signals)
    }
}

#[cfg(test)]
mod tests;
