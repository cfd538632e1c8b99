//! A fixed screen for unit tests of the code that reads a [`ScreenEngine`]: rows built from
//! strings (wide characters become a wide cell and its spacer, combining marks join the cell
//! before them), each with its own wrap flag. It parses nothing: `feed` is ignored.

use unicode_width::UnicodeWidthChar;

use super::screen::{Cell, CellWidth, Cursor, GridSize, ScreenEngine, ScreenSignal, TerminalModes};

struct Row {
    cells: Vec<Cell>,
    wrapped: bool,
}

pub struct TestScreen {
    size: GridSize,
    /// History then screen, top to bottom; the last `size.rows` rows are the screen.
    rows: Vec<Row>,
}

impl TestScreen {
    /// An empty screen of `cols` x `rows` with no history.
    pub fn new(cols: u16, rows: u16) -> Self {
        let mut screen = Self {
            size: GridSize { cols, rows },
            rows: Vec::new(),
        };
        for _ in 0..rows {
            screen.push_row("", false);
        }
        screen
    }

    /// A screen whose rows, top to bottom, are `lines` (history first when there are more
    /// lines than rows, blank rows below when fewer). No row is wrapped.
    pub fn with_lines(cols: u16, rows: u16, lines: &[&str]) -> Self {
        let specs: Vec<(&str, bool)> = lines.iter().map(|line| (*line, false)).collect();
        Self::with_rows(cols, rows, &specs)
    }

    /// Like [`TestScreen::with_lines`], each row with its wrap flag (true: it continues on the
    /// next row).
    pub fn with_rows(cols: u16, rows: u16, specs: &[(&str, bool)]) -> Self {
        let mut screen = Self::new(cols, rows);
        screen.rows.clear();
        for (text, wrapped) in specs {
            screen.push_row(text, *wrapped);
        }
        while screen.rows.len() < usize::from(rows) {
            screen.push_row("", false);
        }
        screen
    }

    fn push_row(&mut self, text: &str, wrapped: bool) {
        let mut cells: Vec<Cell> = Vec::with_capacity(usize::from(self.size.cols));
        for ch in text.chars() {
            match ch.width().unwrap_or(0) {
                0 => cells
                    .last_mut()
                    .expect("a combining mark needs a cell before it")
                    .combining
                    .push(ch),
                2 => {
                    cells.push(Cell {
                        ch,
                        width: CellWidth::Wide,
                        ..Cell::default()
                    });
                    cells.push(Cell {
                        width: CellWidth::WideSpacer,
                        ..Cell::default()
                    });
                }
                _ => cells.push(Cell {
                    ch,
                    ..Cell::default()
                }),
            }
        }
        assert!(
            cells.len() <= usize::from(self.size.cols),
            "row {text:?} is wider than {} columns",
            self.size.cols
        );
        cells.resize(usize::from(self.size.cols), Cell::default());
        self.rows.push(Row { cells, wrapped });
    }

    fn index(&self, line: i32) -> usize {
        let top_of_screen = self.history_len() as i64;
        let index = top_of_screen + i64::from(line);
        assert!(
            index >= 0 && (index as usize) < self.rows.len(),
            "line {line} is outside the test screen"
        );
        index as usize
    }
}

impl ScreenEngine for TestScreen {
    fn feed(&mut self, _bytes: &[u8]) {}

    fn resize(&mut self, size: GridSize) {
        self.size = size;
    }

    fn size(&self) -> GridSize {
        self.size
    }

    fn history_len(&self) -> usize {
        self.rows.len() - usize::from(self.size.rows)
    }

    fn row(&self, line: i32) -> Vec<Cell> {
        self.rows[self.index(line)].cells.clone()
    }

    fn is_wrapped(&self, line: i32) -> bool {
        self.rows[self.index(line)].wrapped
    }

    fn cursor(&self) -> Cursor {
        Cursor::default()
    }

    fn modes(&self) -> TerminalModes {
        TerminalModes::default()
    }

    fn title(&self) -> Option<String> {
        None
    }

    fn take_replies(&mut self) -> Vec<u8> {
        Vec::new()
    }

    fn take_signals(&mut self) -> Vec<ScreenSignal> {
        Vec::new()
    }
}
