//! Project instructions: the `AGENTS.md` files people write for coding agents (Codex, OpenCode)
//! and Claude Code's `CLAUDE.md`, read when a chat starts and added to its system prompt.
//!
//! Sources, in prompt order (general first, so the more specific file reads last and wins):
//! the user's own `AGENTS.md` next to their `config.toml`, then one file per directory from the
//! repository root down to the project directory — `AGENTS.md`, or `CLAUDE.md` where a
//! directory has no `AGENTS.md`. Together they are capped at `instructions_max_bytes`; what
//! does not fit is cut with a note telling the model where the rest is.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Codex's default for the same cap (`project_doc_max_bytes`).
pub const DEFAULT_MAX_BYTES: usize = 32 * 1024;
/// Per directory, the first of these that exists is used.
const PROJECT_FILE_NAMES: [&str; 2] = ["AGENTS.md", "CLAUDE.md"];
const USER_FILE_NAME: &str = "AGENTS.md";

/// One instruction file a chat uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstructionFile {
    /// Relative to the repository root for project files, absolute for the user's.
    pub path: String,
    /// The file's size.
    pub bytes: u64,
    /// How much of it is in the prompt (less than `bytes` when the cap clipped it).
    pub included: u64,
}

impl InstructionFile {
    pub fn is_clipped(&self) -> bool {
        self.included < self.bytes
    }
}

/// The instructions of a new chat: the files and the prompt section built from them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Instructions {
    pub files: Vec<InstructionFile>,
    /// Empty when there are no files.
    pub prompt: String,
}

/// Where instructions are looked for.
#[derive(Debug, Clone)]
pub struct InstructionSources {
    /// The directory holding the user's `config.toml` (`~/.config/boocode`).
    pub user_config_dir: Option<PathBuf>,
    /// The project directory the agent works in; files are read from the repository root
    /// above it (the nearest directory with `.git`) down to it.
    pub project_dir: PathBuf,
    pub max_bytes: usize,
}

impl InstructionSources {
    /// The files that exist, in prompt order, with the name the chat shows for each.
    fn candidates(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        if let Some(dir) = &self.user_config_dir {
            let path = dir.join(USER_FILE_NAME);
            if path.is_file() {
                out.push((path.clone(), path.to_string_lossy().into_owned()));
            }
        }
        let root = repository_root(&self.project_dir);
        let mut dirs: Vec<&Path> = self
            .project_dir
            .ancestors()
            .take_while(|d| d.starts_with(root))
            .collect();
        dirs.reverse();
        for dir in dirs {
            let found = PROJECT_FILE_NAMES
                .iter()
                .map(|name| dir.join(name))
                .find(|p| p.is_file());
            if let Some(path) = found {
                let shown = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                out.push((path, shown));
            }
        }
        out
    }

    /// Reads the files and builds the prompt section. An unreadable file is skipped (and
    /// logged): instructions help the agent, their absence must not stop it.
    pub fn load(&self) -> Instructions {
        let mut remaining = self.max_bytes;
        let mut files = Vec::new();
        let mut sections = Vec::new();
        for (path, shown) in self.candidates() {
            let (text, bytes) = match read_prefix(&path, remaining) {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!("instructions {}: {e}", path.display());
                    continue;
                }
            };
            if text.trim().is_empty() && bytes as usize <= text.len() {
                continue;
            }
            let included = text.len() as u64;
            remaining -= text.len();
            let mut section = format!("## {shown}\n\n{}", text.trim_end());
            if included < bytes {
                // Text after a cut would read as if it followed the clipped file directly.
                remaining = 0;
                section.push_str(&format!(
                    "\n\n[Clipped: only the first {included} of {bytes} bytes of this file fit \
                     the instructions cap (instructions_max_bytes = {}). Read {} for the rest \
                     when it matters.]",
                    self.max_bytes,
                    path.display()
                ));
            }
            sections.push(section);
            files.push(InstructionFile {
                path: shown,
                bytes,
                included,
            });
        }
        if files.is_empty() {
            return Instructions::default();
        }
        let prompt = format!(
            "# Project instructions\n\nThe user and the project give these instructions for \
             working here. Follow them; where two disagree, the later, more specific one \
             wins.\n\n{}\n",
            sections.join("\n\n")
        );
        Instructions { files, prompt }
    }
}

/// The nearest directory at or above `dir` with a `.git` entry, else `dir` itself.
fn repository_root(dir: &Path) -> &Path {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(dir)
}

/// At most `limit` bytes of the file as text, cut at a character boundary, and the file's size.
fn read_prefix(path: &Path, limit: usize) -> std::io::Result<(String, u64)> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut buf = Vec::with_capacity(limit.min(size as usize));
    file.take(limit as u64).read_to_end(&mut buf)?;
    if (buf.len() as u64) < size {
        // A character split by the cut is dropped whole rather than shown as garbage.
        if let Err(e) = std::str::from_utf8(&buf) {
            if e.error_len().is_none() {
                buf.truncate(e.valid_up_to());
            }
        }
    }
    Ok((String::from_utf8_lossy(&buf).into_owned(), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn sources(user: Option<&Path>, project: &Path, max_bytes: usize) -> InstructionSources {
        InstructionSources {
            user_config_dir: user.map(Path::to_path_buf),
            project_dir: project.to_path_buf(),
            max_bytes,
        }
    }

    fn paths(i: &Instructions) -> Vec<&str> {
        i.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn user_then_root_then_nested_down_to_the_project_dir() {
        let repo = tempfile::tempdir().unwrap();
        let user = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        write(user.path(), "AGENTS.md", "Answer in English.\n");
        write(repo.path(), "AGENTS.md", "Run cargo fmt.\n");
        write(repo.path(), "CLAUDE.md", "claude only, shadowed\n");
        write(repo.path(), "crates/CLAUDE.md", "Crates rule.\n");
        write(repo.path(), "crates/core/AGENTS.md", "Core rule.\n");
        write(
            repo.path(),
            "crates/core/deeper/AGENTS.md",
            "below the cwd\n",
        );
        write(repo.path(), "other/AGENTS.md", "a sibling\n");
        let cwd = repo.path().join("crates/core");
        let i = sources(Some(user.path()), &cwd, DEFAULT_MAX_BYTES).load();
        let user_file = user.path().join("AGENTS.md").to_string_lossy().into_owned();
        assert_eq!(
            paths(&i),
            vec![
                user_file.as_str(),
                "AGENTS.md",
                "crates/CLAUDE.md",
                "crates/core/AGENTS.md"
            ]
        );
        let order: Vec<usize> = [
            "Answer in English",
            "Run cargo fmt",
            "Crates rule",
            "Core rule",
        ]
        .iter()
        .map(|t| i.prompt.find(t).unwrap_or_else(|| panic!("{t} missing")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", i.prompt);
        for absent in ["shadowed", "below the cwd", "a sibling", "Clipped"] {
            assert!(!i.prompt.contains(absent), "{absent}: {}", i.prompt);
        }
        assert!(i.files.iter().all(|f| !f.is_clipped()));
    }

    #[test]
    fn without_a_repository_only_the_project_dir_counts() {
        let outer = tempfile::tempdir().unwrap();
        write(outer.path(), "AGENTS.md", "outside the project\n");
        let project = outer.path().join("p");
        write(&project, "CLAUDE.md", "Claude rules.\n");
        let i = sources(None, &project, DEFAULT_MAX_BYTES).load();
        assert_eq!(paths(&i), vec!["CLAUDE.md"]);
        assert!(i.prompt.contains("Claude rules."));
        assert!(!i.prompt.contains("outside"));
    }

    #[test]
    fn nothing_found_adds_nothing_and_empty_files_are_skipped() {
        let project = tempfile::tempdir().unwrap();
        assert_eq!(
            sources(None, project.path(), 100).load(),
            Instructions::default()
        );
        write(project.path(), "AGENTS.md", "  \n\n");
        assert_eq!(
            sources(None, project.path(), 100).load(),
            Instructions::default()
        );
    }

    #[test]
    fn the_cap_clips_with_a_note_and_leaves_later_files_out_whole() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        write(repo.path(), "AGENTS.md", &"é".repeat(30)); // 60 bytes
        write(repo.path(), "sub/AGENTS.md", "later rule\n");
        let i = sources(None, &repo.path().join("sub"), 41).load();
        let root = &i.files[0];
        assert_eq!(
            (root.bytes, root.included),
            (60, 40),
            "cut between characters"
        );
        assert!(root.is_clipped());
        assert!(i.prompt.contains(&"é".repeat(20)));
        assert!(!i.prompt.contains(&"é".repeat(21)));
        assert!(
            i.prompt
                .contains("only the first 40 of 60 bytes of this file fit the instructions cap (instructions_max_bytes = 41)"),
            "{}",
            i.prompt
        );
        // The cap is spent: the nested file is listed as left out, none of its text sent.
        assert_eq!(i.files[1].path, "sub/AGENTS.md");
        assert_eq!(i.files[1].included, 0);
        assert!(!i.prompt.contains("later rule"));
        assert!(
            i.prompt.contains("only the first 0 of 11 bytes"),
            "{}",
            i.prompt
        );
    }
}
