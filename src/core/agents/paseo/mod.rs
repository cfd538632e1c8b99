//! The Paseo backend: a chat whose agent runs under a Paseo daemon, driven through the `paseo`
//! CLI ([`cli`], which cites how the real CLI behaves). The store keeps the chat's agent id, so
//! every later turn — after a restart too — goes to the same agent.
//!
//! The chat's agent comes to be on its first turn (or the first after it was archived):
//!
//! - By default `paseo run --detach --provider P --cwd DIR --label origin=boocode --label
//!   chat=<id> -- PROMPT` creates it working in the chat's directory, its first turn already
//!   under way on the turn's prompt. Its id is stored the moment `run` answers, before anything
//!   else, so a crash or restart after the creation continues that agent and never makes a
//!   second one. Not `paseo import` with an id boocode makes up: import RESUMES a session the
//!   provider already has (`handleImportAgentRequest` in packages/server/src/server/session.ts:
//!   `findPersistedAgent`, then `resumeAgentFromPersistence`), and Claude fails the first turn
//!   of a session it never had ("No conversation found with session ID", claude-agent.ts
//!   `readMissingResumedConversationError`).
//! - With `session = "ID"` in `[agents.NAME]`, `paseo import --provider P --cwd DIR --label …
//!   ID` adopts that existing provider session, and the turn is sent as any later one. One chat
//!   at a time continues a session: another chat's import of it is refused, naming the chat
//!   that holds it (two chats would interleave their turns in one conversation, and closing
//!   either would archive the other's agent); closing that chat frees it.
//!
//! `paseo send` and `paseo wait` print only a result row once the agent's turn is over, never
//! the agent's words; those are in its timeline. So a turn is:
//!
//! 1. `paseo logs -f --tail N ID` starts first and is waited on until its banner says it
//!    follows; its lines (the curated transcript, [`transcript`]) preview the reply as they
//!    arrive: text, reasoning, and tool calls traced as they start. N is 0 when the turn is
//!    yet to be sent; for the turn `run` started, N takes the whole timeline: what the agent
//!    did before the follower listened comes before the banner, what it does after comes
//!    after, each item once.
//! 2. `paseo send --json --prompt-file F ID` sends the prompt and waits for the turn's end; for
//!    the turn `run` started, `paseo wait --json --timeout 10m ID` waits for it.
//! 3. The follower is stopped (SIGTERM, its last lines still read) and the reply is settled
//!    from `paseo logs ID`, the agent's whole transcript, from this turn's user message on:
//!    the follower prints each streamed chunk on a line of its own, may lag or die, and the
//!    transcript merges chunks, so the stored reply is exactly what the agent said.
//! 4. `paseo inspect --json ID` gives the model, mode, usage and pending permissions; the
//!    turn's status ends it: `completed` (wait's `idle`) completes it, `error` fails it with
//!    paseo's message, `timeout` (after 10 minutes) fails it saying the agent may still be
//!    working, `permission` fails it saying which permission waits and how to grant it in
//!    Paseo.
//!
//! Cancelling sends `paseo stop` (also when it comes while `run` creates the agent: the
//! creation is let finish, so the agent is known and stopped) and ends the follower; closing
//! the chat archives the agent.

pub mod cli;
mod reply;
pub mod transcript;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use tokio_util::sync::CancellationToken;

use crate::core::agent::{TurnOutcome, TurnStatus};
use crate::core::events::Event;
use crate::core::runtime::Runtime;
use crate::core::store::PaseoAgent;
use crate::core::worktree::content_hash;

use super::registry::{self, AgentSpec, Protocol};
use super::turn::ExternalTurn;
use super::ExternalTurnRequest;
use cli::{Following, Inspection, PaseoCli, TurnResult, Waiting};
use reply::PaseoReply;

/// How long `paseo send` or `paseo wait` may take to end by itself after `paseo stop` before
/// it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long the follower may take to print what it holds once asked to stop.
const FOLLOWER_GRACE: Duration = Duration::from_secs(1);
/// Where prompts wait for `paseo send --prompt-file`, under the data home.
const PROMPT_DIR: &str = "paseo-prompts";

/// How a turn reaches the chat's agent.
enum Begun {
    /// `paseo run` created the agent with this turn's prompt: the turn is under way.
    Created,
    /// Imported from this provider session: the turn is still to be sent.
    Imported(String),
    /// The agent of the chat's earlier turns.
    Known,
}

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
    // Not raced with a cancel: an agent the daemon created is stored (and then stopped) rather
    // than left running unknown. Creating has a deadline.
    let (agent, begun) = match agent_for_chat(rt, spec, &cli, &chat_id, prompt).await {
        Ok(found) => found,
        Err(e) => return turn.finish(TurnStatus::Failed, Some(format!("{e:#}"))),
    };
    let id = agent.paseo_id.as_str();
    let created = matches!(begun, Begun::Created);
    if cancel.is_cancelled() {
        return cancelled_before_waiting(rt, &cli, id, created, turn).await;
    }
    let tail = if created { cli::WHOLE_TIMELINE } else { 0 };
    let mut following = match cli.follow(id, tail) {
        Ok(f) => f,
        Err(e) => return turn.finish(TurnStatus::Failed, Some(format!("{e:#}"))),
    };
    // Sent before the follower listens, the turn's first items would only reach the reply
    // when it settles. A follower that never starts (the daemon is down) leaves `send` or
    // `wait` to say why.
    let history = tokio::select! {
        history = following.started(cli.timeout()) => history,
        _ = cancel.cancelled() => {
            return cancelled_before_waiting(rt, &cli, id, created, turn).await;
        }
    };
    let mut reply = PaseoReply::new(prompt);
    for line in &history {
        reply.show(&mut turn, line);
    }
    let waiting = match created {
        true => cli.wait(id),
        false => cli.send(id, prompt, &rt.config.home.join(PROMPT_DIR)),
    };
    let mut waiting = match waiting {
        Ok(w) => w,
        Err(e) => return turn.finish(TurnStatus::Failed, Some(format!("{e:#}"))),
    };
    let mut follower_alive = true;
    let ended = loop {
        tokio::select! {
            line = following.next_line(), if follower_alive => match line {
                Some(line) => reply.show(&mut turn, &line),
                // It died: the transcript still has the turn.
                None => follower_alive = false,
            },
            ended = waiting.finish(&cli) => break ended,
            _ = cancel.cancelled() => {
                return stop(rt, &cli, id, waiting, following, turn).await;
            }
        }
    };
    // Its prompt file goes with it, now that paseo has read it.
    drop(waiting);
    for line in following.stop(FOLLOWER_GRACE).await {
        reply.show(&mut turn, &line);
    }
    let ended = match ended {
        Ok(ended) => ended,
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
    match turn_failure(&spec.name, id, &ended, &seen) {
        None => turn.finish(TurnStatus::Completed, None),
        Some(error) => {
            let error = match &begun {
                Begun::Imported(session) if ended.status == "error" => format!(
                    "{error} (the agent was just imported from provider session {session}, `session` in [agents.{}]: is it a session the daemon's {} has?)",
                    spec.name, agent.provider
                ),
                _ => error,
            };
            turn.finish(TurnStatus::Failed, Some(error))
        }
    }
}

fn notice(rt: &Runtime, message: String) {
    rt.emit(Event::Notice { message });
}

/// Why a turn whose `send` or `wait` answered `ended` failed; `None` when it completed.
fn turn_failure(agent: &str, id: &str, ended: &TurnResult, seen: &Inspection) -> Option<String> {
    let said = ended.message.trim();
    let call = ended.call;
    match ended.status.as_str() {
        "completed" => None,
        "error" => Some(format!("agent '{agent}': the Paseo agent ended in error: {said}")),
        "timeout" => Some(format!(
            "agent '{agent}': the Paseo agent did not finish within the 10 minutes `paseo {call}` waits; it may still be working (`paseo logs {id}` shows it, `paseo stop {id}` stops it)"
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
            "agent '{agent}': `paseo {call}` answered status '{other}': {said}"
        )),
    }
}

/// Ends a turn cancelled before its `send` or `wait` started: the turn `run` started is
/// stopped; a turn not yet sent has nothing to stop.
async fn cancelled_before_waiting(
    rt: &Runtime,
    cli: &PaseoCli,
    id: &str,
    created: bool,
    turn: ExternalTurn,
) -> TurnOutcome {
    if created {
        if let Err(e) = cli.stop(id).await {
            notice(rt, format!("{e:#}"));
        }
    }
    turn.finish(TurnStatus::Cancelled, None)
}

/// Ends a cancelled turn: `paseo stop` ends the agent's work, `send` or `wait` is given a
/// moment to return by itself before it is killed, and the follower ends.
async fn stop(
    rt: &Runtime,
    cli: &PaseoCli,
    id: &str,
    waiting: Waiting,
    following: Following,
    turn: ExternalTurn,
) -> TurnOutcome {
    if let Err(e) = cli.stop(id).await {
        notice(rt, format!("{e:#}"));
    }
    waiting.end(STOP_GRACE).await;
    // What it still holds came after the cancel.
    drop(following.stop(Duration::ZERO).await);
    turn.finish(TurnStatus::Cancelled, None)
}

/// The chat's Paseo agent: the one it has on this daemon and provider (and session), else a
/// new one — imported from the configured provider session, or created by `paseo run` on
/// `prompt` — stored at once.
async fn agent_for_chat(
    rt: &Runtime,
    spec: &AgentSpec,
    cli: &PaseoCli,
    chat_id: &str,
    prompt: &str,
) -> Result<(PaseoAgent, Begun)> {
    let provider = spec
        .provider
        .clone()
        .ok_or_else(|| anyhow!("[agents.{}]: a paseo agent needs provider", spec.name))?;
    let daemon = daemon_digest(spec.host.as_deref());
    if let Some(known) = rt.store.paseo_agent(chat_id)? {
        let same = known.agent == spec.name
            && known.provider == provider
            && known.daemon == daemon
            && known.provider_session == spec.session;
        if known.archived {
            // Archived when the chat closed: the conversation starts over on a new agent.
        } else if same {
            return Ok((known, Begun::Known));
        } else if let Err(e) = archive_chat(rt, chat_id).await {
            // The chat moved to another agent, provider, daemon or session; the old agent is
            // left.
            tracing::warn!("archiving the chat's earlier Paseo agent failed: {e:#}");
        }
    }
    let (paseo_id, begun) = match &spec.session {
        Some(session) => {
            if let Some(holder) = rt
                .store
                .paseo_session_holder(&daemon, &provider, session, chat_id)?
            {
                let title = rt.store.get_chat(&holder)?.title;
                let named = match title.trim() {
                    "" => holder,
                    title => format!("{holder} ('{title}')"),
                };
                bail!(
                    "agent '{}': provider session {session} is already continued by chat {named}; one chat at a time continues a session: go on there, or close that chat (which archives its Paseo agent) first",
                    spec.name
                );
            }
            let id = cli.import(session, &provider, chat_id).await?;
            (id, Begun::Imported(session.clone()))
        }
        None => (
            cli.create(&provider, chat_id, prompt).await?,
            Begun::Created,
        ),
    };
    let agent = PaseoAgent {
        chat_id: chat_id.to_string(),
        agent: spec.name.clone(),
        paseo_id,
        provider,
        daemon,
        provider_session: spec.session.clone(),
        archived: false,
    };
    rt.store.record_paseo_agent(&agent)?;
    Ok((agent, begun))
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
/// closed. A later turn of the chat gets a new agent.
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
