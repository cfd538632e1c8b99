//! Work handed to an external agent outside a workspace chat — `boocode agent run`, a
//! `spawn_subagent` call with `agent`, a workflow's `agent(prompt, {agent})` — all run the
//! same way: a chat bound to the agent, its own git worktree (or the project itself), one turn
//! or more on one connection, then the worktree's changes become the chat's pending changes
//! and the worktree is released (it stays while changes from it wait for review).

use std::sync::Arc;

use anyhow::{bail, Result};
use tokio_util::sync::CancellationToken;

use crate::core::agent::tools::ApprovalMode;
use crate::core::agent::{TurnOutcome, TurnStatus};
use crate::core::events::Event;
use crate::core::llm::types::Usage;
use crate::core::runtime::Runtime;
use crate::core::store::{Chat, PendingChange, Task};
use crate::core::worktree::checkout::{self, Isolation};
use crate::core::worktree::WorktreeSource;

use super::acp::SessionOptions;
use super::registry::{self, AgentSpec};
use super::{run_turn_under, ExternalTurnRequest};

/// The external agent called `name` (any protocol: a job's turn is dispatched by it).
pub fn find_external(rt: &Runtime, name: &str) -> Result<AgentSpec> {
    registry::find(&rt.config.agents, name)
}

/// One piece of work for an agent.
#[derive(Debug, Clone)]
pub struct AgentJob {
    /// A chat bound to the agent (`bind_chat_agent`).
    pub chat_id: String,
    pub agent: String,
    /// The task recording the work, if any (its worktree names it).
    pub task_id: Option<String>,
    pub text: String,
    pub approval: ApprovalMode,
    pub isolation: Isolation,
    pub options: SessionOptions,
}

/// How the work ended.
#[derive(Debug)]
pub struct JobOutcome {
    /// The last turn's outcome, with the usage of every turn.
    pub turn: TurnOutcome,
    /// The chat's pending changes, captured from its worktree.
    pub changes: Vec<PendingChange>,
}

/// Runs `job`: a first turn with its text, then another with the text `follow_up` gives for
/// each completed turn until it gives none. `cancel` cancels the running turn (and the turns
/// that would follow). Fails only when the working place cannot be made (no git repository,
/// no commit); a turn that fails is a `JobOutcome` with its error.
pub async fn run(
    rt: &Arc<Runtime>,
    job: AgentJob,
    cancel: &CancellationToken,
    mut follow_up: impl FnMut(&TurnOutcome) -> Option<String>,
) -> Result<JobOutcome> {
    let source = WorktreeSource {
        agent: job.agent.clone(),
        chat_id: job.chat_id.clone(),
        task_id: job.task_id.clone(),
    };
    let place = checkout::open(rt, source, job.isolation).await?;
    let mut request = ExternalTurnRequest {
        chat_id: job.chat_id.clone(),
        text: job.text,
        approval: job.approval,
        cwd: place.worktree().map(|_| place.dir().to_path_buf()),
        options: job.options,
    };
    let mut usage = Usage::default();
    let mut turn = loop {
        let outcome = run_turn_under(rt, request.clone(), Some(cancel)).await;
        usage.add(&outcome.usage);
        if outcome.status != TurnStatus::Completed {
            break outcome;
        }
        match follow_up(&outcome) {
            Some(text) => request.text = text,
            None => break outcome,
        }
    };
    turn.usage = usage;
    // The job's chat ends with it: its agent ends, a Paseo agent is archived.
    rt.agents.disconnect(&job.chat_id);
    if let Err(e) = super::paseo::archive_chat(rt, &job.chat_id).await {
        rt.emit(Event::Notice {
            message: format!("archiving the job's Paseo agent failed: {e:#}"),
        });
    }
    if let Err(e) = checkout::capture(rt, &place).await {
        rt.emit(Event::Notice {
            message: format!("reading the agent's worktree changes failed: {e:#}"),
        });
    }
    if let Err(e) = checkout::release(rt, &place).await {
        rt.emit(Event::Notice {
            message: format!("releasing the agent's worktree failed: {e:#}"),
        });
    }
    let changes = rt.store.list_pending_changes(Some(&job.chat_id))?;
    Ok(JobOutcome { turn, changes })
}

/// A background task whose agent is external (`spawn_subagent` with `agent`), in its chat:
/// the agent works in a worktree of its own, and its result is its final message followed by
/// the changes it left for review.
pub(crate) async fn run_subagent_task(
    rt: &Arc<Runtime>,
    task: &Task,
    chat: &Chat,
    cancel: &CancellationToken,
) -> Result<(TurnStatus, String)> {
    find_external(rt, &task.agent)?;
    rt.store.bind_chat_agent(&chat.id, &task.agent)?;
    let job = AgentJob {
        chat_id: chat.id.clone(),
        agent: task.agent.clone(),
        task_id: Some(task.id.clone()),
        text: task.input.clone(),
        approval: rt.config.approval,
        isolation: Isolation::Worktree,
        options: SessionOptions {
            model: Some(task.model.clone()).filter(|m| !m.is_empty()),
            ..SessionOptions::default()
        },
    };
    let done = run(rt, job, cancel, |_| None).await?;
    rt.store
        .add_task_tokens(&task.id, done.turn.usage.total())?;
    if let (TurnStatus::Failed, Some(error)) = (done.turn.status, &done.turn.error) {
        bail!("agent '{}': {error}", task.agent);
    }
    let mut result = done.turn.final_text.unwrap_or_default();
    if !done.changes.is_empty() {
        let paths: Vec<&str> = done
            .changes
            .iter()
            .map(|c| c.content.display_path.as_str())
            .collect();
        result.push_str(&format!(
            "\n\nChanges waiting for review (made in the agent's worktree, not applied): {}",
            paths.join(", ")
        ));
    }
    Ok((done.turn.status, result))
}
