//! Running `git` for the worktree code: text or bytes out, the error with git's own words.

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{bail, Context, Result};

fn run(dir: &Path, args: &[&str], index: Option<&Path>) -> Result<Output> {
    let mut command = Command::new("git");
    command.arg("-C").arg(dir).args(args);
    if let Some(index) = index {
        command.env("GIT_INDEX_FILE", index);
    }
    let out = command.output().context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// Runs git in `dir`; its standard output as text.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = run(dir, args, None)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs git in `dir`; its standard output as bytes.
pub fn git_bytes(dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    Ok(run(dir, args, None)?.stdout)
}

/// Runs git in `dir` on another index file than the worktree's own.
pub fn git_with_index(dir: &Path, index: &Path, args: &[&str]) -> Result<Vec<u8>> {
    Ok(run(dir, args, Some(index))?.stdout)
}
