//! Copy mode and search: a line selection over the transcript, copied with `y`.

use super::*;

impl ChatPane {
    pub(super) fn copy_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let Some((anchor, cursor)) = self.copy else {
            return KeyOutcome::Ignored;
        };
        let cursor = match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.pos_down(cursor, 1),
            KeyCode::Char('k') | KeyCode::Up => self.pos_up(cursor, 1),
            KeyCode::PageDown => self.pos_down(cursor, self.view_h.max(2) - 1),
            KeyCode::PageUp => self.pos_up(cursor, self.view_h.max(2) - 1),
            KeyCode::Char('v') => {
                self.copy = Some((cursor, cursor));
                return KeyOutcome::Consumed;
            }
            KeyCode::Char('y') | KeyCode::Enter => {
                let text = self.selection_text(anchor, cursor);
                self.copy = None;
                let n = text.lines().count();
                return KeyOutcome::Actions(vec![
                    AppAction::Copy(text),
                    AppAction::Notice(format!("copied {n} lines")),
                ]);
            }
            KeyCode::Esc | KeyCode::Char('q') => {
                self.copy = None;
                return KeyOutcome::Consumed;
            }
            _ => return KeyOutcome::Consumed,
        };
        self.copy = Some((anchor, cursor));
        self.reveal(cursor);
        KeyOutcome::Consumed
    }

    pub(super) fn selection_text(&mut self, a: Pos, b: Pos) -> String {
        let (start, end) = if a <= b { (a, b) } else { (b, a) };
        let (w, tick) = (self.width.max(1), self.tick);
        let mut out = Vec::new();
        for i in start.0..=end.0.min(self.items.len().saturating_sub(1)) {
            let lines = self.items[i].lines(w, &self.theme, tick);
            let from = if i == start.0 { start.1 } else { 0 };
            let to = if i == end.0 { end.1 + 1 } else { lines.len() };
            for l in lines.iter().take(to).skip(from) {
                out.push(line_text(l));
            }
        }
        out.join("\n")
    }

    /// Keys while searching: type the query, Enter finds the nearest older match, `n`/`N`
    /// step to older/newer ones, `y` copies the matched line, Esc leaves.
    pub(super) fn search_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let Some(search) = self.search.as_mut() else {
            return KeyOutcome::Ignored;
        };
        if search.typing {
            match key.code {
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    search.query.push(c)
                }
                KeyCode::Backspace => {
                    search.query.pop();
                }
                KeyCode::Enter if !search.query.is_empty() => {
                    search.typing = false;
                    return self.find(true);
                }
                KeyCode::Esc => self.search = None,
                _ => {}
            }
            return KeyOutcome::Consumed;
        }
        match key.code {
            KeyCode::Char('n') => self.find(true),
            KeyCode::Char('N') => self.find(false),
            KeyCode::Char('/') => {
                search.typing = true;
                search.query.clear();
                KeyOutcome::Consumed
            }
            KeyCode::Esc | KeyCode::Char('q') => {
                self.search = None;
                self.copy = None;
                KeyOutcome::Consumed
            }
            _ => self.copy_key(key),
        }
    }

    /// Moves to the next line containing the query (case-insensitive), older or newer than
    /// the current match (or the bottom of the view), loading older pages on the way.
    pub(super) fn find(&mut self, older: bool) -> KeyOutcome {
        let Some(query) = self.search.as_ref().map(|s| s.query.to_lowercase()) else {
            return KeyOutcome::Ignored;
        };
        let start = match self.copy {
            Some((_, cursor)) => cursor,
            None => {
                let top = self.top_pos();
                self.pos_down(top, self.view_h.saturating_sub(1))
            }
        };
        let mut pos = start;
        loop {
            let next = if older {
                self.pos_up(pos, 1)
            } else {
                self.pos_down(pos, 1)
            };
            if next == pos {
                return KeyOutcome::Actions(vec![AppAction::Notice(format!(
                    "no {} match for '{query}'",
                    if older { "older" } else { "newer" }
                ))]);
            }
            pos = next;
            if self.line_at(pos).to_lowercase().contains(&query) {
                self.copy = Some((pos, pos));
                self.reveal(pos);
                return KeyOutcome::Consumed;
            }
        }
    }

    pub(super) fn line_at(&mut self, (i, l): Pos) -> String {
        let (w, tick) = (self.width.max(1), self.tick);
        self.items
            .get_mut(i)
            .and_then(|it| it.lines(w, &self.theme, tick).get(l).map(line_text))
            .unwrap_or_default()
    }
}
