//! The args editor of the workflow list.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;

use crate::core::workflow::args::args_from_text;

/// The args editor of one workflow: a single line of JSON or plain text.
#[derive(Debug, Clone, Default)]
pub(super) struct ArgsEditor {
    pub(super) text: String,
    /// Cursor as a char index.
    pub(super) cursor: usize,
}

impl ArgsEditor {
    /// The args to run with: `Null` when empty, JSON, or plain text as a string.
    pub(super) fn parse(&self) -> Result<Value, String> {
        args_from_text(&self.text)
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map(|(b, _)| b)
            .unwrap_or(self.text.len())
    }

    pub(super) fn insert(&mut self, s: &str) {
        let at = self.byte_at(self.cursor);
        self.text.insert_str(at, s);
        self.cursor += s.chars().count();
    }

    /// Edits for a key; false when the key is not an editing key.
    pub(super) fn key(&mut self, key: KeyEvent) -> bool {
        let len = self.text.chars().count();
        match key.code {
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.insert(&c.to_string());
            }
            KeyCode::Char('u') => {
                self.text.clear();
                self.cursor = 0;
            }
            KeyCode::Char('a') | KeyCode::Home => self.cursor = 0,
            KeyCode::Char('e') | KeyCode::End => self.cursor = len,
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Backspace if self.cursor > 0 => {
                let at = self.byte_at(self.cursor - 1);
                self.text.remove(at);
                self.cursor -= 1;
            }
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }
}
