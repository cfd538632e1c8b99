//! The ACP backend: boocode as an Agent Client Protocol client (protocol v1, the
//! `agent-client-protocol` crate). The crate's futures are not `Send`, so each agent process
//! is driven by a thread of its own (a current-thread runtime and a `LocalSet`), like the Boa
//! workflow scripts; the engine talks to it over a channel.
//!
//! Per chat, one agent process and one ACP session live as long as the chat's connection:
//! `initialize` (fs read/write and terminals, served by [`client::AcpClient`]),
//! `session/load` of the session the chat had before a restart when the agent can, else
//! `session/new` in the working directory; then a `session/prompt` per turn,
//! `session/cancel` when the turn is cancelled (which also kills the commands its terminals
//! still run). The agent's terminals end with its process: nothing it started outlives it.

mod client;
mod terminals;
mod updates;
mod wire;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use agent_client_protocol::{self as acp, Agent as _};
use anyhow::{anyhow, bail, Context, Result};
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};
use tokio_util::sync::CancellationToken;

use crate::core::agent::tools::ApprovalMode;
use crate::core::agent::{TurnOutcome, TurnStatus};
use crate::core::events::Event;
use crate::core::llm::types::Usage;
use crate::core::process::{self, ProcessGroup};
use crate::core::runtime::Runtime;

use super::registry::AgentSpec;
use super::turn::ExternalTurn;
use client::AcpClient;
use updates::{SessionChange, UpdateFolder};
use wire::WireEvent;

/// How long a cancelled prompt may take to end before the agent is killed.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
/// Lines of the agent's stderr kept to explain why it ended.
const STDERR_TAIL: usize = 5;

/// What a chat asks of its agent beyond the prompt.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// `session/set_model` after the session opens, when the agent offers models.
    pub model: Option<String>,
    /// `session/set_mode` after the session opens, when the agent offers modes.
    pub mode: Option<String>,
    /// The agent's session of this chat from before, to `session/load`.
    pub resume_session: Option<String>,
}

struct PromptJob {
    turn: ExternalTurn,
    text: String,
    cancel: CancellationToken,
    done: oneshot::Sender<TurnOutcome>,
}

/// A running agent for one chat; dropping it ends the agent.
pub struct AcpConnection {
    jobs: mpsc::UnboundedSender<PromptJob>,
}

impl AcpConnection {
    /// Starts the connection's thread. The agent itself starts with the first prompt, so
    /// every failure to start is reported in that turn.
    pub fn start(
        rt: Arc<Runtime>,
        spec: AgentSpec,
        chat_id: String,
        cwd: PathBuf,
        approval: ApprovalMode,
        options: SessionOptions,
    ) -> Result<AcpConnection> {
        let (jobs, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name(format!("acp-{}", spec.name))
            .spawn(move || {
                // The client is not `Send`: it is made on the thread that uses it.
                let context = AgentContext {
                    client: Rc::new(AcpClient::new(rt.clone(), chat_id, cwd, approval)),
                    rt,
                    spec,
                    options,
                };
                serve_on_this_thread(context, rx)
            })
            .context("starting the agent's thread")?;
        Ok(AcpConnection { jobs })
    }

    /// Runs one turn (already begun: its user message is stored) on the agent.
    pub async fn prompt(
        &self,
        turn: ExternalTurn,
        text: &str,
        cancel: CancellationToken,
    ) -> Result<TurnOutcome> {
        let (done, outcome) = oneshot::channel();
        self.jobs
            .send(PromptJob {
                turn,
                text: text.to_string(),
                cancel,
                done,
            })
            .map_err(|_| anyhow!("the agent's thread has ended"))?;
        outcome
            .await
            .map_err(|_| anyhow!("the agent's thread ended during the turn"))
    }
}

/// What the connection's thread holds (its own copies: nothing here is shared with the
/// caller once started).
struct AgentContext {
    rt: Arc<Runtime>,
    spec: AgentSpec,
    options: SessionOptions,
    client: Rc<AcpClient>,
}

fn serve_on_this_thread(context: AgentContext, jobs: mpsc::UnboundedReceiver<PromptJob>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(
                "agent {}: no runtime for its thread: {e}",
                context.spec.name
            );
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(context, jobs));
}

async fn serve(context: AgentContext, mut jobs: mpsc::UnboundedReceiver<PromptJob>) {
    let mut live: Option<LiveAgent> = None;
    while let Some(job) = jobs.recv().await {
        if live.is_none() {
            match LiveAgent::connect(&context, &job.cancel).await {
                Ok(agent) => live = Some(agent),
                Err(_) if job.cancel.is_cancelled() => {
                    let _ = job.done.send(job.turn.finish(TurnStatus::Cancelled, None));
                    continue;
                }
                Err(e) => {
                    let outcome = job.turn.finish(TurnStatus::Failed, Some(format!("{e:#}")));
                    let _ = job.done.send(outcome);
                    continue;
                }
            }
        }
        let Some(agent) = live.as_mut() else {
            continue;
        };
        let (outcome, healthy) = agent
            .run_prompt(&context, job.turn, &job.text, &job.cancel)
            .await;
        if !healthy {
            // The next turn starts a new process (and loads the session when it can).
            live = None;
            context.client.terminals.release_all();
        }
        let _ = job.done.send(outcome);
    }
    context.client.terminals.release_all();
}

/// An agent process with an open session.
struct LiveAgent {
    conn: Rc<acp::ClientSideConnection>,
    session_id: acp::SessionId,
    wire: mpsc::UnboundedReceiver<WireEvent>,
    exited: Rc<RefCell<Option<String>>>,
    stderr_tail: Rc<RefCell<VecDeque<String>>>,
    group: ProcessGroup,
}

/// How waiting on the agent ended badly.
enum Interrupted {
    Cancelled,
    Failed(anyhow::Error),
}

impl LiveAgent {
    async fn connect(context: &AgentContext, cancel: &CancellationToken) -> Result<LiveAgent> {
        let spec = &context.spec;
        let cwd = &context.client.cwd;
        let mut command = tokio::process::Command::new(&spec.command);
        command
            .args(&spec.args)
            .envs(&spec.env)
            .current_dir(cwd)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let (mut child, group) = process::spawn(&mut command).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!(
                    "agent '{}': {} not found (install it, or set command in [agents.{}])",
                    spec.name,
                    spec.command,
                    spec.name
                )
            } else {
                anyhow!(
                    "agent '{}': starting {} failed: {e}",
                    spec.name,
                    spec.command
                )
            }
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            bail!(
                "agent '{}': its standard streams were not opened",
                spec.name
            );
        };

        let stderr_tail = Rc::new(RefCell::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        let name = spec.name.clone();
        tokio::task::spawn_local(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::info!(agent = %name, "stderr: {line}");
                let mut tail = tail.borrow_mut();
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let exited = Rc::new(RefCell::new(None));
        let exit_note = exited.clone();
        tokio::task::spawn_local(async move {
            let status = child.wait().await;
            *exit_note.borrow_mut() = Some(match status {
                Ok(s) => s.to_string(),
                Err(e) => e.to_string(),
            });
        });

        let (to_connection, from_wire) = tokio::io::duplex(64 * 1024);
        let (wire_tx, wire) = mpsc::unbounded_channel();
        tokio::task::spawn_local(wire::pump(stdout, to_connection, wire_tx));
        let (conn, io) = acp::ClientSideConnection::new(
            context.client.clone(),
            stdin.compat_write(),
            from_wire.compat(),
            |fut| {
                tokio::task::spawn_local(fut);
            },
        );
        let io_name = spec.name.clone();
        tokio::task::spawn_local(async move {
            if let Err(e) = io.await {
                tracing::warn!(agent = %io_name, "ACP connection ended: {e}");
            }
        });

        let mut agent = LiveAgent {
            conn: Rc::new(conn),
            session_id: acp::SessionId::new(""),
            wire,
            exited,
            stderr_tail,
            group,
        };
        agent.open_session(context, cancel).await?;
        Ok(agent)
    }

    async fn open_session(
        &mut self,
        context: &AgentContext,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let spec = &context.spec;
        let rt = &context.rt;
        let chat_id = &context.client.chat_id;
        let conn = self.conn.clone();
        let init = acp::InitializeRequest::new(acp::ProtocolVersion::V1)
            .client_capabilities(
                acp::ClientCapabilities::new()
                    .fs(acp::FileSystemCapabilities::new()
                        .read_text_file(true)
                        .write_text_file(true))
                    .terminal(true),
            )
            .client_info(acp::Implementation::new(
                "boocode",
                env!("CARGO_PKG_VERSION"),
            ));
        let initialized = self
            .wait(
                conn.initialize(init),
                None,
                Some(cancel),
                Some(spec.startup_timeout),
                "initialize",
            )
            .await
            .map_err(|e| self.explain(e, "initialize"))?;
        let cwd = context.client.cwd.clone();
        let mut modes = None;
        let mut models = None;
        // The session to continue: the one asked for, else the one this chat last had (a
        // process that crashed or a workspace that restarted).
        let resumable = context
            .options
            .resume_session
            .clone()
            .or_else(|| {
                rt.store
                    .chat_agent(chat_id)
                    .ok()
                    .flatten()
                    .and_then(|b| b.agent_session_id)
            })
            .filter(|_| initialized.agent_capabilities.load_session);
        let loaded = match resumable {
            Some(id) => {
                let request = acp::LoadSessionRequest::new(id.clone(), cwd.clone());
                match self
                    .wait(
                        conn.load_session(request),
                        None,
                        Some(cancel),
                        None,
                        "session/load",
                    )
                    .await
                {
                    Ok(response) => {
                        self.session_id = acp::SessionId::new(id);
                        modes = response.modes;
                        models = response.models;
                        true
                    }
                    Err(Interrupted::Cancelled) => bail!("cancelled"),
                    Err(Interrupted::Failed(e)) => {
                        tracing::warn!(agent = %spec.name, "session/load failed, starting a new session: {e:#}");
                        false
                    }
                }
            }
            None => false,
        };
        if !loaded {
            let response = self
                .wait(
                    conn.new_session(acp::NewSessionRequest::new(cwd)),
                    None,
                    Some(cancel),
                    None,
                    "session/new",
                )
                .await
                .map_err(|e| self.explain(e, "session/new"))?;
            self.session_id = response.session_id;
            modes = response.modes;
            models = response.models;
        }
        let mut mode = modes.as_ref().map(|m| m.current_mode_id.to_string());
        let mut model = models.as_ref().map(|m| m.current_model_id.to_string());
        if let Some(wanted) = &context.options.mode {
            let offered = modes.as_ref().is_some_and(|m| {
                m.available_modes
                    .iter()
                    .any(|x| x.id.to_string() == *wanted)
            });
            if !offered {
                bail!(
                    "agent '{}' offers no mode '{wanted}'{}",
                    spec.name,
                    offered_list(
                        modes.as_ref().map(|m| m
                            .available_modes
                            .iter()
                            .map(|x| x.id.to_string())
                            .collect())
                    )
                );
            }
            let request = acp::SetSessionModeRequest::new(self.session_id.clone(), wanted.clone());
            self.wait(
                conn.set_session_mode(request),
                None,
                Some(cancel),
                None,
                "session/set_mode",
            )
            .await
            .map_err(|e| self.explain(e, "session/set_mode"))?;
            mode = Some(wanted.clone());
        }
        if let Some(wanted) = &context.options.model {
            let offered = models.as_ref().is_some_and(|m| {
                m.available_models
                    .iter()
                    .any(|x| x.model_id.to_string() == *wanted)
            });
            if !offered {
                bail!(
                    "agent '{}' offers no model '{wanted}'{}",
                    spec.name,
                    offered_list(models.as_ref().map(|m| {
                        m.available_models
                            .iter()
                            .map(|x| x.model_id.to_string())
                            .collect()
                    }))
                );
            }
            let request = acp::SetSessionModelRequest::new(self.session_id.clone(), wanted.clone());
            self.wait(
                conn.set_session_model(request),
                None,
                Some(cancel),
                None,
                "session/set_model",
            )
            .await
            .map_err(|e| self.explain(e, "session/set_model"))?;
            model = Some(wanted.clone());
        }
        rt.store.update_chat_agent(
            chat_id,
            Some(&self.session_id.to_string()),
            mode.as_deref(),
            model.as_deref(),
        )?;
        rt.emit(Event::AgentSession {
            chat_id: chat_id.clone(),
            agent: spec.name.clone(),
            model,
            mode,
        });
        Ok(())
    }

    /// Runs one prompt; returns the outcome and whether the agent is still usable.
    async fn run_prompt(
        &mut self,
        context: &AgentContext,
        mut turn: ExternalTurn,
        text: &str,
        cancel: &CancellationToken,
    ) -> (TurnOutcome, bool) {
        context.client.set_turn(Some(cancel.clone()));
        let request = acp::PromptRequest::new(
            self.session_id.clone(),
            vec![acp::ContentBlock::Text(acp::TextContent::new(text))],
        );
        let conn = self.conn.clone();
        let prompt = conn.prompt(request);
        let result = self
            .wait(
                prompt,
                Some((&mut turn, context)),
                Some(cancel),
                None,
                "session/prompt",
            )
            .await;
        context.client.set_turn(None);
        match result {
            Ok(response) => {
                if let Some(usage) = &response.usage {
                    turn.add_usage(&Usage {
                        prompt_tokens: usage.input_tokens,
                        completion_tokens: usage.output_tokens,
                        reasoning_tokens: usage.thought_tokens.unwrap_or(0),
                        cache_hit_tokens: usage.cached_read_tokens.unwrap_or(0),
                        cache_miss_tokens: usage
                            .input_tokens
                            .saturating_sub(usage.cached_read_tokens.unwrap_or(0)),
                    });
                }
                let (status, error) = match response.stop_reason {
                    acp::StopReason::EndTurn => (TurnStatus::Completed, None),
                    acp::StopReason::Cancelled => (TurnStatus::Cancelled, None),
                    acp::StopReason::MaxTokens | acp::StopReason::MaxTurnRequests => (
                        TurnStatus::StepLimit,
                        Some("the agent stopped at its own limit".to_string()),
                    ),
                    acp::StopReason::Refusal => (
                        TurnStatus::Failed,
                        Some("the agent refused to continue".to_string()),
                    ),
                    other => (
                        TurnStatus::Failed,
                        Some(format!("the agent stopped: {other:?}")),
                    ),
                };
                (turn.finish(status, error), true)
            }
            Err(Interrupted::Cancelled) => (turn.finish(TurnStatus::Cancelled, None), false),
            Err(e) => {
                let error = self.explain(e, "the turn");
                (
                    turn.finish(TurnStatus::Failed, Some(format!("{error:#}"))),
                    false,
                )
            }
        }
    }

    /// Waits for `request` while reading the agent's updates into `turn` (when there is one),
    /// watching for garbage, the agent's exit, cancellation and the deadline.
    async fn wait<T>(
        &mut self,
        request: impl std::future::Future<Output = acp::Result<T>>,
        mut turn: Option<(&mut ExternalTurn, &AgentContext)>,
        cancel: Option<&CancellationToken>,
        deadline: Option<Duration>,
        what: &str,
    ) -> std::result::Result<T, Interrupted> {
        let no_cancel = CancellationToken::new();
        let cancel = cancel.unwrap_or(&no_cancel);
        let mut request = std::pin::pin!(request);
        let mut folder = turn
            .as_ref()
            .map(|(_, context)| UpdateFolder::new(&context.client.cwd, &context.client.terminals));
        let deadline_secs = deadline.map_or(0, |d| d.as_secs());
        let deadline = deadline.map(|d| tokio::time::Instant::now() + d);
        let mut cancel_sent: Option<tokio::time::Instant> = None;
        loop {
            let limit = cancel_sent.map(|at| at + CANCEL_GRACE).or(deadline);
            tokio::select! {
                biased;
                event = self.wire.recv() => match event {
                    Some(WireEvent::Update(n)) => {
                        if let (Some((turn, context)), Some(folder)) = (turn.as_mut(), folder.as_mut()) {
                            if let Some(SessionChange::Mode(mode)) = folder.apply(&context.rt, turn, n.update) {
                                mode_changed(context, &mode);
                            }
                        }
                    }
                    Some(WireEvent::Malformed(line)) => {
                        return Err(Interrupted::Failed(anyhow!(
                            "the agent wrote something that is not JSON-RPC on stdout: {line}"
                        )));
                    }
                    Some(WireEvent::Closed) | None => {
                        // Give the exit status a moment to arrive, to say how it ended.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let how = self.exited.borrow().clone().unwrap_or_else(|| "closed its output".into());
                        return Err(Interrupted::Failed(anyhow!("the agent exited during {what} ({how})")));
                    }
                },
                result = &mut request => {
                    // Updates sent before the answer are already on the channel.
                    while let Ok(WireEvent::Update(n)) = self.wire.try_recv() {
                        if let (Some((turn, context)), Some(folder)) = (turn.as_mut(), folder.as_mut()) {
                            if let Some(SessionChange::Mode(mode)) = folder.apply(&context.rt, turn, n.update) {
                                mode_changed(context, &mode);
                            }
                        }
                    }
                    return result.map_err(|e| Interrupted::Failed(anyhow!("{what}: {}", rpc_error(&e))));
                }
                _ = cancel.cancelled(), if cancel_sent.is_none() => {
                    if what != "session/prompt" {
                        return Err(Interrupted::Cancelled);
                    }
                    let _ = self.conn.cancel(acp::CancelNotification::new(self.session_id.clone())).await;
                    // A command waited on would hold the agent past the grace: it ends now.
                    if let Some((_, context)) = &turn {
                        context.client.terminals.kill_all();
                    }
                    cancel_sent = Some(tokio::time::Instant::now());
                }
                _ = sleep_until(limit) => {
                    return Err(match cancel_sent {
                        Some(_) => {
                            self.group.kill();
                            Interrupted::Cancelled
                        }
                        None => Interrupted::Failed(anyhow!(
                            "the agent did not answer {what} within {deadline_secs} s"
                        )),
                    });
                }
            }
        }
    }

    /// The error of a failed wait, with the end of the agent's stderr when it said something.
    fn explain(&self, e: Interrupted, what: &str) -> anyhow::Error {
        match e {
            Interrupted::Cancelled => anyhow!("{what}: cancelled"),
            Interrupted::Failed(e) => {
                let tail: Vec<String> = self.stderr_tail.borrow().iter().cloned().collect();
                if tail.is_empty() {
                    e
                } else {
                    anyhow!("{e:#}; its stderr ended with: {}", tail.join(" | "))
                }
            }
        }
    }
}

fn offered_list(ids: Option<Vec<String>>) -> String {
    match ids {
        Some(ids) if !ids.is_empty() => format!(" (it offers {})", ids.join(", ")),
        _ => " (it offers none)".into(),
    }
}

async fn sleep_until(limit: Option<tokio::time::Instant>) {
    match limit {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn rpc_error(e: &acp::Error) -> String {
    match &e.data {
        Some(data) => format!("{} ({data})", e.message),
        None => e.message.clone(),
    }
}

/// The agent switched modes: the store and the pane title follow.
fn mode_changed(context: &AgentContext, mode: &str) {
    let chat_id = &context.client.chat_id;
    if let Err(e) = context
        .rt
        .store
        .update_chat_agent(chat_id, None, Some(mode), None)
    {
        tracing::warn!("recording the agent's mode failed: {e:#}");
    }
    let model = context
        .rt
        .store
        .chat_agent(chat_id)
        .ok()
        .flatten()
        .and_then(|b| b.model);
    context.rt.emit(Event::AgentSession {
        chat_id: chat_id.clone(),
        agent: context.spec.name.clone(),
        model,
        mode: Some(mode.to_string()),
    });
}
