//! A test-only [`ScreenEngine`] that keeps the raw bytes it is fed, answers one query, and
//! reports a bell for each BEL: enough to test sessions without a real terminal emulator.

use std::sync::{Arc, Mutex};

use super::screen::{Cell, Cursor, GridSize, ScreenEngine, ScreenSignal, TerminalModes};

pub struct RecordingScreen {
    pub fed: Arc<Mutex<Vec<u8>>>,
    size: GridSize,
    query: Vec<u8>,
    answer: Vec<u8>,
    replies: Vec<u8>,
    signals: Vec<ScreenSignal>,
}

impl RecordingScreen {
    /// A screen answering `answer` each time the child writes `query`.
    pub fn new(query: &[u8], answer: &[u8]) -> (RecordingScreen, Arc<Mutex<Vec<u8>>>) {
        let fed = Arc::new(Mutex::new(Vec::new()));
        let screen = RecordingScreen {
            fed: fed.clone(),
            size: GridSize { cols: 80, rows: 24 },
            query: query.to_vec(),
            answer: answer.to_vec(),
            replies: Vec::new(),
            signals: Vec::new(),
        };
        (screen, fed)
    }
}

impl ScreenEngine for RecordingScreen {
    fn feed(&mut self, bytes: &[u8]) {
        let mut fed = self.fed.lock().unwrap();
        // Only matches that end in the new bytes: an old one is answered already.
        let before = fed.len().saturating_sub(self.query.len().saturating_sub(1));
        fed.extend_from_slice(bytes);
        if !self.query.is_empty()
            && fed[before..]
                .windows(self.query.len())
                .any(|w| w == self.query)
        {
            self.replies.extend_from_slice(&self.answer);
        }
        self.signals.extend(
            bytes
                .iter()
                .filter(|b| **b == 7)
                .map(|_| ScreenSignal::Bell),
        );
    }
    fn resize(&mut self, size: GridSize) {
        self.size = size;
    }
    fn size(&self) -> GridSize {
        self.size
    }
    fn history_len(&self) -> usize {
        0
    }
    fn row(&self, _line: i32) -> Vec<Cell> {
        vec![Cell::default(); self.size.cols as usize]
    }
    fn is_wrapped(&self, _line: i32) -> bool {
        false
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
        std::mem::take(&mut self.replies)
    }
    fn take_signals(&mut self) -> Vec<ScreenSignal> {
        std::mem::take(&mut self.signals)
    }
}
