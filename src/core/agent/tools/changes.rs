//! File changes: computing them (with a diff), applying them safely, and routing them through
//! the approval mode.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use similar::TextDiff;

use super::{blocking, ApprovalMode, FileChange, ToolContext, ToolError, ToolOutput};

/// Builds a change with its unified diff (`a/<path>` → `b/<path>` headers).
pub fn build_change(
    path: PathBuf,
    display_path: String,
    before: Option<String>,
    after: Option<String>,
) -> FileChange {
    let diff = unified_diff(
        &display_path,
        &display_path,
        before.as_deref(),
        after.as_deref(),
    );
    FileChange {
        path,
        display_path,
        before,
        after,
        diff,
    }
}

impl FileChange {
    /// The change that undoes this one (`after` back to `before`).
    pub fn reversed(&self) -> FileChange {
        build_change(
            self.path.clone(),
            self.display_path.clone(),
            self.after.clone(),
            self.before.clone(),
        )
    }
}

/// The unified diff from `before` (named `old_name`) to `after` (named `new_name`), with
/// `a/` and `b/` headers; binary content is named, not diffed.
pub fn unified_diff(
    old_name: &str,
    new_name: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> String {
    let old = before.unwrap_or("");
    let new = after.unwrap_or("");
    if old.contains('\0') || new.contains('\0') {
        return binary_diff(old_name, new_name);
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{old_name}"), &format!("b/{new_name}"))
        .to_string()
}

/// What a diff of a binary file says instead of hunks.
pub fn binary_diff(old_name: &str, new_name: &str) -> String {
    format!("Binary files a/{old_name} and b/{new_name} differ\n")
}

/// Reads a file for a change's `before`. Non-UTF-8 bytes are replaced, which is also how
/// [`apply_change`] compares, so binary files can still be overwritten or deleted.
pub fn read_before(path: &Path) -> io::Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Applies a change: deletes the file when `after` is `None`, else writes `after` through a
/// temporary file in the same directory and a rename, so a crash never leaves half a file.
///
/// Refuses (with [`io::ErrorKind::Other`]) when the file no longer matches `before` — in review
/// mode the change may be applied long after it was computed, and overwriting the user's own
/// edits in between would silently lose them.
pub fn apply_change(change: &FileChange) -> io::Result<()> {
    let current = read_before(&change.path)?;
    if current != change.before {
        let what = match (&change.before, &current) {
            (None, Some(_)) => "was created",
            (Some(_), None) => "was deleted",
            _ => "was modified",
        };
        return Err(io::Error::other(format!(
            "{} {what} since the change was computed; recompute the change",
            change.display_path
        )));
    }
    match &change.after {
        None => std::fs::remove_file(&change.path),
        Some(content) => write_atomically(&change.path, content.as_bytes()),
    }
}

/// Writes `bytes` through a temporary file in the same directory and a rename (creating the
/// directory), keeping an existing file's permissions.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other(format!("{} has no parent directory", path.display())))?;
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other(format!("{} has no file name", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.boocode-tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        // Keep an executable script executable after an edit.
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Routes a computed change through the approval mode: `Auto` applies it now, `Review` records
/// it as pending for the user, `ReadOnly` refuses. `done` describes the change in the past
/// tense ("Edited src/main.rs").
pub async fn submit(
    ctx: &ToolContext,
    change: FileChange,
    done: String,
) -> Result<ToolOutput, ToolError> {
    let diff = change.diff.clone();
    match ctx.approval {
        ApprovalMode::ReadOnly => Err(deny_write(ctx)),
        ApprovalMode::Auto => {
            blocking(move || {
                apply_change(&change).map_err(|e| {
                    ToolError::Failed(format!("could not write {}: {e}", change.display_path))
                })
            })
            .await?;
            Ok(ToolOutput {
                content: format!("{done}.\n{diff}"),
                diff: Some(diff),
            })
        }
        ApprovalMode::Review => {
            let display = change.display_path.clone();
            let id = ctx.host.record_pending_change(change).await.map_err(|e| {
                ToolError::Failed(format!("could not record the change to {display}: {e}"))
            })?;
            Ok(ToolOutput {
                content: format!(
                    "{done} — {PENDING_REVIEW}{id}); the file on disk is unchanged until the \
                     user applies it.\n{diff}"
                ),
                diff: Some(diff),
            })
        }
    }
}

/// What a write's result says when it became a pending change, before the change's id.
const PENDING_REVIEW: &str = "pending user review (change id ";

/// The id of the pending change a write's result reports (review mode), if it made one.
pub fn pending_change_id(output: &str) -> Option<&str> {
    let at = output.find(PENDING_REVIEW)? + PENDING_REVIEW.len();
    output[at..].split(')').next().filter(|id| !id.is_empty())
}

/// The refusal every write tool gives in read-only mode; checked before any work is done.
pub fn deny_write(ctx: &ToolContext) -> ToolError {
    ToolError::Denied(format!(
        "the approval mode is {}, which forbids writing files",
        ctx.approval.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_has_a_b_headers_and_hunks() {
        let c = build_change(
            PathBuf::from("/x/f.txt"),
            "f.txt".into(),
            Some("one\ntwo\n".into()),
            Some("one\nTWO\n".into()),
        );
        assert!(
            c.diff.starts_with("--- a/f.txt\n+++ b/f.txt\n"),
            "{}",
            c.diff
        );
        assert!(c.diff.contains("-two\n+TWO\n"), "{}", c.diff);
    }

    #[test]
    fn a_reversed_change_undoes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.txt");
        let create = build_change(path.clone(), "new.txt".into(), None, Some("hi\n".into()));
        apply_change(&create).unwrap();
        let undo = create.reversed();
        assert!(undo.diff.contains("-hi"), "{}", undo.diff);
        apply_change(&undo).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn the_pending_change_id_is_read_back_from_the_result() {
        let id = "0193-abc";
        let output =
            format!("Edited a.rs — {PENDING_REVIEW}{id}); the file on disk is unchanged.\n--- a");
        assert_eq!(pending_change_id(&output), Some(id));
        assert_eq!(pending_change_id("Edited a.rs.\n--- a/a.rs"), None);
    }

    #[test]
    fn binary_diff_is_summarised() {
        let c = build_change(PathBuf::from("/x/b"), "b".into(), Some("a\0b".into()), None);
        assert_eq!(c.diff, "Binary files a/b and b/b differ\n");
    }

    #[test]
    fn apply_writes_creates_parents_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/new.txt");
        let create = build_change(
            path.clone(),
            "a/b/new.txt".into(),
            None,
            Some("hi\n".into()),
        );
        apply_change(&create).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hi\n");
        let edit = build_change(
            path.clone(),
            "x".into(),
            Some("hi\n".into()),
            Some("ho\n".into()),
        );
        apply_change(&edit).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ho\n");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "temp file left behind: {leftovers:?}");
        let delete = build_change(path.clone(), "x".into(), Some("ho\n".into()), None);
        apply_change(&delete).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn apply_refuses_when_the_file_changed_since() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        std::fs::write(&path, "user edit\n").unwrap();
        let stale = build_change(
            path.clone(),
            "f.txt".into(),
            Some("original\n".into()),
            Some("agent\n".into()),
        );
        let err = apply_change(&stale).unwrap_err();
        assert!(err.to_string().contains("was modified"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "user edit\n");
        let stale_create = build_change(path.clone(), "f.txt".into(), None, Some("x".into()));
        assert!(apply_change(&stale_create)
            .unwrap_err()
            .to_string()
            .contains("was created"));
    }

    #[test]
    fn apply_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.sh");
        std::fs::write(&path, "a\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let edit = build_change(
            path.clone(),
            "run.sh".into(),
            Some("a\n".into()),
            Some("b\n".into()),
        );
        apply_change(&edit).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
