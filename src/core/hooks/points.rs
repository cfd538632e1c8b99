//! The hook points: one call each from the agent loop (a tool call, a submitted prompt, a turn
//! about to stop), the background workers and workflow runs (notifications), with what each
//! event's hooks may decide there, as in Claude Code.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::matcher::claude_tool_name;
use super::output::{Permission, Verdict};
use super::{fire, transcript_path, HookEvent, HookScope};
use crate::core::agent::is_subagent_chat;
use crate::core::agent::tools::{ApprovalMode, Tool, ToolContext, ToolError, ToolOutput};
use crate::core::events::Event;
use crate::core::runtime::Runtime;
use crate::core::store::Chat;

/// How many times in one turn Stop hooks may send the agent back to work before boocode ends
/// the turn anyway (a hook that always blocks would otherwise never let it end).
pub const MAX_STOP_CONTINUATIONS: u32 = 3;

/// Claude Code's `permission_mode` for boocode's approval mode.
pub fn permission_mode(mode: ApprovalMode) -> &'static str {
    match mode {
        ApprovalMode::ReadOnly => "plan",
        ApprovalMode::Review => "default",
        ApprovalMode::Auto => "bypassPermissions",
    }
}

impl<'a> HookScope<'a> {
    /// The scope of a turn of `chat` working in `cwd`.
    pub fn of_turn(
        chat: &'a Chat,
        turn: i64,
        cwd: &'a Path,
        approval: ApprovalMode,
        cancel: &'a CancellationToken,
    ) -> HookScope<'a> {
        HookScope {
            chat: Some(chat),
            turn,
            cwd,
            permission_mode: permission_mode(approval),
            cancel,
        }
    }
}

/// What `PreToolUse` hooks decided about a call.
#[derive(Debug, Clone, PartialEq)]
pub enum BeforeTool {
    /// Run it with this approval mode (an `allow` skips review's question, an `ask` puts one
    /// in front of an auto-mode call) and, when a hook rewrote them, these arguments.
    Run {
        approval: ApprovalMode,
        input: Option<Value>,
    },
    /// Don't; the reason goes to the model as the call's result.
    Block(String),
}

/// Claude Code's rules: any block or deny blocks (reasons joined); otherwise the strongest
/// permission decision wins (deny > ask > allow). `allow` never lifts read-only mode, which
/// like Claude Code's deny rules is not a hook's to override. Failed hooks decide nothing.
pub fn decide_before_tool(verdicts: &[Verdict], approval: ApprovalMode) -> BeforeTool {
    let decided = || verdicts.iter().filter(|v| v.failure.is_none());
    let reasons: Vec<String> = decided()
        .filter_map(|v| {
            v.block
                .clone()
                .or_else(|| {
                    (v.permission == Some(Permission::Deny)).then(|| {
                        v.permission_reason
                            .clone()
                            .unwrap_or_else(|| "denied by a hook".into())
                    })
                })
                .or_else(|| v.stop.clone())
        })
        .collect();
    if !reasons.is_empty() {
        return BeforeTool::Block(reasons.join("\n"));
    }
    let approval = match (decided().filter_map(|v| v.permission).max(), approval) {
        (Some(Permission::Allow), ApprovalMode::Review) => ApprovalMode::Auto,
        (Some(Permission::Ask), ApprovalMode::Auto) => ApprovalMode::Review,
        _ => approval,
    };
    let input = decided()
        .filter_map(|v| v.updated_input.clone())
        .rfind(Value::is_object);
    BeforeTool::Run { approval, input }
}

/// The tool fields of a hook's input.
fn tool_fields(name: &str, call_id: &str, args: &Value) -> serde_json::Map<String, Value> {
    let mut fields = serde_json::Map::new();
    fields.insert("tool_name".into(), json!(name));
    if let Some(alias) = claude_tool_name(name) {
        fields.insert("claude_tool_name".into(), json!(alias));
    }
    fields.insert("tool_input".into(), args.clone());
    fields.insert("tool_use_id".into(), json!(call_id));
    fields
}

/// Runs one tool call between its `PreToolUse` and `PostToolUse` hooks: a block becomes a
/// denied call whose reason the model reads; what `PostToolUse` hooks say back (a block's
/// reason, `additionalContext`) is added to the result the model reads.
pub async fn guarded_tool_call(
    rt: &Runtime,
    chat: &Chat,
    turn: i64,
    call_id: &str,
    tool: &dyn Tool,
    args: Value,
    ctx: &ToolContext,
) -> Result<ToolOutput, ToolError> {
    let name = tool.name();
    let scope = HookScope::of_turn(chat, turn, &ctx.project_root, ctx.approval, &ctx.cancel);
    let verdicts = fire(
        rt,
        &scope,
        HookEvent::PreToolUse,
        Some(name),
        Value::Object(tool_fields(name, call_id, &args)),
    )
    .await;
    let (approval, args) = match decide_before_tool(&verdicts, ctx.approval) {
        BeforeTool::Block(reason) => {
            return Err(ToolError::Denied(format!(
                "a PreToolUse hook blocked this call: {reason}"
            )))
        }
        BeforeTool::Run { approval, input } => (approval, input.unwrap_or(args)),
    };
    let mut result = if approval == ctx.approval {
        tool.run(args.clone(), ctx).await
    } else {
        let ctx = ToolContext {
            approval,
            ..ctx.clone()
        };
        tool.run(args.clone(), &ctx).await
    };
    if let Ok(output) = &mut result {
        let mut fields = tool_fields(name, call_id, &args);
        fields.insert(
            "tool_response".into(),
            json!({"output": output.content, "diff": output.diff}),
        );
        let verdicts = fire(
            rt,
            &scope,
            HookEvent::PostToolUse,
            Some(name),
            Value::Object(fields),
        )
        .await;
        let feedback = feedback(&verdicts);
        if !feedback.is_empty() {
            output
                .content
                .push_str(&format!("\n\nPostToolUse hook feedback:\n{feedback}"));
        }
    }
    result
}

/// What hooks said back to the model: block reasons, stop reasons and added context.
fn feedback(verdicts: &[Verdict]) -> String {
    verdicts
        .iter()
        .flat_map(|v| [&v.block, &v.stop, &v.context])
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

/// `UserPromptSubmit`: `Err(reason)` when a hook blocks the prompt (it is then not sent, nor
/// stored); otherwise the context hooks add to it (their plain stdout or `additionalContext`).
/// As in Claude Code, only a person's prompts count: a sub-agent's task is not submitted.
pub async fn prompt_submitted(
    rt: &Runtime,
    scope: &HookScope<'_>,
    prompt: &str,
) -> Result<Option<String>, String> {
    if scope.chat.is_none_or(is_subagent_chat) {
        return Ok(None);
    }
    let verdicts = fire(
        rt,
        scope,
        HookEvent::UserPromptSubmit,
        None,
        json!({ "prompt": prompt }),
    )
    .await;
    let blocked: Vec<&str> = verdicts
        .iter()
        .filter_map(|v| v.block.as_deref().or(v.stop.as_deref()))
        .collect();
    if !blocked.is_empty() {
        return Err(blocked.join("\n"));
    }
    let context: Vec<&str> = verdicts
        .iter()
        .filter_map(|v| v.context.as_deref())
        .collect();
    Ok((!context.is_empty()).then(|| context.join("\n\n")))
}

/// How a turn ended, as its `Stop`/`SubagentStop` hooks are told (`stop_reason`, a boocode
/// field beside Claude Code's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model answered without calling a tool: the hooks may send it back to work.
    Completed,
    /// A sub-agent handed its answer to `structured_output`.
    StructuredOutput,
    /// The turn reached the step cap.
    StepLimit,
    /// The turn failed (a model error, a sub-agent that gave up on its schema…).
    Error,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            StopReason::StructuredOutput => "structured_output",
            StopReason::StepLimit => "step_limit",
            StopReason::Error => "error",
        }
    }
}

/// `Stop` (a chat's own turn) or `SubagentStop` (a sub-agent, background task or workflow
/// agent) for a turn that is ending, with Claude Code's fields and `stop_reason`.
async fn fire_stop(
    rt: &Runtime,
    scope: &HookScope<'_>,
    chat: &Chat,
    last_message: &str,
    continuations: u32,
    reason: StopReason,
) -> (HookEvent, Vec<Verdict>) {
    let (event, subject, mut input) = if is_subagent_chat(chat) {
        // As in Claude Code: the session is the parent's, the sub-agent's own transcript
        // beside it.
        let session = chat.parent_chat_id.as_deref().unwrap_or(&chat.id);
        (
            HookEvent::SubagentStop,
            Some(chat.agent.as_str()),
            json!({
                "session_id": session,
                "transcript_path": transcript_path(rt, session),
                "agent_id": chat.id,
                "agent_type": chat.agent,
                "agent_transcript_path": transcript_path(rt, &chat.id),
            }),
        )
    } else {
        (HookEvent::Stop, None, json!({}))
    };
    input["stop_hook_active"] = json!(continuations > 0);
    input["last_assistant_message"] = json!(last_message);
    input["stop_reason"] = json!(reason.as_str());
    (event, fire(rt, scope, event, subject, input).await)
}

/// The model finished its answer: `Some(reason)` sends the agent back to work with the
/// reason as a user message; `continuations` is how often that already happened this turn
/// (the hooks see `stop_hook_active`), and past [`MAX_STOP_CONTINUATIONS`] the turn ends.
pub async fn turn_stopping(
    rt: &Runtime,
    scope: &HookScope<'_>,
    chat: &Chat,
    last_message: &str,
    continuations: u32,
) -> Option<String> {
    let (event, verdicts) = fire_stop(
        rt,
        scope,
        chat,
        last_message,
        continuations,
        StopReason::Completed,
    )
    .await;
    if verdicts.iter().any(|v| v.stop.is_some()) {
        return None;
    }
    let reasons: Vec<&str> = verdicts.iter().filter_map(|v| v.block.as_deref()).collect();
    if reasons.is_empty() {
        return None;
    }
    if continuations >= MAX_STOP_CONTINUATIONS {
        rt.emit(Event::Notice {
            message: format!(
                "{} hooks asked to keep going {continuations} times in this turn; the turn ends here",
                event.as_str()
            ),
        });
        return None;
    }
    Some(reasons.join("\n"))
}

/// The turn ended some other way than the model finishing its answer (a person's cancel
/// excepted, as in Claude Code): the hooks are told, and cannot send the agent back — there
/// is no answer left to continue from.
pub async fn turn_ended(
    rt: &Runtime,
    scope: &HookScope<'_>,
    chat: &Chat,
    last_message: &str,
    reason: StopReason,
) {
    fire_stop(rt, scope, chat, last_message, 0, reason).await;
}

/// What a `Notification` is about (its `notification_type`, which matchers test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    /// A command or a change waits for the user's decision (Claude Code's type).
    PermissionPrompt,
    BackgroundTask,
    WorkflowRun,
}

impl Notification {
    pub fn as_str(self) -> &'static str {
        match self {
            Notification::PermissionPrompt => "permission_prompt",
            Notification::BackgroundTask => "background_task",
            Notification::WorkflowRun => "workflow_run",
        }
    }
}

/// Runs the `Notification` hooks in the background (nothing waits for them); their traces go
/// to `chat_id`'s latest turn when there is a chat.
pub fn notify(rt: &Arc<Runtime>, chat_id: Option<&str>, kind: Notification, message: String) {
    if !rt.hooks.has(HookEvent::Notification) {
        return;
    }
    let rt = rt.clone();
    let chat_id = chat_id.map(str::to_string);
    tokio::spawn(async move {
        let chat = chat_id.and_then(|id| rt.store.get_chat(&id).ok());
        let turn = chat
            .as_ref()
            .and_then(|c| rt.store.last_turn(&c.id).ok())
            .unwrap_or(0);
        let scope = HookScope {
            chat: chat.as_ref(),
            turn,
            cwd: &rt.project_root,
            permission_mode: permission_mode(rt.config.approval),
            cancel: &rt.shutdown,
        };
        let input = json!({
            "message": message,
            "title": "boocode",
            "notification_type": kind.as_str(),
        });
        fire(
            &rt,
            &scope,
            HookEvent::Notification,
            Some(kind.as_str()),
            input,
        )
        .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(f: impl FnOnce(&mut Verdict)) -> Verdict {
        let mut v = Verdict::default();
        f(&mut v);
        v
    }

    #[test]
    fn any_block_or_deny_blocks_with_every_reason() {
        let verdicts = [
            verdict(|v| v.permission = Some(Permission::Allow)),
            verdict(|v| v.block = Some("exit 2 reason".into())),
            verdict(|v| {
                v.permission = Some(Permission::Deny);
                v.permission_reason = Some("json reason".into());
            }),
        ];
        assert_eq!(
            decide_before_tool(&verdicts, ApprovalMode::Auto),
            BeforeTool::Block("exit 2 reason\njson reason".into())
        );
    }

    #[test]
    fn allow_skips_reviews_question_and_ask_adds_one_in_auto_mode() {
        let allow = [verdict(|v| v.permission = Some(Permission::Allow))];
        let ask = [
            verdict(|v| v.permission = Some(Permission::Allow)),
            verdict(|v| v.permission = Some(Permission::Ask)),
        ];
        let run = |approval| BeforeTool::Run {
            approval,
            input: None,
        };
        assert_eq!(
            decide_before_tool(&allow, ApprovalMode::Review),
            run(ApprovalMode::Auto)
        );
        assert_eq!(
            decide_before_tool(&allow, ApprovalMode::ReadOnly),
            run(ApprovalMode::ReadOnly)
        );
        assert_eq!(
            decide_before_tool(&ask, ApprovalMode::Auto),
            run(ApprovalMode::Review)
        );
        assert_eq!(
            decide_before_tool(&[], ApprovalMode::Review),
            run(ApprovalMode::Review)
        );
    }

    #[test]
    fn failed_hooks_decide_nothing_and_updated_input_replaces_the_arguments() {
        let verdicts = [
            verdict(|v| {
                v.failure = Some("exit 1".into());
                v.block = Some("ignored".into());
            }),
            verdict(|v| v.updated_input = Some(json!({"file_path": "b.txt"}))),
        ];
        assert_eq!(
            decide_before_tool(&verdicts, ApprovalMode::Auto),
            BeforeTool::Run {
                approval: ApprovalMode::Auto,
                input: Some(json!({"file_path": "b.txt"}))
            }
        );
    }
}
