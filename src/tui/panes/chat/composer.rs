//! The input composer: multi-line text with a cursor, prompt history, and large pastes kept
//! intact behind a `[pasted N lines]` placeholder until the message is sent.

/// Pastes with more lines than this are collapsed to a placeholder.
const PASTE_COLLAPSE_LINES: usize = 5;
/// …or with more characters than this.
const PASTE_COLLAPSE_CHARS: usize = 800;

#[derive(Debug, Default, Clone)]
pub struct Composer {
    text: String,
    /// Byte offset of the cursor in `text` (always on a char boundary).
    cursor: usize,
    /// (placeholder, pasted text); expanded when the message is taken.
    pastes: Vec<(String, String)>,
    /// Older prompts, newest first.
    history: Vec<String>,
    /// Position while browsing history, and the draft it replaced.
    browsing: Option<(usize, String)>,
}

impl Composer {
    pub fn new(history: Vec<String>) -> Composer {
        Composer {
            history,
            ..Composer::default()
        }
    }

    /// What is shown (placeholders, not pasted bodies).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn set_text(&mut self, text: &str) {
        self.text = text.to_string();
        self.cursor = self.text.len();
    }

    pub fn insert_char(&mut self, c: char) {
        self.browsing = None;
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }

    pub fn insert_str(&mut self, s: &str) {
        self.browsing = None;
        self.text.insert_str(self.cursor, s);
        self.cursor += s.len();
    }

    pub fn newline(&mut self) {
        self.insert_char('\n');
    }

    /// Bracketed paste: small pastes are typed in, large ones collapse to a placeholder.
    pub fn paste(&mut self, pasted: &str) {
        // Terminals send CR line ends in pastes.
        let pasted = pasted.replace("\r\n", "\n").replace('\r', "\n");
        let lines = pasted.lines().count();
        if lines <= PASTE_COLLAPSE_LINES && pasted.chars().count() <= PASTE_COLLAPSE_CHARS {
            self.insert_str(&pasted);
            return;
        }
        let mut placeholder = format!("[pasted {lines} lines]");
        let mut n = 2;
        while self.pastes.iter().any(|(p, _)| *p == placeholder) {
            placeholder = format!("[pasted {lines} lines #{n}]");
            n += 1;
        }
        self.insert_str(&placeholder);
        self.pastes.push((placeholder, pasted));
    }

    pub fn backspace(&mut self) {
        self.browsing = None;
        // A placeholder goes as a whole: deleting one bracket of it would orphan the paste.
        let before = &self.text[..self.cursor];
        if let Some(i) = self
            .pastes
            .iter()
            .position(|(p, _)| before.ends_with(p.as_str()))
        {
            let (p, _) = self.pastes.remove(i);
            let start = self.cursor - p.len();
            self.text.replace_range(start..self.cursor, "");
            self.cursor = start;
            return;
        }
        if let Some(c) = before.chars().next_back() {
            let start = self.cursor - c.len_utf8();
            self.text.replace_range(start..self.cursor, "");
            self.cursor = start;
        }
    }

    pub fn delete(&mut self) {
        if let Some(c) = self.text[self.cursor..].chars().next() {
            self.text
                .replace_range(self.cursor..self.cursor + c.len_utf8(), "");
        }
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        let start = trimmed
            .rfind(char::is_whitespace)
            .map(|i| i + 1)
            .unwrap_or(0);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    pub fn left(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
        }
    }

    pub fn right(&mut self) {
        if let Some(c) = self.text[self.cursor..].chars().next() {
            self.cursor += c.len_utf8();
        }
    }

    pub fn line_start(&mut self) {
        self.cursor = self.text[..self.cursor]
            .rfind('\n')
            .map(|i| i + 1)
            .unwrap_or(0);
    }

    pub fn line_end(&mut self) {
        self.cursor = self.text[self.cursor..]
            .find('\n')
            .map(|i| self.cursor + i)
            .unwrap_or(self.text.len());
    }

    /// (line, column in chars) of the cursor.
    pub fn cursor_line_col(&self) -> (usize, usize) {
        let before = &self.text[..self.cursor];
        let line = before.matches('\n').count();
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0);
        (line, col)
    }

    fn line_count(&self) -> usize {
        self.text.matches('\n').count() + 1
    }

    fn move_to_line(&mut self, line: usize, col: usize) {
        let mut offset = 0;
        for (i, l) in self.text.split('\n').enumerate() {
            if i == line {
                let byte = l.char_indices().nth(col).map(|(b, _)| b).unwrap_or(l.len());
                self.cursor = offset + byte;
                return;
            }
            offset += l.len() + 1;
        }
    }

    /// Up: previous line of a multi-line draft, else the previous prompt.
    pub fn up(&mut self) {
        let (line, col) = self.cursor_line_col();
        if line > 0 {
            self.move_to_line(line - 1, col);
            return;
        }
        let next = match &self.browsing {
            Some((i, _)) => i + 1,
            None => 0,
        };
        if let Some(entry) = self.history.get(next).cloned() {
            let draft = match self.browsing.take() {
                Some((_, d)) => d,
                None => self.text.clone(),
            };
            self.text = entry;
            self.cursor = self.text.len();
            self.browsing = Some((next, draft));
        }
    }

    /// Down: next line, else a newer prompt, else back to the draft.
    pub fn down(&mut self) {
        let (line, col) = self.cursor_line_col();
        if line + 1 < self.line_count() {
            self.move_to_line(line + 1, col);
            return;
        }
        match self.browsing.take() {
            Some((0, draft)) => {
                self.text = draft;
                self.cursor = self.text.len();
            }
            Some((i, draft)) => {
                if let Some(entry) = self.history.get(i - 1).cloned() {
                    self.text = entry;
                    self.cursor = self.text.len();
                }
                self.browsing = Some((i - 1, draft));
            }
            None => {}
        }
    }

    /// Takes the message to send (pastes expanded) and records it in the history.
    pub fn take(&mut self) -> String {
        let shown = std::mem::take(&mut self.text);
        let mut full = shown.clone();
        for (placeholder, body) in self.pastes.drain(..) {
            if let Some(i) = full.find(&placeholder) {
                full.replace_range(i..i + placeholder.len(), &body);
            }
        }
        self.cursor = 0;
        self.browsing = None;
        if !full.trim().is_empty() {
            self.history.retain(|h| *h != full);
            self.history.insert(0, full.clone());
        }
        full
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.pastes.clear();
        self.cursor = 0;
        self.browsing = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_and_cursor() {
        let mut c = Composer::new(vec![]);
        for ch in "helo".chars() {
            c.insert_char(ch);
        }
        c.left();
        c.insert_char('l');
        assert_eq!(c.text(), "hello");
        c.line_end();
        c.newline();
        c.insert_str("wörld");
        assert_eq!(c.cursor_line_col(), (1, 5));
        c.backspace();
        assert_eq!(c.text(), "hello\nwörl");
        c.up();
        assert_eq!(c.cursor_line_col(), (0, 4));
        c.line_end();
        c.delete_word();
        assert_eq!(c.text(), "\nwörl");
        assert_eq!(c.take(), "\nwörl");
        assert!(c.is_empty());
    }

    #[test]
    fn history_browses_and_restores_draft() {
        let mut c = Composer::new(vec!["second".into(), "first".into()]);
        c.insert_str("draft");
        c.up();
        assert_eq!(c.text(), "second");
        c.up();
        assert_eq!(c.text(), "first");
        c.up();
        assert_eq!(c.text(), "first");
        c.down();
        assert_eq!(c.text(), "second");
        c.down();
        assert_eq!(c.text(), "draft");
        c.set_text("third");
        assert_eq!(c.take(), "third");
        c.up();
        assert_eq!(c.text(), "third");
    }

    #[test]
    fn large_paste_collapses_until_sent() {
        let mut c = Composer::new(vec![]);
        let body: String = (0..50).map(|i| format!("line {i}\r\n")).collect();
        c.insert_str("see: ");
        c.paste(&body);
        assert_eq!(c.text(), "see: [pasted 50 lines]");
        c.paste(&body);
        assert_eq!(c.text(), "see: [pasted 50 lines][pasted 50 lines #2]");
        c.backspace();
        assert_eq!(c.text(), "see: [pasted 50 lines]");
        let sent = c.take();
        assert!(sent.starts_with("see: line 0\nline 1\n"));
        assert_eq!(sent.lines().count(), 50);
        let mut small = Composer::new(vec![]);
        small.paste("a\nb");
        assert_eq!(small.text(), "a\nb");
    }
}
