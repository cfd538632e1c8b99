//! Compact scrollback: history lines kept as their text plus runs of colours and attributes
//! instead of one full cell per column, so a pane's 10,000 lines of history cost about what
//! tmux's grid does (a plain ASCII line is its characters and a few dozen bytes).
//!
//! A stored line keeps everything a [`Cell`] says (character, combining marks, colours,
//! attributes, width) and whether the line wraps into the next; trailing blank cells are
//! dropped and come back on reading. Lines are numbered by age: 0 is the newest.

use std::collections::VecDeque;

use super::screen::{Attributes, Cell, CellWidth, Color, Underline};

/// The lines of history, oldest first, all laid out `width` columns wide.
pub struct HistoryStore {
    lines: VecDeque<StoredLine>,
    width: usize,
    /// The most lines it will hold: room for them is reserved at the first line, not before.
    capacity: usize,
}

struct StoredLine {
    /// One character per stored cell, a wide character's spacer included.
    text: Box<str>,
    /// Looks and combining marks; `None` when every stored cell is plain (default colours, no
    /// attributes, one column, no marks), as nearly every line of ordinary output is.
    detail: Option<Box<LineDetail>>,
    wrapped: bool,
}

struct LineDetail {
    /// Consecutive cells that look alike, covering every stored cell in order.
    runs: Box<[Run]>,
    /// Combining marks by cell index.
    marks: Box<[(u16, Box<[char]>)]>,
}

struct Run {
    cells: u16,
    look: Look,
}

/// Everything about a cell but its characters. A run whose width is `Wide` holds wide
/// characters with their spacers: its cells alternate wide, spacer (a lone wide character at the
/// end of a run has no spacer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Look {
    fg: Color,
    bg: Color,
    attrs: Attributes,
    width: CellWidth,
}

impl Look {
    fn of(cell: &Cell) -> Look {
        Look {
            fg: cell.fg,
            bg: cell.bg,
            attrs: cell.attrs,
            width: cell.width,
        }
    }
}

fn is_plain_blank(cell: &Cell) -> bool {
    cell.ch == ' ' && cell.combining.is_empty() && Look::of(cell) == Look::default()
}

/// A cell that draws nothing: a reflow drops these at the end of a line, as alacritty does
/// (bold or italic alone change nothing on a blank).
fn draws_nothing(cell: &Cell) -> bool {
    cell.ch == ' '
        && cell.combining.is_empty()
        && cell.fg == Color::Default
        && cell.bg == Color::Default
        && cell.width == CellWidth::Normal
        && !cell.attrs.inverse
        && cell.attrs.underline == Underline::None
        && !cell.attrs.strikeout
}

impl StoredLine {
    fn encode(cells: &[Cell], wrapped: bool) -> StoredLine {
        let used = cells
            .iter()
            .rposition(|cell| !is_plain_blank(cell))
            .map_or(0, |last| last + 1);
        let cells = &cells[..used];
        let mut text = String::with_capacity(used);
        let mut runs: Vec<Run> = Vec::new();
        let mut marks: Vec<(u16, Box<[char]>)> = Vec::new();
        let mut index = 0;
        while index < cells.len() {
            let cell = &cells[index];
            let look = Look::of(cell);
            // A wide character and its spacer in the same colours go into a run as a pair.
            let pair = look.width == CellWidth::Wide
                && cells.get(index + 1).is_some_and(|next| {
                    Look::of(next)
                        == Look {
                            width: CellWidth::WideSpacer,
                            ..look
                        }
                });
            let unit = if pair { 2 } else { 1 };
            for offset in 0..unit {
                let cell = &cells[index + offset];
                text.push(cell.ch);
                if !cell.combining.is_empty() {
                    let at = u16::try_from(index + offset).unwrap_or(u16::MAX);
                    marks.push((at, cell.combining.clone().into_boxed_slice()));
                }
            }
            match runs.last_mut() {
                // An odd wide run ends in a lone wide character: nothing may follow it.
                Some(run)
                    if run.look == look
                        && (look.width != CellWidth::Wide || run.cells % 2 == 0)
                        && usize::from(run.cells) + unit <= usize::from(u16::MAX) =>
                {
                    run.cells += unit as u16;
                }
                _ => runs.push(Run {
                    cells: unit as u16,
                    look,
                }),
            }
            index += unit;
        }
        let plain = marks.is_empty() && runs.iter().all(|run| run.look == Look::default());
        let detail = (!plain).then(|| {
            Box::new(LineDetail {
                runs: runs.into_boxed_slice(),
                marks: marks.into_boxed_slice(),
            })
        });
        StoredLine {
            text: text.into_boxed_str(),
            detail,
            wrapped,
        }
    }

    /// The line's cells, exactly `cols` of them (blank cells after the stored ones).
    fn decode(&self, cols: usize) -> Vec<Cell> {
        let mut cells = Vec::with_capacity(cols.max(self.text.len()));
        let mut chars = self.text.chars();
        match &self.detail {
            None => cells.extend(chars.map(|ch| Cell {
                ch,
                ..Cell::default()
            })),
            Some(detail) => {
                for run in detail.runs.iter() {
                    for offset in 0..run.cells {
                        let width = match run.look.width {
                            CellWidth::Wide if offset % 2 == 1 => CellWidth::WideSpacer,
                            width => width,
                        };
                        cells.push(Cell {
                            ch: chars.next().unwrap_or(' '),
                            combining: Vec::new(),
                            fg: run.look.fg,
                            bg: run.look.bg,
                            attrs: run.look.attrs,
                            width,
                        });
                    }
                }
                for (at, marks) in detail.marks.iter() {
                    if let Some(cell) = cells.get_mut(usize::from(*at)) {
                        cell.combining = marks.to_vec();
                    }
                }
            }
        }
        cells.resize(cols, Cell::default());
        cells
    }
}

impl HistoryStore {
    /// An empty store for lines `width` columns wide, holding at most `capacity` lines (the
    /// caller drops the oldest with [`HistoryStore::keep_newest`] before adding more).
    pub fn new(width: usize, capacity: usize) -> HistoryStore {
        HistoryStore {
            lines: VecDeque::new(),
            width,
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Adds `cells` (one row, at most `width` columns; missing cells are blank) as the newest
    /// line.
    pub fn push(&mut self, cells: &[Cell], wrapped: bool) {
        self.reserve();
        self.lines.push_back(StoredLine::encode(cells, wrapped));
    }

    /// Adds a row of plain cells (default colours, no attributes or marks, one column each,
    /// no trailing blanks), given as their characters, as the newest line.
    pub fn push_plain(&mut self, text: &str, wrapped: bool) {
        self.reserve();
        self.lines.push_back(StoredLine {
            text: text.into(),
            detail: None,
            wrapped,
        });
    }

    fn reserve(&mut self) {
        if self.lines.capacity() == 0 {
            // Exactly the room needed: doubling would leave most of a second buffer unused.
            self.lines.reserve_exact(self.capacity.max(1));
        }
    }

    /// Drops the oldest lines until at most `count` are left.
    pub fn keep_newest(&mut self, count: usize) {
        let excess = self.lines.len().saturating_sub(count);
        self.lines.drain(..excess);
    }

    /// Forgets every line and gives their memory back.
    pub fn clear(&mut self) {
        self.lines = VecDeque::new();
    }

    /// The cells of the line `age` lines up from the newest (0), exactly `cols` of them; blank
    /// past the oldest.
    pub fn row(&self, age: usize, cols: usize) -> Vec<Cell> {
        match self.line(age) {
            Some(line) => line.decode(cols),
            None => vec![Cell::default(); cols],
        }
    }

    /// Whether the line `age` lines up from the newest continues on the next line.
    pub fn is_wrapped(&self, age: usize) -> bool {
        self.line(age).is_some_and(|line| line.wrapped)
    }

    fn line(&self, age: usize) -> Option<&StoredLine> {
        let index = self.lines.len().checked_sub(age + 1)?;
        self.lines.get(index)
    }

    /// Lays every line out again `cols` wide, the way a terminal reflows on resize: rows joined
    /// where they wrapped, then split at the new width (a wide character that would straddle
    /// the edge moves to the next row, leaving a blank), trailing blanks dropped.
    pub fn reflow(&mut self, cols: usize) {
        if cols == self.width || cols == 0 {
            return;
        }
        let old = std::mem::take(&mut self.lines);
        self.lines.reserve_exact(old.len());
        let mut logical: Vec<Cell> = Vec::new();
        for line in old {
            let cells = line.decode(self.width);
            // A blank at the end of a wrapped row where a wide character did not fit is
            // padding, not text.
            if logical.last().is_some_and(is_plain_blank)
                && cells
                    .first()
                    .is_some_and(|cell| cell.width == CellWidth::Wide)
            {
                logical.pop();
            }
            logical.extend(cells);
            if !line.wrapped {
                let used = logical
                    .iter()
                    .rposition(|cell| !draws_nothing(cell))
                    .map_or(0, |last| last + 1);
                logical.truncate(used);
                self.push_split(&logical, cols, false);
                logical.clear();
            }
        }
        // The newest line continues below, outside the store: keep it wrapping into that.
        if !logical.is_empty() {
            self.push_split(&logical, cols, true);
        }
        self.width = cols;
    }

    /// Adds one logical line as rows of `cols` cells; the last row wraps if `continues`.
    fn push_split(&mut self, cells: &[Cell], cols: usize, continues: bool) {
        let mut row: Vec<Cell> = Vec::with_capacity(cols);
        for cell in cells {
            let straddles = cell.width == CellWidth::Wide && cols > 1 && row.len() + 1 == cols;
            if row.len() == cols || straddles {
                row.resize(cols, Cell::default());
                self.lines.push_back(StoredLine::encode(&row, true));
                row.clear();
            }
            row.push(cell.clone());
        }
        self.lines.push_back(StoredLine::encode(&row, continues));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str, cols: usize) -> Vec<Cell> {
        let mut cells: Vec<Cell> = text
            .chars()
            .map(|ch| Cell {
                ch,
                ..Cell::default()
            })
            .collect();
        cells.resize(cols, Cell::default());
        cells
    }

    fn text_of(cells: &[Cell]) -> String {
        cells
            .iter()
            .filter(|cell| cell.width != CellWidth::WideSpacer)
            .map(|cell| cell.ch)
            .collect::<String>()
            .trim_end()
            .to_string()
    }

    fn wide(ch: char) -> [Cell; 2] {
        [
            Cell {
                ch,
                width: CellWidth::Wide,
                ..Cell::default()
            },
            Cell {
                width: CellWidth::WideSpacer,
                ..Cell::default()
            },
        ]
    }

    #[test]
    fn cells_with_colours_attributes_wide_characters_and_marks_come_back_unchanged() {
        let bold_red = Cell {
            ch: 'a',
            fg: Color::Indexed(1),
            attrs: Attributes {
                bold: true,
                underline: Underline::Curly,
                ..Attributes::default()
            },
            ..Cell::default()
        };
        let rgb_bg_mark = Cell {
            ch: 'e',
            combining: vec!['\u{301}', '\u{302}'],
            bg: Color::Rgb(1, 2, 3),
            ..Cell::default()
        };
        let [cjk, cjk_spacer] = wide('中');
        let [blue_cjk, blue_spacer] = wide('文').map(|cell| Cell {
            fg: Color::Indexed(4),
            ..cell
        });
        let lone_wide = Cell {
            ch: '字',
            width: CellWidth::Wide,
            ..Cell::default()
        };
        let lone_spacer = Cell {
            width: CellWidth::WideSpacer,
            ..Cell::default()
        };
        let erased_with_bg = Cell {
            bg: Color::Indexed(2),
            ..Cell::default()
        };
        let row = vec![
            bold_red.clone(),
            bold_red,
            Cell::default(),
            rgb_bg_mark,
            cjk.clone(),
            cjk_spacer.clone(),
            cjk,
            cjk_spacer,
            lone_wide.clone(),
            lone_wide,
            lone_spacer,
            blue_cjk,
            blue_spacer,
            Cell {
                ch: 'z',
                ..Cell::default()
            },
            erased_with_bg.clone(),
            erased_with_bg,
            Cell::default(),
            Cell::default(),
        ];
        let mut store = HistoryStore::new(row.len(), 10);
        store.push(&row, true);
        assert_eq!(store.row(0, row.len()), row);
        assert!(store.is_wrapped(0));
    }

    #[test]
    fn a_plain_line_keeps_only_its_text() {
        let line = StoredLine::encode(&plain("hello world", 120), false);
        assert_eq!(&*line.text, "hello world");
        assert!(line.detail.is_none());
        assert_eq!(line.decode(120), plain("hello world", 120));
    }

    #[test]
    fn rows_are_numbered_from_the_newest_and_blank_past_the_oldest() {
        let mut store = HistoryStore::new(8, 10);
        for text in ["one", "two", "three"] {
            store.push(&plain(text, 8), false);
        }
        assert_eq!(store.len(), 3);
        assert_eq!(text_of(&store.row(0, 8)), "three");
        assert_eq!(text_of(&store.row(2, 8)), "one");
        assert_eq!(store.row(3, 8), plain("", 8));
        assert!(!store.is_wrapped(3));
        // A narrower or wider reader gets exactly its width.
        assert_eq!(store.row(0, 3), plain("thr", 3));
        assert_eq!(store.row(0, 12).len(), 12);
    }

    #[test]
    fn the_oldest_lines_go_first_and_clear_forgets_all() {
        let mut store = HistoryStore::new(8, 10);
        for number in 0..10 {
            store.push(&plain(&number.to_string(), 8), false);
        }
        store.keep_newest(4);
        assert_eq!(store.len(), 4);
        assert_eq!(text_of(&store.row(3, 8)), "6");
        assert_eq!(text_of(&store.row(0, 8)), "9");
        store.clear();
        assert!(store.is_empty());
        assert_eq!(store.row(0, 8), plain("", 8));
    }

    #[test]
    fn reflow_joins_wrapped_rows_and_splits_them_at_the_new_width() {
        let mut store = HistoryStore::new(4, 10);
        store.push(&plain("abcd", 4), true);
        store.push(&plain("efgh", 4), true);
        store.push(&plain("ij", 4), false);
        store.push(&plain("kl", 4), false);
        store.reflow(6);
        let rows: Vec<(String, bool)> = (0..store.len())
            .rev()
            .map(|age| (text_of(&store.row(age, 6)), store.is_wrapped(age)))
            .collect();
        assert_eq!(
            rows,
            [
                ("abcdef".to_string(), true),
                ("ghij".to_string(), false),
                ("kl".to_string(), false)
            ]
        );
        store.reflow(3);
        let texts: Vec<String> = (0..store.len())
            .rev()
            .map(|age| text_of(&store.row(age, 3)))
            .collect();
        assert_eq!(texts, ["abc", "def", "ghi", "j", "kl"]);
    }

    #[test]
    fn reflow_moves_a_wide_character_off_the_edge_and_back() {
        let mut row = plain("ab", 2).to_vec();
        row.extend(wide('中'));
        let mut store = HistoryStore::new(4, 10);
        store.push(&row, false);
        store.reflow(3);
        // "ab" then a blank where 中 did not fit; 中 on the next row.
        assert_eq!(store.len(), 2);
        assert_eq!(store.row(1, 3), plain("ab", 3));
        assert!(store.is_wrapped(1));
        let mut second = wide('中').to_vec();
        second.push(Cell::default());
        assert_eq!(store.row(0, 3), second);
        store.reflow(4);
        assert_eq!(store.len(), 1);
        assert_eq!(store.row(0, 4), row);
    }

    #[test]
    fn a_line_that_continues_past_the_store_keeps_wrapping() {
        let mut store = HistoryStore::new(4, 10);
        store.push(&plain("abcd", 4), true);
        store.reflow(2);
        assert_eq!(store.len(), 2);
        assert!(store.is_wrapped(0));
        assert!(store.is_wrapped(1));
    }
}
