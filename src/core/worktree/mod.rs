//! Git worktrees for agents that must not edit the project directly (external agents, workflow
//! agents with `isolation: 'worktree'`).
//!
//! Lifecycle, for a source (an agent name and the chat it works for, maybe a task):
//!
//! 1. [`AgentWorktree::create`]: a new branch `boocode/<agent>/<short id>` from the project's
//!    `HEAD`, checked out under `$BOOCODE_HOME/worktrees/<repo hash>/<short id>` (0700 parents)
//!    and recorded in the store (`worktrees`), so a restart finds it
//!    ([`AgentWorktree::reopen`]). The agent works in [`AgentWorktree::project_dir`].
//! 2. After each turn, [`AgentWorktree::capture`]: the worktree's changes against its base
//!    commit become pending changes of the source's chat, one per file (see `capture.rs`);
//!    a later capture replaces that worktree's changes still waiting.
//! 3. When the chat or task ends, [`AgentWorktree::release`]: removed at once when nothing
//!    from it waits, else when its last change is decided (`core::changes`).
//! 4. At start, [`cleanup_orphans`]: worktrees older than an hour whose process is gone and
//!    from which nothing waits are removed, and `git worktree prune` runs.
//!
//! Running in the project itself (`--no-worktree`) is [`checkout::Checkout::InPlace`]: the
//! agent edits the files directly, nothing is captured, nothing waits for review.
//!
//! Everything here is blocking (runs `git`): call it from `spawn_blocking`, or use the async
//! wrappers in [`checkout`].

mod capture;
pub mod checkout;
mod git;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};

pub use capture::{content_hash, is_binary};
use git::git;

use crate::core::private_fs::ensure_private_dir;
use crate::core::store::{new_id, now, CapturedRow, ChangeSource, Store, WorktreeRow};

/// Whose a worktree is: the agent working in it and the chat its changes belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorktreeSource {
    /// The agent's name (`claude`, `codex`, a workflow agent type…); part of the branch name.
    pub agent: String,
    /// The chat the agent's work is in; captured changes are this chat's pending changes.
    pub chat_id: String,
    /// The background task running the chat, if any.
    pub task_id: Option<String>,
}

/// A worktree made for one agent.
#[derive(Debug, Clone)]
pub struct AgentWorktree {
    pub id: String,
    pub agent: String,
    pub chat_id: Option<String>,
    /// `boocode/<agent>/<short id>`.
    pub branch: String,
    /// The worktree's top level.
    pub path: PathBuf,
    /// Where the agent works: the project root inside the worktree (the project may be a
    /// subdirectory of the repository).
    pub project_dir: PathBuf,
    /// The repository's top level (the main checkout).
    pub repo_root: PathBuf,
    /// The project root in the main checkout; captured changes are paths under it.
    pub project_root: PathBuf,
    /// The commit the branch started from; changes are captured against it.
    pub base_commit: String,
}

/// Worktrees older than this whose process has gone are removed at start.
pub const ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// The git repository of `project_root` and its `HEAD` commit, or an error a person can act on.
fn repository_and_head(project_root: &Path) -> Result<(PathBuf, String)> {
    let top = git(project_root, &["rev-parse", "--show-toplevel"]).map_err(|_| {
        anyhow!(
            "{} is not in a git repository, so the agent cannot get a worktree of its own \
             (run `git init` and commit, or run the agent in the project itself)",
            project_root.display()
        )
    })?;
    let repo_root = std::fs::canonicalize(top.trim()).context("repository root")?;
    let head = git(
        &repo_root,
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    )
    .map_err(|_| {
        anyhow!(
            "the repository at {} has no commit yet, and a worktree starts from one \
                 (commit once, e.g. `git commit --allow-empty -m init`, or run the agent in \
                 the project itself)",
            repo_root.display()
        )
    })?;
    Ok((repo_root, head.trim().to_string()))
}

/// An agent name as a piece of a branch name: letters, digits, `-`, `_` and `.` kept, the
/// rest `-`.
fn ref_component(agent: &str) -> String {
    let cleaned: String = agent
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    if trimmed.is_empty() {
        "agent".into()
    } else {
        trimmed.to_string()
    }
}

/// `$BOOCODE_HOME/worktrees/<first 16 hex of SHA-256 of the repository root>`.
fn worktrees_dir(home: &Path, repo_root: &Path) -> PathBuf {
    let hash = content_hash(repo_root.to_string_lossy().as_bytes());
    home.join("worktrees").join(&hash[..16])
}

impl AgentWorktree {
    /// Creates a worktree for `source` on a new branch from the project's `HEAD` and records
    /// it as `active`, owned by this process.
    pub fn create(
        store: &Store,
        home: &Path,
        project_id: &str,
        project_root: &Path,
        source: &WorktreeSource,
    ) -> Result<AgentWorktree> {
        let project_root = std::fs::canonicalize(project_root)
            .with_context(|| format!("project directory {}", project_root.display()))?;
        let (repo_root, base_commit) = repository_and_head(&project_root)?;
        let id = new_id();
        let short: String = id.chars().filter(|c| *c != '-').take(8).collect();
        let branch = format!("boocode/{}/{short}", ref_component(&source.agent));
        let parent = worktrees_dir(home, &repo_root);
        ensure_private_dir(&home.join("worktrees"))?;
        ensure_private_dir(&parent)?;
        let path = parent.join(&short);
        let path_text = path.to_string_lossy().into_owned();
        git(
            &repo_root,
            &[
                "worktree",
                "add",
                "--quiet",
                "-b",
                &branch,
                &path_text,
                &base_commit,
            ],
        )?;
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let rel = project_root
            .strip_prefix(&repo_root)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let worktree = AgentWorktree {
            project_dir: path.join(rel),
            id,
            agent: source.agent.clone(),
            chat_id: Some(source.chat_id.clone()),
            branch,
            path,
            repo_root,
            project_root,
            base_commit,
        };
        let recorded = store.insert_worktree(&WorktreeRow {
            id: worktree.id.clone(),
            project_id: project_id.to_string(),
            chat_id: Some(source.chat_id.clone()),
            task_id: source.task_id.clone(),
            agent: source.agent.clone(),
            branch: worktree.branch.clone(),
            path: worktree.path.to_string_lossy().into_owned(),
            repo_root: worktree.repo_root.to_string_lossy().into_owned(),
            project_dir: worktree.project_dir.to_string_lossy().into_owned(),
            project_root: worktree.project_root.to_string_lossy().into_owned(),
            base_commit: worktree.base_commit.clone(),
            status: "active".into(),
            created_at: now(),
        });
        if let Err(e) = recorded {
            // Unrecorded, nobody would ever remove it.
            let _ = worktree.remove_from_disk();
            return Err(e);
        }
        Ok(worktree)
    }

    fn from_row(row: WorktreeRow) -> AgentWorktree {
        AgentWorktree {
            id: row.id,
            agent: row.agent,
            chat_id: row.chat_id,
            branch: row.branch,
            path: PathBuf::from(row.path),
            project_dir: PathBuf::from(row.project_dir),
            repo_root: PathBuf::from(row.repo_root),
            project_root: PathBuf::from(row.project_root),
            base_commit: row.base_commit,
        }
    }

    /// A recorded worktree by id (whatever its status).
    pub fn open(store: &Store, id: &str) -> Result<AgentWorktree> {
        Ok(AgentWorktree::from_row(store.get_worktree(id)?))
    }

    /// The chat's worktree from an earlier turn or process, taken over by this process; `None`
    /// when it has none (or its directory has gone, which marks it removed).
    pub fn reopen(store: &Store, chat_id: &str) -> Result<Option<AgentWorktree>> {
        let Some(row) = store.reclaim_worktree_of_chat(chat_id)? else {
            return Ok(None);
        };
        let worktree = AgentWorktree::from_row(row);
        if !worktree.path.is_dir() {
            store.set_worktree_status(&worktree.id, "removed")?;
            return Ok(None);
        }
        Ok(Some(worktree))
    }

    /// Captures the worktree's changes as pending changes of its chat (replacing the ones of
    /// the previous capture still waiting). Returns the rows now waiting from it.
    pub fn capture(&self, store: &Store) -> Result<Vec<CapturedRow>> {
        let chat_id = self
            .chat_id
            .as_deref()
            .ok_or_else(|| anyhow!("worktree {} belongs to no chat", self.id))?;
        let changes = self.changes()?;
        store.replace_worktree_changes(
            &ChangeSource {
                chat_id,
                agent: Some(&self.agent),
                worktree_id: Some(&self.id),
            },
            &changes,
        )
    }

    /// The chat or task is over: removes the worktree when nothing captured from it waits
    /// (true), else keeps it until its last change is decided.
    pub fn release(&self, store: &Store) -> Result<bool> {
        store.set_worktree_status(&self.id, "released")?;
        remove_if_done(store, self)
    }

    /// Removes the worktree, its directory and its branch, and records it removed.
    pub fn remove(&self, store: &Store) -> Result<()> {
        let result = self.remove_from_disk();
        store.set_worktree_status(&self.id, "removed")?;
        result
    }

    fn remove_from_disk(&self) -> Result<()> {
        let path = self.path.to_string_lossy().into_owned();
        let result = git(&self.repo_root, &["worktree", "remove", "--force", &path]);
        if self.path.exists() {
            std::fs::remove_dir_all(&self.path).ok();
        }
        git(&self.repo_root, &["worktree", "prune"]).ok();
        // Its changes were captured; the branch only kept the worktree's checkout.
        git(&self.repo_root, &["branch", "-D", "--quiet", &self.branch]).ok();
        result.map(|_| ())
    }
}

/// Removes a released worktree once nothing captured from it waits; true when removed.
fn remove_if_done(store: &Store, worktree: &AgentWorktree) -> Result<bool> {
    if store.pending_changes_of_worktree(&worktree.id)? > 0 {
        return Ok(false);
    }
    worktree.remove(store)?;
    Ok(true)
}

/// After a change from worktree `id` was decided: removes the worktree if it was released
/// and nothing from it waits any more.
pub fn tidy_after_decision(store: &Store, id: &str) -> Result<bool> {
    let row = store.get_worktree(id)?;
    if row.status != "released" {
        return Ok(false);
    }
    remove_if_done(store, &AgentWorktree::from_row(row))
}

/// Removes the project's orphan worktrees (older than `max_age`, their process gone or their
/// work released, nothing from them waiting) and prunes git's records of worktrees whose
/// directories are gone. Returns how many were removed. Blocking.
pub fn cleanup_orphans(store: &Store, project_id: &str, max_age: Duration) -> Result<usize> {
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(max_age).unwrap_or_else(|_| chrono::Duration::hours(1));
    let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut removed = 0;
    for row in store.orphan_worktrees(project_id, &cutoff)? {
        let worktree = AgentWorktree::from_row(row);
        match worktree.remove(store) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(
                "removing orphan worktree {} failed: {e:#}",
                worktree.path.display()
            ),
        }
    }
    for repo in store.worktree_repos(project_id)? {
        if Path::new(&repo).is_dir() {
            git(Path::new(&repo), &["worktree", "prune"]).ok();
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
