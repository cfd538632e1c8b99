//! The shared state of one running engine: what the agent loop, the background workers and
//! workflow runs all hold (store, model client, tools, running turns, confirmations). It lives
//! apart from the [`Engine`](crate::core::engine::Engine) facade so those modules depend on it
//! and not on the facade that starts them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::core::agent::tools::ToolRegistry;
use crate::core::agents::AgentHub;
use crate::core::background;
use crate::core::changes;
use crate::core::config::Config;
use crate::core::context::window::ContextBook;
use crate::core::events::Event;
use crate::core::hooks::Hooks;
use crate::core::instance::InstanceLock;
use crate::core::llm::client::LlmClient;
use crate::core::store::Store;
use crate::core::workflow;

/// A turn going on in this process.
struct RunningTurn {
    cancel: CancellationToken,
    /// A chat's own turn (sent or resumed), not a background task's or a workflow agent's.
    own: bool,
}

/// Shared state of one running engine.
pub struct Runtime {
    pub store: Store,
    pub config: Arc<Config>,
    pub llm: LlmClient,
    /// Canonical project root.
    pub project_root: PathBuf,
    pub extra_roots: Vec<PathBuf>,
    pub tools: ToolRegistry,
    /// Whether a person can answer questions (command confirmations). Headless runs answer no.
    pub interactive: bool,
    events: mpsc::UnboundedSender<Event>,
    confirmations: Mutex<HashMap<String, oneshot::Sender<bool>>>,
    turns: Mutex<HashMap<String, RunningTurn>>,
    pub(crate) tasks: background::TaskSlots,
    pub(crate) workflows: workflow::runs::RunSlots,
    /// The project's id in the store: workers only claim this project's tasks.
    pub project_id: String,
    _instance: InstanceLock,
    /// Cancelled when the engine shuts down: stops the background workers.
    pub shutdown: CancellationToken,
    /// Context windows and the per-chat correction of prompt estimates.
    pub context: ContextBook,
    /// External agents: their connections by chat, their questions waiting for a person.
    pub agents: AgentHub,
    /// The hooks this engine runs (read when it started).
    pub hooks: Hooks,
}

/// What an engine starts a runtime with; turns, confirmations and slots start empty.
pub(crate) struct RuntimeParts {
    pub store: Store,
    pub config: Config,
    pub llm: LlmClient,
    pub project_root: PathBuf,
    pub extra_roots: Vec<PathBuf>,
    pub tools: ToolRegistry,
    pub interactive: bool,
    pub project_id: String,
    pub instance: InstanceLock,
    pub events: mpsc::UnboundedSender<Event>,
    pub hooks: Hooks,
}

impl Runtime {
    pub(crate) fn new(parts: RuntimeParts) -> Runtime {
        Runtime {
            tasks: background::TaskSlots::new(parts.config.background_max_concurrent),
            workflows: workflow::runs::RunSlots::new(),
            shutdown: CancellationToken::new(),
            context: ContextBook::default(),
            agents: AgentHub::default(),
            confirmations: Mutex::new(HashMap::new()),
            turns: Mutex::new(HashMap::new()),
            store: parts.store,
            config: Arc::new(parts.config),
            llm: parts.llm,
            project_root: parts.project_root,
            extra_roots: parts.extra_roots,
            tools: parts.tools,
            interactive: parts.interactive,
            project_id: parts.project_id,
            _instance: parts.instance,
            events: parts.events,
            hooks: parts.hooks,
        }
    }

    pub fn emit(&self, event: Event) {
        // A client that stopped listening is not an error: the store has everything.
        let _ = self.events.send(event);
    }

    /// Registers the running turn of a chat so it can be cancelled; fails if one is running.
    pub(crate) fn begin_turn(
        &self,
        chat_id: &str,
        parent: Option<&CancellationToken>,
    ) -> Result<CancellationToken> {
        let mut turns = lock(&self.turns);
        if turns.contains_key(chat_id) {
            anyhow::bail!("chat {chat_id} already has a turn running");
        }
        let token = parent.unwrap_or(&self.shutdown).child_token();
        turns.insert(
            chat_id.to_string(),
            RunningTurn {
                cancel: token.clone(),
                own: parent.is_none(),
            },
        );
        Ok(token)
    }

    pub(crate) fn end_turn(&self, chat_id: &str) {
        lock(&self.turns).remove(chat_id);
    }

    pub fn cancel_turn(&self, chat_id: &str) -> bool {
        match lock(&self.turns).get(chat_id) {
            Some(turn) => {
                turn.cancel.cancel();
                true
            }
            None => false,
        }
    }

    pub fn is_turn_running(&self, chat_id: &str) -> bool {
        lock(&self.turns).contains_key(chat_id)
    }

    /// Turns running in this process: (all of them, those that are not part of a background
    /// task or a workflow run).
    pub(crate) fn running_turns(&self) -> (usize, usize) {
        let turns = lock(&self.turns);
        (turns.len(), turns.values().filter(|t| t.own).count())
    }

    /// Asks the client to confirm a command; resolves when answered, or `false` at once when
    /// no person is there to answer.
    pub(crate) async fn confirm_command(&self, chat_id: &str, command: String) -> bool {
        self.ask_yes_no(|request_id| Event::CommandConfirmationRequested {
            chat_id: chat_id.to_string(),
            request_id,
            command,
        })
        .await
    }

    /// Asks whether the project's hooks and MCP servers described by `question` may run.
    pub(crate) async fn confirm_project_programs(&self, chat_id: &str, question: String) -> bool {
        self.ask_yes_no(|request_id| Event::ProjectApprovalRequested {
            chat_id: chat_id.to_string(),
            request_id,
            question,
        })
        .await
    }

    /// Emits the question `ask` builds for a new request id and waits for the person's
    /// answer ([`Command::ConfirmCommand`]); no person, or no answer, is no.
    async fn ask_yes_no(&self, ask: impl FnOnce(String) -> Event) -> bool {
        if !self.interactive {
            return false;
        }
        let request_id = crate::core::store::new_id();
        let (tx, rx) = oneshot::channel();
        lock(&self.confirmations).insert(request_id.clone(), tx);
        self.emit(ask(request_id));
        rx.await.unwrap_or(false)
    }

    pub(super) fn answer_confirmation(&self, request_id: &str, allow: bool) {
        if let Some(tx) = lock(&self.confirmations).remove(request_id) {
            let _ = tx.send(allow);
        }
    }

    /// Applies or rejects a change and says so (see [`changes::decide`]).
    pub fn resolve_change(&self, change_id: &str, apply: bool) -> Result<()> {
        let change = changes::decide(&self.store, change_id, apply)?;
        self.emit(Event::ChangeResolved {
            change_id: change.id,
            applied: apply,
        });
        Ok(())
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps behind these mutexes stay consistent even if a holder panicked.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
