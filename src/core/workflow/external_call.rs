//! An `agent(prompt, {agent: NAME})` call: it runs on that external agent (any protocol) in a git
//! worktree of its own, through the same code as `boocode agent run` (`agents::job`), in a
//! chat of kind `workflow` under the run's chat; what it changed waits for review. The agent
//! brings its own model and tools: `model` is one it offers, `effort` is not passed on,
//! `agentType` (a native agent) cannot be combined with it, and `isolation` can only be
//! `worktree`.
//!
//! With `schema`, the prompt asks for a reply that is only a JSON value matching the schema;
//! the reply (or a single fenced block) is parsed and validated as the native
//! `structured_output` tool validates, and an invalid reply goes back to the agent with what
//! was wrong, within the same number of attempts.

use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::agent_call::{fail, AgentOutcome, AgentPlace};
use super::protocol::AgentSpec;
use crate::core::agent::tools::structured_output::{StructuredOutput, StructuredState};
use crate::core::agent::tools::ApprovalMode;
use crate::core::agent::TurnStatus;
use crate::core::agents::acp::SessionOptions;
use crate::core::agents::job::{self, find_external, AgentJob};
use crate::core::runtime::Runtime;
use crate::core::store::NewChat;
use crate::core::worktree::checkout::Isolation;

pub(crate) async fn attempt(
    rt: &Arc<Runtime>,
    place: &AgentPlace,
    spec: &AgentSpec,
    name: &str,
    title: &str,
    token: &CancellationToken,
    on_chat: &(dyn Fn(&str) + Send + Sync),
) -> AgentOutcome {
    if spec.agent_type.is_some() {
        return fail(
            "agent() options agent and agentType exclude each other: agentType picks a native agent"
                .into(),
        );
    }
    if let Some(other) = spec.isolation.as_deref().filter(|i| *i != "worktree") {
        return fail(format!(
            "an external agent always works in a worktree (isolation '{other}' is not offered)"
        ));
    }
    let agent = match find_external(rt, name) {
        Ok(spec) => spec,
        Err(e) => return fail(format!("{e:#}")),
    };
    let structured = match &spec.schema {
        Some(schema) => {
            let so = StructuredOutput::new(schema.clone());
            if let Some(e) = so.schema_error() {
                return fail(e);
            }
            Some(so)
        }
        None => None,
    };
    let chat = match rt.store.create_chat(&NewChat {
        session_id: &place.session_id,
        parent_chat_id: place.parent_chat_id.as_deref(),
        kind: "workflow",
        title,
        model: spec.model.as_deref().unwrap_or(""),
        agent: &agent.name,
    }) {
        Ok(c) => c,
        Err(e) => return fail(format!("creating the agent's chat failed: {e:#}")),
    };
    on_chat(&chat.id);
    let failed_in_chat = |message: String| AgentOutcome {
        chat_id: Some(chat.id.clone()),
        ..fail(message)
    };
    if let Err(e) = rt.store.bind_chat_agent(&chat.id, &agent.name) {
        return failed_in_chat(format!("{e:#}"));
    }
    let mut text = spec.prompt.clone();
    if let Some(schema) = &spec.schema {
        text.push_str(&format!(
            "\n\nReply with only a JSON value that matches this JSON Schema, and nothing else \
             (no prose, no code fence):\n{schema}"
        ));
    }
    let job = AgentJob {
        chat_id: chat.id.clone(),
        agent: agent.name.clone(),
        task_id: None,
        text,
        // The worktree is the sandbox for edits; they come back for review.
        approval: match rt.config.approval {
            ApprovalMode::ReadOnly => ApprovalMode::ReadOnly,
            _ => ApprovalMode::Auto,
        },
        isolation: Isolation::Worktree,
        options: SessionOptions {
            model: spec.model.clone(),
            ..SessionOptions::default()
        },
    };
    let done = job::run(rt, job, token, |turn| {
        let so = structured.as_ref()?;
        judge_reply(so, turn.final_text.as_deref().unwrap_or(""))
    })
    .await;
    let turn = match done {
        Ok(done) => done.turn,
        Err(e) => return failed_in_chat(format!("{e:#}")),
    };
    let tokens = turn.usage.total();
    let value = match turn.status {
        TurnStatus::Cancelled => {
            return AgentOutcome {
                value: Err("cancelled".into()),
                tokens,
                chat_id: Some(chat.id),
                cancelled: true,
            }
        }
        TurnStatus::Failed | TurnStatus::StepLimit => Err(turn
            .error
            .unwrap_or_else(|| format!("agent turn ended: {}", turn.status.as_str()))),
        TurnStatus::Completed => match &structured {
            None => Ok(Value::String(turn.final_text.unwrap_or_default())),
            Some(so) => match so.state() {
                StructuredState::Done(v) => Ok(v),
                StructuredState::GaveUp(m) => Err(m),
                StructuredState::Waiting => Err("no structured output".into()),
            },
        },
    };
    AgentOutcome {
        value,
        tokens,
        chat_id: Some(chat.id),
        cancelled: false,
    }
}

/// Records a reply against the schema; the next prompt when the agent should try again.
fn judge_reply(so: &StructuredOutput, reply: &str) -> Option<String> {
    match json_in(reply) {
        Some(value) => match so.submit(value) {
            Ok(_) => None,
            Err(message) => (!so.is_finished())
                .then(|| format!("{message}. Reply again with only the JSON value.")),
        },
        None => so.count_missed_attempt().then(|| {
            "Your reply was not a JSON value. Reply with only the JSON value that matches the \
             schema, nothing else."
                .to_string()
        }),
    }
}

/// The JSON value a reply consists of: the whole reply, or a single fenced block.
fn json_in(reply: &str) -> Option<Value> {
    let reply = reply.trim();
    if let Ok(value) = serde_json::from_str(reply) {
        return Some(value);
    }
    let body = reply.strip_prefix("```")?.split_once('\n')?.1;
    let (body, _) = body.rsplit_once("```")?;
    serde_json::from_str(body.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reply_is_json_whole_or_in_one_fenced_block() {
        assert_eq!(json_in(" {\"n\": 3}\n"), Some(json!({"n": 3})));
        assert_eq!(json_in("```json\n{\"n\": 3}\n```"), Some(json!({"n": 3})));
        assert_eq!(json_in("```\n[1, 2]\n```\n"), Some(json!([1, 2])));
        assert_eq!(json_in("The answer is {\"n\": 3}"), None);
        assert_eq!(json_in("```json\nnot json\n```"), None);
    }

    #[test]
    fn invalid_replies_are_sent_back_until_the_attempts_run_out() {
        let so = StructuredOutput::new(json!({"type": "object", "required": ["n"]}));
        let again = judge_reply(&so, "{\"m\": 1}").unwrap();
        assert!(again.contains("does not match the schema"), "{again}");
        let again = judge_reply(&so, "three").unwrap();
        assert!(again.contains("not a JSON value"), "{again}");
        assert_eq!(judge_reply(&so, "{\"n\": 3}"), None);
        assert_eq!(so.state(), StructuredState::Done(json!({"n": 3})));

        let hopeless = StructuredOutput::new(json!({"type": "integer"}));
        let mut prompts = 0;
        while judge_reply(&hopeless, "many").is_some() {
            prompts += 1;
        }
        assert_eq!(prompts, 4, "five attempts in all");
        assert!(matches!(hopeless.state(), StructuredState::GaveUp(_)));
    }
}
