//! One `agent()` call on the parent side: a full sub-agent in its own chat (kind `workflow`),
//! run by the ordinary agent loop, with the call's model, effort, agent type, isolation,
//! schema, timeout and retries; or, with `agent`, on that external agent (`external_call`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::external_call;
use super::protocol::AgentSpec;
use crate::core::agent::tools::structured_output::{self, StructuredOutput, StructuredState};
use crate::core::agent::tools::ApprovalMode;
use crate::core::agent::{self, profiles, TurnRequest, TurnStatus};
use crate::core::runtime::Runtime;
use crate::core::store::NewChat;
use crate::core::worktree::checkout::{self, Checkout, Isolation};
use crate::core::worktree::WorktreeSource;

/// Retries beyond this are ignored.
const MAX_RETRIES: u32 = 5;

/// Where the call's chat goes.
#[derive(Debug, Clone)]
pub(crate) struct AgentPlace {
    pub session_id: String,
    pub parent_chat_id: Option<String>,
}

/// How a call ended.
#[derive(Debug, Clone)]
pub(crate) struct AgentOutcome {
    pub value: Result<Value, String>,
    pub tokens: u64,
    pub chat_id: Option<String>,
    pub cancelled: bool,
}

/// Runs the call with its retries and timeout. `on_chat` is told each chat as it is created.
pub(crate) async fn run_agent(
    rt: &Arc<Runtime>,
    place: &AgentPlace,
    spec: &AgentSpec,
    token: &CancellationToken,
    on_chat: &(dyn Fn(&str) + Send + Sync),
) -> AgentOutcome {
    let attempts = 1 + spec.retries.unwrap_or(0).min(MAX_RETRIES);
    let mut tokens = 0;
    let mut last = None;
    for _ in 0..attempts {
        if token.is_cancelled() {
            break;
        }
        let child = token.child_token();
        let attempt = attempt_once(rt, place, spec, &child, on_chat);
        tokio::pin!(attempt);
        let mut outcome = match spec.timeout_ms {
            Some(ms) => {
                tokio::select! {
                    o = &mut attempt => o,
                    _ = tokio::time::sleep(Duration::from_millis(ms)) => {
                        child.cancel();
                        let mut o = attempt.await;
                        if !token.is_cancelled() {
                            o.cancelled = false;
                            o.value = Err(format!("agent timed out after {ms} ms"));
                        }
                        o
                    }
                }
            }
            None => attempt.await,
        };
        tokens += outcome.tokens;
        outcome.tokens = tokens;
        if outcome.value.is_ok() || outcome.cancelled {
            return outcome;
        }
        last = Some(outcome);
    }
    last.unwrap_or(AgentOutcome {
        value: Err("cancelled".into()),
        tokens,
        chat_id: None,
        cancelled: true,
    })
}

pub(super) fn fail(message: String) -> AgentOutcome {
    AgentOutcome {
        value: Err(message),
        tokens: 0,
        chat_id: None,
        cancelled: false,
    }
}

async fn attempt_once(
    rt: &Arc<Runtime>,
    place: &AgentPlace,
    spec: &AgentSpec,
    token: &CancellationToken,
    on_chat: &(dyn Fn(&str) + Send + Sync),
) -> AgentOutcome {
    let title: String = spec
        .label
        .clone()
        .unwrap_or_else(|| spec.prompt.lines().next().unwrap_or("").to_string())
        .chars()
        .take(80)
        .collect();
    if let Some(name) = &spec.agent {
        return external_call::attempt(rt, place, spec, name, &title, token, on_chat).await;
    }
    let agent_type = spec
        .agent_type
        .as_deref()
        .unwrap_or(profiles::GENERAL_PURPOSE);
    let profile = match profiles::resolve_profile(
        &rt.project_root,
        rt.config.user_home.as_deref(),
        agent_type,
    ) {
        Ok(p) => p,
        Err(e) => return fail(format!("{e:#}")),
    };
    let model = rt
        .config
        .workflow_model(spec.model.as_deref().or(profile.model.as_deref()));
    let structured = match &spec.schema {
        Some(schema) => {
            let so = Arc::new(StructuredOutput::new(schema.clone()));
            if let Some(e) = so.schema_error() {
                return fail(e);
            }
            Some(so)
        }
        None => None,
    };
    let mut approval = rt.config.approval;
    let isolated = match spec.isolation.as_deref() {
        None | Some("") | Some("none") => false,
        Some("worktree") => {
            // The worktree is the sandbox for edits; they come back for review.
            if approval != ApprovalMode::ReadOnly {
                approval = ApprovalMode::Auto;
            }
            true
        }
        Some(other) => return fail(format!("unknown isolation '{other}' (expected 'worktree')")),
    };
    let chat = match rt.store.create_chat(&NewChat {
        session_id: &place.session_id,
        parent_chat_id: place.parent_chat_id.as_deref(),
        kind: "workflow",
        title: &title,
        model: &model,
        agent: &profile.name,
    }) {
        Ok(c) => c,
        Err(e) => return fail(format!("creating the agent's chat failed: {e:#}")),
    };
    on_chat(&chat.id);
    let worktree = if isolated {
        let source = WorktreeSource {
            agent: profile.name.clone(),
            chat_id: chat.id.clone(),
            task_id: None,
        };
        match checkout::open(rt, source, Isolation::Worktree).await {
            Ok(place) => Some(place),
            Err(e) => {
                return AgentOutcome {
                    chat_id: Some(chat.id),
                    ..fail(format!("{e:#}"))
                }
            }
        }
    } else {
        None
    };
    let mut text = spec.prompt.clone();
    if structured.is_some() {
        text.push_str(&format!(
            "\n\nWhen you have the answer, call the `{}` tool with it; its arguments must match its schema. That call ends your work.",
            structured_output::NAME
        ));
    }
    let mut request = TurnRequest::new(&chat.id, &text, approval)
        .with_parent_cancel(token.clone())
        .with_effort(spec.effort.clone());
    if let Some(place) = &worktree {
        request = request.with_root(place.dir().to_path_buf());
    }
    if let Some(so) = &structured {
        request = request.with_structured_output(so.clone());
    }
    let mut tokens = 0;
    let value = loop {
        let outcome = agent::run_turn(rt, request.clone()).await;
        tokens += outcome.usage.total();
        match outcome.status {
            TurnStatus::Cancelled => {
                finish_worktree(rt, worktree, false).await;
                return AgentOutcome {
                    value: Err("cancelled".into()),
                    tokens,
                    chat_id: Some(chat.id),
                    cancelled: true,
                };
            }
            TurnStatus::Failed | TurnStatus::StepLimit => {
                break Err(outcome
                    .error
                    .unwrap_or_else(|| format!("agent turn ended: {}", outcome.status.as_str())))
            }
            TurnStatus::Completed => {}
        }
        let Some(so) = &structured else {
            break Ok(Value::String(outcome.final_text.unwrap_or_default()));
        };
        match so.state() {
            StructuredState::Done(v) => break Ok(v),
            StructuredState::GaveUp(m) => break Err(m),
            StructuredState::Waiting => {
                if !so.count_missed_attempt() {
                    break Err(match so.state() {
                        StructuredState::GaveUp(m) => m,
                        _ => "no structured output".into(),
                    });
                }
                request.text = format!(
                    "You answered without calling `{}`. Call it now with your answer; its arguments must match its schema.",
                    structured_output::NAME
                );
            }
        }
    };
    finish_worktree(rt, worktree, true).await;
    AgentOutcome {
        value,
        tokens,
        chat_id: Some(chat.id),
        cancelled: false,
    }
}

/// The call is over: its worktree's changes (unless it was cancelled) wait for review as
/// pending changes of its chat, and the worktree goes once none waits.
async fn finish_worktree(rt: &Arc<Runtime>, worktree: Option<Checkout>, keep_changes: bool) {
    let Some(place) = worktree else { return };
    if keep_changes {
        if let Err(e) = checkout::capture(rt, &place).await {
            tracing::warn!("reading the worktree's changes failed: {e:#}");
        }
    }
    if let Err(e) = checkout::release(rt, &place).await {
        tracing::warn!("removing the worktree failed: {e:#}");
    }
}
