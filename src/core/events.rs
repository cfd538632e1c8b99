//! The two enums the core speaks: `Command`s come in from a client (workspace or headless CLI),
//! `Event`s go out. Every state change a client shows comes from an `Event` that was also
//! persisted.

use serde::{Deserialize, Serialize};

use crate::core::context::instructions::InstructionFile;
use crate::core::context::window::ContextUse;
use crate::core::llm::types::Usage;

/// Something a client asks the core to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send a user message to a chat (and run the turn).
    SendMessage {
        chat_id: String,
        text: String,
        attachments: Vec<std::path::PathBuf>,
    },
    /// Cancel the running turn of a chat.
    CancelTurn {
        chat_id: String,
    },
    /// Resume a chat interrupted by a crash from its snapshot.
    ResumeChat {
        chat_id: String,
    },
    /// Answer a command confirmation request (review mode).
    ConfirmCommand {
        request_id: String,
        allow: bool,
    },
    /// Apply or reject a pending change.
    ResolveChange {
        change_id: String,
        apply: bool,
    },
    CancelTask {
        task_id: String,
    },
    RetryTask {
        task_id: String,
    },
    /// Start a workflow run (progress arrives as `Workflow*` events).
    RunWorkflow {
        name: String,
        args: serde_json::Value,
        budget: Option<u64>,
        concurrency: Option<usize>,
        /// The chat that started it, if any (parent of the agents' chats).
        parent_chat_id: Option<String>,
    },
    CancelWorkflow {
        run_id: String,
    },
    ResumeWorkflow {
        run_id: String,
    },
    /// Re-run a failed agent call (resumes its run; completed calls come from the store).
    RetryWorkflowAgent {
        agent_id: String,
    },
    /// Compact a chat's context now (`/compact [focus]`); the focus goes to the summary prompt.
    /// Answered by `Event::ContextCompacted`, or a notice saying why nothing was done.
    CompactChat {
        chat_id: String,
        focus: Option<String>,
    },
    /// Ask the server which models it offers (`/model` with no name); answered by
    /// `Event::ModelList`.
    ListModels {
        chat_id: String,
    },
    /// Answer an external agent's permission request (`Event::PermissionRequested`).
    AnswerPermission {
        request_id: String,
        answer: PermissionAnswer,
    },
    /// A chat's agent work is over (its last pane closed): its agent ends and its worktree
    /// is released (removed once nothing from it waits for a decision).
    EndChat {
        chat_id: String,
    },
}

/// A person's answer to an external agent asking permission for a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionAnswer {
    AllowOnce,
    /// Allow this kind of call for the rest of the chat.
    AllowAlways,
    Reject,
}

/// One entry of an external agent's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    pub content: String,
    /// `pending`, `in_progress`, `completed`.
    pub status: String,
}

/// A slash command an external agent offers in its chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCommand {
    pub name: String,
    pub description: String,
}

/// Something that happened in the core. Serialised as one JSON object per line by
/// `exec --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    TurnStarted {
        chat_id: String,
        turn: i64,
    },
    /// A new turn's user message was stored. A client that did not type it (the panes of a
    /// compare group, a chat opened on a running sub-agent) shows it from here.
    UserMessage {
        chat_id: String,
        turn: i64,
        text: String,
        /// File names of the attached images.
        attachments: Vec<String>,
    },
    /// A model request is starting (one per step of a turn).
    ModelCallStarted {
        chat_id: String,
        call_id: String,
        model: String,
        step: u32,
        /// The request's estimated prompt size against the model's window.
        context: ContextUse,
    },
    TextDelta {
        chat_id: String,
        text: String,
    },
    ReasoningDelta {
        chat_id: String,
        text: String,
    },
    /// A retryable failure; the request will be sent again after `delay_ms`. When
    /// `discard_partial` is set, the partial reply streamed so far is void.
    Retrying {
        chat_id: String,
        attempt: u32,
        max_attempts: u32,
        delay_ms: u64,
        reason: String,
        discard_partial: bool,
    },
    ModelCallFinished {
        chat_id: String,
        call_id: String,
        usage: Usage,
        finish_reason: Option<String>,
        latency_ms: u64,
        /// The prompt's size as the provider counted it (the estimate when it did not say).
        context: ContextUse,
    },
    /// An assistant message is complete (persisted).
    MessageFinished {
        chat_id: String,
        message_id: String,
        content: String,
    },
    ToolStarted {
        chat_id: String,
        trace_id: String,
        tool_call_id: String,
        tool_name: String,
        input: serde_json::Value,
    },
    ToolFinished {
        chat_id: String,
        trace_id: String,
        tool_name: String,
        outcome: String,
        latency_ms: u64,
        output: String,
        error: Option<String>,
        diff: Option<String>,
    },
    /// Review mode: a write became a pending change.
    ChangePending {
        chat_id: String,
        change_id: String,
        path: String,
        diff: String,
    },
    ChangeResolved {
        change_id: String,
        applied: bool,
    },
    /// A worktree's changes were captured after a turn: the changes from it that wait now
    /// (earlier ones of the same files were replaced; ones no longer changed dropped).
    ChangesCaptured {
        chat_id: String,
        worktree_id: String,
        waiting: usize,
    },
    /// Review mode: a command waits for a yes or no.
    CommandConfirmationRequested {
        chat_id: String,
        request_id: String,
        command: String,
    },
    /// The project's own hooks and MCP servers wait for a person's approval (asked once, when
    /// the workspace opens). Answered with [`Command::ConfirmCommand`] like a command, but
    /// not tied to a turn: the question stays open until it is answered.
    ProjectApprovalRequested {
        chat_id: String,
        request_id: String,
        /// What would run: "the 2 hooks and the MCP server docs this project defines".
        question: String,
    },
    TurnFinished {
        chat_id: String,
        turn: i64,
        /// `completed`, `cancelled`, `failed`, `step_limit`.
        status: String,
        usage: Usage,
        error: Option<String>,
    },
    TaskUpdated {
        task_id: String,
        status: String,
        label: Option<String>,
        chat_id: Option<String>,
    },
    Notice {
        message: String,
    },
    /// A new chat's system prompt took in these instruction files and lists these skills. Both
    /// stay as they were for the rest of the chat; edits show in the next chat.
    ContextLoaded {
        chat_id: String,
        instructions: Vec<InstructionFile>,
        skills: Vec<String>,
    },
    /// A chat's history was compacted to fit the model's context window: old bulky tool
    /// outputs clipped, and maybe the oldest messages replaced by a summary (stored as the
    /// `compaction` message `message_id`, which the transcript shows).
    ContextCompacted {
        chat_id: String,
        message_id: String,
        /// `auto` (the next request would pass `[context] compact_at`), `overflow` (the
        /// provider said the prompt was too long) or `manual` (`/compact`).
        trigger: String,
        /// Prompt tokens of the next request before and after.
        before: u64,
        after: u64,
        /// Tool results clipped to a stub.
        clipped: usize,
        /// Messages the summary replaced (0: clipping was enough).
        summarized: usize,
        /// The summary the model wrote, when it wrote one.
        summary: Option<String>,
        /// Turns before this one are wholly covered by the summary.
        covers_turns_before: Option<i64>,
        /// `context compacted: 96k → 14k tokens`, as every client shows it.
        notice: String,
    },
    /// The server's models, for the chat that asked (`Command::ListModels`); `error` says why
    /// there is no list (not every OpenAI-compatible server has `/models`).
    ModelList {
        chat_id: String,
        models: Vec<String>,
        error: Option<String>,
    },
    /// An external agent asks before running a tool call; answered by
    /// `Command::AnswerPermission` (or by the approval mode when no person is there).
    PermissionRequested {
        chat_id: String,
        request_id: String,
        /// What the agent wants to do (the tool call's title).
        title: String,
    },
    /// A permission request was answered (by a person, the approval mode, or an earlier
    /// "allow always").
    PermissionAnswered {
        chat_id: String,
        request_id: String,
        answer: PermissionAnswer,
    },
    /// An external agent's plan, whole, each time it changes.
    AgentPlan {
        chat_id: String,
        entries: Vec<PlanItem>,
    },
    /// What a chat bound to an external agent runs: the agent, its model and mode as the agent
    /// reported them (the composer line and the pane title show them).
    AgentSession {
        chat_id: String,
        agent: String,
        model: Option<String>,
        mode: Option<String>,
    },
    /// A terminal agent's program started on a PTY owned by the core (the session is in
    /// `rt.agents.terminals` under the chat): the workspace shows that screen, interactive, in
    /// a terminal pane titled `title`.
    AgentTerminal {
        chat_id: String,
        agent: String,
        title: String,
        /// Where the program runs (the chat's worktree).
        cwd: std::path::PathBuf,
    },
    /// Lines of a terminal agent's screen that settled (the cursor moved past them, or the
    /// program ended), in order: what a headless run streams.
    AgentTerminalLines {
        chat_id: String,
        lines: Vec<String>,
    },
    /// An external agent's reply was rebuilt from the agent's own record of the turn (a Paseo
    /// transcript) and stored: panes show the stored message in place of what was streamed.
    ReplyRewritten {
        chat_id: String,
        message_id: String,
    },
    /// The slash commands an external agent offers now (the composer completes them).
    AgentCommands {
        chat_id: String,
        commands: Vec<AgentCommand>,
    },
    /// A hook ran (`outcome`: `success`, `blocked`, `stopped`, `error`, `timeout`,
    /// `cancelled`). Its trace row, when it ran for a chat, is `trace_id`.
    HookFinished {
        chat_id: Option<String>,
        trace_id: Option<String>,
        /// `PreToolUse`, `PostToolUse`, `UserPromptSubmit`, `Stop`, `SubagentStop`,
        /// `Notification`.
        event: String,
        command: String,
        outcome: String,
        latency_ms: u64,
        /// Why it failed, or the reason it gave for a block or a decision.
        message: Option<String>,
        /// Its `systemMessage`, for the user.
        system_message: Option<String>,
    },
    WorkflowRunStarted {
        run_id: String,
        workflow: String,
        /// `built-in`, `project` or `user`.
        source: String,
    },
    WorkflowPhase {
        run_id: String,
        title: String,
    },
    WorkflowLog {
        run_id: String,
        message: String,
    },
    WorkflowAgentStarted {
        run_id: String,
        agent_id: String,
        label: Option<String>,
        phase: Option<String>,
        chat_id: Option<String>,
    },
    WorkflowAgentFinished {
        run_id: String,
        agent_id: String,
        /// `completed`, `failed`, `cancelled`.
        status: String,
        /// Served from the store without calling the model.
        cached: bool,
        tokens: u64,
        error: Option<String>,
    },
    WorkflowRunFinished {
        run_id: String,
        /// `completed`, `failed`, `cancelled`.
        status: String,
        result: Option<serde_json::Value>,
        error: Option<String>,
    },
    /// A run's report (its result, or why it ended without one) was stored in the chat that
    /// started it, as a `workflow` message.
    WorkflowReported {
        chat_id: String,
        run_id: String,
        /// One line: the workflow, how it ended, the run.
        heading: String,
        /// Markdown: the result (a string as is, other values as pretty JSON) or the error.
        body: String,
    },
}

/// How every client words an [`Event::Retrying`]: `attempt` is the attempt about to start, so
/// the retries of a 4-attempt request read 2/4, 3/4 and 4/4.
pub fn retry_notice(attempt: u32, max_attempts: u32, delay_ms: u64, reason: &str) -> String {
    format!(
        "{reason}; retrying in {:.1} s (attempt {attempt}/{max_attempts})",
        delay_ms as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_notice_names_the_attempt_about_to_start() {
        assert_eq!(
            retry_notice(2, 4, 1500, "rate limited"),
            "rate limited; retrying in 1.5 s (attempt 2/4)"
        );
    }
}
