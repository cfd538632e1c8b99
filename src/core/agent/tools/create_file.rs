//! `create_file`: write a whole file, creating it (and its directories) or overwriting it.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::changes::{build_change, deny_write, read_before, submit};
use super::path_guard::{display_path, resolve_in};
use super::{
    blocking, parse_args, ApprovalMode, Tool, ToolContext, ToolError, ToolKind, ToolOutput,
};

const NAME: &str = "create_file";

pub struct CreateFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
    content: String,
}

impl Tool for CreateFile {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Write a file with the given content, creating missing parent directories. An existing \
         file is overwritten entirely — prefer edit_file for changes to existing files."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "file_path": {
                    "type": "string",
                    "description": "Path of the file to write, relative to the project root or absolute."
                },
                "content": {
                    "type": "string",
                    "description": "The complete new content of the file."
                }
            },
            "required": ["file_path", "content"],
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
            let path = resolve_in(ctx, &args.file_path)?;
            let shown = display_path(&ctx.project_root, &path);
            let change = blocking(move || {
                if path.is_dir() {
                    return Err(ToolError::Failed(format!("{shown} is a directory")));
                }
                let before = read_before(&path)
                    .map_err(|e| ToolError::Failed(format!("cannot read {shown}: {e}")))?;
                if before.as_deref() == Some(args.content.as_str()) {
                    return Err(ToolError::Failed(format!(
                        "{shown} already has exactly this content; nothing to change"
                    )));
                }
                Ok(build_change(path, shown, before, Some(args.content)))
            })
            .await?;
            let lines = change.after.as_deref().map_or(0, |a| a.lines().count());
            let verb = if change.before.is_some() {
                "Overwrote"
            } else {
                "Created"
            };
            let done = format!("{verb} {} ({lines} lines)", change.display_path);
            submit(ctx, change, done).await
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::tools::test_support::{outside_dir, symlink, Fixture};

    #[tokio::test]
    async fn creates_with_parent_dirs_and_overwrites() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let out = CreateFile
            .run(
                json!({"file_path": "a/b/c.txt", "content": "one\ntwo\n"}),
                &fx.ctx,
            )
            .await
            .unwrap();
        assert_eq!(fx.read("a/b/c.txt"), "one\ntwo\n");
        assert!(
            out.content.starts_with("Created a/b/c.txt (2 lines)"),
            "{}",
            out.content
        );
        let diff = out.diff.unwrap();
        assert!(diff.contains("+++ b/a/b/c.txt\n"), "{diff}");
        assert!(diff.contains("+one\n+two\n"), "{diff}");
        let out = CreateFile
            .run(
                json!({"file_path": "a/b/c.txt", "content": "three\n"}),
                &fx.ctx,
            )
            .await
            .unwrap();
        assert_eq!(fx.read("a/b/c.txt"), "three\n");
        assert!(out.content.starts_with("Overwrote"), "{}", out.content);
        assert!(out.diff.unwrap().contains("-one\n-two\n+three\n"));
    }

    #[tokio::test]
    async fn identical_content_and_directories_are_errors() {
        let fx = Fixture::new(ApprovalMode::Auto);
        fx.write("a.txt", "x");
        let err = CreateFile
            .run(json!({"file_path": "a.txt", "content": "x"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("already has"), "{err}");
        std::fs::create_dir(fx.path("d")).unwrap();
        let err = CreateFile
            .run(json!({"file_path": "d", "content": "x"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        let err = CreateFile
            .run(
                json!({"file_path": "d/x", "content": "x", "mode": 7}),
                &fx.ctx,
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("mode"), "{err}");
    }

    #[tokio::test]
    async fn review_mode_records_and_creates_nothing() {
        let fx = Fixture::new(ApprovalMode::Review);
        let out = CreateFile
            .run(json!({"file_path": "new.txt", "content": "hi\n"}), &fx.ctx)
            .await
            .unwrap();
        assert!(!fx.path("new.txt").exists());
        assert!(out
            .content
            .contains("pending user review (change id chg-1)"));
        let pending = fx.host.pending.lock().unwrap();
        assert_eq!(pending[0].before, None);
        assert_eq!(pending[0].after.as_deref(), Some("hi\n"));
    }

    #[tokio::test]
    async fn read_only_denies_and_escapes_are_refused() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let err = CreateFile
            .run(json!({"file_path": "x", "content": ""}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)));
        assert!(!fx.path("x").exists());

        let fx = Fixture::new(ApprovalMode::Auto);
        let (_o, outside) = outside_dir();
        symlink(&outside, &fx.path("out"));
        let err = CreateFile
            .run(json!({"file_path": "out/new", "content": "x"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        assert!(!outside.join("new").exists());
        let err = CreateFile
            .run(json!({"file_path": "../new", "content": "x"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        symlink(&outside.join("target"), &fx.path("dangling"));
        let err = CreateFile
            .run(json!({"file_path": "dangling", "content": "x"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        assert!(!outside.join("target").exists());
    }
}
