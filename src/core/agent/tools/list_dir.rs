//! `list_dir`: the entries of one directory, `.gitignore` honoured.

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::path_guard::{display_path, resolve_in};
use super::{blocking, parse_args, walk, Tool, ToolContext, ToolError, ToolKind, ToolOutput};

const NAME: &str = "list_dir";
pub const MAX_ENTRIES: usize = 1000;

pub struct ListDir;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    path: Option<String>,
}

impl Tool for ListDir {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "List the entries of one directory (not recursive), sorted by name; directories end \
         with '/'. Files ignored by .gitignore are left out. Defaults to the project root."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "Directory to list, relative to the project root or absolute \
                                    (default: the project root)."
                }
            },
            "required": [],
            "additionalProperties": false
        })
    }

    fn kind(&self) -> ToolKind {
        ToolKind::ReadOnly
    }

    fn run<'a>(
        &'a self,
        args: Value,
        ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        async move {
            let args: Args = parse_args(NAME, args)?;
            let dir = resolve_in(ctx, args.path.as_deref().unwrap_or("."))?;
            let shown = display_path(&ctx.project_root, &dir);
            blocking(move || {
                let meta = std::fs::metadata(&dir).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        ToolError::Failed(format!("directory not found: {shown}"))
                    }
                    _ => ToolError::Failed(format!("cannot list {shown}: {e}")),
                })?;
                if !meta.is_dir() {
                    return Err(ToolError::Failed(format!(
                        "{shown} is a file, not a directory; use read_file to read it"
                    )));
                }
                let mut entries = Vec::new();
                for entry in walk::builder(&dir).max_depth(Some(1)).build() {
                    // An unreadable entry should not hide the rest of the listing.
                    let Ok(entry) = entry else { continue };
                    if entry.depth() == 0 {
                        continue;
                    }
                    let mut name = entry.file_name().to_string_lossy().into_owned();
                    if entry.file_type().is_some_and(|t| t.is_dir()) {
                        name.push('/');
                    }
                    entries.push(name);
                }
                entries.sort();
                Ok(ToolOutput::text(format_listing(&shown, entries)))
            })
            .await
        }
        .boxed()
    }
}

fn format_listing(shown: &str, entries: Vec<String>) -> String {
    if entries.is_empty() {
        return format!("{shown} is empty (or every entry is ignored by .gitignore).");
    }
    walk::capped_lines(entries, MAX_ENTRIES, |total| {
        format!(
            "[{} more entries not shown ({total} in all); use glob with a narrower pattern]",
            total - MAX_ENTRIES
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::tools::test_support::{outside_dir, symlink, Fixture};
    use crate::core::agent::tools::ApprovalMode;

    #[tokio::test]
    async fn lists_sorted_with_dir_slashes_hidden_and_gitignore() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("b.txt", "");
        fx.write("a.rs", "");
        fx.write(".env.example", "");
        fx.write("src/main.rs", "");
        fx.write("target/debug/x", "");
        fx.write("secret.log", "");
        fx.write(".gitignore", "target/\n*.log\n");
        std::fs::create_dir(fx.path(".git")).unwrap();
        let out = ListDir.run(json!({}), &fx.ctx).await.unwrap();
        assert_eq!(out.content, ".env.example\n.gitignore\na.rs\nb.txt\nsrc/\n");
    }

    #[tokio::test]
    async fn lists_a_subdirectory_and_honours_a_parent_gitignore() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write(".gitignore", "*.tmp\n");
        fx.write("src/lib.rs", "");
        fx.write("src/x.tmp", "");
        let out = ListDir.run(json!({"path": "src"}), &fx.ctx).await.unwrap();
        assert_eq!(out.content, "lib.rs\n");
    }

    #[tokio::test]
    async fn caps_long_listings() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        for i in 0..(MAX_ENTRIES + 3) {
            fx.write(&format!("d/f{i:05}"), "");
        }
        let out = ListDir.run(json!({"path": "d"}), &fx.ctx).await.unwrap();
        assert_eq!(out.content.lines().count(), MAX_ENTRIES + 1);
        assert!(
            out.content.contains("3 more entries not shown"),
            "{}",
            out.content
        );
    }

    #[tokio::test]
    async fn errors_for_files_missing_dirs_and_escapes() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("f", "");
        let err = ListDir
            .run(json!({"path": "f"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        let err = ListDir
            .run(json!({"path": "nope"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
        let err = ListDir
            .run(json!({"path": ".."}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        let (_o, outside) = outside_dir();
        symlink(&outside, &fx.path("out"));
        let err = ListDir
            .run(json!({"path": "out"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        let err = ListDir.run(json!({"path": 1}), &fx.ctx).await.unwrap_err();
        assert!(matches!(err, ToolError::InvalidArguments { .. }));
    }

    #[tokio::test]
    async fn empty_directory_says_so() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let out = ListDir.run(json!({"path": "."}), &fx.ctx).await.unwrap();
        assert!(out.content.contains("empty"), "{}", out.content);
    }
}
