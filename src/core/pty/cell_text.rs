//! Reading text back out of cells, shared by search and selection so both see the same text.

use super::screen::{Cell, CellWidth};

/// Appends the cell's character and its combining marks; a wide character's spacer adds nothing.
pub(crate) fn push_cell(text: &mut String, cell: &Cell) {
    if cell.width == CellWidth::WideSpacer {
        return;
    }
    text.push(cell.ch);
    text.extend(cell.combining.iter());
}

/// How many leading cells remain once trailing blank cells are dropped.
pub(crate) fn trimmed_len(cells: &[Cell]) -> usize {
    cells
        .iter()
        .rposition(|cell| !is_blank(cell))
        .map_or(0, |last| last + 1)
}

/// The columns a cell's character takes: 2 for a wide character, 1 otherwise.
pub(crate) fn cell_columns(cell: &Cell) -> u16 {
    if cell.width == CellWidth::Wide {
        2
    } else {
        1
    }
}

fn is_blank(cell: &Cell) -> bool {
    cell.ch == ' ' && cell.combining.is_empty() && cell.width == CellWidth::Normal
}
