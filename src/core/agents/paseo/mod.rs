//! The Paseo backend: a chat whose agent runs under a Paseo daemon, driven through the `paseo`
//! CLI ([`cli`], which cites how the real CLI behaves). The chat's first turn imports a new
//! Paseo agent working in the chat's directory (`paseo import --cwd DIR`: a fresh provider
//! session, labelled `origin=boocode` and `chat=<id>`); the store keeps its id, so every later
//! turn — after a restart too — goes to the same agent.
//!
//! `paseo send` prints only a result row once the agent's turn is over, never the agent's
//! words; those are in its timeline. So a turn is:
//!
//! 1. `paseo logs -f --tail 0 ID` starts first and is waited on until its banner says it
//!    follows; its lines (the curated transcript, [`transcript`]) preview the reply as they
//!    arrive: text, reasoning, and tool calls traced as they start.
//! 2. `paseo send --json --prompt-file F ID` sends the prompt and waits for the turn's end.
//! 3. The follower is stopped (SIGTERM, its last lines still read) and the reply is settled
//!    from `paseo logs ID`, the agent's whole transcript, from this turn's user message on:
//!    the follower prints each streamed chunk on a line of its own, may lag or die, and the
//!    transcript merges chunks, so the stored reply is exactly what the agent said.
//! 4. `paseo inspect --json ID` gives the model, mode, usage and pending permissions; the
//!    send's status ends the turn: `completed` completes it, `error` fails it with paseo's
//!    message, `timeout` (send waits 10 minutes) fails it saying the agent may still be
//!    working, `permission` fails it saying which permission waits and how to grant it in
//!    Paseo.
//!
//! Cancelling sends `paseo stop` and ends the follower; closing the chat archives the agent.

pub mod cli;
mod reply;
pub mod transcript;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use tokio_util::sync::CancellationToken;

use crate::core::agent::{TurnOutcome, TurnStatus};
use crate::core::events::Event;
use crate::core::runtime::Runtime;
use crate::core::store::{new_id, PaseoAgent};
use crate::core::worktree::content_hash;

use super::registry::{self, AgentSpec, Protocol};
use super::turn::ExternalTurn;
use super::ExternalTurnRequest;
use cli::{Following, Inspection, PaseoCli, SendResult, Sending};
use reply::PaseoReply;

/// How long `paseo send` may take to end by itself after `paseo stop` before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long the follower may take to print what it holds once asked to stop.
const FOLLOWER_GRACE: Duration = Duration::from_secs(1);
/// Where prompts wait for `paseo send --prompt-file`, under the data home.
const PROMPT_DIR: &str = "paseo-prompts";

/// Runs one turn (already begun: its user message is stored) on the chat's Paseo agent, in
/// the request's working directory. Every failure ends the turn with a clear error; nothing
/// else is touched.
pub async fn run_turn(
    rt: &Arc<Runtime>,
    spec: &AgentSpec,
    mut turn: ExternalTurn,
    request: &ExternalTurnRequest,
    cancel: CancellationToken,
) -> TurnOutcome {
    if request.options.model.is_some() || request.options.mode.is_some() {
        // Paseo runs the provider with the model and mode set in Paseo itself; a request for
        // another one would be silently ignored.
        let error = format!(
            "agent '{}' is a Paseo agent: its model and mode are chosen in Paseo, not with --model or --mode",
            spec.name
        );
        return turn.finish(TurnStatus::Failed, Some(error));
    }
    let prompt = request.text.as_str();
    let cwd = request
        .cwd
        .clone()
        .unwrap_or_else(|| rt.project_root.clone());
    let cli = PaseoCli::new(spec, cwd);
    let chat_id = turn.chat_id().to_string();
    let agent = tokio::select! {
        agent = agent_for_chat(rt, spec, &cli, &chat_id) => agent,
        _ = cancel.cancelled() => return turn.finish(TurnStatus::Cancelled, None),
    };
    let agent = match agent {
        Ok(a) => a,
        Err(e) => return turn.finish(TurnStatus::Failed, Some(format!("{e:#}"))),
    };
    let id = agent.paseo_id.as_str();
    let mut following = match cli.follow(id) {
        Ok(f) => f,
        Err(e) => return turn.finish(TurnStatus::Failed, Some(format!("{e:#}"))),
    };
    // Sent before the follower listens, the turn's first items would only reach the reply
    // when it settles. A follower that never starts (the daemon is down) leaves `send` to say
    // why.
    tokio::select! {
        _ = following.started(cli.timeout()) => {}
        _ = cancel.cancelled() => return turn.finish(TurnStatus::Cancelled, None),
    }
    let mut sending = match cli.send(id, prompt, &rt.config.home.join(PROMPT_DIR)) {
        Ok(s) => s,
        Err(e) => return turn.finish(TurnStatus::Failed, Some(format!("{e:#}"))),
    };
    let mut reply = PaseoReply::new(prompt);
    let mut follower_alive = true;
    let sent = loop {
        tokio::select! {
            line = following.next_line(), if follower_alive => match line {
                Some(line) => reply.show(&mut turn, &line),
                // It died: the transcript still has the turn.
                None => follower_alive = false,
            },
            sent = sending.finish(&cli) => break sent,
            _ = cancel.cancelled() => {
                return stop(rt, &cli, id, sending, following, turn).await;
            }
        }
    };
    for line in following.stop(FOLLOWER_GRACE).await {
        reply.show(&mut turn, &line);
    }
    let sent = match sent {
        Ok(sent) => sent,
        Err(e) => return turn.finish(TurnStatus::Failed, Some(format!("{e:#}"))),
    };
    // The turn is over: a cancel now has nothing left to stop (these calls have deadlines).
    match cli.transcript(id).await {
        Ok(transcript) => match transcript::turn_entries(&transcript, prompt) {
            Some(entries) => reply.settle(&mut turn, entries),
            None => notice(
                rt,
                format!(
                    "agent '{}': the Paseo agent's transcript does not hold this turn; the reply is as it was followed",
                    spec.name
                ),
            ),
        },
        Err(e) => notice(rt, format!("{e:#}")),
    }
    let seen = match cli.inspect(id).await {
        Ok(seen) => {
            if let Some(usage) = &seen.usage {
                turn.add_usage(usage);
            }
            record_session(rt, spec, &chat_id, seen.model.clone(), seen.mode.clone());
            seen
        }
        // The reply is in; only its usage is unknown.
        Err(e) => {
            notice(rt, format!("{e:#}"));
            Inspection::default()
        }
    };
    match turn_failure(&spec.name, id, &sent, &seen) {
        None => turn.finish(TurnStatus::Completed, None),
        Some(error) => turn.finish(TurnStatus::Failed, Some(error)),
    }
}

fn notice(rt: &Runtime, message: String) {
    rt.emit(Event::Notice { message });
}

/// Why a turn whose send answered `sent` failed; `None` when it completed.
fn turn_failure(agent: &str, id: &str, sent: &SendResult, seen: &Inspection) -> Option<String> {
    let said = sent.message.trim();
    match sent.status.as_str() {
        "completed" => None,
        "error" => Some(format!("agent '{agent}': the Paseo agent ended in error: {said}")),
        "timeout" => Some(format!(
            "agent '{agent}': the Paseo agent did not finish within the 10 minutes `paseo send` waits; it may still be working (`paseo logs {id}` shows it, `paseo stop {id}` stops it)"
        )),
        "permission" => {
            let what = match seen.pending_permissions.as_slice() {
                [] => "a permission".to_string(),
                tools => format!("permission to use {}", tools.join(", ")),
            };
            Some(format!(
                "agent '{agent}': the Paseo agent is waiting for {what}, which only Paseo can grant: `paseo permit allow {id}` (or `paseo permit deny {id}`), or answer it in the Paseo app; the agent then goes on by itself and its work shows in `paseo logs {id}`"
            ))
        }
        other => Some(format!(
            "agent '{agent}': `paseo send` answered status '{other}': {said}"
        )),
    }
}

/// Ends a cancelled turn: `paseo stop` ends the agent's work, `send` is given a moment to
/// return by itself before it is killed, and the follower ends.
async fn stop(
    rt: &Runtime,
    cli: &PaseoCli,
    id: &str,
    sending: Sending,
    following: Following,
    turn: ExternalTurn,
) -> TurnOutcome {
    if let Err(e) = cli.stop(id).await {
        notice(rt, format!("{e:#}"));
    }
    sending.end(STOP_GRACE).await;
    // What it still holds came after the cancel.
    drop(following.stop(Duration::ZERO).await);
    turn.finish(TurnStatus::Cancelled, None)
}

/// The chat's Paseo agent: the one it has on this daemon and provider, else a new import.
async fn agent_for_chat(
    rt: &Runtime,
    spec: &AgentSpec,
    cli: &PaseoCli,
    chat_id: &str,
) -> Result<PaseoAgent> {
    let provider = spec
        .provider
        .clone()
        .ok_or_else(|| anyhow!("[agents.{}]: a paseo agent needs provider", spec.name))?;
    let daemon = daemon_digest(spec.host.as_deref());
    if let Some(known) = rt.store.paseo_agent(chat_id)? {
        if known.archived {
            // Archived when the chat closed: the conversation starts over on a new agent.
        } else if known.agent == spec.name && known.provider == provider && known.daemon == daemon {
            return Ok(known);
        } else if let Err(e) = archive_chat(rt, chat_id).await {
            // The chat moved to another agent, provider or daemon; the old agent is left.
            tracing::warn!("archiving the chat's earlier Paseo agent failed: {e:#}");
        }
    }
    let provider_session = new_id();
    let paseo_id = cli.import(&provider_session, &provider, chat_id).await?;
    let agent = PaseoAgent {
        chat_id: chat_id.to_string(),
        agent: spec.name.clone(),
        paseo_id,
        provider,
        daemon,
        provider_session,
        archived: false,
    };
    rt.store.record_paseo_agent(&agent)?;
    Ok(agent)
}

/// Which daemon an agent lives on, without keeping its address (it may hold a password).
fn daemon_digest(host: Option<&str>) -> String {
    content_hash(host.unwrap_or("").as_bytes())
}

/// The agent's model and mode as the daemon reports them: stored for the pane's agent line.
fn record_session(
    rt: &Runtime,
    spec: &AgentSpec,
    chat_id: &str,
    model: Option<String>,
    mode: Option<String>,
) {
    if let Err(e) = rt
        .store
        .update_chat_agent(chat_id, None, mode.as_deref(), model.as_deref())
    {
        tracing::warn!("recording the Paseo agent's model and mode failed: {e:#}");
    }
    rt.emit(Event::AgentSession {
        chat_id: chat_id.to_string(),
        agent: spec.name.clone(),
        model,
        mode,
    });
}

/// Archives the chat's Paseo agent (`paseo archive`), if it has one still active: the chat is
/// closed. A later turn of the chat imports a new agent.
pub async fn archive_chat(rt: &Runtime, chat_id: &str) -> Result<()> {
    let Some(known) = rt.store.paseo_agent(chat_id)? else {
        return Ok(());
    };
    if known.archived {
        return Ok(());
    }
    let spec = registry::find(&rt.config.agents, &known.agent)?;
    if spec.protocol != Protocol::Paseo {
        return Err(anyhow!(
            "agent '{}' is no longer a paseo agent: its Paseo agent {} stays unarchived",
            spec.name,
            known.paseo_id
        ));
    }
    PaseoCli::new(&spec, rt.project_root.clone())
        .archive(&known.paseo_id)
        .await?;
    rt.store.archive_paseo_agent(chat_id, &known.paseo_id)
}
