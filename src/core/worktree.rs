//! Git worktrees for isolated agents (`agent(…, {isolation: 'worktree'})`): a fresh detached
//! worktree of the project's `HEAD` in a temporary directory; afterwards its changes are read
//! back as file changes (before = the file at `HEAD`, after = the worktree's file) and the
//! worktree is removed.
//!
//! Blocking (runs `git`): call from `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};

use crate::core::agent::tools::changes::build_change;
use crate::core::agent::tools::FileChange;
use crate::core::events::Event;
use crate::core::runtime::Runtime;

/// A worktree made for one agent.
#[derive(Debug)]
pub struct Worktree {
    /// The repository's top level (the main worktree).
    pub repo_root: PathBuf,
    /// The worktree's top level.
    pub path: PathBuf,
    /// Where the project root lies inside the worktree (the project may be a subdirectory of
    /// the repository).
    pub project_dir: PathBuf,
    /// The project root in the main worktree.
    project_root: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Worktree {
    /// Creates a detached worktree of `HEAD`. The project must be a git repository with at
    /// least one commit.
    pub fn create(project_root: &Path) -> Result<Worktree> {
        let top = git(project_root, &["rev-parse", "--show-toplevel"]).map_err(|_| {
            anyhow!(
                "isolation 'worktree' needs a git repository, and {} is not in one",
                project_root.display()
            )
        })?;
        let repo_root = std::fs::canonicalize(top.trim()).context("repository root")?;
        git(&repo_root, &["rev-parse", "--verify", "HEAD"]).map_err(|_| {
            anyhow!("isolation 'worktree' needs a commit to start from; the repository has none")
        })?;
        let path = std::env::temp_dir().join(format!("boocode-wt-{}", uuid::Uuid::new_v4()));
        let path_text = path.to_string_lossy().into_owned();
        git(
            &repo_root,
            &["worktree", "add", "--detach", "--quiet", &path_text, "HEAD"],
        )?;
        let project_root = std::fs::canonicalize(project_root)?;
        let rel = project_root
            .strip_prefix(&repo_root)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        Ok(Worktree {
            project_dir: path.join(&rel),
            repo_root,
            path,
            project_root,
        })
    }

    /// Files the agent changed, as changes to the project: before = the file at `HEAD`, after =
    /// the worktree's content (`None` when deleted). Only files under the project root count.
    pub fn changes(&self) -> Result<Vec<FileChange>> {
        let status = git(
            &self.path,
            &[
                "status",
                "--porcelain=v1",
                "-z",
                "--no-renames",
                "--untracked-files=all",
            ],
        )?;
        let mut out = Vec::new();
        for entry in status.split('\0').filter(|e| e.len() > 3) {
            let rel_to_repo = &entry[3..];
            let in_worktree = self.path.join(rel_to_repo);
            let Ok(rel_to_project) = in_worktree.strip_prefix(&self.project_dir) else {
                continue;
            };
            let display = rel_to_project.to_string_lossy().into_owned();
            let before = git(&self.path, &["show", &format!("HEAD:{rel_to_repo}")]).ok();
            let after = match std::fs::read(&in_worktree) {
                Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
                Err(_) => None,
            };
            if before == after {
                continue;
            }
            out.push(build_change(
                self.project_root.join(rel_to_project),
                display,
                before,
                after,
            ));
        }
        Ok(out)
    }

    /// Removes the worktree and its directory.
    pub fn remove(&self) -> Result<()> {
        let path = self.path.to_string_lossy().into_owned();
        let result = git(&self.repo_root, &["worktree", "remove", "--force", &path]);
        if self.path.exists() {
            std::fs::remove_dir_all(&self.path).ok();
        }
        git(&self.repo_root, &["worktree", "prune"]).ok();
        result.map(|_| ())
    }
}

/// Keeps a worktree's changes as pending changes of the agent's chat, then removes it.
pub async fn collect_as_pending(rt: &Runtime, chat_id: &str, wt: Worktree) {
    let changes = tokio::task::spawn_blocking(move || {
        let changes = wt.changes();
        if let Err(e) = wt.remove() {
            tracing::warn!("removing worktree {} failed: {e:#}", wt.path.display());
        }
        changes
    })
    .await;
    let changes = match changes {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::warn!("reading the worktree's changes failed: {e:#}");
            return;
        }
        Err(e) => {
            tracing::warn!("worktree task failed: {e}");
            return;
        }
    };
    for change in changes {
        match rt.store.insert_pending_change(
            chat_id,
            &change.path.to_string_lossy(),
            &change.display_path,
            change.before.as_deref(),
            change.after.as_deref(),
            &change.diff,
        ) {
            Ok(id) => rt.emit(Event::ChangePending {
                chat_id: chat_id.to_string(),
                change_id: id,
                path: change.display_path,
                diff: change.diff,
            }),
            Err(e) => tracing::error!("storing a worktree change failed: {e:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(ok.status.success(), "{:?}", ok);
    }

    #[test]
    fn changes_come_back_and_the_worktree_goes() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        sh(root, &["init", "-q"]);
        std::fs::write(root.join("a.txt"), "one\n").unwrap();
        std::fs::write(root.join("gone.txt"), "bye\n").unwrap();
        sh(root, &["add", "."]);
        sh(
            root,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "init",
            ],
        );
        let wt = Worktree::create(root).unwrap();
        assert!(wt.path.join("a.txt").exists());
        assert!(wt.changes().unwrap().is_empty());
        std::fs::write(wt.project_dir.join("a.txt"), "two\n").unwrap();
        std::fs::write(wt.project_dir.join("new.txt"), "new\n").unwrap();
        std::fs::remove_file(wt.project_dir.join("gone.txt")).unwrap();
        let mut changes = wt.changes().unwrap();
        changes.sort_by(|a, b| a.display_path.cmp(&b.display_path));
        let names: Vec<_> = changes.iter().map(|c| c.display_path.as_str()).collect();
        assert_eq!(names, vec!["a.txt", "gone.txt", "new.txt"]);
        assert_eq!(changes[0].before.as_deref(), Some("one\n"));
        assert_eq!(changes[0].after.as_deref(), Some("two\n"));
        assert!(changes[1].after.is_none());
        assert!(changes[2].before.is_none());
        assert!(changes[0]
            .path
            .starts_with(std::fs::canonicalize(root).unwrap()));
        // The main worktree is untouched.
        assert_eq!(
            std::fs::read_to_string(root.join("a.txt")).unwrap(),
            "one\n"
        );
        wt.remove().unwrap();
        assert!(!wt.path.exists());

        let plain = tempfile::tempdir().unwrap();
        let e = Worktree::create(plain.path()).unwrap_err().to_string();
        assert!(e.contains("git repository"), "{e}");
    }
}
