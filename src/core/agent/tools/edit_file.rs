//! `edit_file`: replace an exact, unique string in a file.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::changes::{build_change, deny_write, submit};
use super::path_guard::{display_path, resolve_in};
use super::{
    blocking, parse_args, ApprovalMode, Tool, ToolContext, ToolError, ToolKind, ToolOutput,
};

const NAME: &str = "edit_file";

pub struct EditFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

impl Tool for EditFile {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Replace text in an existing file. old_string must match the file exactly (whitespace \
         and indentation included) and, unless replace_all is true, exactly once — include \
         enough surrounding lines to make it unique. Read the file first."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "file_path": {
                    "type": "string",
                    "description": "Path of the file to edit, relative to the project root or absolute."
                },
                "old_string": {
                    "type": "string",
                    "description": "Exact text to replace."
                },
                "new_string": {
                    "type": "string",
                    "description": "Replacement text (must differ from old_string)."
                },
                "replace_all": {
                    "type": "boolean",
                    "description": "Replace every occurrence instead of requiring exactly one (default false)."
                }
            },
            "required": ["file_path", "old_string", "new_string"],
            "additionalProperties": false
        })
    }

    fn kind(&self) -> ToolKind {
        ToolKind::Write
    }

    fn run<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        async move {
            let args: Args = parse_args(NAME, args)?;
            if ctx.approval == ApprovalMode::ReadOnly {
                return Err(deny_write(ctx));
            }
            let invalid = |message: &str| ToolError::invalid(NAME, message);
            if args.old_string.is_empty() {
                return Err(invalid(
                    "old_string is empty; use create_file to write a whole file",
                ));
            }
            if args.old_string == args.new_string {
                return Err(invalid(
                    "old_string and new_string are identical; nothing to change",
                ));
            }
            let path = resolve_in(ctx, &args.file_path)?;
            let shown = display_path(&ctx.project_root, &path);
            let change = blocking(move || {
                let before = match std::fs::read(&path) {
                    Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
                        ToolError::Failed(format!(
                            "{shown} is not UTF-8 text; edit_file cannot edit it"
                        ))
                    })?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(ToolError::Failed(format!(
                            "file not found: {shown} (use create_file to create it)"
                        )))
                    }
                    Err(e) => return Err(ToolError::Failed(format!("cannot read {shown}: {e}"))),
                };
                let (old, new) = line_endings_like(&before, args.old_string, args.new_string);
                let count = before.matches(&old).count();
                let after = match count {
                    0 => {
                        return Err(ToolError::Failed(format!(
                            "old_string was not found in {shown}; it must match exactly, \
                             including whitespace and indentation — read the file again"
                        )))
                    }
                    1 => before.replacen(&old, &new, 1),
                    _ if args.replace_all => before.replace(&old, &new),
                    n => {
                        return Err(ToolError::Failed(format!(
                            "old_string matches {n} times in {shown}; include more surrounding \
                             context to make it unique, or set replace_all to true to replace \
                             all {n}"
                        )))
                    }
                };
                if after == before {
                    return Err(ToolError::Failed(format!(
                        "the edit would leave {shown} unchanged"
                    )));
                }
                Ok((build_change(path, shown, Some(before), Some(after)), count))
            })
            .await?;
            let (change, count) = change;
            let done = match count {
                1 => format!("Edited {}", change.display_path),
                n => format!("Edited {} ({n} replacements)", change.display_path),
            };
            submit(ctx, change, done).await
        }
        .boxed()
    }
}

/// Models write `\n` even when the file uses CRLF; in a CRLF file whose text has no match
/// as given, both strings are converted so the edit matches and keeps the file's line endings.
fn line_endings_like(content: &str, old: String, new: String) -> (String, String) {
    let crlf_file = content.contains("\r\n");
    if crlf_file && old.contains('\n') && !old.contains("\r\n") && !content.contains(&old) {
        (
            old.replace('\n', "\r\n"),
            new.replace("\r\n", "\n").replace('\n', "\r\n"),
        )
    } else {
        (old, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::tools::test_support::{outside_dir, symlink, Fixture};

    fn edit(path: &str, old: &str, new: &str) -> Value {
        json!({"file_path": path, "old_string": old, "new_string": new})
    }

    #[tokio::test]
    async fn unique_edit_is_applied_with_a_diff() {
        let fx = Fixture::new(ApprovalMode::Auto);
        fx.write("a.rs", "fn a() {}\nfn b() {}\n");
        let out = EditFile
            .run(edit("a.rs", "fn b() {}", "fn c() {}"), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(fx.read("a.rs"), "fn a() {}\nfn c() {}\n");
        let diff = out.diff.unwrap();
        assert!(diff.starts_with("--- a/a.rs\n+++ b/a.rs\n"), "{diff}");
        assert!(diff.contains("-fn b() {}\n+fn c() {}\n"), "{diff}");
        assert!(out.content.starts_with("Edited a.rs."), "{}", out.content);
    }

    #[tokio::test]
    async fn crlf_files_match_lf_strings_and_keep_crlf() {
        let fx = Fixture::new(ApprovalMode::Auto);
        fx.write("w.txt", "a\r\nb\r\nc\r\n");
        EditFile
            .run(edit("w.txt", "a\nb\n", "x\ny\nz\n"), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(fx.read("w.txt"), "x\r\ny\r\nz\r\nc\r\n");
    }

    #[tokio::test]
    async fn ambiguous_edit_reports_the_count_unless_replace_all() {
        let fx = Fixture::new(ApprovalMode::Auto);
        fx.write("a.txt", "x\nx\nx\n");
        let err = EditFile
            .run(edit("a.txt", "x", "y"), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("matches 3 times"), "{err}");
        assert_eq!(fx.read("a.txt"), "x\nx\nx\n");
        let mut args = edit("a.txt", "x", "y");
        args["replace_all"] = json!(true);
        let out = EditFile.run(args, &fx.ctx).await.unwrap();
        assert_eq!(fx.read("a.txt"), "y\ny\ny\n");
        assert!(out.content.contains("3 replacements"), "{}", out.content);
    }

    #[tokio::test]
    async fn missing_text_identical_strings_and_missing_file_are_errors() {
        let fx = Fixture::new(ApprovalMode::Auto);
        fx.write("a.txt", "hello\n");
        let err = EditFile
            .run(edit("a.txt", "bye", "x"), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not found in a.txt"), "{err}");
        let err = EditFile
            .run(edit("a.txt", "hello", "hello"), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::InvalidArguments { .. }), "{err:?}");
        let err = EditFile
            .run(edit("a.txt", "", "x"), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::InvalidArguments { .. }), "{err:?}");
        let err = EditFile
            .run(edit("b.txt", "a", "b"), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("create_file"), "{err}");
        let err = EditFile
            .run(json!({"file_path": "a.txt", "old_string": "h"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("new_string"), "{err}");
    }

    #[tokio::test]
    async fn review_mode_records_and_leaves_the_file() {
        let fx = Fixture::new(ApprovalMode::Review);
        fx.write("a.txt", "old\n");
        let out = EditFile
            .run(edit("a.txt", "old", "new"), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(fx.read("a.txt"), "old\n");
        assert!(
            out.content.contains("pending user review"),
            "{}",
            out.content
        );
        assert!(out.content.contains("chg-1"), "{}", out.content);
        assert!(out.diff.is_some());
        let pending = fx.host.pending.lock().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].before.as_deref(), Some("old\n"));
        assert_eq!(pending[0].after.as_deref(), Some("new\n"));
        assert_eq!(pending[0].path, fx.path("a.txt"));
        assert_eq!(pending[0].display_path, "a.txt");
    }

    #[tokio::test]
    async fn read_only_mode_denies() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("a.txt", "old\n");
        let err = EditFile
            .run(edit("a.txt", "old", "new"), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        assert!(err.to_string().contains("read-only"), "{err}");
        assert_eq!(fx.read("a.txt"), "old\n");
    }

    #[tokio::test]
    async fn escapes_are_refused() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let (_o, outside) = outside_dir();
        std::fs::write(outside.join("f"), "old\n").unwrap();
        symlink(&outside, &fx.path("out"));
        let err = EditFile
            .run(edit("out/f", "old", "new"), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        let err = EditFile
            .run(edit("../f", "old", "new"), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        assert_eq!(std::fs::read_to_string(outside.join("f")).unwrap(), "old\n");
    }
}
