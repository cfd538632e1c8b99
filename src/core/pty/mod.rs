//! Terminal sessions: a child process on a pseudo-terminal and the screen model that turns its
//! output into cells. The screen engine sits behind [`screen::ScreenEngine`] so the pane, the
//! replay tool and the tests never depend on which crate does the parsing.

pub mod alacritty;
pub mod capture;
mod cell_text;
pub mod history;
pub mod keys;
pub mod mouse;
pub mod paste;
#[cfg(test)]
pub mod recording;
pub mod screen;
pub mod search;
pub mod selection;
pub mod session;
#[cfg(test)]
mod test_screen;
