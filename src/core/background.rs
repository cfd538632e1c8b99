//! Background sub-agents: a `tasks` queue in SQLite worked by at most
//! `background_max_concurrent` workers. Each task runs as its own chat with its own tools and
//! traces. Tasks left `running` by a crash are re-queued by the store's recovery at start.
//! A task for an external agent (`spawn_subagent` with `agent`; execution path `acp`, `pty`
//! or `paseo`) runs on that agent in a worktree of its own (`agents::job`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::core::agent::{self, TurnRequest, TurnStatus};
use crate::core::agents;
use crate::core::events::Event;
use crate::core::hooks::points::{self, Notification};
use crate::core::runtime::{lock, Runtime};
use crate::core::store::{NewChat, Task};

/// Worker bookkeeping shared by the engine.
pub(crate) struct TaskSlots {
    max_running: usize,
    wake: Notify,
    changed: Notify,
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl TaskSlots {
    pub(crate) fn new(max_running: usize) -> Self {
        TaskSlots {
            max_running: max_running.max(1),
            wake: Notify::new(),
            changed: Notify::new(),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Tasks running in this process.
    pub(crate) fn running_count(&self) -> usize {
        lock(&self.running).len()
    }
}

/// Enqueues a task and wakes the workers.
pub(crate) fn enqueue(rt: &Runtime, task: &Task) {
    rt.emit(task_event(task));
    rt.tasks.wake.notify_one();
}

/// Claims queued tasks while there is room and runs each on its own tokio task.
pub(crate) async fn run_workers(rt: Arc<Runtime>) {
    loop {
        // A worker that first runs after shutdown must not claim anything.
        if rt.shutdown.is_cancelled() {
            return;
        }
        loop {
            match rt
                .store
                .claim_next_task(&rt.project_id, rt.tasks.max_running, || {
                    rt.shutdown.is_cancelled()
                }) {
                Ok(Some(task)) => {
                    tokio::spawn(run_task(rt.clone(), task));
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::error!("claiming a background task failed: {e:#}");
                    break;
                }
            }
        }
        tokio::select! {
            _ = rt.tasks.wake.notified() => {}
            _ = rt.tasks.changed.notified() => {}
            _ = rt.shutdown.cancelled() => return,
            // Another process sharing the database may have freed a slot.
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

async fn run_task(rt: Arc<Runtime>, task: Task) {
    let token = rt.shutdown.child_token();
    lock(&rt.tasks.running).insert(task.id.clone(), token.clone());
    let result = run_task_chat(&rt, &task, token).await;
    lock(&rt.tasks.running).remove(&task.id);
    let (status, output, error) = match result {
        Ok((TurnStatus::Completed, text)) => ("completed", Some(text), None),
        Ok((TurnStatus::Cancelled, _)) => ("cancelled", None, Some("cancelled".to_string())),
        Ok((status, text)) => (
            "failed",
            Some(text),
            Some(format!("sub-agent turn ended: {}", status.as_str())),
        ),
        Err(e) => ("failed", None, Some(format!("{e:#}"))),
    };
    // When the task was cancelled meanwhile the store keeps `cancelled`.
    if let Err(e) = rt
        .store
        .finish_task(&task.id, status, output.as_deref(), error.as_deref())
    {
        tracing::error!("recording the end of task {} failed: {e:#}", task.id);
    }
    if let Ok(task) = rt.store.get_task(&task.id) {
        rt.emit(task_event(&task));
        points::notify(
            &rt,
            task.parent_chat_id.as_deref().or(task.chat_id.as_deref()),
            Notification::BackgroundTask,
            format!(
                "background task {} {}",
                task_label(task.label.as_deref(), &task.input),
                task.status
            ),
        );
    }
    rt.tasks.changed.notify_waiters();
    rt.tasks.wake.notify_one();
}

async fn run_task_chat(
    rt: &Arc<Runtime>,
    task: &Task,
    token: CancellationToken,
) -> Result<(TurnStatus, String)> {
    // A retried or re-queued task starts over in a fresh chat; an earlier one stays as history.
    let chat = rt.store.create_chat(&NewChat {
        session_id: &task.session_id,
        parent_chat_id: task.parent_chat_id.as_deref(),
        kind: "subagent",
        title: task.label.as_deref().unwrap_or(&task.input),
        model: &task.model,
        agent: &task.agent,
    })?;
    rt.store.set_task_chat(&task.id, &chat.id)?;
    rt.emit(Event::TaskUpdated {
        task_id: task.id.clone(),
        status: "running".into(),
        label: task.label.clone(),
        chat_id: Some(chat.id.clone()),
    });
    if rt.store.task_execution(&task.id)?.0 != "native" {
        return agents::job::run_subagent_task(rt, task, &chat, &token).await;
    }
    let outcome = agent::run_turn(
        rt,
        TurnRequest::new(&chat.id, &task.input, rt.config.approval).with_parent_cancel(token),
    )
    .await;
    Ok((outcome.status, outcome.final_text.unwrap_or_default()))
}

/// A task's name: its label, else the start of its input (never a bare "task").
pub(crate) fn task_label(label: Option<&str>, input: &str) -> String {
    match label.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => l.to_string(),
        None => agent::title_of(input),
    }
}

fn task_event(task: &Task) -> Event {
    Event::TaskUpdated {
        task_id: task.id.clone(),
        status: task.status.clone(),
        label: task.label.clone(),
        chat_id: task.chat_id.clone(),
    }
}

pub(crate) fn cancel_task(rt: &Runtime, task_id: &str) -> Result<Task> {
    let task = rt.store.cancel_task(task_id)?;
    if let Some(token) = lock(&rt.tasks.running).get(&task.id) {
        token.cancel();
    }
    rt.emit(task_event(&task));
    rt.tasks.changed.notify_waiters();
    Ok(task)
}

pub(crate) fn retry_task(rt: &Runtime, task_id: &str) -> Result<Task> {
    let task = rt.store.retry_task(task_id)?;
    enqueue(rt, &task);
    Ok(task)
}

/// Waits until no task spawned from `chat_id`, directly or through its sub-agents, is pending
/// or running.
pub(crate) async fn wait_for_tasks_of(rt: &Runtime, chat_id: &str) -> Result<()> {
    let session_id = rt.store.get_chat(chat_id)?.session_id;
    loop {
        let changed = rt.tasks.changed.notified();
        let tasks = rt.store.list_tasks(Some(&session_id))?;
        let mut family: HashSet<String> = HashSet::from([chat_id.to_string()]);
        // Grow the set of chats descended from `chat_id` until it is stable.
        loop {
            let before = family.len();
            for t in &tasks {
                if t.parent_chat_id
                    .as_ref()
                    .is_some_and(|p| family.contains(p))
                {
                    if let Some(c) = &t.chat_id {
                        family.insert(c.clone());
                    }
                }
            }
            if family.len() == before {
                break;
            }
        }
        let unfinished = tasks.iter().any(|t| {
            t.parent_chat_id
                .as_ref()
                .is_some_and(|p| family.contains(p))
                && matches!(t.status.as_str(), "pending" | "running")
        });
        if !unfinished {
            return Ok(());
        }
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_without_a_label_is_named_from_its_input() {
        assert_eq!(task_label(Some(" counter "), "count files"), "counter");
        assert_eq!(task_label(Some("  "), "count files"), "count files");
        assert_eq!(
            task_label(None, "Count the files under src/\nthen report"),
            "Count the files under src/"
        );
        let long = "x".repeat(80);
        assert_eq!(task_label(None, &long), format!("{}…", "x".repeat(60)));
    }
}
