//! The engine: the core as a queue pair. Clients send [`Command`]s and read [`Event`]s; the
//! engine owns the store, the model client, the tools and the background workers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::sync::mpsc;

use crate::core::agent::tools::skill::SkillTool;
use crate::core::agent::tools::{builtin_tools, ApprovalMode, Tool, ToolRegistry};
use crate::core::agent::{self, TurnOutcome, TurnRequest};
use crate::core::agents;
use crate::core::background;
use crate::core::config::Config;
use crate::core::events::{Command, Event};
use crate::core::hooks::{self, Hooks};
use crate::core::instance::InstanceLock;
use crate::core::llm::client::{ClientConfig, LlmClient};
use crate::core::mcp::McpManager;
use crate::core::runtime::{Runtime, RuntimeParts};
use crate::core::store::{Chat, NewChat, RecoveryReport, Session, Store, WorkflowRun};
use crate::core::trust::ProjectTrust;
use crate::core::workflow::{
    self, RunDetails, RunOptions, RunOutcome, WorkerCommand, WorkflowEntry,
};
use crate::core::worktree;

/// Handle to the engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub rt: Arc<Runtime>,
    /// The project's MCP servers (their tools are in `rt.tools`).
    pub mcp: Arc<McpManager>,
}

/// How to start an engine.
pub struct EngineOptions {
    pub config: Config,
    pub project_root: PathBuf,
    pub interactive: bool,
}

impl Engine {
    /// Opens the store, repairs what a crash left behind, and starts the background workers.
    /// Must be called inside a tokio runtime.
    pub fn start(
        options: EngineOptions,
    ) -> Result<(Engine, mpsc::UnboundedReceiver<Event>, RecoveryReport)> {
        let instance = InstanceLock::acquire(&options.config.home)?;
        let store = Store::open(&options.config.database_path())?;
        let recovery = store.recover_after_crash(instance.alone)?;
        let config = options.config;
        let project_root = canonical_root(&options.project_root)?;
        let extra_roots = config
            .extra_roots
            .iter()
            .filter_map(|p| std::fs::canonicalize(project_root.join(p)).ok())
            .collect();
        let llm = LlmClient::new(ClientConfig {
            base_url: config.base_url.clone(),
            api_key: config.api_key.clone(),
            max_attempts: config.max_attempts,
            backoff_base: config.retry_backoff,
            idle_timeout: config.idle_timeout,
            request_deadline: config.request_timeout,
            max_stream_line_bytes: config.max_stream_line_bytes,
            ..ClientConfig::default()
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let project_id = store.ensure_project(&project_root.to_string_lossy())?.id;
        let skill_tool = SkillTool::new(project_root.clone(), config.user_home.clone());
        let (tx, rx) = mpsc::unbounded_channel();
        let mcp = Arc::new(McpManager::new(
            &config,
            &project_root,
            ProjectTrust::new(store.clone()),
            Some(tx.clone()),
        ));
        for message in mcp.problems.iter().cloned().chain(mcp.approval_notices()) {
            tracing::warn!("{message}");
            let _ = tx.send(Event::Notice { message });
        }
        let tools = ToolRegistry::new(
            builtin_tools()
                .into_iter()
                .chain([Arc::new(skill_tool) as Arc<dyn Tool>])
                .collect(),
        )
        .with_dynamic(mcp.clone());
        let hooks = Hooks::load(
            &project_root,
            config.user_home.as_deref(),
            config.user_config_dir.as_deref(),
        );
        let rt = Arc::new(Runtime::new(RuntimeParts {
            store,
            config,
            llm,
            project_root,
            extra_roots,
            tools,
            interactive: options.interactive,
            project_id,
            instance,
            events: tx,
            hooks,
        }));
        hooks::announce(&rt);
        tokio::spawn(background::run_workers(rt.clone()));
        let tidy = rt.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) =
                worktree::cleanup_orphans(&tidy.store, &tidy.project_id, worktree::ORPHAN_AGE)
            {
                tracing::warn!("cleaning up orphan worktrees failed: {e:#}");
            }
        });
        mcp.start_in_background();
        Ok((Engine { rt, mcp }, rx, recovery))
    }

    pub fn store(&self) -> &Store {
        &self.rt.store
    }

    /// Asks the person, on the decision line of chat `chat_id` (Ctrl-Y / Ctrl-N, never typed
    /// text), whether the project's MCP servers that wait for approval may run; the answer is
    /// remembered for this project and approved servers start at once.
    pub fn ask_mcp_approval(&self, chat_id: &str) {
        let waiting = self.mcp.waiting_for_approval();
        if waiting.is_empty() || !self.rt.interactive {
            return;
        }
        let (rt, mcp, chat_id) = (self.rt.clone(), self.mcp.clone(), chat_id.to_string());
        tokio::spawn(async move {
            let names = waiting.join(", ");
            let question = format!("the MCP servers {names} this project defines");
            let allow = rt.confirm_command(&chat_id, question).await;
            let message = match mcp.decide(None, allow) {
                Ok(_) if allow => {
                    mcp.start_in_background();
                    format!("MCP servers {names} approved for this project")
                }
                Ok(_) => format!(
                    "MCP servers {names} denied for this project (`boocode mcp approve NAME` to change that)"
                ),
                Err(e) => format!("recording the MCP approval failed: {e:#}"),
            };
            rt.emit(Event::Notice { message });
        });
    }

    /// The session a client works in: the given one, the latest of the project
    /// (`continue_latest`), or a new one.
    pub fn open_session(&self, session_id: Option<&str>, continue_latest: bool) -> Result<Session> {
        let project = self
            .rt
            .store
            .ensure_project(&self.rt.project_root.to_string_lossy())?;
        if let Some(id) = session_id {
            return self.rt.store.get_session(id);
        }
        if continue_latest {
            if let Some(s) = self.rt.store.latest_session(&project.id)? {
                return Ok(s);
            }
        }
        self.rt.store.create_session(&project.id, "")
    }

    /// The project's latest chat whose turn was interrupted.
    pub fn latest_interrupted_chat(&self) -> Result<Option<Chat>> {
        let project = self
            .rt
            .store
            .ensure_project(&self.rt.project_root.to_string_lossy())?;
        self.rt.store.latest_interrupted_chat(&project.id)
    }

    /// The chat a session opens on: its most recently active main chat that has messages,
    /// else its newest main chat; created when the session has none. (Chats of `/compare`
    /// and sub-agents have their own kinds and are never picked.)
    pub fn main_chat(&self, session: &Session) -> Result<Chat> {
        let mut best: Option<(bool, Chat)> = None;
        for chat in self.rt.store.list_chats(&session.id)? {
            if chat.kind != "main" {
                continue;
            }
            let used = self.rt.store.message_count(&chat.id)? > 0;
            let better = best.as_ref().is_none_or(|(best_used, b)| {
                (used, chat.updated_at.as_str()) >= (*best_used, b.updated_at.as_str())
            });
            if better {
                best = Some((used, chat));
            }
        }
        match best {
            Some((_, chat)) => Ok(chat),
            None => self.new_chat(session, "main", None),
        }
    }

    pub fn new_chat(&self, session: &Session, kind: &str, model: Option<&str>) -> Result<Chat> {
        self.new_titled_chat(session, kind, model, "")
    }

    /// A chat with a title of its own; an empty title is taken from the first message.
    pub fn new_titled_chat(
        &self,
        session: &Session,
        kind: &str,
        model: Option<&str>,
        title: &str,
    ) -> Result<Chat> {
        let model = model
            .map(|m| self.rt.config.resolve_model(m))
            .unwrap_or_else(|| self.rt.config.model.clone());
        self.rt.store.create_chat(&NewChat {
            session_id: &session.id,
            parent_chat_id: None,
            kind,
            title,
            model: &model,
            agent: agent::GENERAL_PURPOSE,
        })
    }

    /// Runs one turn to the end.
    pub async fn run_turn(&self, request: TurnRequest) -> TurnOutcome {
        agent::run_turn(&self.rt, request).await
    }

    /// Continues a chat from its snapshot (after a crash or kill).
    pub async fn resume_chat(&self, chat_id: &str, approval: Option<ApprovalMode>) -> TurnOutcome {
        agent::resume_chat(&self.rt, chat_id, approval).await
    }

    /// Handles a command from a client; long work runs on spawned tasks.
    pub fn submit(&self, command: Command) {
        let rt = self.rt.clone();
        match command {
            Command::SendMessage {
                chat_id,
                text,
                attachments,
            } => {
                let approval = rt.config.approval;
                if matches!(rt.store.chat_agent(&chat_id), Ok(Some(_))) {
                    let request = agents::ExternalTurnRequest {
                        chat_id,
                        text,
                        approval,
                        cwd: None,
                        options: Default::default(),
                    };
                    tokio::spawn(async move { agents::run_chat_turn(&rt, request).await });
                    return;
                }
                let mut request = TurnRequest::new(&chat_id, &text, approval);
                request.attachments = attachments;
                tokio::spawn(async move { agent::run_turn(&rt, request).await });
            }
            Command::ResumeChat { chat_id } => {
                tokio::spawn(async move { agent::resume_chat(&rt, &chat_id, None).await });
            }
            Command::CancelTurn { chat_id } => {
                rt.cancel_turn(&chat_id);
            }
            Command::EndChat { chat_id } => {
                tokio::spawn(async move { agents::end_chat(&rt, &chat_id).await });
            }
            Command::ConfirmCommand { request_id, allow } => {
                rt.answer_confirmation(&request_id, allow);
            }
            Command::ResolveChange { change_id, apply } => {
                if let Err(e) = rt.resolve_change(&change_id, apply) {
                    rt.emit(Event::Notice {
                        message: format!("{e:#}"),
                    });
                }
            }
            Command::CancelTask { task_id } => {
                if let Err(e) = background::cancel_task(&rt, &task_id) {
                    rt.emit(Event::Notice {
                        message: format!("{e:#}"),
                    });
                }
            }
            Command::RetryTask { task_id } => {
                if let Err(e) = background::retry_task(&rt, &task_id) {
                    rt.emit(Event::Notice {
                        message: format!("{e:#}"),
                    });
                }
            }
            Command::RunWorkflow {
                name,
                args,
                budget,
                concurrency,
                parent_chat_id,
            } => {
                let session_id = parent_chat_id
                    .as_deref()
                    .and_then(|c| rt.store.get_chat(c).ok())
                    .map(|c| c.session_id);
                let options = RunOptions {
                    args,
                    budget,
                    concurrency,
                    session_id,
                    parent_chat_id,
                    ..RunOptions::default()
                };
                if let Err(e) = workflow::runs::start(&rt, &name, options) {
                    rt.emit(Event::Notice {
                        message: format!("{e:#}"),
                    });
                }
            }
            Command::CancelWorkflow { run_id } => {
                if let Err(e) = workflow::runs::cancel(&rt, &run_id) {
                    rt.emit(Event::Notice {
                        message: format!("{e:#}"),
                    });
                }
            }
            Command::ResumeWorkflow { run_id } => {
                if let Err(e) = workflow::runs::resume_in_background(&rt, &run_id) {
                    rt.emit(Event::Notice {
                        message: format!("{e:#}"),
                    });
                }
            }
            Command::RetryWorkflowAgent { agent_id } => {
                if let Err(e) = workflow::runs::retry_agent(&rt, &agent_id) {
                    rt.emit(Event::Notice {
                        message: format!("{e:#}"),
                    });
                }
            }
            Command::AnswerPermission { request_id, answer } => {
                rt.agents.permissions.answer(&request_id, answer);
            }
            Command::CompactChat { chat_id, focus } => {
                tokio::spawn(async move {
                    if let Err(e) = agent::compact_chat(&rt, &chat_id, focus).await {
                        rt.emit(Event::Notice {
                            message: format!("/compact: {e:#}"),
                        });
                    }
                });
            }
            Command::ListModels { chat_id } => {
                tokio::spawn(async move {
                    let (models, error) = match rt.llm.list_models().await {
                        Ok(models) => (models.into_iter().map(|m| m.id).collect(), None),
                        Err(e) => (Vec::new(), Some(e.to_string())),
                    };
                    rt.emit(Event::ModelList {
                        chat_id,
                        models,
                        error,
                    });
                });
            }
        }
    }

    /// Waits until every background task started from `chat_id` (and their own) has ended.
    pub async fn wait_for_tasks_of(&self, chat_id: &str) -> Result<()> {
        background::wait_for_tasks_of(&self.rt, chat_id).await
    }

    /// Every workflow this project can run, and the invalid files with their errors.
    pub fn list_workflows(&self) -> Vec<WorkflowEntry> {
        workflow::runs::list(&self.rt)
    }

    /// Runs a workflow to the end (headless `workflow run`).
    pub async fn run_workflow(&self, name: &str, options: RunOptions) -> Result<RunOutcome> {
        workflow::runs::run(&self.rt, name, options).await
    }

    /// Starts a workflow run in the background; returns the run id.
    pub fn start_workflow(&self, name: &str, options: RunOptions) -> Result<String> {
        workflow::runs::start(&self.rt, name, options)
    }

    /// Cancels a run: kills its worker and aborts its agents (or, for a run of another
    /// process, marks it cancelled so that process stops it).
    pub fn cancel_workflow(&self, run_id: &str) -> Result<bool> {
        workflow::runs::cancel(&self.rt, run_id)
    }

    /// Resumes a run to its end: completed calls come from the store.
    pub async fn resume_workflow(&self, run_id: &str) -> Result<RunOutcome> {
        workflow::runs::resume(&self.rt, run_id).await
    }

    /// Resumes a run in the background; returns its id.
    pub fn resume_workflow_in_background(&self, run_id: &str) -> Result<String> {
        workflow::runs::resume_in_background(&self.rt, run_id)
    }

    /// Re-runs a failed agent call by resuming its run; returns the run id.
    pub fn retry_workflow_agent(&self, agent_id: &str) -> Result<String> {
        workflow::runs::retry_agent(&self.rt, agent_id)
    }

    /// This project's runs, newest first.
    pub fn list_workflow_runs(&self) -> Result<Vec<WorkflowRun>> {
        self.rt.store.list_workflow_runs(Some(&self.rt.project_id))
    }

    /// True when this process drives the run; a run driven by another process (a headless
    /// `workflow run`) sends this engine no events and is followed through the store.
    pub fn is_workflow_running_here(&self, run_id: &str) -> bool {
        workflow::runs::is_running_here(&self.rt, run_id)
    }

    /// A run with its agent calls and event log.
    pub fn workflow_run_details(&self, run_id: &str) -> Result<RunDetails> {
        workflow::runs::details(&self.rt, run_id)
    }

    /// Uses another worker program (tests run a fake worker).
    pub fn set_workflow_worker(&self, command: WorkerCommand) {
        workflow::runs::set_worker_command(&self.rt, command);
    }

    /// Other limits for the scripts' workers (tests use small ones).
    pub fn set_workflow_limits(&self, limits: workflow::protocol::WorkerLimits) {
        workflow::runs::set_worker_limits(&self.rt, limits);
    }

    /// The worker pid of a run going on in this process.
    pub fn workflow_worker_pid(&self, run_id: &str) -> Option<u32> {
        workflow::runs::worker_pid(&self.rt, run_id)
    }

    pub fn shutdown(&self) {
        self.rt.shutdown.cancel();
        // Each agent's thread holds the runtime: ending them lets it go.
        self.rt.agents.disconnect_all();
    }
}

fn canonical_root(root: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(root)
        .with_context(|| format!("project directory {} does not exist", root.display()))
}
