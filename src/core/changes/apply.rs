//! Writing a pending change into the main checkout, or taking an applied one back — never
//! over a file that changed since the change was made.

use std::io;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::core::agent::tools::changes::write_atomically;
use crate::core::store::ChangeContent;
use crate::core::worktree::content_hash;

/// A file's bytes, `None` when it does not exist.
fn read(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Whether `current` is the content described by a hash (captured changes) or else by the
/// text (native edits, whose text is the whole file; compared as read, non-UTF-8 replaced).
fn is_content(current: Option<&[u8]>, hash: Option<&str>, text: Option<&str>) -> bool {
    match (hash, current) {
        (Some(hash), Some(bytes)) => content_hash(bytes) == hash,
        (Some(_), None) => false,
        (None, current) => current.map(String::from_utf8_lossy).as_deref() == text,
    }
}

/// Refuses, naming the file, when it is not as expected.
fn expect(path: &Path, shown: &str, hash: Option<&str>, text: Option<&str>) -> Result<()> {
    let current = read(path)?;
    if is_content(current.as_deref(), hash, text) {
        return Ok(());
    }
    let expected_absent = hash.is_none() && text.is_none();
    let what = match (expected_absent, current.is_some()) {
        (true, true) => "was created",
        (false, false) => "was deleted",
        _ => "was modified",
    };
    bail!("{shown} {what} in the main checkout since the change was made; not overwriting it")
}

/// The change's new content: its text, or a binary file's bytes from its worktree (checked
/// against the hash taken at capture).
fn new_bytes(change: &ChangeContent) -> Result<Vec<u8>> {
    if !change.binary {
        return Ok(change.after.clone().unwrap_or_default().into_bytes());
    }
    let source = change.after_source.as_deref().ok_or_else(|| {
        anyhow!(
            "{}: the binary change has no source file",
            change.display_path
        )
    })?;
    let bytes = read(Path::new(source))?.ok_or_else(|| {
        anyhow!(
            "{}: its worktree copy ({source}) is gone; the change cannot be applied",
            change.display_path
        )
    })?;
    if change.after_hash.as_deref() != Some(&content_hash(&bytes)) {
        bail!(
            "{}: its worktree copy changed since it was captured; capture again",
            change.display_path
        );
    }
    Ok(bytes)
}

/// Applies a change to the main checkout: creates, edits, deletes or renames the file.
/// Refuses when a file it touches is no longer as it was in the base the change was made
/// against (the person edited it since, or it differed from the worktree's base commit).
pub fn apply(change: &ChangeContent) -> Result<()> {
    let path = Path::new(&change.path);
    let (base_path, base_shown) = match &change.old_path {
        Some(old) => (
            Path::new(old),
            change.old_display_path.as_deref().unwrap_or(old),
        ),
        None => (path, change.display_path.as_str()),
    };
    expect(
        base_path,
        base_shown,
        change.base_hash.as_deref(),
        change.before.as_deref(),
    )?;
    if change.old_path.is_some() {
        expect(path, &change.display_path, None, None)?;
    }
    if change.kind == "delete" {
        std::fs::remove_file(path).with_context(|| format!("deleting {}", change.display_path))?;
        return Ok(());
    }
    write_atomically(path, &new_bytes(change)?)
        .with_context(|| format!("writing {}", change.display_path))?;
    if change.old_path.is_some() {
        std::fs::remove_file(base_path).with_context(|| format!("removing {base_shown}"))?;
    }
    Ok(())
}

/// Takes an applied change back (text changes only: a binary file's old bytes are not kept),
/// while its files are still as applying left them.
pub fn revert(change: &ChangeContent) -> Result<()> {
    if change.binary {
        bail!(
            "{} is a binary file; its earlier content is in git (`git checkout -- {}`)",
            change.display_path,
            change
                .old_display_path
                .as_deref()
                .unwrap_or(&change.display_path)
        );
    }
    let path = Path::new(&change.path);
    expect(
        path,
        &change.display_path,
        change.after_hash.as_deref(),
        change.after.as_deref(),
    )?;
    let base_path = change.old_path.as_deref().map(Path::new).unwrap_or(path);
    if change.old_path.is_some() {
        expect(
            base_path,
            change.old_display_path.as_deref().unwrap_or(""),
            None,
            None,
        )?;
    }
    match &change.before {
        None => std::fs::remove_file(path)
            .with_context(|| format!("deleting {}", change.display_path))?,
        Some(text) => write_atomically(base_path, text.as_bytes())
            .with_context(|| format!("writing {}", base_path.display()))?,
    }
    if change.old_path.is_some() {
        std::fs::remove_file(path).with_context(|| format!("removing {}", change.display_path))?;
    }
    Ok(())
}
