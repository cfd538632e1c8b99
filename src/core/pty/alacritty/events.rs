//! What alacritty's `Term` reports while it parses (replies, bells, titles, clipboard), queued
//! in order until the engine turns it into replies and signals after each chunk.

use std::sync::{Arc, Mutex, PoisonError};

use alacritty_terminal::event::{Event, EventListener};

/// The listener given to `Term`; the engine keeps a second handle to drain it.
#[derive(Clone, Default)]
pub(super) struct EventSink {
    queue: Arc<Mutex<Vec<Event>>>,
}

impl EventSink {
    /// Everything reported since the last call, oldest first.
    pub fn drain(&self) -> Vec<Event> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut *queue)
        }
    }
}

impl EventListener for EventSink {
    fn send_event(&self, event: Event) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }
}
