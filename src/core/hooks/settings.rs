//! Hook definitions from settings files in Claude Code's shape:
//!
//! ```json
//! {"hooks": {"PreToolUse": [{"matcher": "edit_file|Write",
//!     "hooks": [{"type": "command", "command": "…", "timeout": 60}]}]}}
//! ```
//!
//! Project files (`.claude/settings.json`, `.claude/settings.local.json`,
//! `.boocode/settings.json`) and the user's (`~/.claude/settings.json`,
//! `~/.config/boocode/settings.json`). A file that cannot be read or parsed, and each entry
//! that does not fit the shape, is reported with the file's path and skipped; the rest load.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::matcher::Matcher;
use super::HookEvent;

/// How long a hook may run when its definition does not say (Claude Code's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a definition comes from: a repository's files need the user's approval to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Project,
    User,
}

/// One hook command of one event.
#[derive(Debug, Clone)]
pub struct HookDefinition {
    pub event: HookEvent,
    /// The matcher as written (`None` when absent), for listings and fingerprints.
    pub matcher_text: Option<String>,
    pub matcher: Matcher,
    pub command: String,
    pub timeout: Duration,
    pub source: PathBuf,
    pub scope: Scope,
}

/// The settings files hooks are read from, project files first.
pub fn sources(
    project_root: &Path,
    user_home: Option<&Path>,
    user_config_dir: Option<&Path>,
) -> Vec<(PathBuf, Scope)> {
    let mut files: Vec<(PathBuf, Scope)> = [
        ".claude/settings.json",
        ".claude/settings.local.json",
        ".boocode/settings.json",
    ]
    .iter()
    .map(|rel| (project_root.join(rel), Scope::Project))
    .collect();
    if let Some(home) = user_home {
        files.push((home.join(".claude/settings.json"), Scope::User));
    }
    if let Some(dir) = user_config_dir {
        files.push((dir.join("settings.json"), Scope::User));
    }
    files
}

/// Reads every source; returns the definitions and one line per problem, each naming its file.
pub fn load(sources: &[(PathBuf, Scope)]) -> (Vec<HookDefinition>, Vec<String>) {
    let mut definitions = Vec::new();
    let mut problems = Vec::new();
    for (path, scope) in sources {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                problems.push(format!("{}: cannot be read: {e}", path.display()));
                continue;
            }
        };
        let (found, mut bad) = parse(&text, path, *scope);
        definitions.extend(found);
        problems.append(&mut bad);
    }
    (definitions, problems)
}

/// Parses one settings file's text.
pub fn parse(text: &str, path: &Path, scope: Scope) -> (Vec<HookDefinition>, Vec<String>) {
    let mut definitions = Vec::new();
    let mut problems = Vec::new();
    let mut problem = |what: String| problems.push(format!("{}: {what}", path.display()));
    let settings: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problem(format!("not valid JSON ({e}); its hooks are not loaded"));
            return (definitions, problems);
        }
    };
    let hooks = match settings.get("hooks") {
        None | Some(Value::Null) => return (definitions, problems),
        Some(Value::Object(events)) => events,
        Some(_) => {
            problem("\"hooks\" must be an object of event names".into());
            return (definitions, problems);
        }
    };
    for (event_name, groups) in hooks {
        let Some(event) = HookEvent::parse(event_name) else {
            problem(format!(
                "hooks.{event_name}: boocode has no such event (it runs {}); ignored",
                HookEvent::ALL.map(HookEvent::as_str).join(", ")
            ));
            continue;
        };
        let Some(groups) = groups.as_array() else {
            problem(format!(
                "hooks.{event_name} must be an array of matcher groups"
            ));
            continue;
        };
        for (g, group) in groups.iter().enumerate() {
            let at = format!("hooks.{event_name}[{g}]");
            let matcher_text = match group.get("matcher") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    problem(format!("{at}.matcher must be a string"));
                    continue;
                }
            };
            let matcher = match Matcher::parse(matcher_text.as_deref()) {
                Ok(m) => m,
                Err(e) => {
                    problem(format!("{at}: {e}"));
                    continue;
                }
            };
            let Some(commands) = group.get("hooks").and_then(Value::as_array) else {
                problem(format!("{at}.hooks must be an array of hooks"));
                continue;
            };
            for (h, hook) in commands.iter().enumerate() {
                let at = format!("{at}.hooks[{h}]");
                match parse_command(hook) {
                    Ok((command, timeout)) => definitions.push(HookDefinition {
                        event,
                        matcher_text: matcher_text.clone(),
                        matcher: matcher.clone(),
                        command,
                        timeout,
                        source: path.to_path_buf(),
                        scope,
                    }),
                    Err(e) => problem(format!("{at}: {e}")),
                }
            }
        }
    }
    (definitions, problems)
}

/// A `{"type": "command", "command": "…", "timeout": 60}` entry.
fn parse_command(hook: &Value) -> Result<(String, Duration), String> {
    match hook.get("type").and_then(Value::as_str) {
        Some("command") => {}
        Some(other) => {
            return Err(format!(
                "type \"{other}\" is not supported (boocode runs \"command\" hooks); ignored"
            ))
        }
        None => return Err("\"type\" must be \"command\"".into()),
    }
    let command = hook
        .get("command")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .ok_or("\"command\" must be a non-empty string")?;
    let timeout = match hook.get("timeout") {
        None | Some(Value::Null) => DEFAULT_TIMEOUT,
        Some(t) => match t.as_f64() {
            Some(secs) if secs > 0.0 && secs.is_finite() => Duration::from_secs_f64(secs),
            _ => return Err("\"timeout\" must be a positive number of seconds".into()),
        },
    };
    Ok((command.to_string(), timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> (Vec<HookDefinition>, Vec<String>) {
        parse(text, Path::new("/p/.claude/settings.json"), Scope::Project)
    }

    #[test]
    fn claude_codes_shape_loads() {
        let (defs, problems) = parse_text(
            r#"{"permissions": {"allow": []}, "hooks": {
                "PreToolUse": [{"matcher": "edit_file|Write", "hooks": [
                    {"type": "command", "command": "guard.sh", "timeout": 5},
                    {"type": "command", "command": "log.sh"}]}],
                "Stop": [{"hooks": [{"type": "command", "command": "done.sh"}]}]}}"#,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(defs.len(), 3);
        assert_eq!(defs[0].event, HookEvent::PreToolUse);
        assert_eq!(defs[0].command, "guard.sh");
        assert_eq!(defs[0].timeout, Duration::from_secs(5));
        assert!(defs[0].matcher.matches("create_file"));
        assert_eq!(defs[1].timeout, DEFAULT_TIMEOUT);
        assert_eq!(defs[2].event, HookEvent::Stop);
        assert!(defs[2].matcher_text.is_none());
    }

    #[test]
    fn a_file_without_hooks_is_fine() {
        let (defs, problems) = parse_text(r#"{"model": "opus"}"#);
        assert!(defs.is_empty() && problems.is_empty());
    }

    #[test]
    fn bad_json_names_the_file_and_loads_nothing() {
        let (defs, problems) = parse_text(r#"{"hooks": {"#);
        assert!(defs.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("/p/.claude/settings.json: not valid JSON"));
    }

    #[test]
    fn bad_entries_are_reported_and_the_good_ones_kept() {
        let (defs, problems) = parse_text(
            r#"{"hooks": {
                "SessionStart": [{"hooks": [{"type": "command", "command": "x"}]}],
                "PreToolUse": [
                    {"matcher": "Edit(", "hooks": [{"type": "command", "command": "a"}]},
                    {"matcher": "Bash", "hooks": [
                        {"type": "prompt", "prompt": "is this safe?"},
                        {"type": "command", "command": ""},
                        {"type": "command", "command": "b", "timeout": -1},
                        {"type": "command", "command": "kept"}]}],
                "Stop": {"hooks": []}}}"#,
        );
        assert_eq!(defs.len(), 1, "{problems:?}");
        assert_eq!(defs[0].command, "kept");
        assert_eq!(problems.len(), 6, "{problems:#?}");
        for p in &problems {
            assert!(p.starts_with("/p/.claude/settings.json: hooks."), "{p}");
        }
        assert!(problems.iter().any(|p| p.contains("SessionStart")));
        assert!(problems.iter().any(|p| p.contains("PreToolUse[0]")));
        assert!(problems
            .iter()
            .any(|p| p.contains("\"prompt\" is not supported")));
        assert!(problems.iter().any(|p| p.contains("\"timeout\"")));
    }

    #[test]
    fn sources_read_project_then_user_files_and_report_unreadable_ones() {
        let dir = std::env::temp_dir().join(format!("hooks-src-{}", uuid::Uuid::new_v4()));
        let project = dir.join("p");
        let home = dir.join("h");
        let config = dir.join("cfg");
        std::fs::create_dir_all(project.join(".boocode")).unwrap();
        std::fs::create_dir_all(home.join(".claude")).unwrap();
        std::fs::create_dir_all(&config).unwrap();
        let hook = |cmd: &str| {
            format!(
                r#"{{"hooks": {{"Stop": [{{"hooks": [{{"type": "command", "command": "{cmd}"}}]}}]}}}}"#
            )
        };
        std::fs::write(project.join(".boocode/settings.json"), hook("project")).unwrap();
        std::fs::write(home.join(".claude/settings.json"), hook("claude-user")).unwrap();
        std::fs::write(config.join("settings.json"), hook("boocode-user")).unwrap();
        std::fs::create_dir_all(project.join(".claude/settings.json")).unwrap();
        let (defs, problems) = load(&sources(&project, Some(&home), Some(&config)));
        let loaded: Vec<_> = defs.iter().map(|d| (d.command.as_str(), d.scope)).collect();
        assert_eq!(
            loaded,
            vec![
                ("project", Scope::Project),
                ("claude-user", Scope::User),
                ("boocode-user", Scope::User)
            ]
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains(".claude/settings.json: cannot be read"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
