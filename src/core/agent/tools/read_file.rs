//! `read_file`: a text file with `cat -n` style line numbers, a window at a time.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::path_guard::{display_path, resolve_in};
use super::walk::{looks_binary, BINARY_SNIFF_BYTES};
use super::{blocking, parse_args, Tool, ToolContext, ToolError, ToolKind, ToolOutput};

const NAME: &str = "read_file";
pub const DEFAULT_LIMIT: usize = 2000;
pub const MAX_LINE_CHARS: usize = 2000;
/// Files above this are read only through an explicit window, so one call cannot flood the
/// context (or memory) with a log file or a generated bundle.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Even within the line limit, stop once this much text has been produced.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;

pub struct ReadFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    file_path: String,
    offset: Option<usize>,
    limit: Option<usize>,
}

impl Tool for ReadFile {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Read a text file. Lines are numbered from 1 (cat -n style). By default up to 2000 lines \
         from the start; use offset (1-based first line) and limit to read other parts of long \
         files. Lines longer than 2000 characters are cut. Binary files are refused."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "file_path": {
                    "type": "string",
                    "description": "Path of the file, relative to the project root or absolute."
                },
                "offset": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "1-based line number to start reading at (default 1)."
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Maximum number of lines to return (default 2000)."
                }
            },
            "required": ["file_path"],
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
            if args.offset == Some(0) || args.limit == Some(0) {
                return Err(ToolError::invalid(
                    NAME,
                    "offset and limit must be at least 1 (offset is a 1-based line number)",
                ));
            }
            let path = resolve_in(ctx, &args.file_path)?;
            let shown = display_path(&ctx.project_root, &path);
            blocking(move || read_window(&path, &shown, args.offset, args.limit)).await
        }
        .boxed()
    }
}

fn read_window(
    path: &std::path::Path,
    shown: &str,
    offset: Option<usize>,
    limit: Option<usize>,
) -> Result<ToolOutput, ToolError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ToolError::Failed(format!("file not found: {shown}")),
        _ => ToolError::Failed(format!("cannot read {shown}: {e}")),
    })?;
    if meta.is_dir() {
        return Err(ToolError::Failed(format!(
            "{shown} is a directory; use list_dir to see its entries"
        )));
    }
    let windowed = offset.is_some() || limit.is_some();
    if meta.len() > MAX_FILE_BYTES && !windowed {
        return Err(ToolError::Failed(format!(
            "{shown} is {} bytes, over the {} MB limit for a whole-file read; pass offset and \
             limit to read part of it, or use grep to find the lines you need",
            meta.len(),
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }

    let io_err = |e: std::io::Error| ToolError::Failed(format!("cannot read {shown}: {e}"));
    let mut file = File::open(path).map_err(io_err)?;
    let mut head = Vec::with_capacity(BINARY_SNIFF_BYTES);
    (&mut file)
        .take(BINARY_SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    if looks_binary(&head) {
        return Err(ToolError::Failed(format!(
            "{shown} looks like a binary file (it contains NUL bytes); read_file only shows text"
        )));
    }
    let mut reader = BufReader::new(std::io::Cursor::new(head).chain(file));

    let first = offset.unwrap_or(1);
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    let mut out = String::new();
    let mut line_no = 0usize;
    let mut last_shown = 0usize;
    let mut buf = Vec::new();
    // Why the listing stopped before the end of the file, if it did.
    let mut stopped_early = false;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io_err)? == 0 {
            break;
        }
        line_no += 1;
        if line_no < first {
            continue;
        }
        if line_no - first >= limit || out.len() >= MAX_OUTPUT_BYTES {
            stopped_early = true;
            break;
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end_matches('\n').trim_end_matches('\r');
        out.push_str(&format!("{line_no:>6}\t"));
        push_truncated(&mut out, text);
        out.push('\n');
        last_shown = line_no;
    }

    if line_no == 0 {
        return Ok(ToolOutput::text(format!("{shown} is empty.")));
    }
    if last_shown == 0 {
        return Err(ToolError::Failed(format!(
            "offset {first} is past the end of {shown}, which has {line_no} lines"
        )));
    }
    if stopped_early {
        let total = if meta.len() <= MAX_FILE_BYTES {
            // Counting the rest is cheap below the size cap and tells the model how much is left.
            let rest = reader
                .split(b'\n')
                .try_fold(0usize, |n, l| l.map(|_| n + 1))
                .map_err(io_err)?;
            format!(" of {}", line_no + rest)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "\n[showing lines {first}-{last_shown}{total}; the file continues — call read_file \
             with offset={} to read more]\n",
            last_shown + 1
        ));
    }
    Ok(ToolOutput::text(out))
}

fn push_truncated(out: &mut String, line: &str) {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        None => out.push_str(line),
        Some((cut, _)) => {
            let dropped = line[cut..].chars().count();
            out.push_str(&line[..cut]);
            out.push_str(&format!("… [line truncated, {dropped} more characters]"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::agent::tools::test_support::{outside_dir, symlink, Fixture};
    use crate::core::agent::tools::ApprovalMode;

    async fn read(fx: &Fixture, args: Value) -> Result<ToolOutput, ToolError> {
        ReadFile.run(args, &fx.ctx).await
    }

    #[tokio::test]
    async fn numbers_lines_from_one() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("a.txt", "alpha\r\nbeta\ngamma");
        let out = read(&fx, json!({"file_path": "a.txt"})).await.unwrap();
        assert_eq!(out.content, "     1\talpha\n     2\tbeta\n     3\tgamma\n");
    }

    #[tokio::test]
    async fn offset_and_limit_window_with_continuation_note() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let text: String = (1..=10).map(|i| format!("line{i}\n")).collect();
        fx.write("a.txt", text);
        let out = read(&fx, json!({"file_path": "a.txt", "offset": 3, "limit": 2}))
            .await
            .unwrap();
        assert!(
            out.content.starts_with("     3\tline3\n     4\tline4\n"),
            "{}",
            out.content
        );
        assert!(!out.content.contains("line5"), "{}", out.content);
        assert!(out.content.contains("lines 3-4 of 10"), "{}", out.content);
        assert!(out.content.contains("offset=5"), "{}", out.content);
        let tail = read(&fx, json!({"file_path": "a.txt", "offset": 9}))
            .await
            .unwrap();
        assert_eq!(tail.content, "     9\tline9\n    10\tline10\n");
    }

    #[tokio::test]
    async fn default_limit_is_2000_lines() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let text: String = (1..=2500).map(|i| format!("{i}\n")).collect();
        fx.write("big.txt", text);
        let out = read(&fx, json!({"file_path": "big.txt"})).await.unwrap();
        assert!(out.content.contains("  2000\t2000\n"));
        assert!(!out.content.contains("\t2001\n"));
        assert!(
            out.content.contains("offset=2001"),
            "{}",
            &out.content[out.content.len() - 200..]
        );
    }

    #[tokio::test]
    async fn offset_past_end_is_an_error() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("a.txt", "one\n");
        let err = read(&fx, json!({"file_path": "a.txt", "offset": 5}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("past the end"), "{err}");
        let err = read(&fx, json!({"file_path": "a.txt", "offset": 0}))
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::InvalidArguments { .. }));
    }

    #[tokio::test]
    async fn long_lines_are_truncated_with_a_marker() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("long.txt", "é".repeat(MAX_LINE_CHARS + 5));
        let out = read(&fx, json!({"file_path": "long.txt"})).await.unwrap();
        assert!(out.content.contains("[line truncated, 5 more characters]"));
    }

    #[tokio::test]
    async fn binary_empty_missing_and_directory_are_reported() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write("bin", b"ab\0cd");
        let err = read(&fx, json!({"file_path": "bin"})).await.unwrap_err();
        assert!(err.to_string().contains("binary"), "{err}");
        fx.write("empty", "");
        let out = read(&fx, json!({"file_path": "empty"})).await.unwrap();
        assert!(out.content.contains("empty"));
        let err = read(&fx, json!({"file_path": "nope"})).await.unwrap_err();
        assert!(err.to_string().contains("not found: nope"), "{err}");
        std::fs::create_dir(fx.path("d")).unwrap();
        let err = read(&fx, json!({"file_path": "d"})).await.unwrap_err();
        assert!(err.to_string().contains("list_dir"), "{err}");
    }

    #[tokio::test]
    async fn oversized_file_needs_a_window() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let line = "x".repeat(99) + "\n";
        let path = fx.write("huge.log", "");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&path).unwrap();
            for _ in 0..(MAX_FILE_BYTES / 100 + 10) {
                f.write_all(line.as_bytes()).unwrap();
            }
        }
        let err = read(&fx, json!({"file_path": "huge.log"}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("offset and limit"), "{err}");
        let out = read(
            &fx,
            json!({"file_path": "huge.log", "offset": 100, "limit": 1}),
        )
        .await
        .unwrap();
        assert!(out.content.starts_with("   100\txxx"), "{}", out.content);
        assert!(out.content.contains("offset=101"), "{}", out.content);
    }

    #[tokio::test]
    async fn escapes_are_refused() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let (_o, outside) = outside_dir();
        std::fs::write(outside.join("secret"), "s").unwrap();
        symlink(&outside, &fx.path("link"));
        let err = read(&fx, json!({"file_path": "link/secret"}))
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Denied(_)), "{err:?}");
        let err = read(&fx, json!({"file_path": "../secret"}))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("outside the project root"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn bad_arguments_name_the_field() {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        let err = read(&fx, json!({"path": "a"})).await.unwrap_err();
        assert!(matches!(err, ToolError::InvalidArguments { .. }));
        assert!(err.to_string().contains("path"), "{err}");
        let err = read(&fx, json!({"file_path": "a", "limit": "ten"}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }
}
