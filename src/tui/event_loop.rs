//! The workspace's event loop: terminal input, the engine's events, the panes' wake-ups and
//! frames, in the order [`LoopPlan`] gives.
//!
//! - Input that is waiting is handled before a frame that is due, and input is listened to
//!   whatever else is owed, so a flooding pane never delays a key.
//! - A change marks the screen dirty; a dirty screen is drawn at once when the last frame is at
//!   least one frame interval old, else at the end of that interval: bursts coalesce to at most
//!   60 frames a second (30 when `SSH_CONNECTION` is set). What the person waits on is drawn
//!   at once, whatever the interval: a key's effect, and the echo of a key passed on to a
//!   terminal's program (that key asks for no frame of its own: the echo is what changes the
//!   screen). A flooding neighbour keeps a frame owed all the time; the echo does not wait
//!   for it.
//! - With nothing dirty and nothing animating there is no timer at all: an idle workspace
//!   sleeps in `select!` and uses no CPU.

use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::Event as TermEvent;
use futures::stream::{Peekable, Stream, StreamExt};
use ratatui::layout::Rect;
use ratatui::Terminal;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::core::events::Event;
use crate::tui::app::App;
use crate::tui::clipboard;
use crate::tui::cursor_style::CursorStyle;
use crate::tui::frames::{frame_interval, LoopPlan, Next, MAX_EVENT_BATCH};

/// Frame interval while something animates (spinners, running timers).
const ANIMATION_INTERVAL: Duration = Duration::from_millis(100);

/// Runs the workspace until it quits, `input` ends or `stop` resolves.
pub async fn run_loop<B, S>(
    app: &mut App,
    terminal: &mut Terminal<B>,
    input: S,
    mut events: UnboundedReceiver<Event>,
    stop: impl std::future::Future<Output = ()>,
    ssh: bool,
) -> Result<()>
where
    B: ratatui::backend::Backend,
    S: Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    let mut input = input.peekable();
    let mut plan = LoopPlan::new(frame_interval(ssh));
    tokio::pin!(stop);
    if let Ok(size) = terminal.size() {
        app.size = Rect::new(0, 0, size.width, size.height);
    }
    plan.frames.request(Instant::now());
    let mut engine_open = true;
    let mut cursor_style = CursorStyle::default();
    while !app.quit {
        if plan.frames.deadline().is_none() && app.is_animating() {
            plan.frames
                .request_after(Instant::now(), ANIMATION_INTERVAL);
        }
        let input_waiting = input_is_waiting(&mut input).await;
        plan.awaiting_echo = app.awaits_echo();
        match plan.next(Instant::now(), input_waiting) {
            Next::Input => match input.next().await {
                Some(Ok(ev)) => {
                    let typed = matches!(ev, TermEvent::Key(_) | TermEvent::Paste(_));
                    if app.handle_terminal_event(ev) {
                        if typed {
                            plan.frames.request_now(Instant::now());
                        } else {
                            plan.frames.request(Instant::now());
                        }
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!("terminal input: {e}");
                    break;
                }
                None => break,
            },
            Next::Draw => {
                app.poll_panes();
                if app.is_animating() {
                    app.tick = app.tick.wrapping_add(1);
                }
                terminal.draw(|f| app.render(f))?;
                plan.drawn(Instant::now());
                clipboard::copy(app.take_clipboard());
                cursor_style.apply(app.cursor_shape(), &mut std::io::stdout());
            }
            Next::Wait {
                until,
                panes,
                engine,
            } => {
                let wake = [until, app.notice_deadline()].into_iter().flatten().min();
                let sleep = async {
                    match wake {
                        Some(at) => tokio::time::sleep_until(at.into()).await,
                        None => std::future::pending().await,
                    }
                };
                let pane_wake = app.wake.clone();
                tokio::select! {
                    biased;
                    _ = &mut stop => break,
                    // Served on the next turn, ahead of anything else.
                    _ = Pin::new(&mut input).peek() => {}
                    _ = pane_wake.notified(), if panes => {
                        if app.take_echo() {
                            plan.frames.request_now(Instant::now());
                        } else if plan.frames.deadline().is_none() && app.poll_panes() {
                            plan.frames.request(Instant::now());
                        }
                    }
                    ev = events.recv(), if engine_open && engine => match ev {
                        Some(ev) => {
                            let (dirty, drained) = fold_engine_events(app, ev, &mut events);
                            if dirty {
                                plan.frames.request(Instant::now());
                            }
                            plan.gate.folded(Instant::now(), drained);
                        }
                        None => engine_open = false,
                    },
                    _ = sleep => {
                        if app.expire_notice(Instant::now()) {
                            plan.frames.request(Instant::now());
                        }
                    }
                }
            }
        }
    }
    app.sync_all_specs();
    app.save_layout();
    Ok(())
}

/// Whether an input event is ready, without waiting; when none is, the input's waker is the
/// loop's task, so an event that arrives later wakes the loop.
async fn input_is_waiting<S: Stream + Unpin>(input: &mut Peekable<S>) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *input).poll_peek(cx).is_ready())).await
}

/// Folds `first` and whatever else is queued (a batch at most: a backlog beyond it is folded
/// on the next turn of the loop, after input and drawing). Returns whether the screen must be
/// redrawn and whether the queue was drained.
fn fold_engine_events(
    app: &mut App,
    first: Event,
    events: &mut UnboundedReceiver<Event>,
) -> (bool, bool) {
    let mut dirty = app.on_engine_event(&first);
    for _ in 0..MAX_EVENT_BATCH {
        match events.try_recv() {
            Ok(ev) => dirty |= app.on_engine_event(&ev),
            Err(_) => return (dirty, true),
        }
    }
    (dirty, false)
}
