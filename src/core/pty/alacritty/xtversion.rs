//! Recognises XTVERSION (`CSI > q` / `CSI > 0 q`), the one query tmux answers that alacritty's
//! parser drops without telling its handler. Runs over the raw bytes in front of the parser and
//! keeps its state across `feed` calls, so a query split between two reads is still found.

/// Where the scanner is inside a possible `ESC [ > Ps q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    Escape,
    CsiStart,
    /// After `ESC [ >`; holds whether a non-zero parameter digit was seen.
    Query {
        nonzero: bool,
    },
}

#[derive(Debug, Default)]
pub(super) struct XtVersionScanner {
    state: State,
}

const ESC: u8 = 0x1b;

impl XtVersionScanner {
    /// The offset just past the first complete XTVERSION query in `bytes`, if one ends there.
    pub fn find_query_end(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut index = 0;
        while index < bytes.len() {
            if self.state == State::Ground {
                // Nearly every byte is outside any escape: skip to the next ESC.
                index += memchr::memchr(ESC, &bytes[index..])?;
            }
            let byte = bytes[index];
            index += 1;
            if self.advance(byte) {
                return Some(index);
            }
        }
        None
    }

    /// Steps over one byte; true when it completes a query that must be answered.
    fn advance(&mut self, byte: u8) -> bool {
        let (next, complete) = match (self.state, byte) {
            (_, ESC) => (State::Escape, false),
            (State::Escape, b'[') => (State::CsiStart, false),
            (State::CsiStart, b'>') => (State::Query { nonzero: false }, false),
            (State::Query { nonzero }, b'0'..=b'9') => (
                State::Query {
                    nonzero: nonzero || byte != b'0',
                },
                false,
            ),
            // tmux answers only parameter 0 (or none), as xterm does.
            (State::Query { nonzero }, b'q') => (State::Ground, !nonzero),
            _ => (State::Ground, false),
        };
        self.state = next;
        complete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_ends(chunks: &[&[u8]]) -> Vec<(usize, usize)> {
        let mut scanner = XtVersionScanner::default();
        let mut found = Vec::new();
        for (chunk_index, chunk) in chunks.iter().enumerate() {
            let mut start = 0;
            while let Some(end) = scanner.find_query_end(&chunk[start..]) {
                start += end;
                found.push((chunk_index, start));
            }
        }
        found
    }

    #[test]
    fn finds_both_spellings_and_ignores_other_parameters() {
        assert_eq!(query_ends(&[b"a\x1b[>qb\x1b[>0q"]), vec![(0, 5), (0, 11)]);
        assert_eq!(query_ends(&[b"\x1b[>1q\x1b[>10q\x1b[q\x1b[ q"]), vec![]);
    }

    #[test]
    fn finds_a_query_split_across_feeds() {
        assert_eq!(
            query_ends(&[b"text\x1b", b"[", b">", b"0q rest"]),
            vec![(3, 2)]
        );
    }

    #[test]
    fn an_escape_inside_the_query_starts_over() {
        assert_eq!(query_ends(&[b"\x1b[>\x1b[>q"]), vec![(0, 7)]);
    }
}
