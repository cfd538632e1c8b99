//! External agents beside the native loop: the registry of agents, and one module per backend
//! (`acp`, `paseo`). A chat bound to an agent (`chat_agents` in the store) has its turns run by that
//! agent instead of the native loop, persisted and announced through the same store rows and
//! events ([`turn::ExternalTurn`]), so every pane and the trace work for it unchanged.

pub mod acp;
pub mod paseo;
pub mod registry;
pub mod turn;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use tokio::sync::oneshot;

use crate::core::agent::tools::ApprovalMode;
use crate::core::agent::{failed_before_start, TurnOutcome, TurnStatus};
use crate::core::events::{Event, PermissionAnswer};
use crate::core::runtime::{lock, Runtime};
use crate::core::worktree::checkout::{self, Isolation};
use crate::core::worktree::WorktreeSource;

use self::acp::{AcpConnection, SessionOptions};
use self::registry::Protocol;
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
}

impl AgentHub {
    /// Ends a chat's agent (the next turn starts it again).
    pub fn disconnect(&self, chat_id: &str) {
        lock(&self.connections).remove(chat_id);
    }

    /// Ends every agent.
    pub fn disconnect_all(&self) {
        lock(&self.connections).clear();
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
    let chat_id = request.chat_id.clone();
    let token = match rt.begin_turn(&chat_id, None) {
        Ok(t) => t,
        Err(e) => return failed_before_start(rt, &chat_id, 0, e),
    };
    drive(rt, &request, token).await
}

/// A workspace chat's turn on its agent: the agent works in the chat's own worktree (made on
/// its first turn, taken over again on later turns and after a restart), and after each turn
/// what it changed there becomes the chat's pending changes. The worktree stays with the chat
/// (its agent session works there); an unused one goes with main's orphan cleanup.
pub async fn run_chat_turn(rt: &Arc<Runtime>, mut request: ExternalTurnRequest) -> TurnOutcome {
    let chat_id = request.chat_id.clone();
    if rt.is_turn_running(&chat_id) {
        // Refused as busy; the running turn captures its own changes.
        return run_external_turn(rt, request).await;
    }
    let agent = match rt.store.chat_agent(&chat_id) {
        Ok(Some(binding)) => binding.agent,
        Ok(None) => {
            let e = anyhow::anyhow!("chat {chat_id} is not bound to an external agent");
            return failed_before_start(rt, &chat_id, 0, e);
        }
        Err(e) => return failed_before_start(rt, &chat_id, 0, e),
    };
    let source = WorktreeSource {
        agent,
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
    let outcome = run_external_turn(rt, request).await;
    if let Err(e) = checkout::capture(rt, &place).await {
        rt.emit(Event::Notice {
            message: format!("reading the agent's worktree changes failed: {e:#}"),
        });
    }
    outcome
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
        let Some(binding) = rt.store.chat_agent(chat_id)? else {
            bail!("chat {chat_id} is not bound to an external agent");
        };
        let spec = registry::find(&rt.config.agents, &binding.agent)?;
        if spec.protocol == Protocol::Pty {
            bail!(
                "agent '{}' speaks {}; this build runs ACP and Paseo agents only",
                spec.name,
                spec.protocol.as_str()
            );
        }
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
    if spec.protocol == Protocol::Paseo {
        return paseo::run_turn(rt, &spec, turn, request, token).await;
    }
    let existing = lock(&rt.agents.connections).get(chat_id).cloned();
    let connection = match existing {
        Some(c) => c,
        None => {
            let options = request.options.clone();
            let cwd = request
                .cwd
                .clone()
                .unwrap_or_else(|| rt.project_root.clone());
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
    if spec.protocol == Protocol::Pty {
        bail!(
            "agent '{}' speaks {}; chats run ACP and Paseo agents in this build",
            spec.name,
            spec.protocol.as_str()
        );
    }
    if rt.is_turn_running(chat_id) {
        bail!("the chat has a turn running; bind it when the turn ends");
    }
    rt.store.bind_chat_agent(chat_id, &spec.name)?;
    rt.agents.disconnect(chat_id);
    rt.emit(crate::core::events::Event::AgentSession {
        chat_id: chat_id.to_string(),
        agent: spec.name,
        model: None,
        mode: None,
    });
    Ok(())
}

/// How long closing a chat waits for its cancelled turn to end.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// The chat is closed (its pane, or the headless task that made it): a running turn is
/// cancelled, its ACP agent ends and its Paseo agent is archived. Nothing fails: what could
/// not be done is said in a notice.
pub async fn close_chat(rt: &Arc<Runtime>, chat_id: &str) {
    if !matches!(rt.store.chat_agent(chat_id), Ok(Some(_))) {
        return;
    }
    if rt.cancel_turn(chat_id) {
        let deadline = tokio::time::Instant::now() + CLOSE_WAIT;
        while rt.is_turn_running(chat_id) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    rt.agents.disconnect(chat_id);
    if let Err(e) = paseo::archive_chat(rt, chat_id).await {
        rt.emit(Event::Notice {
            message: format!("archiving the chat's Paseo agent failed: {e:#}"),
        });
    }
}
