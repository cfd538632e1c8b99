//! The chat pane.

pub mod composer;
pub mod slash;
pub mod items;
