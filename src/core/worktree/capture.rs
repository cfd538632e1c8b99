//! Reading a worktree's changes against its base commit, as changes to the main checkout.
//!
//! The worktree's files are staged into a scratch copy of its index (`GIT_INDEX_FILE`), so
//! untracked files count (ignored ones do not: `git add -A` honours .gitignore), commits the
//! agent made count, git's rename detection applies, and the worktree's own index is never
//! touched. The copy starts from the real index, so only files whose stat changed are hashed.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use super::git::{git, git_bytes, git_with_index};
use super::AgentWorktree;
use crate::core::agent::tools::changes::{binary_diff, unified_diff};
use crate::core::store::ChangeContent;

/// SHA-256 of `bytes`, hex.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes that are not shown as a text diff: a NUL (git's own test) or not UTF-8.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.contains(&0) || std::str::from_utf8(bytes).is_err()
}

/// A scratch index file removed when dropped.
struct ScratchIndex(PathBuf);

impl Drop for ScratchIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One line of `git diff --name-status -z`.
struct Entry {
    status: u8,
    old: Option<String>,
    new: String,
}

fn parse_name_status(out: &[u8]) -> Vec<Entry> {
    let text = String::from_utf8_lossy(out);
    let mut fields = text.split('\0').filter(|f| !f.is_empty());
    let mut entries = Vec::new();
    while let Some(status) = fields.next() {
        let code = status.as_bytes().first().copied().unwrap_or(b'M');
        let two_paths = matches!(code, b'R' | b'C');
        let Some(first) = fields.next() else { break };
        if two_paths {
            let Some(second) = fields.next() else { break };
            entries.push(Entry {
                status: code,
                old: Some(first.to_string()),
                new: second.to_string(),
            });
        } else {
            entries.push(Entry {
                status: code,
                old: None,
                new: first.to_string(),
            });
        }
    }
    entries
}

impl AgentWorktree {
    /// The worktree's changes against its base commit, under the project directory: edits,
    /// new files, deletions, renames (git's detection), binary files (named, not diffed).
    /// Paths are the main checkout's. Blocking.
    pub fn changes(&self) -> Result<Vec<ChangeContent>> {
        let real_index = git(
            &self.path,
            &["rev-parse", "--path-format=absolute", "--git-path", "index"],
        )?;
        let real_index = PathBuf::from(real_index.trim());
        let scratch = ScratchIndex(real_index.with_file_name(format!(
            "index.boocode-capture-{}",
            uuid::Uuid::new_v4().simple()
        )));
        if real_index.exists() {
            std::fs::copy(&real_index, &scratch.0).context("copying the worktree's index")?;
        }
        let dir = &self.project_dir;
        git_with_index(dir, &scratch.0, &["add", "-A", "--", "."])?;
        let listing = git_with_index(
            dir,
            &scratch.0,
            &[
                "diff",
                "--cached",
                "--relative",
                "--name-status",
                "-z",
                "-M",
                "--no-ext-diff",
                &self.base_commit,
            ],
        )?;
        drop(scratch);
        let mut out = Vec::new();
        for entry in parse_name_status(&listing) {
            out.push(self.change_of(entry)?);
        }
        Ok(out)
    }

    /// The base commit's bytes of a path relative to the project directory.
    fn base_bytes(&self, rel: &str) -> Result<Vec<u8>> {
        git_bytes(
            &self.project_dir,
            &["cat-file", "blob", &format!("{}:./{rel}", self.base_commit)],
        )
    }

    fn change_of(&self, entry: Entry) -> Result<ChangeContent> {
        let old_rel = entry.old.clone().unwrap_or_else(|| entry.new.clone());
        let before = match entry.status {
            b'A' => None,
            _ => Some(self.base_bytes(&old_rel)?),
        };
        let in_worktree = self.project_dir.join(&entry.new);
        let after = match entry.status {
            b'D' => None,
            _ => Some(
                std::fs::read(&in_worktree)
                    .with_context(|| format!("reading {}", in_worktree.display()))?,
            ),
        };
        let binary =
            before.as_deref().is_some_and(is_binary) || after.as_deref().is_some_and(is_binary);
        let kind = match entry.status {
            b'A' => "create",
            b'D' => "delete",
            b'R' => "rename",
            _ => "edit",
        };
        let text = |bytes: &Option<Vec<u8>>| {
            bytes
                .as_deref()
                .filter(|_| !binary)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let (before_text, after_text) = (text(&before), text(&after));
        let mut diff = String::new();
        if entry.old.is_some() {
            diff.push_str(&format!("rename from {old_rel}\nrename to {}\n", entry.new));
        }
        if binary {
            if before != after {
                diff.push_str(&binary_diff(&old_rel, &entry.new));
            }
        } else {
            diff.push_str(&unified_diff(
                &old_rel,
                &entry.new,
                before_text.as_deref(),
                after_text.as_deref(),
            ));
        }
        let main = |rel: &str| self.project_root.join(rel).to_string_lossy().into_owned();
        Ok(ChangeContent {
            kind: kind.into(),
            path: main(&entry.new),
            display_path: entry.new.clone(),
            old_path: entry.old.as_deref().map(main),
            old_display_path: entry.old.clone(),
            before: before_text,
            after: after_text,
            diff,
            binary,
            base_hash: before.as_deref().map(content_hash),
            after_hash: after.as_deref().map(content_hash),
            after_source: (binary && after.is_some())
                .then(|| in_worktree.to_string_lossy().into_owned()),
        })
    }
}
