//! Agent types: which tools a chat's agent may use, and what it adds to the system prompt.
//!
//! Built in: `general-purpose` (every tool) and `Explore` (read-only). Agent definitions add
//! more: markdown files in `<project>/.boocode/agents/`, `<project>/.claude/agents/`,
//! `~/.boocode/agents/` and `~/.claude/agents/` (project first) with a YAML front matter of
//! `name`, `description`, `tools` (a comma list or a YAML list of tool names) and `model`; the
//! markdown body is added to the system prompt.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

use super::tools::structured_output;
use crate::core::context::front_matter::{self, unquote};

pub const GENERAL_PURPOSE: &str = "general-purpose";
/// Read-only exploration.
pub const EXPLORE: &str = "Explore";

const READ_ONLY_TOOLS: &[&str] = &["read_file", "list_dir", "glob", "grep", "skill"];
const SUBAGENT_TOOLS: &[&str] = &["spawn_subagent", "subagent_status", "subagent_result"];

/// Canonical name of a built-in agent type, accepting any letter case.
pub fn canonical_agent(name: &str) -> Result<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "general-purpose" | "general" | "default" => Ok(GENERAL_PURPOSE),
        "explore" => Ok(EXPLORE),
        _ => bail!("unknown agent type '{name}'; available: {GENERAL_PURPOSE}, {EXPLORE}"),
    }
}

/// Whether `agent` may use `tool`. Sub-agents cannot start further sub-agents: background work
/// is one level deep, so a runaway agent cannot fork without bound.
pub fn allows_tool(agent: &str, is_subagent: bool, tool: &str) -> bool {
    if tool == structured_output::NAME {
        return true;
    }
    if agent == EXPLORE {
        return READ_ONLY_TOOLS.contains(&tool);
    }
    !(is_subagent && SUBAGENT_TOOLS.contains(&tool))
}

/// An agent definition file.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentDefinition {
    pub name: String,
    pub description: Option<String>,
    /// Tool names it may use; `None` = every tool.
    pub tools: Option<Vec<String>>,
    pub model: Option<String>,
    /// The markdown body, added to the system prompt.
    pub prompt: String,
    pub path: PathBuf,
}

/// What a chat's agent may do.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentProfile {
    pub name: String,
    /// Tool names it may use; `None` = the rules of the built-in type `base`.
    pub tools: Option<Vec<String>>,
    base: &'static str,
    pub prompt: Option<String>,
    pub model: Option<String>,
}

impl AgentProfile {
    pub fn builtin(name: &'static str) -> AgentProfile {
        AgentProfile {
            name: name.to_string(),
            tools: None,
            base: name,
            prompt: None,
            model: None,
        }
    }

    pub fn allows(&self, is_subagent: bool, tool: &str) -> bool {
        match &self.tools {
            Some(list) => {
                tool == structured_output::NAME
                    || (list.iter().any(|t| t == tool)
                        && !(is_subagent && SUBAGENT_TOOLS.contains(&tool)))
            }
            None => allows_tool(self.base, is_subagent, tool),
        }
    }
}

/// The profile for an agent name: a built-in type, else a definition of that name.
pub fn resolve_profile(
    project_root: &Path,
    user_home: Option<&Path>,
    name: &str,
) -> Result<AgentProfile> {
    if let Ok(builtin) = canonical_agent(name) {
        return Ok(AgentProfile::builtin(builtin));
    }
    let defs = load_definitions(project_root, user_home);
    let def = defs
        .iter()
        .find(|d| d.name == name)
        .or_else(|| defs.iter().find(|d| d.name.eq_ignore_ascii_case(name)))
        .ok_or_else(|| {
            let mut names = vec![GENERAL_PURPOSE.to_string(), EXPLORE.to_string()];
            names.extend(defs.iter().map(|d| d.name.clone()));
            anyhow!(
                "unknown agent type '{name}'; available: {}",
                names.join(", ")
            )
        })?;
    Ok(AgentProfile {
        name: def.name.clone(),
        tools: def.tools.clone(),
        base: GENERAL_PURPOSE,
        prompt: Some(def.prompt.clone()),
        model: def.model.clone(),
    })
}

/// Every readable definition, project ones first; the first of a name wins.
pub fn load_definitions(project_root: &Path, user_home: Option<&Path>) -> Vec<AgentDefinition> {
    let mut dirs = vec![
        project_root.join(".boocode/agents"),
        project_root.join(".claude/agents"),
    ];
    if let Some(home) = user_home {
        dirs.push(home.join(".boocode/agents"));
        dirs.push(home.join(".claude/agents"));
    }
    let mut out: Vec<AgentDefinition> = Vec::new();
    for dir in dirs {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        paths.sort();
        for path in paths {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            match parse_definition(&text, &path) {
                Ok(def) if !out.iter().any(|d| d.name == def.name) => out.push(def),
                Ok(_) => {}
                Err(e) => tracing::warn!("agent definition {}: {e}", path.display()),
            }
        }
    }
    out
}

/// Parses a definition: `---` front matter (simple `key: value` lines, `tools` also as a YAML
/// list) then the markdown body.
pub fn parse_definition(text: &str, path: &Path) -> Result<AgentDefinition, String> {
    let (front, body) = front_matter::split(text)?;
    let mut name = None;
    let mut description = None;
    let mut tools: Option<Vec<String>> = None;
    let mut model = None;
    let mut in_tools_list = false;
    for line in front.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if in_tools_list {
            if let Some(item) = trimmed.strip_prefix("- ") {
                tools
                    .get_or_insert_with(Vec::new)
                    .push(unquote(item).to_string());
                continue;
            }
            in_tools_list = false;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "name" => name = Some(value.to_string()),
            "description" => description = Some(value.to_string()),
            "model" => model = Some(value.to_string()).filter(|m| !m.is_empty()),
            "tools" => {
                if value.is_empty() {
                    in_tools_list = true;
                    tools = Some(Vec::new());
                } else {
                    let list = value.trim_start_matches('[').trim_end_matches(']');
                    tools = Some(
                        list.split(',')
                            .map(|t| unquote(t.trim()).to_string())
                            .filter(|t| !t.is_empty())
                            .collect(),
                    );
                }
            }
            _ => {}
        }
    }
    let name = name
        .filter(|n| !n.is_empty())
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .ok_or_else(|| "no name".to_string())?;
    Ok(AgentDefinition {
        name,
        description,
        tools,
        model,
        prompt: body.trim().to_string(),
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explore_is_read_only_and_subagents_cannot_spawn() {
        assert!(allows_tool(EXPLORE, false, "grep"));
        assert!(!allows_tool(EXPLORE, false, "edit_file"));
        assert!(allows_tool(EXPLORE, true, "structured_output"));
        assert!(allows_tool(GENERAL_PURPOSE, false, "spawn_subagent"));
        assert!(!allows_tool(GENERAL_PURPOSE, true, "spawn_subagent"));
        assert!(allows_tool(GENERAL_PURPOSE, true, "run_command"));
        assert_eq!(canonical_agent("explore").unwrap(), EXPLORE);
        assert!(canonical_agent("hacker").is_err());
    }

    #[test]
    fn definitions_are_parsed_and_resolved() {
        let project = tempfile::tempdir().unwrap();
        let dir = project.path().join(".claude/agents");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("sec.md"),
            "---\nname: security-reviewer\ndescription: \"Finds holes\"\ntools: read_file, grep\nmodel: strong\n---\nYou are a security reviewer.\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("lister.md"),
            "---\nname: lister\ntools:\n  - list_dir\n  - 'glob'\n---\nList things.\n",
        )
        .unwrap();
        let p = resolve_profile(project.path(), None, "security-reviewer").unwrap();
        assert_eq!(p.prompt.as_deref(), Some("You are a security reviewer."));
        assert_eq!(p.model.as_deref(), Some("strong"));
        assert!(p.allows(true, "grep"));
        assert!(!p.allows(true, "edit_file"));
        assert!(p.allows(true, "structured_output"));
        let l = resolve_profile(project.path(), None, "lister").unwrap();
        assert_eq!(
            l.tools,
            Some(vec!["list_dir".to_string(), "glob".to_string()])
        );
        assert_eq!(
            resolve_profile(project.path(), None, "explore").unwrap(),
            AgentProfile::builtin(EXPLORE)
        );
        let e = resolve_profile(project.path(), None, "nope")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lister") && e.contains("Explore"), "{e}");
        assert!(parse_definition("no front matter", Path::new("x.md")).is_err());
    }
}
