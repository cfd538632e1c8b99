//! `delete_file`: remove one file (never a directory).

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::changes::{build_change, deny_write, read_before, submit};
use super::path_guard::{display_path, resolve_in};
use super::{
    blocking, parse_args, ApprovalMode, Tool, ToolContext, ToolError, ToolKind, ToolOutput,
};

const NAME: &str = "delete_file";

pub struct DeleteFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
}

impl Tool for DeleteFile {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Delete one file. Directories are refused."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "file_path": {
                    "type": "string",
                    "description": "Path of the file to delete, relative to the project root or absolute."
                }
            },
            "required": ["file_path"],
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
            let requested = ctx.project_root.join(&args.file_path);
            let change = blocking(move || {
                // The guard resolves symlinks, so deleting through a link would delete its
                // target — not what "delete this path" means.
                if requested
                    .symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink())
                {
                    return Err(ToolError::Failed(format!(
                        "{} is a symlink; delete_file does not delete links (it would delete \
                         the file they point to, {shown})",
                        args.file_path
                    )));
                }
                if path.is_dir() {
                    return Err(ToolError::Failed(format!(
                        "{shown} is a directory; delete_file only deletes files"
                    )));
                }
                match read_before(&path) {
                    Ok(Some(before)) => Ok(build_change(path, shown, Some(before), None)),
                    Ok(None) => Err(ToolError::Failed(format!("file not found: {shown}"))),
                    Err(e) => Err(ToolError::Failed(format!("cannot read {shown}: {e}"))),
                }
            })
            .await?;
            let done = format!("Deleted {}", change.display_path);
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
    async fn deletes_a_file_with_a_diff() {
        let fx = Fixture::new(ApprovalMode::Auto);
        fx.write("a.txt", "bye\n");
        let out = DeleteFile
            .run(json!({"file_path": "a.txt"}), &fx.ctx)
            .await
            .unwrap();
        assert!(!fx.path("a.txt").exists());
        assert!(out.content.starts_with("Deleted a.txt."), "{}", out.content);
        assert!(out.diff.unwrap().contains("-bye\n"));
    }

    #[tokio::test]
    async fn binary_files_can_be_deleted() {
        let fx = Fixture::new(ApprovalMode::Auto);
        fx.write("b.bin", [0u8, 159, 146, 150]);
        let out = DeleteFile
            .run(json!({"file_path": "b.bin"}), &fx.ctx)
            .await
            .unwrap();
        assert!(!fx.path("b.bin").exists());
        assert!(out.diff.unwrap().starts_with("Binary files"));
    }

    #[tokio::test]
    async fn directories_and_missing_files_are_refused() {
        let fx = Fixture::new(ApprovalMode::Auto);
        std::fs::create_dir(fx.path("d")).unwrap();
        let err = DeleteFile
            .run(json!({"file_path": "d"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        assert!(fx.path("d").exists());
        let err = DeleteFile
            .run(json!({"file_path": "x"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
    }

    #[tokio::test]
    async fn review_keeps_the_file_and_read_only_denies() {
        let fx = Fixture::new(ApprovalMode::Review);
        fx.write("a.txt", "keep\n");
        let out = DeleteFile
            .run(json!({"file_path": "a.txt"}), &fx.ctx)
            .await
            .unwrap();
        assert!(fx.path("a.txt").exists());
        assert!(out.content.contains("pending user review"));
        assert_eq!(fx.host.pending.lock().unwrap()[0].after, None);

        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("a.txt", "keep\n");
        let err = DeleteFile
            .run(json!({"file_path": "a.txt"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)));
        assert!(fx.path("a.txt").exists());
    }

    #[tokio::test]
    async fn symlinks_are_refused_and_their_target_kept() {
        let fx = Fixture::new(ApprovalMode::Auto);
        fx.write("real.txt", "keep\n");
        symlink(&fx.path("real.txt"), &fx.path("alias"));
        let err = DeleteFile
            .run(json!({"file_path": "alias"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("is a symlink"), "{err}");
        assert!(fx.path("real.txt").exists());
        assert!(fx.path("alias").symlink_metadata().is_ok());
    }

    #[tokio::test]
    async fn escapes_are_refused() {
        let fx = Fixture::new(ApprovalMode::Auto);
        let (_o, outside) = outside_dir();
        std::fs::write(outside.join("f"), "x").unwrap();
        symlink(&outside, &fx.path("out"));
        let err = DeleteFile
            .run(json!({"file_path": "out/f"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)));
        let err = DeleteFile
            .run(json!({"file_path": "../f"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)));
        assert!(outside.join("f").exists());
    }
}
