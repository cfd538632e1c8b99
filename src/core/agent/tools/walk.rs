//! The directory walk shared by `list_dir`, `glob` and `grep`: `.gitignore` honoured whether or
//! not the project is a git repository, hidden files shown, `.git` itself never.

use std::path::Path;

use ignore::WalkBuilder;

/// How much of a file is inspected to decide whether it is binary (as git and ripgrep do).
pub const BINARY_SNIFF_BYTES: usize = 8 * 1024;

pub fn builder(path: &Path) -> WalkBuilder {
    let mut b = WalkBuilder::new(path);
    b.hidden(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|e| e.file_name() != ".git");
    b
}

/// A NUL byte near the start marks a file as binary.
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}
/// One item per line, at most `max` of them; `note(total)` ends the text when some were left
/// out, so the model knows the list is cut and how to narrow it.
pub fn capped_lines(items: Vec<String>, max: usize, note: impl FnOnce(usize) -> String) -> String {
    let total = items.len();
    let mut out: String = items.into_iter().take(max).map(|m| m + "\n").collect();
    if total > max {
        out.push_str(&note(total));
        out.push('\n');
    }
    out
}
