//! The agent loop: a turn streams the model's reply, runs the tool calls it makes, feeds the
//! results back, and repeats until the model stops, the step cap is hit, or the user cancels.
//!
//! Everything is persisted as it happens: the user message before the first request, deltas
//! while streaming (throttled) and at the end of every message, a trace row when a tool call
//! starts and when it ends, and an agent snapshot at every boundary so a killed process can
//! resume the chat exactly.

mod compact;
mod host;
pub mod profiles;
mod resume;
pub mod tools;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use compact::{compact_chat, compaction_notice};
pub use host::elapsed_seconds;
pub use profiles::{EXPLORE, GENERAL_PURPOSE};
pub use resume::{resume_chat, INTERRUPTED_CALL_RESULT};

use crate::core::context::window::{estimate_prompt_tokens, ContextUse};
use crate::core::context::ChatContext;
use crate::core::events::Event;
use crate::core::hooks::points::{self, StopReason};
use crate::core::hooks::HookScope;
use crate::core::llm::error::LlmErrorKind;
use crate::core::llm::images;
use crate::core::llm::stream::{AssembledResponse, LlmEvent};
use crate::core::llm::types::{
    ChatMessage, ChatRequest, ContentPart, ImageUrl, StreamOptions, Thinking, ToolCall, ToolSpec,
    Usage, UserContent,
};
use crate::core::runtime::Runtime;
use crate::core::store::{
    AgentSnapshot, Chat, MessagePart, NewAttachment, PartKind, ReplyEnd, ToolResult,
    TraceCompletion, TraceRow,
};
use crate::core::workflow::report;
use compact::Trigger;
use tools::structured_output::{self, StructuredOutput, StructuredState};
use tools::{ApprovalMode, Tool, ToolContext, ToolError, ToolKind, ToolOutput};

/// History URLs of attached images point at the file; the bytes are read when a request is
/// built, so snapshots stay small.
const ATTACHMENT_SCHEME: &str = "attachment://";
/// How often streamed text is written to the store while a message is still streaming.
const PROGRESS_SAVE_INTERVAL: Duration = Duration::from_millis(500);

/// A user message to run as a turn.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub chat_id: String,
    pub text: String,
    pub attachments: Vec<PathBuf>,
    pub approval: ApprovalMode,
    parent_cancel: Option<CancellationToken>,
    /// `reasoning_effort` for this turn's requests instead of the configured one.
    pub reasoning_effort: Option<String>,
    /// Root the tools work in instead of the project root (an isolated worktree).
    pub root: Option<PathBuf>,
    /// Offers `structured_output` with this schema; the turn ends when it succeeds.
    pub structured: Option<Arc<StructuredOutput>>,
}

impl TurnRequest {
    pub fn new(chat_id: &str, text: &str, approval: ApprovalMode) -> Self {
        TurnRequest {
            chat_id: chat_id.to_string(),
            text: text.to_string(),
            attachments: Vec::new(),
            approval,
            parent_cancel: None,
            reasoning_effort: None,
            root: None,
            structured: None,
        }
    }

    /// Uses this reasoning effort for the turn's requests.
    pub fn with_effort(mut self, effort: Option<String>) -> Self {
        self.reasoning_effort = effort;
        self
    }

    /// Runs the tools in `root` (a worktree) instead of the project root.
    pub fn with_root(mut self, root: PathBuf) -> Self {
        self.root = Some(root);
        self
    }

    /// Offers the `structured_output` tool; the turn ends once it accepts an answer.
    pub fn with_structured_output(mut self, tool: Arc<StructuredOutput>) -> Self {
        self.structured = Some(tool);
        self
    }

    /// Cancelling `token` cancels the turn too (background tasks).
    pub fn with_parent_cancel(mut self, token: CancellationToken) -> Self {
        self.parent_cancel = Some(token);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnStatus {
    Completed,
    Cancelled,
    Failed,
    StepLimit,
}

impl TurnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TurnStatus::Completed => "completed",
            TurnStatus::Cancelled => "cancelled",
            TurnStatus::Failed => "failed",
            TurnStatus::StepLimit => "step_limit",
        }
    }
}

#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub chat_id: String,
    pub turn: i64,
    pub status: TurnStatus,
    /// The last assistant text of the turn.
    pub final_text: Option<String>,
    pub error: Option<String>,
    pub usage: Usage,
    /// The last request's prompt against the model's window; none before any model call.
    pub context: Option<ContextUse>,
}

/// Runs a new turn: persists the user message, then loops model ↔ tools.
pub async fn run_turn(rt: &Arc<Runtime>, request: TurnRequest) -> TurnOutcome {
    let chat_id = request.chat_id.clone();
    let token = match rt.begin_turn(&chat_id, request.parent_cancel.as_ref()) {
        Ok(t) => t,
        Err(e) => return failed_before_start(rt, &chat_id, 0, e),
    };
    let outcome = match start_turn(rt, &request, &token).await {
        Ok((chat, turn, history)) => {
            let state = LoopState {
                chat,
                turn,
                step: 0,
                history,
                pending: Vec::new(),
                approval: request.approval,
                reasoning_effort: request.reasoning_effort.clone(),
                root: request.root.clone(),
                structured: request.structured.clone(),
            };
            drive(rt, state, &token).await
        }
        Err(e) => failed_before_start(rt, &chat_id, 0, e),
    };
    rt.end_turn(&chat_id);
    outcome
}

pub(crate) fn failed_before_start(
    rt: &Runtime,
    chat_id: &str,
    turn: i64,
    e: anyhow::Error,
) -> TurnOutcome {
    let message = format!("{e:#}");
    rt.emit(Event::TurnFinished {
        chat_id: chat_id.to_string(),
        turn,
        status: TurnStatus::Failed.as_str().into(),
        usage: Usage::default(),
        error: Some(message.clone()),
    });
    TurnOutcome {
        chat_id: chat_id.to_string(),
        turn,
        status: TurnStatus::Failed,
        final_text: None,
        error: Some(message),
        usage: Usage::default(),
        context: None,
    }
}

/// Validates attachments, stores the user message and builds the history to send.
async fn start_turn(
    rt: &Arc<Runtime>,
    request: &TurnRequest,
    token: &CancellationToken,
) -> Result<(Chat, i64, Vec<ChatMessage>)> {
    let chat = rt.store.get_chat(&request.chat_id)?;
    // Attachments are checked before anything is stored or sent.
    let mut attachments = Vec::new();
    for path in &request.attachments {
        let full = rt.project_root.join(path);
        let full = std::fs::canonicalize(&full)
            .with_context(|| format!("attachment {} not found", path.display()))?;
        images::image_part(&full, rt.config.max_image_bytes).map_err(|e| anyhow!(e))?;
        let info = images::image_info(&full).map_err(|e| anyhow!(e))?;
        attachments.push(NewAttachment {
            file_name: full
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: full.to_string_lossy().into_owned(),
            mime: info.mime.to_string(),
            bytes: info.bytes,
            width: u32::try_from(info.width).ok(),
            height: u32::try_from(info.height).ok(),
        });
    }

    let mut history = match rt.store.load_snapshot(&chat.id)? {
        Some(snapshot) => {
            let mut history = snapshot.history;
            // Calls a previous turn never answered would make the request invalid.
            for call in snapshot.pending_tool_calls {
                history.push(ChatMessage::tool_result(
                    call.id,
                    "not run: the turn ended before this call ran",
                ));
            }
            history
        }
        None => {
            let mut prompt = system_prompt(rt, request.approval);
            let profile = chat_profile(rt, &chat);
            if let Some(extra) = profile.prompt.as_deref().filter(|p| !p.trim().is_empty()) {
                prompt.push_str("\n\n");
                prompt.push_str(extra.trim());
                prompt.push('\n');
            }
            if let Some(root) = &request.root {
                prompt.push_str(&format!(
                    "\n\nYou work in an isolated git worktree of the project at {}; every path you use is relative to it. Your changes there are collected for review when you finish.\n",
                    root.display()
                ));
            }
            let skill_tool = (rt.tools.get(tools::skill::NAME).is_some()
                && profile.allows(is_subagent_chat(&chat), tools::skill::NAME))
            .then_some(tools::skill::NAME);
            let context = ChatContext::load(&rt.config, &rt.project_root, skill_tool);
            if !context.prompt.is_empty() {
                prompt.push_str("\n\n");
                prompt.push_str(&context.prompt);
            }
            if !context.is_empty() {
                rt.emit(Event::ContextLoaded {
                    chat_id: chat.id.clone(),
                    instructions: context.instructions,
                    skills: context.skills,
                });
            }
            vec![ChatMessage::system(prompt)]
        }
    };
    // Workflow reports that arrived since the last user message reach the model in front of
    // this one (one user message, not several in a row: some providers refuse that).
    let reports: Vec<String> = rt
        .store
        .unread_workflow_reports(&chat.id)?
        .iter()
        .map(|(heading, body)| report::model_text(heading, body))
        .collect();
    let turn = rt.store.last_turn(&chat.id)? + 1;
    let cwd = request.root.as_ref().unwrap_or(&rt.project_root);
    let hook_context = points::prompt_submitted(
        rt,
        &HookScope::of_turn(&chat, turn, cwd, request.approval, token),
        &request.text,
    )
    .await
    .map_err(|reason| anyhow!("a UserPromptSubmit hook blocked the prompt: {reason}"))?;
    rt.store
        .insert_user_message(&chat.id, turn, &request.text, &attachments)?;
    rt.emit(Event::UserMessage {
        chat_id: chat.id.clone(),
        turn,
        text: request.text.clone(),
        attachments: attachments.iter().map(|a| a.file_name.clone()).collect(),
    });
    rt.store
        .touch_chat_and_session(&chat.id, &title_of(&request.text))?;
    rt.store.set_chat_status(&chat.id, "running")?;
    let text = reports
        .into_iter()
        .chain(std::iter::once(request.text.clone()))
        .chain(hook_context)
        .collect::<Vec<_>>()
        .join("\n\n");
    history.push(if attachments.is_empty() {
        ChatMessage::user(text)
    } else {
        let mut parts = vec![ContentPart::Text { text }];
        parts.extend(attachments.iter().map(|a| ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: format!("{ATTACHMENT_SCHEME}{}", a.path),
            },
        }));
        ChatMessage::User {
            content: UserContent::Parts(parts),
        }
    });
    rt.emit(Event::TurnStarted {
        chat_id: chat.id.clone(),
        turn,
    });
    Ok((chat, turn, history))
}

/// A short title from the first line of a text (60 characters at most).
pub(crate) fn title_of(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let mut title: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        title.push('…');
    }
    title
}

fn system_prompt(rt: &Runtime, approval: ApprovalMode) -> String {
    include_str!("../../../assets/system_prompt.md")
        .replace("{project_root}", &rt.project_root.to_string_lossy())
        .replace("{date}", &chrono::Utc::now().format("%Y-%m-%d").to_string())
        .replace("{os}", std::env::consts::OS)
        .replace("{approval}", approval.as_str())
}

/// Where a turn stands between steps.
struct LoopState {
    chat: Chat,
    turn: i64,
    step: u32,
    history: Vec<ChatMessage>,
    /// Tool calls made but not answered yet.
    pending: Vec<ToolCall>,
    approval: ApprovalMode,
    reasoning_effort: Option<String>,
    root: Option<PathBuf>,
    structured: Option<Arc<StructuredOutput>>,
}

impl LoopState {
    /// The tool called `name`: a registered one, or this turn's `structured_output`.
    fn tool(&self, rt: &Runtime, name: &str) -> Option<Arc<dyn Tool>> {
        if name == structured_output::NAME {
            return self.structured.clone().map(|s| s as Arc<dyn Tool>);
        }
        rt.tools.get(name)
    }
}

impl LoopState {
    /// The state a stored snapshot describes, for a turn picked up outside `run_turn`
    /// (resuming it, compacting an idle chat).
    fn from_snapshot(chat: Chat, snapshot: AgentSnapshot, approval: ApprovalMode) -> Self {
        LoopState {
            chat,
            turn: snapshot.turn_number,
            step: snapshot.step,
            history: snapshot.history,
            pending: snapshot.pending_tool_calls,
            approval,
            reasoning_effort: None,
            root: None,
            structured: None,
        }
    }

    /// The snapshot once some of a step's calls are answered.
    fn snapshot_between_calls(&self) -> AgentSnapshot {
        self.snapshot(if self.pending.is_empty() {
            "awaiting_model"
        } else {
            "running_tools"
        })
    }

    fn snapshot(&self, state: &str) -> AgentSnapshot {
        AgentSnapshot {
            chat_id: self.chat.id.clone(),
            model: self.chat.model.clone(),
            agent: self.chat.agent.clone(),
            mode: self.approval.as_str().into(),
            state: state.into(),
            turn_number: self.turn,
            step: self.step,
            history: self.history.clone(),
            pending_tool_calls: self.pending.clone(),
        }
    }
}

/// Runs the loop and closes the turn whatever happens.
async fn drive(rt: &Arc<Runtime>, mut state: LoopState, token: &CancellationToken) -> TurnOutcome {
    let mut usage = Usage::default();
    let mut final_text = None;
    let mut context = None;
    let result = steps(
        rt,
        &mut state,
        token,
        &mut usage,
        &mut final_text,
        &mut context,
    )
    .await;
    let (status, error) = match result {
        Ok(status) => (status, None),
        Err(e) => (TurnStatus::Failed, Some(format!("{e:#}"))),
    };
    let error = error.or_else(|| {
        (status == TurnStatus::StepLimit).then(|| {
            format!(
                "stopped after {} model steps (the step cap); send another message to continue",
                rt.config.max_steps
            )
        })
    });
    if let Some(reason) = unhooked_ending(&state, status) {
        let cwd = state
            .root
            .clone()
            .unwrap_or_else(|| rt.project_root.clone());
        let scope = HookScope::of_turn(&state.chat, state.turn, &cwd, state.approval, token);
        let last_message = error.as_deref().or(final_text.as_deref()).unwrap_or("");
        points::turn_ended(rt, &scope, &state.chat, last_message, reason).await;
    }
    if let Err(e) = rt.store.save_snapshot(&state.snapshot("idle")) {
        tracing::error!("saving the final snapshot failed: {e:#}");
    }
    if let Err(e) = rt.store.set_chat_status(&state.chat.id, "idle") {
        tracing::error!("updating chat status failed: {e:#}");
    }
    rt.emit(Event::TurnFinished {
        chat_id: state.chat.id.clone(),
        turn: state.turn,
        status: status.as_str().into(),
        usage: usage.clone(),
        error: error.clone(),
    });
    TurnOutcome {
        chat_id: state.chat.id.clone(),
        turn: state.turn,
        status,
        final_text,
        error,
        usage,
        context,
    }
}

async fn steps(
    rt: &Arc<Runtime>,
    state: &mut LoopState,
    token: &CancellationToken,
    usage: &mut Usage,
    final_text: &mut Option<String>,
    context: &mut Option<ContextUse>,
) -> Result<TurnStatus> {
    // MCP servers still starting: their tools belong in this turn's first request.
    rt.tools.ready().await;
    let specs = tool_specs(rt, &state.chat, state.structured.as_deref());
    let ctx = ToolContext {
        project_root: state
            .root
            .clone()
            .unwrap_or_else(|| rt.project_root.clone()),
        extra_roots: rt.extra_roots.clone(),
        approval: state.approval,
        cancel: token.clone(),
        host: Arc::new(host::ChatHost {
            rt: rt.clone(),
            chat: state.chat.clone(),
        }),
    };
    // A request the provider found too long is sent again once, after compacting.
    let mut overflow_retried = false;
    // How often Stop hooks sent the agent back to work in this turn.
    let mut stop_continuations = 0;
    loop {
        // Only a resumed turn starts with calls pending.
        if !state.pending.is_empty() {
            resume::answer_calls_that_had_started(rt, state)?;
        }
        if !state.pending.is_empty() {
            let calls = state.pending.clone();
            if run_tool_calls(rt, state, &ctx, None, &calls, &Usage::default(), token).await? {
                return Ok(TurnStatus::Cancelled);
            }
            if let Some(status) = structured_end(state)? {
                return Ok(status);
            }
        }
        if token.is_cancelled() {
            return Ok(TurnStatus::Cancelled);
        }
        if state.step >= rt.config.max_steps {
            return Ok(TurnStatus::StepLimit);
        }
        rt.store.save_snapshot(&state.snapshot("awaiting_model"))?;
        if let Some(done) = compact::compact(rt, state, &specs, token, Trigger::Auto).await? {
            usage.add(&done.usage);
        }
        if token.is_cancelled() {
            return Ok(TurnStatus::Cancelled);
        }
        let reply = match model_step(rt, state, &specs, token).await? {
            StepResult::Reply(reply) => reply,
            StepResult::Cancelled => return Ok(TurnStatus::Cancelled),
            StepResult::Overflow(message) if !overflow_retried => {
                overflow_retried = true;
                match compact::compact(rt, state, &specs, token, Trigger::Overflow).await? {
                    Some(done) => usage.add(&done.usage),
                    None if token.is_cancelled() => return Ok(TurnStatus::Cancelled),
                    None => bail!("{message}; there was nothing left to compact"),
                }
                continue;
            }
            StepResult::Overflow(message) => bail!(
                "{message}; it still did not fit after compacting the context: start a new chat, \
                 or set the model's real window in [models.NAME] context_window"
            ),
            StepResult::Failed(message) => return Err(anyhow!(message)),
        };
        overflow_retried = false;
        state.step += 1;
        usage.add(&reply.usage);
        *context = Some(reply.context);
        if !reply.response.content.is_empty() {
            *final_text = Some(reply.response.content.clone());
        }
        let calls = reply.response.tool_calls.clone();
        state.history.push(reply.response.to_assistant_message());
        if calls.is_empty() {
            let last_message = &reply.response.content;
            if stop_hooks_continue(rt, state, &ctx, last_message, &mut stop_continuations).await {
                continue;
            }
            return Ok(TurnStatus::Completed);
        }
        state.pending = calls.clone();
        rt.store.save_snapshot(&state.snapshot("running_tools"))?;
        if run_tool_calls(
            rt,
            state,
            &ctx,
            Some(&reply.message_id),
            &calls,
            &reply.usage,
            token,
        )
        .await?
        {
            return Ok(TurnStatus::Cancelled);
        }
        if let Some(status) = structured_end(state)? {
            return Ok(status);
        }
    }
}

/// Asks the Stop (or SubagentStop) hooks whether the turn may end; when one sends the agent
/// back to work, its reason becomes the next user message of this turn.
async fn stop_hooks_continue(
    rt: &Runtime,
    state: &mut LoopState,
    ctx: &ToolContext,
    last_message: &str,
    continuations: &mut u32,
) -> bool {
    let scope = HookScope::of_turn(
        &state.chat,
        state.turn,
        &ctx.project_root,
        state.approval,
        &ctx.cancel,
    );
    let reason = points::turn_stopping(rt, &scope, &state.chat, last_message, *continuations).await;
    match reason {
        Some(reason) => {
            *continuations += 1;
            state.history.push(ChatMessage::user(reason));
            true
        }
        None => false,
    }
}

/// The tools a chat's requests offer: those its agent profile allows, plus this turn's
/// `structured_output`.
fn tool_specs(rt: &Runtime, chat: &Chat, structured: Option<&StructuredOutput>) -> Vec<ToolSpec> {
    let is_subagent = is_subagent_chat(chat);
    let profile = chat_profile(rt, chat);
    let mut specs: Vec<_> = rt
        .tools
        .specs()
        .into_iter()
        .filter(|s| profile.allows(is_subagent, &s.function.name))
        .collect();
    if let Some(so) = structured {
        specs.push(so.spec());
    }
    specs
}

/// Ends the turn once `structured_output` accepted an answer or gave up.
fn structured_end(state: &LoopState) -> Result<Option<TurnStatus>> {
    match state.structured.as_ref().map(|s| s.state()) {
        Some(StructuredState::Done(_)) => Ok(Some(TurnStatus::Completed)),
        Some(StructuredState::GaveUp(message)) => Err(anyhow!(message)),
        _ => Ok(None),
    }
}

/// How a turn ended when its Stop/SubagentStop hooks have not run yet: they run when the
/// model finishes its answer (and may send it back to work); every other ending but a
/// person's cancel is reported to them once the turn is over.
fn unhooked_ending(state: &LoopState, status: TurnStatus) -> Option<StopReason> {
    match status {
        TurnStatus::Completed => state
            .structured
            .as_ref()
            .is_some_and(|s| matches!(s.state(), StructuredState::Done(_)))
            .then_some(StopReason::StructuredOutput),
        TurnStatus::StepLimit => Some(StopReason::StepLimit),
        TurnStatus::Failed => Some(StopReason::Error),
        TurnStatus::Cancelled => None,
    }
}

/// Sub-agent and workflow chats are one level deep: they cannot start sub-agents.
pub(crate) fn is_subagent_chat(chat: &Chat) -> bool {
    chat.kind == "subagent" || chat.kind == "workflow"
}

/// The chat's agent profile; a definition that disappeared falls back to read-only.
fn chat_profile(rt: &Runtime, chat: &Chat) -> profiles::AgentProfile {
    profiles::resolve_profile(
        &rt.project_root,
        rt.config.user_home.as_deref(),
        &chat.agent,
    )
    .unwrap_or_else(|e| {
        tracing::warn!(
            "agent '{}' of chat {}: {e:#}; using read-only tools",
            chat.agent,
            chat.id
        );
        profiles::AgentProfile::builtin(EXPLORE)
    })
}

struct Reply {
    message_id: String,
    response: AssembledResponse,
    usage: Usage,
    context: ContextUse,
}

enum StepResult {
    Reply(Box<Reply>),
    Cancelled,
    /// The prompt is longer than the model's context (the provider's words).
    Overflow(String),
    Failed(String),
}

/// A request of the chat's model sending `messages` (images inlined) with `specs`.
fn chat_request(
    rt: &Runtime,
    state: &LoopState,
    messages: &[ChatMessage],
    specs: &[ToolSpec],
) -> Result<ChatRequest> {
    Ok(ChatRequest {
        model: state.chat.model.clone(),
        messages: hydrate_images(messages, rt.config.max_image_bytes)?,
        tools: specs.to_vec(),
        tool_choice: None,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
        reasoning_effort: state
            .reasoning_effort
            .clone()
            .or_else(|| rt.config.reasoning_effort.clone()),
        thinking: rt.config.thinking.map(|on| Thinking {
            kind: if on { "enabled" } else { "disabled" }.into(),
        }),
        max_tokens: None,
        temperature: None,
    })
}

/// One model request: streams, persists and emits the reply.
async fn model_step(
    rt: &Arc<Runtime>,
    state: &LoopState,
    specs: &[ToolSpec],
    token: &CancellationToken,
) -> Result<StepResult> {
    let chat = &state.chat;
    let window = rt.context.window_of(&rt.config, &rt.llm, &chat.model).await;
    // Estimated on the history before its images are inlined: base64 bytes say nothing of
    // an image's tokens, and the provider's count corrects the rest.
    let estimate = estimate_prompt_tokens(&state.history, specs);
    let expected = ContextUse {
        used: rt.context.corrected(&chat.id, estimate),
        window,
    };
    let request = chat_request(rt, state, &state.history, specs)?;
    let call_id = rt
        .store
        .begin_model_call(&chat.id, state.turn, &chat.model)?;
    let message = rt
        .store
        .begin_assistant_message(&chat.id, state.turn, &chat.model)?;
    rt.emit(Event::ModelCallStarted {
        chat_id: chat.id.clone(),
        call_id: call_id.clone(),
        model: chat.model.clone(),
        step: state.step + 1,
        context: expected,
    });
    let started = Instant::now();
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut last_save = Instant::now();
    let mut on_event = |event: LlmEvent| {
        match event {
            LlmEvent::Content(delta) => {
                text.push_str(&delta);
                rt.emit(Event::TextDelta {
                    chat_id: chat.id.clone(),
                    text: delta,
                });
            }
            LlmEvent::Reasoning(delta) => {
                reasoning.push_str(&delta);
                rt.emit(Event::ReasoningDelta {
                    chat_id: chat.id.clone(),
                    text: delta,
                });
            }
            LlmEvent::Retrying {
                attempt,
                max_attempts,
                delay_ms,
                reason,
                discard_partial,
            } => {
                if discard_partial {
                    text.clear();
                    reasoning.clear();
                }
                rt.emit(Event::Retrying {
                    chat_id: chat.id.clone(),
                    attempt,
                    max_attempts,
                    delay_ms,
                    reason,
                    discard_partial,
                });
            }
            LlmEvent::ToolCallStarted { .. } => {}
        }
        if last_save.elapsed() >= PROGRESS_SAVE_INTERVAL {
            last_save = Instant::now();
            if let Err(e) = rt
                .store
                .save_assistant_progress(&message.id, &text_parts(&reasoning, &text))
            {
                tracing::warn!("saving streamed text failed: {e:#}");
            }
        }
    };
    let result = rt.llm.stream_chat(&request, token, &mut on_event).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(response) => {
            let usage = response.usage.clone().unwrap_or_default();
            rt.context.observe(&chat.id, estimate, usage.prompt_tokens);
            let context = ContextUse {
                used: match usage.prompt_tokens {
                    0 => expected.used,
                    counted => counted,
                },
                window,
            };
            let mut parts = text_parts(&response.reasoning, &response.content);
            parts.extend(response.tool_calls.iter().map(MessagePart::tool_call));
            rt.store.finish_reply(&ReplyEnd {
                call_id: &call_id,
                message_id: &message.id,
                parts: &parts,
                status: "complete",
                error: None,
                usage: &usage,
                finish_reason: response.finish_reason.as_deref(),
                latency_ms,
            })?;
            rt.emit(Event::ModelCallFinished {
                chat_id: chat.id.clone(),
                call_id,
                usage: usage.clone(),
                finish_reason: response.finish_reason.clone(),
                latency_ms,
                context,
            });
            if response.finish_reason.as_deref() == Some("length") {
                rt.emit(Event::Notice {
                    message: "the reply was cut off at the model's output limit".into(),
                });
            }
            rt.emit(Event::MessageFinished {
                chat_id: chat.id.clone(),
                message_id: message.id.clone(),
                content: response.content.clone(),
            });
            Ok(StepResult::Reply(Box::new(Reply {
                message_id: message.id,
                response,
                usage,
                context,
            })))
        }
        Err(e) => {
            let cancelled = e.kind == LlmErrorKind::Cancelled;
            let message_text = e.to_string();
            let status = if cancelled { "cancelled" } else { "failed" };
            // What streamed before the failure is kept, marked with why it stopped.
            rt.store.finish_reply(&ReplyEnd {
                call_id: &call_id,
                message_id: &message.id,
                parts: &text_parts(&reasoning, &text),
                status,
                error: Some(&message_text),
                usage: &Usage::default(),
                finish_reason: None,
                latency_ms,
            })?;
            Ok(match e.kind {
                LlmErrorKind::Cancelled => StepResult::Cancelled,
                LlmErrorKind::ContextOverflow => StepResult::Overflow(message_text),
                _ => StepResult::Failed(message_text),
            })
        }
    }
}

fn text_parts(reasoning: &str, text: &str) -> Vec<MessagePart> {
    let mut parts = Vec::new();
    if !reasoning.is_empty() {
        parts.push(MessagePart::text(PartKind::Reasoning, reasoning));
    }
    if !text.is_empty() {
        parts.push(MessagePart::text(PartKind::Text, text));
    }
    parts
}

/// Replaces attachment references with data URIs for sending.
fn hydrate_images(history: &[ChatMessage], max_bytes: u64) -> Result<Vec<ChatMessage>> {
    history
        .iter()
        .map(|m| match m {
            ChatMessage::User {
                content: UserContent::Parts(parts),
            } => {
                let parts = parts
                    .iter()
                    .map(|p| match p {
                        ContentPart::ImageUrl { image_url } => {
                            match image_url.url.strip_prefix(ATTACHMENT_SCHEME) {
                                Some(path) => {
                                    images::image_part(std::path::Path::new(path), max_bytes)
                                        .map_err(|e| anyhow!(e))
                                }
                                None => Ok(p.clone()),
                            }
                        }
                        other => Ok(other.clone()),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(ChatMessage::User {
                    content: UserContent::Parts(parts),
                })
            }
            other => Ok(other.clone()),
        })
        .collect()
}

/// Runs a step's tool calls: consecutive read-only calls together, everything else one at a
/// time, in order. Results are appended to the history in call order. Returns true when the
/// turn was cancelled meanwhile.
async fn run_tool_calls(
    rt: &Arc<Runtime>,
    state: &mut LoopState,
    ctx: &ToolContext,
    message_id: Option<&str>,
    calls: &[ToolCall],
    step_usage: &Usage,
    token: &CancellationToken,
) -> Result<bool> {
    let shares = usage_shares(step_usage, calls.len());
    let mut index = 0;
    while index < calls.len() {
        let batch_end = if is_read_only(rt, &calls[index]) {
            index
                + calls[index..]
                    .iter()
                    .take_while(|c| is_read_only(rt, c))
                    .count()
        } else {
            index + 1
        };
        let batch = &calls[index..batch_end];
        let results = if token.is_cancelled() {
            batch
                .iter()
                .map(|_| "cancelled by the user before it ran".to_string())
                .collect()
        } else {
            futures::future::join_all(
                batch
                    .iter()
                    .zip(&shares[index..batch_end])
                    .map(|(call, share)| execute_call(rt, state, ctx, message_id, call, share)),
            )
            .await
        };
        for (call, content) in batch.iter().zip(&results) {
            state
                .history
                .push(ChatMessage::tool_result(call.id.clone(), content.clone()));
            state.pending.retain(|p| p.id != call.id);
        }
        let rows: Vec<ToolResult<'_>> = batch
            .iter()
            .zip(&results)
            .map(|(call, content)| ToolResult {
                tool_call_id: &call.id,
                tool_name: &call.function.name,
                content,
            })
            .collect();
        let snapshot = state.snapshot_between_calls();
        rt.store
            .record_tool_results(&state.chat.id, state.turn, &rows, &snapshot)?;
        index = batch_end;
    }
    Ok(token.is_cancelled())
}

fn is_read_only(rt: &Runtime, call: &ToolCall) -> bool {
    rt.tools
        .get(&call.function.name)
        .is_some_and(|t| t.kind() == ToolKind::ReadOnly)
}

/// Splits the usage of the request that made `n` tool calls evenly over their traces, so the
/// traces of a turn sum to what the model calls cost.
fn usage_shares(usage: &Usage, n: usize) -> Vec<(i64, i64, i64)> {
    let n = n.max(1) as u64;
    let split = |v: u64, i: u64| (v / n + u64::from(i < v % n)) as i64;
    (0..n)
        .map(|i| {
            (
                split(usage.total(), i),
                split(usage.cache_hit_tokens, i),
                split(usage.reasoning_tokens, i),
            )
        })
        .collect()
}

/// Runs one tool call with its trace; returns the text for the model.
async fn execute_call(
    rt: &Arc<Runtime>,
    state: &LoopState,
    ctx: &ToolContext,
    message_id: Option<&str>,
    call: &ToolCall,
    share: &(i64, i64, i64),
) -> String {
    let name = call.function.name.as_str();
    let parsed = parse_arguments(&call.function.arguments);
    let input = parsed
        .clone()
        .unwrap_or_else(|_| Value::String(call.function.arguments.clone()));
    let row = TraceRow {
        message_id: message_id.map(str::to_string),
        tokens_used: share.0,
        cache_tokens: share.1,
        reasoning_tokens: share.2,
        ..TraceRow::started(&state.chat, state.turn, call, input.to_string())
    };
    let trace_id = row.id.clone();
    if let Err(e) = rt.store.begin_trace(&row) {
        tracing::error!("writing trace {trace_id} failed: {e:#}");
    }
    rt.emit(Event::ToolStarted {
        chat_id: state.chat.id.clone(),
        trace_id: trace_id.clone(),
        tool_call_id: call.id.clone(),
        tool_name: name.to_string(),
        input: input.clone(),
    });
    let started = Instant::now();
    let is_subagent = is_subagent_chat(&state.chat);
    let profile = chat_profile(rt, &state.chat);
    let result: Result<ToolOutput, ToolError> = match (state.tool(rt, name), parsed) {
        (Some(_), _) if !profile.allows(is_subagent, name) => Err(ToolError::Denied(format!(
            "the {} agent may not use {name}",
            state.chat.agent
        ))),
        (None, _) => Err(ToolError::Failed(format!(
            "unknown tool '{name}'; available tools: {}",
            rt.tools.names().join(", ")
        ))),
        (Some(_), Err(message)) => Err(ToolError::invalid(name, message)),
        (Some(tool), Ok(args)) => {
            points::guarded_tool_call(
                rt,
                &state.chat,
                state.turn,
                &call.id,
                tool.as_ref(),
                args,
                ctx,
            )
            .await
        }
    };
    let latency_ms = started.elapsed().as_millis() as u64;
    let (content, outcome, error, diff) = match &result {
        Ok(out) => (out.content.clone(), "success", None, out.diff.clone()),
        Err(e) => (
            format!("error: {e}"),
            e.outcome(),
            Some(e.to_string()),
            None,
        ),
    };
    if let Err(e) = rt.store.finish_trace(
        &trace_id,
        &TraceCompletion {
            output: &content,
            diff: diff.as_deref(),
            error: error.as_deref(),
            outcome,
            latency_ms,
        },
    ) {
        tracing::error!("completing trace {trace_id} failed: {e:#}");
    }
    rt.emit(Event::ToolFinished {
        chat_id: state.chat.id.clone(),
        trace_id,
        tool_name: name.to_string(),
        outcome: outcome.to_string(),
        latency_ms,
        output: content.clone(),
        error,
        diff,
    });
    content
}

/// Tool arguments must be a JSON object; an empty string means no arguments.
fn parse_arguments(raw: &str) -> std::result::Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(format!(
            "arguments must be a JSON object, got {}",
            json_type(&other)
        )),
        Err(e) => Err(format!(
            "arguments are not valid JSON ({e}): {}",
            clip(raw, 200)
        )),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_must_be_a_json_object() {
        assert!(parse_arguments("").unwrap().is_object());
        assert!(parse_arguments(r#"{"a":1}"#).is_ok());
        let e = parse_arguments("[1]").unwrap_err();
        assert!(e.contains("an array"), "{e}");
        let e = parse_arguments(r#"{"file_path": "x""#).unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
    }

    #[test]
    fn usage_shares_sum_to_the_whole() {
        let usage = Usage {
            prompt_tokens: 100,
            completion_tokens: 1,
            reasoning_tokens: 7,
            cache_hit_tokens: 50,
            cache_miss_tokens: 50,
        };
        let shares = usage_shares(&usage, 3);
        assert_eq!(shares.iter().map(|s| s.0).sum::<i64>(), 101);
        assert_eq!(shares.iter().map(|s| s.1).sum::<i64>(), 50);
        assert_eq!(shares.iter().map(|s| s.2).sum::<i64>(), 7);
    }

    #[test]
    fn titles_are_the_first_line_clipped() {
        assert_eq!(title_of("fix the typo\nplease"), "fix the typo");
        assert_eq!(title_of(&"x".repeat(70)).chars().count(), 61);
    }
}
