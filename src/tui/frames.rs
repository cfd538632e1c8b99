//! When the workspace draws and when it listens to the engine: at most one frame per
//! interval (60 fps, 30 over SSH) however fast things change, a key echoed at once after a
//! quiet spell, keys served before a frame that is due, and no timer at all when idle.

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

    /// A frame the person is waiting on (what a key did, a program's echo of it): drawn at
    /// once, however recent the last frame. Such frames come at typing speed, so the rate a
    /// program's output can cause stays bounded by the interval.
    pub fn request_now(&mut self, now: Instant) {
        self.pending = Some(now);
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

/// Input events served at most while a frame is due, so a stream of mouse motion cannot hold
/// the screen still.
pub const MAX_INPUT_AHEAD_OF_FRAME: usize = 32;

/// What the event loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Handle the terminal input that is waiting, before a frame that is due: the key's bytes
    /// then reach the program (and its echo the screen) a frame sooner.
    Input,
    /// Read the panes and draw.
    Draw,
    /// Sleep until something arrives, or until `until` (`None`: no timer at all). Pane
    /// wake-ups are listened to while no frame is owed, since a frame reads every pane
    /// anyway (a flooding terminal costs one wake-up per frame), and while an echo is
    /// awaited. Engine events are listened to while the [`EventGate`] is open. Input always
    /// is.
    Wait {
        until: Option<Instant>,
        panes: bool,
        engine: bool,
    },
}

/// The loop's schedule: the frame scheduler, the engine-event gate and the rule that waiting
/// input goes first.
#[derive(Debug)]
pub struct LoopPlan {
    pub frames: FrameScheduler,
    pub gate: EventGate,
    /// Input events served in a row while a frame was due.
    input_ahead: usize,
    /// A program was sent a key and its echo has not shown yet: pane wake-ups are listened to
    /// even while a frame is owed, so the echo can be drawn at once.
    pub awaiting_echo: bool,
}

impl LoopPlan {
    pub fn new(interval: Duration) -> LoopPlan {
        LoopPlan {
            frames: FrameScheduler::new(interval),
            gate: EventGate::new(interval),
            input_ahead: 0,
            awaiting_echo: false,
        }
    }

    /// What to do at `now`, given whether terminal input is waiting.
    pub fn next(&mut self, now: Instant, input_waiting: bool) -> Next {
        let due = self.frames.is_due(now);
        if input_waiting && !(due && self.input_ahead >= MAX_INPUT_AHEAD_OF_FRAME) {
            if due {
                self.input_ahead += 1;
            }
            return Next::Input;
        }
        if due {
            return Next::Draw;
        }
        let engine = self.gate.is_open(now);
        Next::Wait {
            until: [self.frames.deadline(), self.gate.deadline()]
                .into_iter()
                .flatten()
                .min(),
            panes: self.frames.deadline().is_none() || self.awaiting_echo,
            engine,
        }
    }

    /// A frame was drawn at `now`.
    pub fn drawn(&mut self, now: Instant) {
        self.frames.drawn(now);
        self.input_ahead = 0;
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

    const IDLE: Next = Next::Wait {
        until: None,
        panes: true,
        engine: true,
    };

    #[test]
    fn a_key_after_a_quiet_spell_is_echoed_without_waiting() {
        let interval = frame_interval(false);
        let mut plan = LoopPlan::new(interval);
        let t0 = Instant::now();
        plan.frames.request(t0);
        assert_eq!(plan.next(t0, false), Next::Draw);
        plan.drawn(t0);
        assert_eq!(plan.next(t0 + Duration::from_millis(1), false), IDLE);

        // A key a second later goes to the program; sending it changes nothing on screen, so
        // it asks for no frame and the loop sleeps until the program answers.
        let key_at = t0 + Duration::from_secs(1);
        assert_eq!(plan.next(key_at, true), Next::Input);
        assert_eq!(plan.next(key_at, false), IDLE);
        // The echo, a millisecond later, is drawn at once.
        let echo_at = key_at + Duration::from_millis(1);
        plan.frames.request(echo_at);
        assert_eq!(plan.next(echo_at, false), Next::Draw);
        plan.drawn(echo_at);

        // Had the key drawn a frame of its own, the echo would have waited out the interval
        // that frame started: the extra frame this schedule avoids.
        let key_at = echo_at + Duration::from_secs(1);
        plan.frames.request(key_at);
        assert_eq!(plan.next(key_at, false), Next::Draw);
        plan.drawn(key_at);
        let echo_at = key_at + Duration::from_millis(1);
        plan.frames.request(echo_at);
        assert_eq!(
            plan.next(echo_at, false),
            Next::Wait {
                until: Some(key_at + interval),
                panes: false,
                engine: true,
            }
        );
    }

    #[test]
    fn a_flood_of_wake_ups_draws_at_most_one_frame_per_interval() {
        let interval = frame_interval(false);
        let mut plan = LoopPlan::new(interval);
        let t0 = Instant::now();
        let (mut frames, mut wake_ups) = (0, 0);
        // A program writes flat out: its pane's wake-up is pending whenever the loop listens.
        for step in 0..10_000u64 {
            let now = t0 + Duration::from_micros(step * 100);
            match plan.next(now, false) {
                Next::Draw => {
                    plan.drawn(now);
                    frames += 1;
                }
                Next::Wait { panes: true, .. } => {
                    wake_ups += 1;
                    plan.frames.request(now);
                }
                Next::Wait {
                    panes: false,
                    until,
                    ..
                } => {
                    assert!(until.is_some_and(|t| t > now), "a frame is owed")
                }
                Next::Input => unreachable!("no input"),
            }
        }
        // One second: 60 intervals, the first frame drawn at once.
        assert!((59..=61).contains(&frames), "{frames} frames in 1 s");
        assert!(
            wake_ups <= frames + 1,
            "{wake_ups} wake-ups for {frames} frames"
        );
    }

    #[test]
    fn an_echo_beside_a_flooding_neighbour_is_drawn_at_once() {
        let interval = frame_interval(false);
        let mut plan = LoopPlan::new(interval);
        let t0 = Instant::now();
        plan.drawn(t0);
        // The neighbour floods: a frame is owed at the end of every interval, so pane
        // wake-ups are not listened to.
        plan.frames.request(t0 + Duration::from_millis(1));
        let key_at = t0 + Duration::from_millis(2);
        assert!(matches!(
            plan.next(key_at, false),
            Next::Wait { panes: false, .. }
        ));

        // A key goes to a program: its pane's wake-up is listened to again.
        assert_eq!(plan.next(key_at, true), Next::Input);
        plan.awaiting_echo = true;
        assert_eq!(
            plan.next(key_at, false),
            Next::Wait {
                until: Some(t0 + interval),
                panes: true,
                engine: true,
            }
        );
        // The echo, 3 ms later, is drawn then, 12 ms before the neighbour's frame was due.
        let echo_at = key_at + Duration::from_millis(3);
        plan.awaiting_echo = false;
        plan.frames.request_now(echo_at);
        assert_eq!(plan.next(echo_at, false), Next::Draw);
        plan.drawn(echo_at);
        // The flood goes on at one frame per interval from there.
        plan.frames.request(echo_at + Duration::from_millis(1));
        assert_eq!(plan.frames.deadline(), Some(echo_at + interval));
    }

    #[test]
    fn waiting_input_is_served_before_a_due_frame() {
        let interval = frame_interval(false);
        let mut plan = LoopPlan::new(interval);
        let t0 = Instant::now();
        plan.drawn(t0);
        // A neighbour floods: a frame is owed at the end of the interval.
        plan.frames.request(t0 + Duration::from_millis(2));
        let due = t0 + interval;
        // A key typed just as that frame falls due is handled first, so what it does is in
        // that frame rather than the next.
        assert_eq!(plan.next(due, true), Next::Input);
        assert_eq!(plan.next(due, false), Next::Draw);
        plan.drawn(due);

        // Input never holds a due frame back for long.
        let due = due + interval;
        plan.frames.request(due);
        for _ in 0..MAX_INPUT_AHEAD_OF_FRAME {
            assert_eq!(plan.next(due, true), Next::Input);
        }
        assert_eq!(plan.next(due, true), Next::Draw);
        plan.drawn(due);
        assert_eq!(
            plan.next(due, true),
            Next::Input,
            "input goes on after the frame"
        );
    }

    #[test]
    fn engine_events_are_not_listened_to_while_the_gate_is_closed() {
        let interval = frame_interval(false);
        let mut plan = LoopPlan::new(interval);
        let t0 = Instant::now();
        plan.gate.folded(t0, true);
        assert_eq!(
            plan.next(t0, false),
            Next::Wait {
                until: Some(t0 + interval),
                panes: true,
                engine: false,
            }
        );
        assert_eq!(plan.next(t0 + interval, false), IDLE);
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
