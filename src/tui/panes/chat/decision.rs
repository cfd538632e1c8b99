//! Decisions a chat waits for: a pending change (apply or reject), a command confirmation (run
//! or refuse), an interrupted turn (resume).
//!
//! A decision is never taken from keys typed as text. The decision the keys act on is shown on
//! its own highlighted line above the composer, with the keys it takes; plain typing always goes
//! to the composer; deciding takes a Ctrl chord (`Ctrl-Y` yes, `Ctrl-N` no, `Ctrl-R` resume),
//! which no sentence contains. The line shows the selected decision (Tab, then j/k, picks an
//! older one), else the oldest open one, else the latest change decided in this turn: until the
//! next turn starts a change can be decided the other way (reverted, or applied after all). A
//! command that ran cannot be taken back.

use ratatui::style::Modifier;

use super::*;
use crate::core::events::PermissionAnswer;

/// The chord that says yes (apply a change, run a command).
pub const YES_KEY: &str = "Ctrl-Y";
/// The chord that says no (reject or revert a change, refuse a command).
pub const NO_KEY: &str = "Ctrl-N";
/// The chord that allows an external agent's kind of call for the rest of the chat.
pub const ALWAYS_KEY: &str = "Ctrl-A";
/// The chord that resumes an interrupted turn.
pub const RESUME_KEY: &str = "Ctrl-R";
/// The decision keys, for the help overlay.
pub const HELP_LINES: [&str; 2] = [
    "In a chat: Ctrl-Y yes, Ctrl-N no, Ctrl-A always (an agent asks),",
    "Ctrl-R resume; a change can be undone until the next turn.",
];

fn is_open(item: &Item) -> bool {
    matches!(
        item.kind,
        Kind::Change {
            state: ChangeState::Pending,
            ..
        } | Kind::Confirm { answer: None, .. }
            | Kind::Permission { answer: None, .. }
    )
}

impl ChatPane {
    /// A change decided during the current turn: it can still be decided the other way.
    fn is_reversible(&self, item: &Item) -> bool {
        matches!(
            item.kind,
            Kind::Change { state, decided_in, .. }
                if state != ChangeState::Pending && decided_in == Some(self.turn)
        )
    }

    fn awaits_resume(&self, item: &Item) -> bool {
        self.status == Status::Interrupted
            && matches!(item.kind, Kind::Interrupted { resumed: false })
    }

    fn is_decision(&self, item: &Item) -> bool {
        is_open(item) || self.is_reversible(item) || self.awaits_resume(item)
    }

    /// The item the decision keys act on: the selected decision, else the oldest open one,
    /// else an interrupted turn, else the latest change that can still be decided otherwise.
    pub(super) fn decision_target(&self) -> Option<usize> {
        let selected = self
            .selected
            .filter(|_| self.focus == Focus::Transcript)
            .filter(|&i| self.items.get(i).is_some_and(|it| self.is_decision(it)));
        selected
            .or_else(|| self.items.iter().position(is_open))
            .or_else(|| self.items.iter().position(|it| self.awaits_resume(it)))
            .or_else(|| self.items.iter().rposition(|it| self.is_reversible(it)))
    }

    /// `Ctrl-Y`, `Ctrl-N` and `Ctrl-R`; `None` for any other key, or when there is nothing to
    /// decide.
    pub(super) fn decision_key(&mut self, key: &KeyEvent) -> Option<KeyOutcome> {
        if key.modifiers != KeyModifiers::CONTROL {
            return None;
        }
        let outcome = match key.code {
            KeyCode::Char('r') => self.resume()?,
            // Only a permission question takes "always"; otherwise Ctrl-A stays the composer's.
            KeyCode::Char('a') => {
                let i = self.decision_target()?;
                self.answer_permission(i, PermissionAnswer::AllowAlways)?
            }
            KeyCode::Char(c @ ('y' | 'n')) => {
                let i = self.decision_target()?;
                self.decide(i, c == 'y')?
            }
            _ => return None,
        };
        // The decision is taken: the keys belong to the composer again.
        self.focus = Focus::Composer;
        self.selected = None;
        Some(outcome)
    }

    fn decide(&mut self, i: usize, yes: bool) -> Option<KeyOutcome> {
        let it = self.items.get_mut(i)?;
        let command = match &mut it.kind {
            Kind::Change {
                change_id, state, ..
            } => {
                let already = match state {
                    ChangeState::Pending => false,
                    ChangeState::Applied => yes,
                    ChangeState::Rejected => !yes,
                };
                if already {
                    return Some(KeyOutcome::Consumed);
                }
                Command::ResolveChange {
                    change_id: change_id.clone(),
                    apply: yes,
                }
            }
            Kind::Confirm {
                request_id,
                answer: answer @ None,
                ..
            } => {
                *answer = Some(yes);
                let request_id = request_id.clone();
                it.invalidate();
                Command::ConfirmCommand {
                    request_id,
                    allow: yes,
                }
            }
            Kind::Permission { answer: None, .. } => {
                let answer = if yes {
                    PermissionAnswer::AllowOnce
                } else {
                    PermissionAnswer::Reject
                };
                return self.answer_permission(i, answer);
            }
            Kind::Interrupted { resumed: false } if yes => return self.resume(),
            _ => return None,
        };
        Some(KeyOutcome::Actions(vec![AppAction::Engine(command)]))
    }

    /// The highlighted line of the decision the keys act on, when there is one.
    pub(super) fn decision_line(&self, width: usize, theme: &Theme) -> Option<Line<'static>> {
        let i = self.decision_target()?;
        let item = self.items.get(i)?;
        let (mark, what, keys) = match &item.kind {
            Kind::Change { path, state, .. } => match state {
                ChangeState::Pending => (
                    "●",
                    format!("apply {path}?"),
                    format!("{YES_KEY} apply · {NO_KEY} reject"),
                ),
                ChangeState::Applied => {
                    ("✓", format!("applied {path}"), format!("{NO_KEY} revert"))
                }
                ChangeState::Rejected => {
                    ("✗", format!("rejected {path}"), format!("{YES_KEY} apply"))
                }
            },
            Kind::Permission { title, .. } => (
                "?",
                format!("allow {title}?"),
                format!("{YES_KEY} once · {ALWAYS_KEY} always · {NO_KEY} reject"),
            ),
            Kind::Confirm { command, .. } => (
                "?",
                format!("run {command}?"),
                format!("{YES_KEY} run · {NO_KEY} refuse"),
            ),
            Kind::Interrupted { .. } => (
                "⚠",
                "the last turn was interrupted".to_string(),
                format!("{RESUME_KEY} resume"),
            ),
            _ => return None,
        };
        let waiting = self.items.iter().filter(|it| is_open(it)).count();
        let more = waiting.saturating_sub(usize::from(is_open(item)));
        let keys = if more > 0 {
            format!("  {keys} · {more} more (Tab) ")
        } else {
            format!("  {keys} ")
        };
        let base = theme.selection;
        let keys_w = keys.width().min(width);
        let what = truncate(
            &format!(" {mark} {what}"),
            width.saturating_sub(keys_w).max(1),
        );
        let fill = width.saturating_sub(what.width() + keys_w);
        Some(Line::from(vec![
            Span::styled(what, base.patch(theme.warning).add_modifier(Modifier::BOLD)),
            Span::styled(" ".repeat(fill), base),
            Span::styled(truncate(&keys, width), base.add_modifier(Modifier::BOLD)),
        ]))
    }
}
