//! Finding workflows: `.js` files in `<project>/.boocode/workflows/`,
//! `<project>/.claude/workflows/`, `~/.boocode/workflows/`, `~/.claude/workflows/` and the
//! built-in catalog embedded in the binary. A project script overrides a user script of the same
//! name, which overrides a built-in. A workflow's name is its `meta.name` (the file name only
//! when meta has none). Files that cannot be used are listed with their error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::meta::{split_meta, WorkflowMeta};

/// Scripts larger than this are refused.
pub const MAX_SCRIPT_BYTES: usize = 512 * 1024;

/// The built-in catalog, embedded from `workflows/`.
pub const BUILTINS: &[(&str, &str)] = &[
    (
        "deep-research.js",
        include_str!("../../../workflows/deep-research.js"),
    ),
    (
        "review-code.js",
        include_str!("../../../workflows/review-code.js"),
    ),
    (
        "find-issues.js",
        include_str!("../../../workflows/find-issues.js"),
    ),
    (
        "multi-review.js",
        include_str!("../../../workflows/multi-review.js"),
    ),
    (
        "plan-verify.js",
        include_str!("../../../workflows/plan-verify.js"),
    ),
    (
        "bounty-hunt.js",
        include_str!("../../../workflows/bounty-hunt.js"),
    ),
];

/// Where a workflow comes from, in increasing precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WorkflowSource {
    #[serde(rename = "built-in")]
    BuiltIn,
    #[serde(rename = "user")]
    User,
    #[serde(rename = "project")]
    Project,
}

impl WorkflowSource {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowSource::BuiltIn => "built-in",
            WorkflowSource::User => "user",
            WorkflowSource::Project => "project",
        }
    }
}

/// Reads `export const meta = {…}` from a script.
pub fn read_meta(source: &str) -> Result<WorkflowMeta, String> {
    split_meta(source)
        .map(|(meta, _)| meta)
        .map_err(|e| e.to_string())
}

/// One workflow file (or built-in) as discovered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowEntry {
    pub name: String,
    pub description: Option<String>,
    /// `meta.whenToUse`: when to pick this workflow (Claude Code's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_to_use: Option<String>,
    pub phases: Vec<String>,
    pub source: WorkflowSource,
    /// The file's path, or `built-in:FILE`.
    pub origin: String,
    /// Why the file cannot be used; `None` for a usable workflow.
    pub error: Option<String>,
    /// Origins of lower-precedence workflows of the same name that this one overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    #[serde(skip)]
    pub script: String,
}

/// Directories searched, highest precedence first within each source.
pub fn search_dirs(
    project_root: &Path,
    user_home: Option<&Path>,
) -> Vec<(WorkflowSource, PathBuf)> {
    let mut dirs = vec![
        (
            WorkflowSource::Project,
            project_root.join(".boocode/workflows"),
        ),
        (
            WorkflowSource::Project,
            project_root.join(".claude/workflows"),
        ),
    ];
    if let Some(home) = user_home {
        dirs.push((WorkflowSource::User, home.join(".boocode/workflows")));
        dirs.push((WorkflowSource::User, home.join(".claude/workflows")));
    }
    dirs
}

fn entry_from(
    source: WorkflowSource,
    origin: String,
    file_stem: &str,
    script: String,
) -> WorkflowEntry {
    let (meta, error) = if script.len() > MAX_SCRIPT_BYTES {
        (
            WorkflowMeta::default(),
            Some(format!(
                "script is {} bytes; the limit is {MAX_SCRIPT_BYTES} (512 KB)",
                script.len()
            )),
        )
    } else {
        match read_meta(&script) {
            Ok(meta) => (meta, None),
            Err(e) => (WorkflowMeta::default(), Some(e)),
        }
    };
    WorkflowEntry {
        name: meta
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| file_stem.to_string()),
        description: meta.description,
        when_to_use: meta.when_to_use,
        phases: meta.phases.into_iter().map(|p| p.title).collect(),
        source,
        origin,
        error,
        overrides: Vec::new(),
        script,
    }
}

fn scan_dir(source: WorkflowSource, dir: &Path) -> Vec<WorkflowEntry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let origin = path.to_string_lossy().into_owned();
            match std::fs::metadata(&path) {
                Ok(m) if m.len() as usize > MAX_SCRIPT_BYTES => {
                    let mut e = entry_from(source, origin, &stem, String::new());
                    e.error = Some(format!(
                        "script is {} bytes; the limit is {MAX_SCRIPT_BYTES} (512 KB)",
                        m.len()
                    ));
                    e
                }
                _ => match std::fs::read_to_string(&path) {
                    Ok(text) => entry_from(source, origin, &stem, text),
                    Err(e) => {
                        let mut entry = entry_from(source, origin, &stem, String::new());
                        entry.error = Some(format!("cannot read: {e}"));
                        entry
                    }
                },
            }
        })
        .collect()
}

/// Every workflow, by name: the winner of each name, plus every invalid file (with its error).
/// Sorted by name.
pub fn discover(project_root: &Path, user_home: Option<&Path>) -> Vec<WorkflowEntry> {
    let mut candidates: Vec<WorkflowEntry> = Vec::new();
    for (source, dir) in search_dirs(project_root, user_home) {
        candidates.extend(scan_dir(source, &dir));
    }
    for (file, text) in BUILTINS {
        let stem = file.trim_end_matches(".js");
        candidates.push(entry_from(
            WorkflowSource::BuiltIn,
            format!("built-in:{file}"),
            stem,
            text.to_string(),
        ));
    }
    // Candidates are in precedence order: the first valid one of a name wins.
    let mut winners: BTreeMap<String, WorkflowEntry> = BTreeMap::new();
    let mut invalid = Vec::new();
    for c in candidates {
        if c.error.is_some() {
            invalid.push(c);
            continue;
        }
        match winners.get_mut(&c.name) {
            Some(w) => w.overrides.push(c.origin),
            None => {
                winners.insert(c.name.clone(), c);
            }
        }
    }
    let mut all: Vec<WorkflowEntry> = winners.into_values().chain(invalid).collect();
    all.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(a.error.is_some().cmp(&b.error.is_some()))
    });
    all
}

/// The usable workflow called `name`; a clear error when there is none or its file is invalid.
pub fn find(
    project_root: &Path,
    user_home: Option<&Path>,
    name: &str,
) -> Result<WorkflowEntry, String> {
    let all = discover(project_root, user_home);
    if let Some(w) = all.iter().find(|w| w.name == name && w.error.is_none()) {
        return Ok(w.clone());
    }
    if let Some(w) = all.iter().find(|w| w.name == name) {
        return Err(format!(
            "workflow '{name}' ({}) is invalid: {}",
            w.origin,
            w.error.clone().unwrap_or_default()
        ));
    }
    let names: Vec<&str> = all
        .iter()
        .filter(|w| w.error.is_none())
        .map(|w| w.name.as_str())
        .collect();
    Err(format!(
        "no workflow named '{name}'; available: {}",
        names.join(", ")
    ))
}

/// Loads a script given by path (`workflow({scriptPath})`), relative to the project root.
pub fn load_path(project_root: &Path, path: &str) -> Result<WorkflowEntry, String> {
    let full = project_root.join(path);
    let text = std::fs::read_to_string(&full)
        .map_err(|e| format!("cannot read workflow script {}: {e}", full.display()))?;
    let stem = full
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let entry = entry_from(
        WorkflowSource::Project,
        full.to_string_lossy().into_owned(),
        &stem,
        text,
    );
    match &entry.error {
        Some(e) => Err(format!("workflow script {}: {e}", full.display())),
        None => Ok(entry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn meta_literal_is_read() {
        let m = read_meta(
            "// header\nexport const meta = {\n  name: 'x-y', // c\n  description: \"d\",\n  phases: ['a', {title: 'b'}],\n};\nreturn 1;",
        )
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("x-y"));
        assert_eq!(m.description.as_deref(), Some("d"));
        let titles: Vec<_> = m.phases.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["a", "b"]);
        assert!(read_meta("const x = 1").is_err());
        assert!(read_meta("export const meta = {name: foo()}").is_err());
    }

    #[test]
    fn builtins_are_valid_and_named_like_their_files() {
        for (file, text) in BUILTINS {
            let meta = read_meta(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(meta.name.as_deref(), Some(file.trim_end_matches(".js")));
            assert!(meta.description.is_some(), "{file}");
            assert!(!meta.phases.is_empty(), "{file}");
        }
    }

    #[test]
    fn project_beats_user_beats_builtin_and_invalid_files_are_listed() {
        let project = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        write(
            home.path(),
            ".claude/workflows/rc.js",
            "export const meta = {name: 'review-code', description: 'user'}\n",
        );
        write(
            home.path(),
            ".boocode/workflows/mine.js",
            "export const meta = {name: 'mine', description: 'user mine'}\n",
        );
        write(
            project.path(),
            ".claude/workflows/whatever.js",
            "export const meta = {name: 'mine', description: 'project mine'}\n",
        );
        write(
            project.path(),
            ".boocode/workflows/broken.js",
            "export const meta = {name: oops(}\n",
        );
        write(
            project.path(),
            ".boocode/workflows/nameless.js",
            "export const meta = {description: 'no name'}\n",
        );
        write(
            project.path(),
            ".boocode/workflows/huge.js",
            &format!(
                "export const meta = {{name: 'huge'}}\n//{}",
                "x".repeat(MAX_SCRIPT_BYTES)
            ),
        );
        let all = discover(project.path(), Some(home.path()));
        let get = |n: &str| {
            all.iter()
                .find(|w| w.name == n && w.error.is_none())
                .cloned()
        };
        let rc = get("review-code").unwrap();
        assert_eq!(rc.source, WorkflowSource::User);
        assert_eq!(rc.overrides, vec!["built-in:review-code.js".to_string()]);
        let mine = get("mine").unwrap();
        assert_eq!(mine.source, WorkflowSource::Project);
        assert_eq!(mine.description.as_deref(), Some("project mine"));
        assert_eq!(get("nameless").unwrap().source, WorkflowSource::Project);
        assert_eq!(
            get("deep-research").unwrap().source,
            WorkflowSource::BuiltIn
        );
        let broken = all.iter().find(|w| w.name == "broken").unwrap();
        assert!(
            broken.error.as_deref().unwrap().contains("meta"),
            "{broken:?}"
        );
        let huge = all.iter().find(|w| w.name == "huge").unwrap();
        assert!(
            huge.error.as_deref().unwrap().contains("512 KB"),
            "{huge:?}"
        );
        assert!(find(project.path(), Some(home.path()), "huge")
            .unwrap_err()
            .contains("invalid"));
        assert!(find(project.path(), Some(home.path()), "nope")
            .unwrap_err()
            .contains("deep-research"));
    }
}
