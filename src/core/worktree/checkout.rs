//! Where an agent works, for callers on the async runtime: its own worktree, or the project
//! itself. Each step runs the blocking git work off the runtime and emits the events the
//! workspace folds (`ChangePending` per new or rewritten change, then `ChangesCaptured`).
//!
//! ```text
//! let source = WorktreeSource { agent: "codex".into(), chat_id, task_id: None };
//! let place = checkout::open(&rt, source, Isolation::Worktree).await?;
//! // … run the agent with `place.dir()` as its working directory, one turn …
//! checkout::capture(&rt, &place).await?;      // after every turn
//! checkout::release(&rt, &place).await?;      // when the chat or task ends
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Result};

use super::{AgentWorktree, WorktreeSource};
use crate::core::events::Event;
use crate::core::runtime::Runtime;

/// Whether an agent gets its own worktree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Its own worktree; its edits come back as pending changes.
    Worktree,
    /// The project itself (`--no-worktree`): edits land in the person's files at once and
    /// nothing is captured. Say [`IN_PLACE_WARNING`] to the person.
    InPlace,
}

/// What to tell the person when an agent runs without a worktree.
pub const IN_PLACE_WARNING: &str =
    "no worktree: the agent edits the project itself, and its changes are not held for review";

/// Where an agent works.
#[derive(Debug, Clone)]
pub enum Checkout {
    Worktree(AgentWorktree),
    InPlace(PathBuf),
}

impl Checkout {
    /// The agent's working directory.
    pub fn dir(&self) -> &Path {
        match self {
            Checkout::Worktree(w) => &w.project_dir,
            Checkout::InPlace(root) => root,
        }
    }

    pub fn worktree(&self) -> Option<&AgentWorktree> {
        match self {
            Checkout::Worktree(w) => Some(w),
            Checkout::InPlace(_) => None,
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| anyhow!("worktree task failed: {e}"))?
}

/// The source's working place: with [`Isolation::Worktree`], the chat's worktree from an
/// earlier turn or process if it has one, else a new one from `HEAD` (errors say why not:
/// no git repository, no commit yet).
pub async fn open(
    rt: &Arc<Runtime>,
    source: WorktreeSource,
    isolation: Isolation,
) -> Result<Checkout> {
    if isolation == Isolation::InPlace {
        return Ok(Checkout::InPlace(rt.project_root.clone()));
    }
    let store = rt.store.clone();
    let home = rt.config.home.clone();
    let project_id = rt.project_id.clone();
    let root = rt.project_root.clone();
    blocking(move || {
        if let Some(existing) = AgentWorktree::reopen(&store, &source.chat_id)? {
            if existing.agent == source.agent {
                return Ok(Checkout::Worktree(existing));
            }
            // The chat's agent before left changes waiting there: they stay that agent's.
            existing.release(&store)?;
        }
        AgentWorktree::create(&store, &home, &project_id, &root, &source).map(Checkout::Worktree)
    })
    .await
}

/// After a turn: the worktree's changes become its chat's pending changes. Returns how many
/// wait from it now (0 in place).
pub async fn capture(rt: &Arc<Runtime>, place: &Checkout) -> Result<usize> {
    let Some(worktree) = place.worktree().cloned() else {
        return Ok(0);
    };
    let store = rt.store.clone();
    let (rows, worktree) = blocking(move || Ok((worktree.capture(&store)?, worktree))).await?;
    let chat_id = worktree.chat_id.clone().unwrap_or_default();
    for row in rows.iter().filter(|r| r.changed) {
        let change = rt.store.get_pending_change(&row.id)?;
        rt.emit(Event::ChangePending {
            chat_id: chat_id.clone(),
            change_id: change.id,
            path: change.content.display_path,
            diff: change.content.diff,
        });
    }
    rt.emit(Event::ChangesCaptured {
        chat_id,
        worktree_id: worktree.id,
        waiting: rows.len(),
    });
    Ok(rows.len())
}

/// The chat or task ended: the worktree goes now if nothing from it waits, else once its
/// last change is decided.
pub async fn release(rt: &Arc<Runtime>, place: &Checkout) -> Result<()> {
    let Some(worktree) = place.worktree().cloned() else {
        return Ok(());
    };
    let store = rt.store.clone();
    blocking(move || worktree.release(&store).map(|_| ())).await
}
