//! When the workspace draws and when it listens to the engine: at most one frame per
//! interval (60 fps, 30 over SSH) however fast things change, a key echoed at once after a
//! quiet spell, and no timer at all when idle.

use std::time::{Duration, Instant};

/// The frame interval: 60 fps, or 30 over SSH.
pub fn frame_interval(ssh: bool) -> Duration {
    if ssh {
        Duration::from_micros(33_333)
    } else {
        Duration::from_micros(16_667)
    }
}

/// Decides when to draw. `request` marks the screen dirty; `due` says whether to draw now.
#[derive(Debug)]
pub struct FrameScheduler {
    interval: Duration,
    last_draw: Option<Instant>,
    /// A draw is owed at this time.
    pending: Option<Instant>,
}

impl FrameScheduler {
    pub fn new(interval: Duration) -> FrameScheduler {
        FrameScheduler {
            interval,
            last_draw: None,
            pending: None,
        }
    }

    /// Something changed: draw at once if the last frame is old enough, else at the end of
    /// the current interval.
    pub fn request(&mut self, now: Instant) {
        let earliest = self.last_draw.map_or(now, |t| t + self.interval);
        let at = earliest.max(now);
        self.pending = Some(self.pending.map_or(at, |p| p.min(at)));
    }

    /// Asks for a frame no sooner than `after` from the last one (animation ticks).
    pub fn request_after(&mut self, now: Instant, after: Duration) {
        let at = self.last_draw.map_or(now, |t| t + after).max(now);
        self.pending = Some(self.pending.map_or(at, |p| p.min(at)));
    }

    /// When the next draw is owed; `None` when nothing is (the loop then sleeps).
    pub fn deadline(&self) -> Option<Instant> {
        self.pending
    }

    pub fn is_due(&self, now: Instant) -> bool {
        self.pending.is_some_and(|p| p <= now)
    }

    pub fn drawn(&mut self, now: Instant) {
        self.last_draw = Some(now);
        self.pending = None;
    }
}

/// Engine events folded per wake-up at most, so a flood cannot starve input and drawing.
pub const MAX_EVENT_BATCH: usize = 1024;

/// When the loop listens for engine events. After a batch is folded the next ones gather for
/// one frame interval: a reply streams hundreds of deltas a second, and waking for each costs
/// more than folding them (input has its own branch and is never held back).
#[derive(Debug)]
pub struct EventGate {
    interval: Duration,
    closed_until: Option<Instant>,
}

impl EventGate {
    pub fn new(interval: Duration) -> EventGate {
        EventGate {
            interval,
            closed_until: None,
        }
    }

    pub fn is_open(&mut self, now: Instant) -> bool {
        if self.closed_until.is_some_and(|t| t <= now) {
            self.closed_until = None;
        }
        self.closed_until.is_none()
    }

    /// When the loop must wake to listen again; `None` while open (no timer when idle).
    pub fn deadline(&self) -> Option<Instant> {
        self.closed_until
    }

    /// A batch was folded; `drained` when the queue is empty (a backlog keeps the gate open).
    pub fn folded(&mut self, now: Instant, drained: bool) {
        if drained {
            self.closed_until = Some(now + self.interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_events_gather_for_a_frame_after_each_batch() {
        let interval = frame_interval(false);
        let mut gate = EventGate::new(interval);
        let t0 = Instant::now();
        assert!(gate.is_open(t0));
        assert_eq!(gate.deadline(), None, "idle: no timer");
        gate.folded(t0, true);
        assert!(!gate.is_open(t0 + Duration::from_millis(5)));
        assert_eq!(gate.deadline(), Some(t0 + interval));
        assert!(gate.is_open(t0 + interval));
        assert_eq!(gate.deadline(), None);
        // A backlog beyond one batch is folded on the next turn of the loop.
        gate.folded(t0, false);
        assert!(gate.is_open(t0));
    }

    #[test]
    fn frames_are_limited_and_idle_means_no_timer() {
        let interval = frame_interval(false);
        let mut f = FrameScheduler::new(interval);
        let t0 = Instant::now();
        assert_eq!(f.deadline(), None, "idle: no timer");
        f.request(t0);
        assert!(f.is_due(t0), "the first change draws at once");
        f.drawn(t0);
        assert_eq!(f.deadline(), None);
        // A burst right after a frame waits for the interval, coalesced into one frame.
        for i in 0..100 {
            f.request(t0 + Duration::from_micros(i * 10));
        }
        assert_eq!(f.deadline(), Some(t0 + interval));
        assert!(!f.is_due(t0 + Duration::from_millis(5)));
        // A key long after the last frame echoes at once.
        let later = t0 + Duration::from_secs(1);
        f.drawn(t0);
        f.request(later);
        assert!(f.is_due(later));
        assert_eq!(frame_interval(true), Duration::from_micros(33_333));
    }
}
