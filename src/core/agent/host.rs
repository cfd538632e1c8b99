//! The engine's side of a tool call: pending changes, command confirmation, sub-agents.

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::profiles;
use super::tools::{AgentHost, FileChange, SubagentRequest, TaskInfo};
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
            let agent = match &request.agent {
                Some(a) => profiles::canonical_agent(a)?,
                None => profiles::GENERAL_PURPOSE,
            };
            let model = request
                .model
                .as_deref()
                .map(|m| self.rt.config.resolve_model(m))
                .unwrap_or_else(|| self.chat.model.clone());
            let label = background::task_label(request.label.as_deref(), &request.input);
            let task = self.rt.store.create_task(&NewTask {
                session_id: &self.chat.session_id,
                parent_chat_id: Some(&self.chat.id),
                label: Some(&label),
                input: &request.input,
                model: &model,
                agent,
            })?;
            background::enqueue(&self.rt, &task);
            Ok(task_info(&task))
        }
        .boxed()
    }

    fn subagent_status(&self, task_id: String) -> BoxFuture<'_, anyhow::Result<TaskInfo>> {
        async move { Ok(task_info(&self.rt.store.get_task(&task_id)?)) }.boxed()
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
