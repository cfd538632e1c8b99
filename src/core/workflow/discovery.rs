//! Finding workflows: `.js` files in `<project>/.boocode/workflows/`,
//! `<project>/.claude/workflows/`, `~/.boocode/workflows/`, `~/.claude/workflows/` and the
//! built-in catalog embedded in the binary. A project script overrides a user script of the same
//! name, which overrides a built-in. A workflow's name is its `meta.name` (the file name only
//! when meta has none). Files that cannot be used are listed with their error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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

/// The `meta` of a script.
///
/// STAND-IN: the worker's `meta.rs` (`split_meta`, `WorkflowMeta`) replaces this at merge;
/// [`read_meta`] is the single call site to swap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkflowMeta {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub phases: Vec<String>,
}

/// Reads `export const meta = {…}` from a script.
///
/// STAND-IN for the worker's `meta::split_meta`; keep this the only call site.
pub fn read_meta(source: &str) -> Result<WorkflowMeta, String> {
    stand_in_meta::read(source)
}

/// One workflow file (or built-in) as discovered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowEntry {
    pub name: String,
    pub description: Option<String>,
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
        phases: meta.phases,
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

/// A minimal reader of the `meta` literal (objects, arrays, strings, numbers, booleans, null,
/// comments, unquoted keys, trailing commas). Replaced by the worker's parser at merge.
mod stand_in_meta {
    use serde_json::{Map, Number, Value};

    use super::WorkflowMeta;

    pub fn read(source: &str) -> Result<WorkflowMeta, String> {
        let marker = "export const meta";
        let start = source.find(marker).ok_or_else(|| {
            "the script does not begin with `export const meta = {…}`".to_string()
        })?;
        let rest = &source[start + marker.len()..];
        let rest = rest.trim_start();
        let rest = rest
            .strip_prefix('=')
            .ok_or_else(|| "expected `=` after `export const meta`".to_string())?;
        let mut p = Parser {
            s: rest.as_bytes(),
            i: 0,
        };
        let value = p.value()?;
        let Value::Object(map) = value else {
            return Err("meta must be an object literal".into());
        };
        let text = |k: &str| -> Result<Option<String>, String> {
            match map.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("meta.{k} must be a string")),
            }
        };
        let phases = match map.get("phases") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Object(o) => o
                        .get("title")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| "meta.phases entries need a title".to_string()),
                    _ => Err("meta.phases must be a list of strings".to_string()),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("meta.phases must be a list".into()),
        };
        Ok(WorkflowMeta {
            name: text("name")?,
            description: text("description")?,
            phases,
        })
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn skip(&mut self) {
            loop {
                while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                    self.i += 1;
                }
                if self.s[self.i..].starts_with(b"//") {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                } else if self.s[self.i..].starts_with(b"/*") {
                    match find(&self.s[self.i + 2..], b"*/") {
                        Some(p) => self.i += p + 4,
                        None => self.i = self.s.len(),
                    }
                } else {
                    return;
                }
            }
        }

        fn peek(&mut self) -> Option<u8> {
            self.skip();
            self.s.get(self.i).copied()
        }

        fn err<T>(&self, what: &str) -> Result<T, String> {
            Err(format!(
                "meta is not a plain literal: {what} at byte {}",
                self.i
            ))
        }

        fn value(&mut self) -> Result<Value, String> {
            match self.peek() {
                Some(b'{') => self.object(),
                Some(b'[') => self.array(),
                Some(q @ (b'"' | b'\'' | b'`')) => self.string(q).map(Value::String),
                Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
                Some(_) => {
                    let word = self.ident();
                    match word.as_str() {
                        "true" => Ok(Value::Bool(true)),
                        "false" => Ok(Value::Bool(false)),
                        "null" | "undefined" => Ok(Value::Null),
                        _ => self.err("expected a value"),
                    }
                }
                None => self.err("unexpected end"),
            }
        }

        fn ident(&mut self) -> String {
            let start = self.i;
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_alphanumeric() || matches!(self.s[self.i], b'_' | b'$'))
            {
                self.i += 1;
            }
            String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
        }

        fn string(&mut self, quote: u8) -> Result<String, String> {
            self.i += 1;
            let mut out = Vec::new();
            while self.i < self.s.len() {
                let c = self.s[self.i];
                self.i += 1;
                if c == quote {
                    return String::from_utf8(out).or_else(|_| self.err("invalid UTF-8"));
                }
                if quote == b'`' && c == b'$' && self.s.get(self.i) == Some(&b'{') {
                    return self.err("template substitution");
                }
                if c == b'\\' {
                    let Some(&e) = self.s.get(self.i) else {
                        break;
                    };
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'\n' => {}
                        other => out.push(other),
                    }
                } else {
                    out.push(c);
                }
            }
            self.err("unterminated string")
        }

        fn number(&mut self) -> Result<Value, String> {
            let start = self.i;
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_digit()
                    || matches!(self.s[self.i], b'-' | b'.' | b'e' | b'E' | b'+'))
            {
                self.i += 1;
            }
            let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
            match text.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) => Ok(Value::Number(n)),
                None => self.err("bad number"),
            }
        }

        fn array(&mut self) -> Result<Value, String> {
            self.i += 1;
            let mut items = Vec::new();
            loop {
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                items.push(self.value()?);
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b']') => {}
                    _ => return self.err("expected `,` or `]`"),
                }
            }
        }

        fn object(&mut self) -> Result<Value, String> {
            self.i += 1;
            let mut map = Map::new();
            loop {
                let key = match self.peek() {
                    Some(b'}') => {
                        self.i += 1;
                        return Ok(Value::Object(map));
                    }
                    Some(q @ (b'"' | b'\'')) => self.string(q)?,
                    Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b'$' => self.ident(),
                    _ => return self.err("expected a key"),
                };
                if self.peek() != Some(b':') {
                    return self.err("expected `:`");
                }
                self.i += 1;
                let v = self.value()?;
                map.insert(key, v);
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {}
                    _ => return self.err("expected `,` or `}`"),
                }
            }
        }
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
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
        assert_eq!(m.phases, vec!["a", "b"]);
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
