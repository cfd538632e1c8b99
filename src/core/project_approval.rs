//! The workspace's one question about what a project wants to run: its own hooks and MCP
//! servers (a repository must not start programs on its own). Asked once, on the decision line
//! of the chat the person sees (Ctrl-Y / Ctrl-N, never typed text); the answer is remembered
//! for the project like `boocode hooks approve` / `boocode mcp approve`, and asked again only
//! when the definitions change.

use std::sync::Arc;

use crate::core::events::Event;
use crate::core::hooks::ProjectApproval;
use crate::core::mcp::McpManager;
use crate::core::runtime::Runtime;
use crate::core::trust::ProjectTrust;

/// What waits for a person's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The project's hooks (approved together), 0 when they need no decision.
    pub hooks: usize,
    pub mcp_servers: Vec<String>,
}

impl Waiting {
    pub fn of(rt: &Runtime, mcp: &McpManager) -> Waiting {
        let trust = ProjectTrust::new(rt.store.clone());
        let hooks = match rt.hooks.project_approval(&trust) {
            ProjectApproval::NeedsApproval => rt.hooks.project_count(),
            _ => 0,
        };
        Waiting {
            hooks,
            mcp_servers: mcp.waiting_for_approval(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.hooks == 0 && self.mcp_servers.is_empty()
    }

    /// What the decision line asks to run: "the 2 hooks and the MCP server test this project
    /// defines".
    pub fn question(&self) -> String {
        format!("{} this project defines", self.describe())
    }

    fn describe(&self) -> String {
        let mut what = Vec::new();
        match self.hooks {
            0 => {}
            1 => what.push("the hook".to_string()),
            n => what.push(format!("the {n} hooks")),
        }
        match self.mcp_servers.as_slice() {
            [] => {}
            [one] => what.push(format!("the MCP server {one}")),
            many => what.push(format!("the MCP servers {}", many.join(", "))),
        }
        what.join(" and ")
    }

    /// Records the answer for everything asked about; returns what to tell the person.
    fn decide(&self, rt: &Runtime, mcp: &McpManager, allow: bool) -> String {
        let trust = ProjectTrust::new(rt.store.clone());
        let mut failures = Vec::new();
        if self.hooks > 0 {
            if let Err(e) = rt.hooks.decide(&trust, allow) {
                failures.push(format!("recording the hooks' approval failed: {e:#}"));
            }
        }
        if !self.mcp_servers.is_empty() {
            if let Err(e) = mcp.decide(None, allow) {
                failures.push(format!("recording the MCP servers' approval failed: {e:#}"));
            }
        }
        if !failures.is_empty() {
            return failures.join("; ");
        }
        if allow {
            format!("{} approved for this project", self.describe())
        } else {
            format!(
                "{} kept off for this project (`boocode hooks approve`, `boocode mcp approve NAME` to change that)",
                self.describe()
            )
        }
    }
}

/// Asks on `chat_id`'s decision line whether the project's waiting hooks and MCP servers may
/// run, when any wait and a person is there to answer; approved servers start at once.
pub fn ask(rt: &Arc<Runtime>, mcp: &Arc<McpManager>, chat_id: &str) {
    let waiting = Waiting::of(rt, mcp);
    if waiting.is_empty() || !rt.interactive {
        return;
    }
    let (rt, mcp, chat_id) = (rt.clone(), mcp.clone(), chat_id.to_string());
    tokio::spawn(async move {
        let allow = rt
            .confirm_project_programs(&chat_id, waiting.question())
            .await;
        let message = waiting.decide(&rt, &mcp, allow);
        if allow {
            mcp.start_in_background();
        }
        rt.emit(Event::Notice { message });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_names_what_waits() {
        let ask = |hooks, servers: &[&str]| {
            Waiting {
                hooks,
                mcp_servers: servers.iter().map(|s| s.to_string()).collect(),
            }
            .question()
        };
        assert_eq!(
            ask(2, &["test"]),
            "the 2 hooks and the MCP server test this project defines"
        );
        assert_eq!(ask(1, &[]), "the hook this project defines");
        assert_eq!(
            ask(0, &["a", "b"]),
            "the MCP servers a, b this project defines"
        );
    }
}
