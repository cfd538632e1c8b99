//! Which hooks of an event apply: Claude Code's matcher rules over boocode's tool names and the
//! names Claude Code gives the same tools, so a `.claude/settings.json` written for Claude Code
//! matches boocode's tools unchanged.

use regex::Regex;

/// Claude Code's name for each boocode tool that has a counterpart there. MCP tools are
/// `mcp__server__tool` in both.
const CLAUDE_TOOL_NAMES: &[(&str, &str)] = &[
    ("read_file", "Read"),
    ("edit_file", "Edit"),
    ("create_file", "Write"),
    ("run_command", "Bash"),
    ("grep", "Grep"),
    ("glob", "Glob"),
    ("list_dir", "LS"),
    ("spawn_subagent", "Task"),
];

/// Claude Code's name for boocode tool `name`, when it has one.
pub fn claude_tool_name(name: &str) -> Option<&'static str> {
    CLAUDE_TOOL_NAMES
        .iter()
        .find(|(ours, _)| *ours == name)
        .map(|(_, theirs)| *theirs)
}

/// A matcher group's `matcher`, as Claude Code reads it: empty, absent or `*` match
/// everything; letters, digits, `_` and `|` alone are exact names separated by `|`; anything
/// else is a regular expression that must match somewhere in the name (case-sensitive).
#[derive(Debug, Clone)]
pub enum Matcher {
    All,
    Names(Vec<String>),
    Pattern(Regex),
}

impl Matcher {
    pub fn parse(text: Option<&str>) -> Result<Matcher, String> {
        let text = text.unwrap_or("").trim();
        if text.is_empty() || text == "*" {
            return Ok(Matcher::All);
        }
        if text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '|')
        {
            return Ok(Matcher::Names(
                text.split('|')
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect(),
            ));
        }
        Regex::new(text)
            .map(Matcher::Pattern)
            .map_err(|e| format!("matcher {text:?} is not a valid regular expression: {e}"))
    }

    /// Whether the matcher takes `subject`. A tool is also known by its Claude Code name, so
    /// `Edit|Write` and `edit_file|create_file` pick the same calls.
    pub fn matches(&self, subject: &str) -> bool {
        let alias = claude_tool_name(subject);
        let names = std::iter::once(subject).chain(alias);
        match self {
            Matcher::All => true,
            Matcher::Names(list) => names
                .into_iter()
                .any(|n| list.iter().any(|wanted| wanted == n)),
            Matcher::Pattern(re) => names.into_iter().any(|n| re.is_match(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Matcher {
        Matcher::parse(Some(text)).unwrap()
    }

    #[test]
    fn empty_star_and_missing_match_every_tool() {
        for matcher in [m(""), m("*"), Matcher::parse(None).unwrap()] {
            assert!(matcher.matches("read_file"));
            assert!(matcher.matches("mcp__memory__store"));
        }
    }

    #[test]
    fn claude_code_names_and_boocode_names_pick_the_same_tools() {
        let claude = m("Edit|Write");
        let ours = m("edit_file|create_file");
        for tool in ["edit_file", "create_file"] {
            assert!(claude.matches(tool), "{tool}");
            assert!(ours.matches(tool), "{tool}");
        }
        assert!(!claude.matches("read_file"));
        assert!(!claude.matches("delete_file"));
        let mixed = m("edit_file|Write");
        assert!(mixed.matches("edit_file") && mixed.matches("create_file"));
        for (ours, theirs) in CLAUDE_TOOL_NAMES {
            assert!(m(theirs).matches(ours), "{theirs} should match {ours}");
        }
    }

    #[test]
    fn simple_names_are_exact_and_case_sensitive() {
        assert!(!m("Edit").matches("NotebookEdit"));
        assert!(!m("bash").matches("run_command"));
        assert!(!m("read").matches("read_file"));
    }

    #[test]
    fn other_matchers_are_regular_expressions() {
        let mcp = m("mcp__memory__.*");
        assert!(mcp.matches("mcp__memory__create_entities"));
        assert!(!mcp.matches("mcp__github__search"));
        let any_write = m("Edit|Write|.*_file$");
        assert!(any_write.matches("delete_file"));
        assert!(m("^(Bash|Read)$").matches("run_command"));
        let e = Matcher::parse(Some("Edit(")).unwrap_err();
        assert!(e.contains("not a valid regular expression"), "{e}");
    }
}
