//! The `tasks` row of an external agent's run: opened before the run with the agent and its
//! execution path, closed after it with the status, the output summary and the tokens.

use anyhow::Result;

use crate::core::agent::{clip, TurnOutcome, TurnStatus};
use crate::core::events::Event;
use crate::core::runtime::Runtime;
use crate::core::store::{Chat, ExternalTask, Task};

use super::registry::AgentSpec;

/// Longest output summary a task keeps (a terminal agent's is its last 20 screen lines).
const SUMMARY_CHARS: usize = 4000;

/// Opens the task of a run of `spec` in `chat` on `input`.
pub fn start(
    rt: &Runtime,
    chat: &Chat,
    spec: &AgentSpec,
    input: &str,
    model: &str,
) -> Result<Task> {
    rt.store.start_external_task(&ExternalTask {
        session_id: &chat.session_id,
        chat_id: &chat.id,
        input,
        agent: &spec.name,
        model,
        execution_path: spec.protocol.as_str(),
    })
}

/// Closes the task as the run ended and tells the clients; returns the status recorded.
pub fn finish(rt: &Runtime, task: &Task, outcome: &TurnOutcome) -> &'static str {
    let status = match outcome.status {
        TurnStatus::Completed => "completed",
        TurnStatus::Cancelled => "cancelled",
        _ => "failed",
    };
    let summary = outcome
        .final_text
        .as_deref()
        .map(|t| clip(t, SUMMARY_CHARS));
    let recorded = rt
        .store
        .finish_task(
            &task.id,
            status,
            summary.as_deref(),
            outcome.error.as_deref(),
        )
        .and_then(|_| rt.store.add_task_tokens(&task.id, outcome.usage.total()));
    if let Err(e) = recorded {
        tracing::error!("recording task {}: {e:#}", task.id);
        rt.emit(Event::Notice {
            message: format!("recording the agent's task failed: {e:#}"),
        });
    }
    rt.emit(Event::TaskUpdated {
        task_id: task.id.clone(),
        status: status.to_string(),
        label: Some(task.agent.clone()),
        chat_id: task.chat_id.clone(),
    });
    status
}
