//! What the external-agent tests share: a git project for the agent's worktree, and the
//! engine's events read up to a point.

use std::path::Path;
use std::time::Duration;

use boocode::core::events::Event;
use tokio::sync::mpsc::UnboundedReceiver;

/// Makes `dir` a git repository with one commit: a bound chat's agent works in a worktree.
pub fn git_project(dir: &Path) {
    std::fs::write(dir.join("README"), "project\n").unwrap();
    super::harness::commit_all(dir);
}

/// Events up to and including the first for which `end` is true (each event is shown to
/// `end` once, so it may also answer what it sees). A gap of 20 s fails the test.
pub async fn events_until(
    events: &mut UnboundedReceiver<Event>,
    mut end: impl FnMut(&Event) -> bool,
) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("no event within 20 s")
            .expect("events ended");
        let last = end(&event);
        seen.push(event);
        if last {
            return seen;
        }
    }
}

/// The reply text the events streamed.
pub fn reply_text(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TextDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}
