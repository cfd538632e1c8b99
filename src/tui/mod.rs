//! The pane workspace: a ratatui + crossterm front end, a thin client of the core engine
//! (`Command`s in, `Event`s out). It never talks to the model or SQLite itself.

pub mod clipboard;
pub mod diff;
pub mod highlight;
pub mod markdown;
pub mod pane;
pub mod panes;
pub mod theme;
