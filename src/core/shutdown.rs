//! Ending this process's work on purpose (the user quits, or a signal): what is still going
//! on, and stopping it so that each turn, task and run records that it was cancelled, instead
//! of leaving it `running` for the next start's crash recovery.

use std::time::{Duration, Instant};

use crate::core::engine::Engine;

/// How often [`Engine::stop_work`] looks whether everything has ended.
const POLL: Duration = Duration::from_millis(20);

/// Work going on in this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunningWork {
    /// Chats' own turns (not those of background tasks or workflow agents).
    pub turns: usize,
    pub tasks: usize,
    pub runs: usize,
}

impl RunningWork {
    pub fn is_empty(&self) -> bool {
        self.turns + self.tasks + self.runs == 0
    }

    /// "1 chat turn, 2 background tasks".
    pub fn describe(&self) -> String {
        let count = |n: usize, one: &str, many: &str| match n {
            0 => None,
            1 => Some(format!("1 {one}")),
            n => Some(format!("{n} {many}")),
        };
        [
            count(self.turns, "chat turn", "chat turns"),
            count(self.tasks, "background task", "background tasks"),
            count(self.runs, "workflow run", "workflow runs"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

impl Engine {
    /// What this process is still doing.
    pub fn running_work(&self) -> RunningWork {
        RunningWork {
            turns: self.rt.running_turns().1,
            tasks: self.rt.tasks.running_count(),
            runs: self.rt.workflows.running_count(),
        }
    }

    /// Cancels every turn, background task and workflow run of this process, stops the
    /// workers, and waits up to `grace` until each has recorded its end. Returns what was
    /// still going when the time ran out (crash recovery marks it at the next start).
    pub async fn stop_work(&self, grace: Duration) -> RunningWork {
        self.shutdown();
        let deadline = Instant::now() + grace;
        loop {
            let left = self.running_work();
            // Sub-agent turns end after their task or run is told to stop; wait for them too.
            if (left.is_empty() && self.rt.running_turns().0 == 0) || Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_described_in_words() {
        let work = RunningWork {
            turns: 1,
            tasks: 2,
            runs: 0,
        };
        assert_eq!(work.describe(), "1 chat turn, 2 background tasks");
        assert!(RunningWork::default().is_empty());
    }
}
