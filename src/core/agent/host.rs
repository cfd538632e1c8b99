//! The engine's side of a tool call: pending changes, command confirmation, sub-agents.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::profiles;
use super::tools::{AgentHost, FileChange, SubagentRequest, TaskInfo};
use crate::core::agents::job::find_external;
use crate::core::background;
use crate::core::events::Event;
use crate::core::hooks::points::{self, Notification};
use crate::core::runtime::Runtime;
use crate::core::store::{Chat, NewTask, Task};

pub(crate) struct ChatHost {
    pub rt: Arc<Runtime>,
    pub chat: Chat,
}

impl AgentHost for ChatHost {
    fn record_pending_change(&self, change: FileChange) -> BoxFuture<'_, anyhow::Result<String>> {
        async move {
            let id = self.rt.store.insert_pending_change(
                &self.chat.id,
                &change.path.to_string_lossy(),
                &change.display_path,
                change.before.as_deref(),
                change.after.as_deref(),
                &change.diff,
            )?;
            points::notify(
                &self.rt,
                Some(&self.chat.id),
                Notification::PermissionPrompt,
                format!(
                    "a change to {} waits for your decision",
                    change.display_path
                ),
            );
            self.rt.emit(Event::ChangePending {
                chat_id: self.chat.id.clone(),
                change_id: id.clone(),
                path: change.display_path,
                diff: change.diff,
            });
            Ok(id)
        }
        .boxed()
    }

    fn confirm_command(&self, command: String, args: Vec<String>) -> BoxFuture<'_, bool> {
        async move {
            let line = std::iter::once(command)
                .chain(args)
                .collect::<Vec<_>>()
                .join(" ");
            if self.rt.interactive {
                points::notify(
                    &self.rt,
                    Some(&self.chat.id),
                    Notification::PermissionPrompt,
                    format!("boocode needs your permission to run {line}"),
                );
            }
            self.rt.confirm_command(&self.chat.id, line).await
        }
        .boxed()
    }

    fn spawn_subagent(&self, request: SubagentRequest) -> BoxFuture<'_, anyhow::Result<TaskInfo>> {
        async move {
            let runner = subagent_runner(&self.rt, request.agent.as_deref())?;
            let model = match (&runner, request.model.as_deref()) {
                // An external agent's model is one it offers, by its own name.
                (SubagentRunner::External(..), model) => model.unwrap_or_default().to_string(),
                (SubagentRunner::Native(_), Some(m)) => self.rt.config.resolve_model(m),
                (SubagentRunner::Native(_), None) => self.chat.model.clone(),
            };
            let (agent, execution_path) = match &runner {
                SubagentRunner::Native(profile) => (profile.to_string(), None),
                SubagentRunner::External(name, protocol) => (name.clone(), Some(*protocol)),
            };
            let label = background::task_label(request.label.as_deref(), &request.input);
            let task = self.rt.store.create_task_on(
                &NewTask {
                    session_id: &self.chat.session_id,
                    parent_chat_id: Some(&self.chat.id),
                    label: Some(&label),
                    input: &request.input,
                    model: &model,
                    agent: &agent,
                },
                execution_path,
            )?;
            background::enqueue(&self.rt, &task);
            Ok(task_info(&task))
        }
        .boxed()
    }

    fn subagent_status(&self, task_id: String) -> BoxFuture<'_, anyhow::Result<TaskInfo>> {
        async move { Ok(task_info(&self.rt.store.get_task(&task_id)?)) }.boxed()
    }
}

/// What runs a sub-agent.
enum SubagentRunner {
    /// The native loop with this agent type.
    Native(&'static str),
    /// The external agent of this name and protocol, in its own worktree.
    External(String, &'static str),
}

/// `agent` as a native agent type (the default) or else an external agent's name.
fn subagent_runner(rt: &Runtime, agent: Option<&str>) -> anyhow::Result<SubagentRunner> {
    let Some(name) = agent else {
        return Ok(SubagentRunner::Native(profiles::GENERAL_PURPOSE));
    };
    if let Ok(profile) = profiles::canonical_agent(name) {
        return Ok(SubagentRunner::Native(profile));
    }
    match find_external(rt, name) {
        Ok(spec) => Ok(SubagentRunner::External(spec.name, spec.protocol.as_str())),
        Err(e) => Err(anyhow::anyhow!(
            "{e:#}; native agent types: {}, {}",
            profiles::GENERAL_PURPOSE,
            profiles::EXPLORE
        )),
    }
}

pub(crate) fn task_info(task: &Task) -> TaskInfo {
    TaskInfo {
        task_id: task.id.clone(),
        status: task.status.clone(),
        label: task.label.clone(),
        elapsed_seconds: elapsed_seconds(task.started_at.as_deref(), task.finished_at.as_deref()),
        output: task.output.clone(),
        error: task.error.clone(),
    }
}

/// Seconds between two stored timestamps; until now when `to` is missing, 0 before a start.
pub fn elapsed_seconds(from: Option<&str>, to: Option<&str>) -> f64 {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    let Some(start) = from.and_then(parse) else {
        return 0.0;
    };
    let end = to
        .and_then(parse)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(chrono::Utc::now);
    ((end - start.with_timezone(&chrono::Utc))
        .num_milliseconds()
        .max(0)) as f64
        / 1000.0
}
