//! Pending changes of a project across its chats — native review-mode edits and changes
//! captured from agent worktrees — with their collisions, and deciding them.

pub mod apply;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::core::collisions::{diff_stats, severity, touched_spans, Severity};
use crate::core::store::{ChangeContent, PendingChange, Store};
use crate::core::worktree;

/// Another source's pending change to the same file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collision {
    pub change_id: String,
    pub agent: String,
    pub severity: Severity,
}

/// A pending change as the changes pane and `boocode changes` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeView {
    #[serde(flatten)]
    pub change: PendingChange,
    pub lines_added: u64,
    pub lines_removed: u64,
    /// Most serious first.
    pub collisions: Vec<Collision>,
}

impl ChangeView {
    /// The file, or `old → new` for a rename.
    pub fn file_label(&self) -> String {
        let c = &self.change.content;
        match &c.old_display_path {
            Some(old) => format!("{old} → {}", c.display_path),
            None => c.display_path.clone(),
        }
    }

    /// `+added -removed`, or `binary`.
    pub fn size_label(&self) -> String {
        if self.change.content.binary {
            "binary".into()
        } else {
            format!("+{} -{}", self.lines_added, self.lines_removed)
        }
    }
}

/// The files a change touches in the main checkout (a rename touches two).
fn touched_files(change: &ChangeContent) -> impl Iterator<Item = &str> {
    std::iter::once(change.path.as_str()).chain(change.old_path.as_deref())
}

/// Adds line counts and collisions: every pair of changes from different chats (sources)
/// that touch a common file collides, with the severity of their closest hunks in the base
/// file's numbering. Advisory only.
pub fn with_collisions(changes: Vec<PendingChange>) -> Vec<ChangeView> {
    let spans: Vec<_> = changes
        .iter()
        .map(|c| touched_spans(&c.content.diff))
        .collect();
    let mut views: Vec<ChangeView> = changes
        .iter()
        .map(|c| {
            let (lines_added, lines_removed) = diff_stats(&c.content.diff);
            ChangeView {
                change: c.clone(),
                lines_added,
                lines_removed,
                collisions: Vec::new(),
            }
        })
        .collect();
    for i in 0..changes.len() {
        for j in i + 1..changes.len() {
            let (a, b) = (&changes[i], &changes[j]);
            if a.chat_id == b.chat_id
                || !touched_files(&a.content).any(|f| touched_files(&b.content).any(|g| f == g))
            {
                continue;
            }
            let level = severity(&spans[i], &spans[j]);
            views[i].collisions.push(Collision {
                change_id: b.id.clone(),
                agent: b.source_agent.clone(),
                severity: level,
            });
            views[j].collisions.push(Collision {
                change_id: a.id.clone(),
                agent: a.source_agent.clone(),
                severity: level,
            });
        }
    }
    for view in &mut views {
        view.collisions
            .sort_by_key(|x| std::cmp::Reverse(x.severity));
    }
    views
}

/// Every pending change of the project, with collisions, oldest first.
pub fn project_changes(store: &Store, project_id: &str) -> Result<Vec<ChangeView>> {
    Ok(with_collisions(store.list_project_changes(project_id)?))
}

/// How many colliding pairs there are among `views`.
pub fn collision_count(views: &[ChangeView]) -> usize {
    views.iter().map(|v| v.collisions.len()).sum::<usize>() / 2
}

/// Applies (`apply`) or rejects a change. A decided change may be decided the other way:
/// applying a rejected one writes it, rejecting an applied one takes it back — each only
/// while the files are as the earlier decision left them. A worktree whose work ended goes
/// once nothing from it waits. Returns the change as it was before the decision.
pub fn decide(store: &Store, change_id: &str, apply_it: bool) -> Result<PendingChange> {
    let change = store.get_pending_change(change_id)?;
    let wanted = if apply_it { "applied" } else { "rejected" };
    if change.status == wanted {
        bail!("change {} is already {}", change.id, change.status);
    }
    if apply_it {
        apply::apply(&change.content)?;
    } else if change.status == "applied" {
        apply::revert(&change.content)?;
    }
    if !store.resolve_pending_change(&change.id, &change.status, wanted)? {
        bail!("change {} was decided meanwhile", change.id);
    }
    if let Some(worktree_id) = &change.worktree_id {
        if let Err(e) = worktree::tidy_after_decision(store, worktree_id) {
            tracing::warn!("removing worktree {worktree_id} failed: {e:#}");
        }
    }
    Ok(change)
}

#[cfg(test)]
mod tests;
