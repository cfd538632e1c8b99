//! The screen model's contract: bytes from the child in; cells, cursor, modes, title, history and
//! the bytes owed back to the child out. Engine-neutral types, so a pane renders and searches
//! without knowing which engine parsed the stream.

/// Columns and rows of a terminal grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridSize {
    pub cols: u16,
    pub rows: u16,
}

/// A colour as the child asked for it; the renderer degrades it to what the outer terminal can
/// show (256, 16, none under NO_COLOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    /// The terminal's default foreground or background.
    #[default]
    Default,
    /// One of the 256 palette entries (0–15 are the ANSI colours).
    Indexed(u8),
    Rgb(u8, u8, u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Underline {
    #[default]
    None,
    Single,
    Double,
    Curly,
    Dotted,
    Dashed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attributes {
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: Underline,
    pub blink: bool,
    pub inverse: bool,
    pub hidden: bool,
    pub strikeout: bool,
}

/// How much of the row a cell takes: a wide character (CJK, most emoji) is a `Wide` cell
/// followed by a `WideSpacer` that renders nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CellWidth {
    #[default]
    Normal,
    Wide,
    WideSpacer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The base character; a space for an empty cell.
    pub ch: char,
    /// Combining characters drawn on top of `ch` (empty for nearly every cell, so no allocation).
    pub combining: Vec<char>,
    pub fg: Color,
    pub bg: Color,
    pub attrs: Attributes,
    pub width: CellWidth,
}

impl Default for Cell {
    fn default() -> Self {
        Self {
            ch: ' ',
            combining: Vec::new(),
            fg: Color::Default,
            bg: Color::Default,
            attrs: Attributes::default(),
            width: CellWidth::Normal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CursorShape {
    #[default]
    Block,
    Underline,
    Bar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    /// 0-based column and screen row.
    pub col: u16,
    pub row: u16,
    pub visible: bool,
    pub shape: CursorShape,
    pub blinking: bool,
}

/// Which mouse events the child asked for (DECSET 1000 / 1002 / 1003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MouseTracking {
    #[default]
    Off,
    /// 1000: presses and releases.
    Click,
    /// 1002: also motion while a button is held.
    Drag,
    /// 1003: all motion.
    Motion,
}

/// The modes that change how input is encoded for the child or how the pane behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TerminalModes {
    /// DECCKM: cursor keys send `ESC O A` instead of `ESC [ A`.
    pub app_cursor: bool,
    /// DECKPAM: the keypad sends application sequences.
    pub app_keypad: bool,
    /// 2004.
    pub bracketed_paste: bool,
    /// 1004.
    pub focus_events: bool,
    pub mouse: MouseTracking,
    /// 1006: SGR mouse encoding; otherwise the legacy `CSI M` bytes.
    pub mouse_sgr: bool,
    /// 1005: UTF-8 extended legacy coordinates.
    pub mouse_utf8: bool,
    /// 1007: the wheel sends cursor keys while the alternate screen is shown.
    pub alternate_scroll: bool,
    /// The alternate screen (1049 / 1047 / 47) is shown.
    pub alt_screen: bool,
}

/// Something the child did that the pane must pass on or show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenSignal {
    /// BEL: shown as a notice.
    Bell,
    /// OSC 0 / 2 set the window title (`None` = reset).
    Title(Option<String>),
    /// OSC 52 store: text the child wants on the clipboard, passed to the outer terminal.
    ClipboardStore { text: String },
}

/// A screen engine: feed it the child's bytes, read back what a terminal would show.
///
/// Lines are addressed relative to the top of the screen: `0..rows` is the screen, negative
/// lines are history (`-1` is the line that scrolled off most recently, down to
/// `-(history_len as i32)`).
pub trait ScreenEngine: Send {
    /// Parses `bytes` from the child; split sequences are completed by the next call.
    fn feed(&mut self, bytes: &[u8]);
    /// Resizes the grid, reflowing text as the engine can.
    fn resize(&mut self, size: GridSize);
    fn size(&self) -> GridSize;
    /// Lines of history above the screen (0 while the alternate screen is shown).
    fn history_len(&self) -> usize;
    /// The cells of one line (screen or history), exactly `cols` long.
    fn row(&self, line: i32) -> Vec<Cell>;
    /// Whether `line` continues on the next line (it was wrapped, not ended by a newline).
    fn is_wrapped(&self, line: i32) -> bool;
    fn cursor(&self) -> Cursor;
    fn modes(&self) -> TerminalModes;
    /// The title set by OSC 0 / 2, if any.
    fn title(&self) -> Option<String>;
    /// Bytes owed to the child since the last call (answers to DA1/DA2, DSR, CPR, DECRQM,
    /// OSC 10/11, XTVERSION): write them to the child so nothing waits for an answer.
    fn take_replies(&mut self) -> Vec<u8>;
    /// Bells, title changes and clipboard stores since the last call, in order.
    fn take_signals(&mut self) -> Vec<ScreenSignal>;

    /// The text of one line, wide spacers skipped, trailing blanks kept (callers trim).
    fn line_text(&self, line: i32) -> String {
        let mut text = String::new();
        for cell in self.row(line) {
            if cell.width == CellWidth::WideSpacer {
                continue;
            }
            text.push(cell.ch);
            text.extend(cell.combining.iter());
        }
        text
    }
}
