//! Agent types: which tools a chat's agent may use.

use anyhow::{bail, Result};

pub const GENERAL_PURPOSE: &str = "general-purpose";
/// Read-only exploration.
pub const EXPLORE: &str = "Explore";

const READ_ONLY_TOOLS: &[&str] = &["read_file", "list_dir", "glob", "grep"];
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
    if agent == EXPLORE {
        return READ_ONLY_TOOLS.contains(&tool);
    }
    !(is_subagent && SUBAGENT_TOOLS.contains(&tool))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explore_is_read_only_and_subagents_cannot_spawn() {
        assert!(allows_tool(EXPLORE, false, "grep"));
        assert!(!allows_tool(EXPLORE, false, "edit_file"));
        assert!(allows_tool(GENERAL_PURPOSE, false, "spawn_subagent"));
        assert!(!allows_tool(GENERAL_PURPOSE, true, "spawn_subagent"));
        assert!(allows_tool(GENERAL_PURPOSE, true, "run_command"));
        assert_eq!(canonical_agent("explore").unwrap(), EXPLORE);
        assert!(canonical_agent("hacker").is_err());
    }
}
