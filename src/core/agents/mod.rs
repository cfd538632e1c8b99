//! External agents beside the native loop: the registry of agents, and one module per backend
//! (`acp`, `pty`, `paseo`). A chat bound to an agent (`chat_agents` in the store) has its turns run by that
//! agent instead of the native loop, persisted and announced through the same store rows and
//! events ([`turn::ExternalTurn`]), so every pane and the trace work for it unchanged.

pub mod acp;
pub mod approval;
pub mod job;
pub mod paseo;
pub mod pty;
pub mod registry;
pub mod task;
pub mod turn;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use tokio::sync::oneshot;

use crate::core::agent::tools::ApprovalMode;
use crate::core::agent::{failed_before_start, TurnOutcome, TurnStatus};
use crate::core::events::{Event, PermissionAnswer};
use crate::core::runtime::{lock, Runtime};
use crate::core::store::Store;
use crate::core::trust::ProjectTrust;
use crate::core::worktree::checkout::{self, Isolation};
use crate::core::worktree::{AgentWorktree, WorktreeSource};

use self::acp::{AcpConnection, SessionOptions};
use self::registry::{AgentSpec, Protocol};
use self::turn::ExternalTurn;

/// Permission requests waiting for a person, by request id.
#[derive(Default)]
pub struct PermissionDesk {
    waiting: Mutex<HashMap<String, oneshot::Sender<PermissionAnswer>>>,
}

impl PermissionDesk {
    /// Registers a question; the receiver gets the answer.
    pub fn ask(&self, request_id: &str) -> oneshot::Receiver<PermissionAnswer> {
        let (tx, rx) = oneshot::channel();
        lock(&self.waiting).insert(request_id.to_string(), tx);
        rx
    }

    /// Answers a waiting question; false when nothing waits under that id any more.
    pub fn answer(&self, request_id: &str, answer: PermissionAnswer) -> bool {
        match lock(&self.waiting).remove(request_id) {
            Some(tx) => tx.send(answer).is_ok(),
            None => false,
        }
    }

    pub fn forget(&self, request_id: &str) {
        lock(&self.waiting).remove(request_id);
    }
}

/// The external agents of one engine: running connections by chat, waiting questions.
#[derive(Default)]
pub struct AgentHub {
    pub permissions: PermissionDesk,
    connections: Mutex<HashMap<String, Arc<AcpConnection>>>,
    /// The terminals of pty agents' runs, which the workspace's panes attach to.
    pub terminals: pty::AgentTerminals,
    endings: Mutex<Endings>,
}

/// Chats whose end waits for their turn: a chat turn holds its worktree from opening it to
/// capturing it, and a chat ended meanwhile is released after that.
#[derive(Default)]
struct Endings {
    in_turn: HashSet<String>,
    ended: HashSet<String>,
}

impl AgentHub {
    /// Ends a chat's agent (the next turn starts it again).
    pub fn disconnect(&self, chat_id: &str) {
        lock(&self.connections).remove(chat_id);
        self.terminals.remove(chat_id);
    }

    /// Ends every agent.
    pub fn disconnect_all(&self) {
        lock(&self.connections).clear();
        self.terminals.clear();
    }
}

/// How an external turn runs.
#[derive(Debug, Clone)]
pub struct ExternalTurnRequest {
    pub chat_id: String,
    pub text: String,
    pub approval: ApprovalMode,
    /// The agent's working directory (a worktree); the project root when none.
    pub cwd: Option<PathBuf>,
    pub options: SessionOptions,
}

/// Runs a turn of a chat bound to an external agent. Every failure (unknown agent, program
/// missing, a start that fails) ends this turn with a clear error in the chat; nothing else
/// is touched. The turn is registered (cancellable) until its `TurnFinished`.
pub async fn run_external_turn(rt: &Arc<Runtime>, request: ExternalTurnRequest) -> TurnOutcome {
    run_turn_under(rt, request, None).await
}

/// [`run_external_turn`] as part of larger work: cancelling `parent` cancels the turn.
async fn run_turn_under(
    rt: &Arc<Runtime>,
    request: ExternalTurnRequest,
    parent: Option<&tokio_util::sync::CancellationToken>,
) -> TurnOutcome {
    let chat_id = request.chat_id.clone();
    let token = match rt.begin_turn(&chat_id, parent) {
        Ok(t) => t,
        Err(e) => return failed_before_start(rt, &chat_id, 0, e),
    };
    drive(rt, &request, token).await
}

/// A workspace chat's turn on its agent: the agent works in the chat's own worktree (made on
/// its first turn, taken over again on later turns and after a restart), and after each turn
/// what it changed there becomes the chat's pending changes. The worktree stays with the chat
/// (its agent session works there) until the chat ends ([`end_chat`]); one left behind by a
/// process that ended goes with the orphan cleanup at start.
pub async fn run_chat_turn(rt: &Arc<Runtime>, request: ExternalTurnRequest) -> TurnOutcome {
    let chat_id = request.chat_id.clone();
    if rt.is_turn_running(&chat_id) {
        // Refused as busy; the running turn captures its own changes.
        return run_external_turn(rt, request).await;
    }
    // Checked before anything is made for it (a worktree, a task).
    let spec = match chat_agent_spec(rt, &chat_id) {
        Ok(spec) => spec,
        Err(e) => return failed_before_start(rt, &chat_id, 0, e),
    };
    lock(&rt.agents.endings).in_turn.insert(chat_id.clone());
    let outcome = chat_turn_in_worktree(rt, request, &spec).await;
    let ended = {
        let mut endings = lock(&rt.agents.endings);
        endings.in_turn.remove(&chat_id);
        endings.ended.remove(&chat_id)
    };
    if ended {
        release_chat(rt, &chat_id).await;
    }
    outcome
}

async fn chat_turn_in_worktree(
    rt: &Arc<Runtime>,
    mut request: ExternalTurnRequest,
    spec: &AgentSpec,
) -> TurnOutcome {
    let chat_id = request.chat_id.clone();
    let source = WorktreeSource {
        agent: spec.name.clone(),
        chat_id: chat_id.clone(),
        task_id: None,
    };
    let place = match checkout::open(rt, source, Isolation::Worktree).await {
        Ok(place) => place,
        Err(e) => {
            let e = e.context("the agent works in a git worktree of the project");
            return failed_before_start(rt, &chat_id, 0, e);
        }
    };
    request.cwd = Some(place.dir().to_path_buf());
    // A terminal agent's run is a task of its own (its output summary, its exit status).
    let task = match spec.protocol {
        Protocol::Pty => match rt
            .store
            .get_chat(&chat_id)
            .and_then(|chat| task::start(rt, &chat, spec, &request.text, ""))
        {
            Ok(task) => Some(task),
            Err(e) => return failed_before_start(rt, &chat_id, 0, e),
        },
        _ => None,
    };
    let outcome = run_external_turn(rt, request).await;
    if let Some(task) = &task {
        task::finish(rt, task, &outcome);
    }
    if let Err(e) = checkout::capture(rt, &place).await {
        rt.emit(Event::Notice {
            message: format!("reading the agent's worktree changes failed: {e:#}"),
        });
    }
    outcome
}

/// The chat's agent work is over (its last pane closed, or it was bound to another agent):
/// its agent ends and its worktree is released — removed now when nothing captured from it
/// waits for a decision, else once the last waiting change is decided. A turn still running
/// goes on to its end and its capture first.
pub async fn end_chat(rt: &Arc<Runtime>, chat_id: &str) {
    {
        let mut endings = lock(&rt.agents.endings);
        if endings.in_turn.contains(chat_id) {
            endings.ended.insert(chat_id.to_string());
            return;
        }
    }
    release_chat(rt, chat_id).await;
}

async fn release_chat(rt: &Arc<Runtime>, chat_id: &str) {
    rt.agents.disconnect(chat_id);
    let store = rt.store.clone();
    let chat = chat_id.to_string();
    let released = tokio::task::spawn_blocking(move || release_chat_worktree(&store, &chat)).await;
    match released {
        Ok(Ok(())) => {}
        Ok(Err(e)) => rt.emit(Event::Notice {
            message: format!("releasing the chat's worktree failed: {e:#}"),
        }),
        Err(e) => tracing::error!("releasing the chat's worktree: {e}"),
    }
    if let Err(e) = paseo::archive_chat(rt, chat_id).await {
        rt.emit(Event::Notice {
            message: format!("archiving the chat's Paseo agent failed: {e:#}"),
        });
    }
}

/// Releases the chat's worktree, whichever process made it. Blocking (git).
fn release_chat_worktree(store: &Store, chat_id: &str) -> Result<()> {
    if let Some(worktree) = AgentWorktree::reopen(store, chat_id)? {
        worktree.release(store)?;
    }
    Ok(())
}

/// The agent a chat is bound to, refused while the person has not approved it here.
fn chat_agent_spec(rt: &Runtime, chat_id: &str) -> Result<AgentSpec> {
    let Some(binding) = rt.store.chat_agent(chat_id)? else {
        bail!("chat {chat_id} is not bound to an external agent");
    };
    let spec = registry::find(&rt.config.agents, &binding.agent)?;
    approval::check(
        &ProjectTrust::new(rt.store.clone()),
        &rt.project_root,
        &spec,
    )?;
    Ok(spec)
}

/// Ends a turn that failed before the agent took it; the turn is unregistered before
/// `TurnFinished` goes out, as [`ExternalTurn::finish`] does.
fn fail_early(rt: &Runtime, chat_id: &str, e: anyhow::Error) -> TurnOutcome {
    rt.end_turn(chat_id);
    failed_before_start(rt, chat_id, 0, e)
}

async fn drive(
    rt: &Arc<Runtime>,
    request: &ExternalTurnRequest,
    token: tokio_util::sync::CancellationToken,
) -> TurnOutcome {
    let chat_id = &request.chat_id;
    let prepared = (|| -> Result<_> {
        let chat = rt.store.get_chat(chat_id)?;
        let spec = chat_agent_spec(rt, chat_id)?;
        let label = format!("agent:{}", spec.name);
        Ok((chat, spec, label))
    })();
    let (chat, spec, label) = match prepared {
        Ok(v) => v,
        Err(e) => return fail_early(rt, chat_id, e),
    };
    let turn = match ExternalTurn::begin(rt, &chat, &request.text, &label) {
        Ok(t) => t,
        Err(e) => return fail_early(rt, chat_id, e),
    };
    let cwd = request
        .cwd
        .clone()
        .unwrap_or_else(|| rt.project_root.clone());
    match spec.protocol {
        Protocol::Acp => acp_turn(rt, request, spec, turn, cwd, token).await,
        Protocol::Pty => pty::run_turn(rt, &spec, turn, &request.text, cwd, token).await,
        Protocol::Paseo => paseo::run_turn(rt, &spec, turn, request, token).await,
    }
}

/// A turn on the chat's ACP connection, started on its first turn.
async fn acp_turn(
    rt: &Arc<Runtime>,
    request: &ExternalTurnRequest,
    spec: registry::AgentSpec,
    turn: ExternalTurn,
    cwd: PathBuf,
    token: tokio_util::sync::CancellationToken,
) -> TurnOutcome {
    let chat_id = &request.chat_id;
    let existing = lock(&rt.agents.connections).get(chat_id).cloned();
    let connection = match existing {
        Some(c) => c,
        None => {
            let options = request.options.clone();
            match AcpConnection::start(
                rt.clone(),
                spec,
                chat_id.clone(),
                cwd,
                request.approval,
                options,
            ) {
                Ok(c) => {
                    let c = Arc::new(c);
                    lock(&rt.agents.connections).insert(chat_id.clone(), c.clone());
                    c
                }
                Err(e) => return turn.finish(TurnStatus::Failed, Some(format!("{e:#}"))),
            }
        }
    };
    match connection.prompt(turn, &request.text, token).await {
        Ok(outcome) => outcome,
        Err(e) => {
            rt.agents.disconnect(chat_id);
            fail_early(rt, chat_id, e)
        }
    }
}

/// Binds a chat to the agent called `name` (its next turn runs there), ending any agent the
/// chat had. `AgentSession` tells the panes.
pub fn bind_chat(rt: &Runtime, chat_id: &str, name: &str) -> Result<()> {
    let spec = registry::find(&rt.config.agents, name)?;
    approval::check(
        &ProjectTrust::new(rt.store.clone()),
        &rt.project_root,
        &spec,
    )?;
    if rt.is_turn_running(chat_id) {
        bail!("the chat has a turn running; bind it when the turn ends");
    }
    let before = rt.store.chat_agent(chat_id)?;
    rt.store.bind_chat_agent(chat_id, &spec.name)?;
    // Its work with the agent before has ended: that agent's worktree goes (or waits for its
    // changes to be decided).
    if before.is_some_and(|b| b.agent != spec.name) {
        release_chat_worktree(&rt.store, chat_id)?;
    }
    rt.agents.disconnect(chat_id);
    rt.emit(crate::core::events::Event::AgentSession {
        chat_id: chat_id.to_string(),
        agent: spec.name,
        model: None,
        mode: None,
    });
    Ok(())
}
