//! The Paseo backend: a chat whose agent runs under a Paseo daemon, driven through the `paseo`
//! CLI ([`cli`]). The chat's first turn imports a new Paseo agent in the chat's working
//! directory (a fresh provider session, labelled `origin=boocode` and `chat=<id>`); the store
//! keeps its id, so every later turn — after a restart too — goes to the same agent. A turn is
//! `paseo send`, whose output streams into the reply, then `paseo inspect` for the agent's
//! status, model, mode and usage. Cancelling sends `paseo stop`; closing the chat archives the
//! agent.

pub mod cli;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use tokio_util::sync::CancellationToken;

use crate::core::agent::{TurnOutcome, TurnStatus};
use crate::core::events::Event;
use crate::core::runtime::Runtime;
use crate::core::store::{new_id, PartKind, PaseoAgent};
use crate::core::worktree::content_hash;

use super::registry::{self, AgentSpec, Protocol};
use super::turn::ExternalTurn;
use super::ExternalTurnRequest;
use cli::{PaseoCli, Sending};

/// How long `paseo send` may take to end by itself after `paseo stop` before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

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
    let text = request.text.as_str();
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
    let mut sending = match cli.send(&agent.paseo_id, text) {
        Ok(s) => s,
        Err(e) => return turn.finish(TurnStatus::Failed, Some(format!("{e:#}"))),
    };
    let mut first = true;
    let sent = loop {
        tokio::select! {
            line = sending.next_line() => match line {
                Some(line) => {
                    // Lines are joined as paseo printed them, without a line end after the last.
                    let delta = if first { line } else { format!("\n{line}") };
                    first = false;
                    turn.stream(PartKind::Text, &delta);
                }
                None => break tokio::select! {
                    sent = sending.finish(&cli) => sent,
                    _ = cancel.cancelled() => {
                        return stop(rt, &cli, &agent, sending, turn).await;
                    }
                },
            },
            _ = cancel.cancelled() => return stop(rt, &cli, &agent, sending, turn).await,
        }
    };
    if let Err(e) = sent {
        return turn.finish(TurnStatus::Failed, Some(format!("{e:#}")));
    }
    // The reply is whole: a cancel now has nothing left to stop (`inspect` has its deadline).
    match cli.inspect(&agent.paseo_id).await {
        Ok(seen) => {
            if let Some(usage) = &seen.usage {
                turn.add_usage(usage);
            }
            record_session(rt, spec, &chat_id, seen.model, seen.mode);
            if seen.status.as_deref() == Some("error") {
                let error = format!("agent '{}': the Paseo agent ended in error", spec.name);
                return turn.finish(TurnStatus::Failed, Some(error));
            }
        }
        // The reply is in; only its usage is unknown.
        Err(e) => rt.emit(Event::Notice {
            message: format!("{e:#}"),
        }),
    }
    turn.finish(TurnStatus::Completed, None)
}

/// Ends a cancelled turn: `paseo stop` ends the agent's work, and `send` is given a moment to
/// return by itself before it is killed.
async fn stop(
    rt: &Runtime,
    cli: &PaseoCli,
    agent: &PaseoAgent,
    sending: Sending,
    turn: ExternalTurn,
) -> TurnOutcome {
    if let Err(e) = cli.stop(&agent.paseo_id).await {
        rt.emit(Event::Notice {
            message: format!("{e:#}"),
        });
    }
    sending.end(STOP_GRACE).await;
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
