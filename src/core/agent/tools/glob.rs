//! `glob`: files under the project root whose path matches a glob pattern.

use std::path::Component;

use futures::future::BoxFuture;
use futures::FutureExt;
use globset::GlobBuilder;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, parse_args, walk, Tool, ToolContext, ToolError, ToolKind, ToolOutput};

const NAME: &str = "glob";
pub const MAX_RESULTS: usize = 500;

pub struct Glob;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    pattern: String,
}

impl Tool for Glob {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Find files whose path relative to the project root matches a glob pattern, e.g. \
         '**/*.rs' or 'src/**/mod.rs'. '*' does not cross '/', '**' does, '{a,b}' alternates. \
         Files ignored by .gitignore are left out. Results are sorted by path, at most 500."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "pattern": {
                    "type": "string",
                    "description": "Glob matched against paths relative to the project root, \
                                    e.g. '**/*.ts' or 'tests/*.rs'."
                }
            },
            "required": ["pattern"],
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
            let invalid = |message: String| ToolError::invalid(NAME, message);
            let pattern = args.pattern.trim().trim_start_matches("./").to_string();
            if pattern.is_empty() {
                return Err(invalid("pattern is empty".into()));
            }
            let as_path = std::path::Path::new(&pattern);
            if as_path.is_absolute() || as_path.components().any(|c| c == Component::ParentDir) {
                return Err(invalid(format!(
                    "pattern '{pattern}' must be relative to the project root and may not use '..'"
                )));
            }
            let matcher = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| invalid(format!("invalid glob pattern: {e}")))?
                .compile_matcher();

            let root = ctx.project_root.clone();
            let cancel = ctx.cancel.clone();
            blocking(move || {
                let mut matches = Vec::new();
                for entry in walk::builder(&root).build() {
                    if cancel.is_cancelled() {
                        return Err(ToolError::Cancelled);
                    }
                    let Ok(entry) = entry else { continue };
                    if !entry.file_type().is_some_and(|t| t.is_file()) {
                        continue;
                    }
                    let Ok(rel) = entry.path().strip_prefix(&root) else {
                        continue;
                    };
                    if matcher.is_match(rel) {
                        matches.push(rel.to_string_lossy().into_owned());
                    }
                }
                matches.sort();
                Ok(ToolOutput::text(format_matches(&pattern, matches)))
            })
            .await
        }
        .boxed()
    }
}

fn format_matches(pattern: &str, matches: Vec<String>) -> String {
    if matches.is_empty() {
        return format!("No files match '{pattern}'.");
    }
    walk::capped_lines(matches, MAX_RESULTS, |total| {
        format!("[showing the first {MAX_RESULTS} of {total} matches; use a narrower pattern]")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::tools::test_support::Fixture;
    use crate::core::agent::tools::ApprovalMode;

    fn fixture() -> Fixture {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("src/main.rs", "");
        fx.write("src/core/mod.rs", "");
        fx.write("README.md", "");
        fx.write("build.rs", "");
        fx.write("target/debug/gen.rs", "");
        fx.write(".gitignore", "/target\n");
        fx.write(".git/config.rs", "");
        fx
    }

    #[tokio::test]
    async fn matches_recursively_sorted_and_honours_gitignore() {
        let fx = fixture();
        let out = Glob
            .run(json!({"pattern": "**/*.rs"}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content, "build.rs\nsrc/core/mod.rs\nsrc/main.rs\n");
    }

    #[tokio::test]
    async fn star_does_not_cross_directories() {
        let fx = fixture();
        let out = Glob.run(json!({"pattern": "*.rs"}), &fx.ctx).await.unwrap();
        assert_eq!(out.content, "build.rs\n");
        let out = Glob
            .run(json!({"pattern": "./src/*.{rs,md}"}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content, "src/main.rs\n");
    }

    #[tokio::test]
    async fn no_match_is_not_an_error() {
        let fx = fixture();
        let out = Glob
            .run(json!({"pattern": "**/*.py"}), &fx.ctx)
            .await
            .unwrap();
        assert!(out.content.contains("No files match"), "{}", out.content);
    }

    #[tokio::test]
    async fn caps_results_with_a_note() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        for i in 0..(MAX_RESULTS + 2) {
            fx.write(&format!("f{i:04}.txt"), "");
        }
        let out = Glob
            .run(json!({"pattern": "*.txt"}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content.lines().count(), MAX_RESULTS + 1);
        assert!(out.content.contains(&format!("of {}", MAX_RESULTS + 2)));
    }

    #[tokio::test]
    async fn bad_patterns_are_invalid_arguments() {
        let fx = fixture();
        for p in ["a[", "../**", "/etc/*", ""] {
            let err = Glob.run(json!({"pattern": p}), &fx.ctx).await.unwrap_err();
            assert!(
                matches!(err, ToolError::InvalidArguments { .. }),
                "{p}: {err:?}"
            );
        }
    }
}
