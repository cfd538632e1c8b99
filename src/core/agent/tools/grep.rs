//! `grep`: regex search over the project's text files, `.gitignore` honoured.

use std::path::Path;

use futures::future::BoxFuture;
use futures::FutureExt;
use globset::{GlobBuilder, GlobMatcher};
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_json::{json, Value};

use super::path_guard::{display_path, resolve_in};
use super::{blocking, parse_args, walk, Tool, ToolContext, ToolError, ToolKind, ToolOutput};

const NAME: &str = "grep";
pub const MAX_MATCHES: usize = 500;
/// Matched lines are cut here: minified files would otherwise fill the context with one line.
pub const MAX_LINE_CHARS: usize = 500;
/// Larger files are skipped (and counted in the note) rather than loaded whole.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

pub struct Grep;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    pattern: String,
    path: Option<String>,
    glob: Option<String>,
    #[serde(default)]
    case_insensitive: bool,
}

impl Tool for Grep {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Search file contents with a regular expression (Rust regex syntax, matched per line). \
         Output lines are 'path:line: text'. Files ignored by .gitignore and binary files are \
         skipped. At most 500 matches are shown."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "pattern": {
                    "type": "string",
                    "description": "Regular expression (Rust regex syntax), e.g. 'fn\\s+main'."
                },
                "path": {
                    "type": "string",
                    "description": "File or directory to search, relative to the project root \
                                    or absolute (default: the project root)."
                },
                "glob": {
                    "type": "string",
                    "description": "Only search files matching this glob, e.g. '*.rs' (matched \
                                    against the file name when it has no '/', else against the \
                                    path relative to the project root)."
                },
                "case_insensitive": {
                    "type": "boolean",
                    "description": "Ignore case when matching (default false)."
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
            let regex = RegexBuilder::new(&args.pattern)
                .case_insensitive(args.case_insensitive)
                .build()
                .map_err(|e| invalid(format!("invalid regex '{}': {e}", args.pattern)))?;
            let filter = args
                .glob
                .as_deref()
                .map(|g| {
                    GlobBuilder::new(g)
                        .literal_separator(true)
                        .build()
                        .map(|m| FileFilter {
                            by_name: !g.contains('/'),
                            matcher: m.compile_matcher(),
                        })
                        .map_err(|e| invalid(format!("invalid glob '{g}': {e}")))
                })
                .transpose()?;
            let start = resolve_in(ctx, args.path.as_deref().unwrap_or("."))?;
            let root = ctx.project_root.clone();
            let cancel = ctx.cancel.clone();
            blocking(move || {
                if !start.exists() {
                    return Err(ToolError::Failed(format!(
                        "path not found: {}",
                        display_path(&root, &start)
                    )));
                }
                let mut search = Search::default();
                for entry in walk::builder(&start).build() {
                    if cancel.is_cancelled() {
                        return Err(ToolError::Cancelled);
                    }
                    let Ok(entry) = entry else { continue };
                    if !entry.file_type().is_some_and(|t| t.is_file()) {
                        continue;
                    }
                    let rel = entry.path().strip_prefix(&root).unwrap_or(entry.path());
                    if filter.as_ref().is_some_and(|f| !f.matches(rel)) {
                        continue;
                    }
                    if !search.file(entry.path(), &display_path(&root, entry.path()), &regex) {
                        break;
                    }
                }
                Ok(ToolOutput::text(search.finish()))
            })
            .await
        }
        .boxed()
    }
}

struct FileFilter {
    by_name: bool,
    matcher: GlobMatcher,
}

impl FileFilter {
    fn matches(&self, rel: &Path) -> bool {
        if self.by_name {
            rel.file_name().is_some_and(|n| self.matcher.is_match(n))
        } else {
            self.matcher.is_match(rel)
        }
    }
}

#[derive(Default)]
struct Search {
    out: String,
    matches: usize,
    capped: bool,
    skipped_large: usize,
    unreadable: usize,
}

impl Search {
    /// Searches one file; returns `false` once the match cap is reached.
    fn file(&mut self, path: &Path, shown: &str, regex: &Regex) -> bool {
        if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_FILE_BYTES) {
            self.skipped_large += 1;
            return true;
        }
        let Ok(bytes) = std::fs::read(path) else {
            self.unreadable += 1;
            return true;
        };
        if walk::looks_binary(&bytes) {
            return true;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (i, line) in text.lines().enumerate() {
            if !regex.is_match(line) {
                continue;
            }
            if self.matches == MAX_MATCHES {
                self.capped = true;
                return false;
            }
            self.matches += 1;
            let line = line.trim_end_matches('\r');
            let cut = line
                .char_indices()
                .nth(MAX_LINE_CHARS)
                .map_or(line.len(), |(i, _)| i);
            self.out
                .push_str(&format!("{shown}:{}: {}", i + 1, &line[..cut]));
            if cut < line.len() {
                self.out.push_str(" … [line truncated]");
            }
            self.out.push('\n');
        }
        true
    }

    fn finish(mut self) -> String {
        if self.matches == 0 {
            self.out.push_str("No matches found.\n");
        }
        if self.capped {
            self.out.push_str(&format!(
                "[stopped after {MAX_MATCHES} matches; narrow the pattern, path or glob to see \
                 the rest]\n"
            ));
        }
        if self.skipped_large > 0 {
            self.out.push_str(&format!(
                "[{} file(s) over {} MB were not searched]\n",
                self.skipped_large,
                MAX_FILE_BYTES / (1024 * 1024)
            ));
        }
        if self.unreadable > 0 {
            self.out.push_str(&format!(
                "[{} file(s) could not be read]\n",
                self.unreadable
            ));
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::tools::test_support::{outside_dir, symlink, Fixture};
    use crate::core::agent::tools::ApprovalMode;

    fn fixture() -> Fixture {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("src/main.rs", "fn main() {\n    println!(\"Hello\");\n}\n");
        fx.write("src/lib.rs", "// hello from lib\npub fn f() {}\n");
        fx.write("notes.md", "hello notes\n");
        fx.write("target/gen.rs", "fn hello_generated() {}\n");
        fx.write("data.bin", b"hello\0world");
        fx.write(".gitignore", "target/\n");
        fx
    }

    #[tokio::test]
    async fn finds_matches_with_path_and_line() {
        let fx = fixture();
        let out = Grep
            .run(json!({"pattern": "fn \\w+"}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(
            out.content,
            "src/lib.rs:2: pub fn f() {}\nsrc/main.rs:1: fn main() {\n"
        );
    }

    #[tokio::test]
    async fn case_insensitive_glob_and_path_filters() {
        let fx = fixture();
        let out = Grep
            .run(
                json!({"pattern": "hello", "case_insensitive": true}),
                &fx.ctx,
            )
            .await
            .unwrap();
        assert_eq!(
            out.content,
            "notes.md:1: hello notes\nsrc/lib.rs:1: // hello from lib\nsrc/main.rs:2:     println!(\"Hello\");\n"
        );
        let out = Grep
            .run(json!({"pattern": "hello", "glob": "*.rs"}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content, "src/lib.rs:1: // hello from lib\n");
        let out = Grep
            .run(json!({"pattern": "hello", "path": "notes.md"}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content, "notes.md:1: hello notes\n");
        let out = Grep
            .run(
                json!({"pattern": "Hello", "path": "src", "glob": "src/m*.rs"}),
                &fx.ctx,
            )
            .await
            .unwrap();
        assert_eq!(out.content, "src/main.rs:2:     println!(\"Hello\");\n");
    }

    #[tokio::test]
    async fn no_matches_is_a_normal_result() {
        let fx = fixture();
        let out = Grep.run(json!({"pattern": "zzz"}), &fx.ctx).await.unwrap();
        assert_eq!(out.content, "No matches found.\n");
    }

    #[tokio::test]
    async fn invalid_regex_says_what_is_wrong() {
        let fx = fixture();
        let err = Grep
            .run(json!({"pattern": "fn("}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::InvalidArguments { .. }), "{err:?}");
        assert!(err.to_string().contains("unclosed group"), "{err}");
    }

    #[tokio::test]
    async fn caps_matches_and_truncates_long_lines() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let text: String = (0..MAX_MATCHES + 10)
            .map(|i| format!("hit {i}\n"))
            .collect();
        fx.write("many.txt", text);
        fx.write(
            "wide.txt",
            format!("hit {}\n", "x".repeat(MAX_LINE_CHARS * 2)),
        );
        let out = Grep.run(json!({"pattern": "hit"}), &fx.ctx).await.unwrap();
        assert_eq!(out.content.lines().count(), MAX_MATCHES + 1);
        assert!(out.content.contains("stopped after 500 matches"));
        let out = Grep
            .run(json!({"pattern": "hit", "path": "wide.txt"}), &fx.ctx)
            .await
            .unwrap();
        assert!(out.content.contains("[line truncated]"));
        assert!(out.content.len() < MAX_LINE_CHARS + 100);
    }

    #[tokio::test]
    async fn escapes_and_missing_paths_are_refused() {
        let fx = fixture();
        let err = Grep
            .run(json!({"pattern": "x", "path": "../"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)));
        let (_o, outside) = outside_dir();
        symlink(&outside, &fx.path("out"));
        let err = Grep
            .run(json!({"pattern": "x", "path": "out"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)));
        let err = Grep
            .run(json!({"pattern": "x", "path": "nope"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not found"), "{err}");
    }
}
