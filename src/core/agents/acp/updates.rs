//! `session/update` notifications → the chat: message chunks as text, thought chunks as
//! reasoning, tool calls and their updates as tool lines with their diffs and locations,
//! plans, mode changes and the agent's slash commands as events.

use std::collections::HashMap;
use std::path::Path;

use agent_client_protocol as acp;
use serde_json::{json, Value};

use crate::core::agent::tools::changes::build_change;
use crate::core::agent::tools::path_guard::display_path;
use crate::core::events::{AgentCommand, Event, PlanItem};
use crate::core::runtime::Runtime;
use crate::core::store::PartKind;

use super::super::turn::{CallEnd, ExternalTurn};
use super::terminals::Terminals;

/// What a tool call has told so far (updates carry only the fields that changed).
#[derive(Default)]
struct CallState {
    diffs: Vec<String>,
    output: String,
    /// Terminals the call embeds: their output is the call's output when it ends.
    terminals: Vec<String>,
}

/// Folds one turn's updates into its [`ExternalTurn`].
pub struct UpdateFolder<'a> {
    cwd: &'a Path,
    terminals: &'a Terminals,
    calls: HashMap<String, CallState>,
}

/// A session-wide change the connection keeps (the mode, for the pane title and the store).
pub enum SessionChange {
    Mode(String),
}

impl<'a> UpdateFolder<'a> {
    pub fn new(cwd: &'a Path, terminals: &'a Terminals) -> Self {
        UpdateFolder {
            cwd,
            terminals,
            calls: HashMap::new(),
        }
    }

    pub fn apply(
        &mut self,
        rt: &Runtime,
        turn: &mut ExternalTurn,
        update: acp::SessionUpdate,
    ) -> Option<SessionChange> {
        match update {
            acp::SessionUpdate::AgentMessageChunk(chunk) => {
                turn.stream(PartKind::Text, &block_text(&chunk.content));
            }
            acp::SessionUpdate::AgentThoughtChunk(chunk) => {
                turn.stream(PartKind::Reasoning, &block_text(&chunk.content));
            }
            acp::SessionUpdate::ToolCall(call) => {
                let id = call.tool_call_id.to_string();
                let state = self.calls.entry(id.clone()).or_default();
                absorb(self.cwd, state, &call.content, call.raw_output.as_ref());
                if !turn.is_open(&id) {
                    turn.tool_started(
                        &id,
                        &tool_name(call.kind),
                        tool_input(
                            self.cwd,
                            &call.title,
                            &call.locations,
                            call.raw_input.as_ref(),
                        ),
                    );
                }
                self.finish_if_done(turn, &id, Some(call.status));
            }
            acp::SessionUpdate::ToolCallUpdate(update) => {
                let id = update.tool_call_id.to_string();
                let fields = update.fields;
                let state = self.calls.entry(id.clone()).or_default();
                absorb(
                    self.cwd,
                    state,
                    fields.content.as_deref().unwrap_or_default(),
                    fields.raw_output.as_ref(),
                );
                if !turn.is_open(&id) && !matches!(fields.status, Some(s) if is_final(s)) {
                    // An update for a call the agent never announced: announce it now.
                    turn.tool_started(
                        &id,
                        &tool_name(fields.kind.unwrap_or(acp::ToolKind::Other)),
                        tool_input(
                            self.cwd,
                            fields.title.as_deref().unwrap_or(""),
                            fields.locations.as_deref().unwrap_or_default(),
                            fields.raw_input.as_ref(),
                        ),
                    );
                }
                self.finish_if_done(turn, &id, fields.status);
            }
            acp::SessionUpdate::Plan(plan) => {
                rt.emit(Event::AgentPlan {
                    chat_id: turn.chat_id().to_string(),
                    entries: plan
                        .entries
                        .into_iter()
                        .map(|e| PlanItem {
                            content: e.content,
                            status: plan_status(e.status).into(),
                        })
                        .collect(),
                });
            }
            acp::SessionUpdate::AvailableCommandsUpdate(update) => {
                rt.emit(commands_event(turn.chat_id(), update));
            }
            acp::SessionUpdate::CurrentModeUpdate(update) => {
                return Some(SessionChange::Mode(update.current_mode_id.to_string()));
            }
            // The user's own message echoed back, and kinds this client does not show.
            _ => {}
        }
        None
    }

    fn finish_if_done(
        &mut self,
        turn: &mut ExternalTurn,
        id: &str,
        status: Option<acp::ToolCallStatus>,
    ) {
        let outcome = match status {
            Some(acp::ToolCallStatus::Completed) => "success",
            Some(acp::ToolCallStatus::Failed) => "error",
            _ => return,
        };
        let mut state = self.calls.remove(id).unwrap_or_default();
        let shown: Vec<String> = state
            .terminals
            .iter()
            .filter_map(|t| self.terminals.shown_output(t))
            .collect();
        if !shown.is_empty() {
            if !state.output.is_empty() && !state.output.ends_with('\n') {
                state.output.push('\n');
            }
            state.output.push_str(&shown.concat());
        }
        let diff = (!state.diffs.is_empty()).then(|| state.diffs.concat());
        turn.tool_finished(
            id,
            CallEnd {
                outcome,
                output: state.output,
                diff,
            },
        );
    }
}

/// The slash commands an agent offers, as the event the composer completes from.
pub fn commands_event(chat_id: &str, update: acp::AvailableCommandsUpdate) -> Event {
    Event::AgentCommands {
        chat_id: chat_id.to_string(),
        commands: update
            .available_commands
            .into_iter()
            .map(|c| AgentCommand {
                name: c.name,
                description: c.description,
            })
            .collect(),
    }
}

fn is_final(status: acp::ToolCallStatus) -> bool {
    matches!(
        status,
        acp::ToolCallStatus::Completed | acp::ToolCallStatus::Failed
    )
}

/// Diffs become unified diffs (paths relative to the worktree); text content is the call's
/// output, else its raw output.
fn absorb(
    cwd: &Path,
    state: &mut CallState,
    content: &[acp::ToolCallContent],
    raw_output: Option<&Value>,
) {
    let mut text = String::new();
    for item in content {
        match item {
            acp::ToolCallContent::Diff(d) => {
                let shown = display_path(cwd, &d.path);
                state.diffs.push(
                    build_change(
                        d.path.clone(),
                        shown,
                        d.old_text.clone(),
                        Some(d.new_text.clone()),
                    )
                    .diff,
                );
            }
            acp::ToolCallContent::Content(c) => text.push_str(&block_text(&c.content)),
            acp::ToolCallContent::Terminal(t) => {
                let id = t.terminal_id.to_string();
                if !state.terminals.contains(&id) {
                    state.terminals.push(id);
                }
            }
            _ => {}
        }
    }
    if !text.is_empty() {
        state.output = text;
    } else if let Some(raw) = raw_output {
        state.output = match raw {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    }
}

/// A tool line's name: the ACP tool kind (`read`, `edit`, `execute`, …).
fn tool_name(kind: acp::ToolKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "other".into())
}

/// A tool line's input: its title, the first location as `path` (what the tool line shows),
/// every location, and the agent's raw input.
fn tool_input(
    cwd: &Path,
    title: &str,
    locations: &[acp::ToolCallLocation],
    raw_input: Option<&Value>,
) -> Value {
    let located: Vec<Value> = locations
        .iter()
        .map(|l| json!({"path": display_path(cwd, &l.path), "line": l.line}))
        .collect();
    let mut input = json!({ "title": title });
    if let Some(first) = located.first() {
        input["path"] = first["path"].clone();
    }
    if !located.is_empty() {
        input["locations"] = Value::Array(located);
    }
    if let Some(raw) = raw_input {
        input["raw_input"] = raw.clone();
    }
    input
}

fn plan_status(status: acp::PlanEntryStatus) -> &'static str {
    match status {
        acp::PlanEntryStatus::InProgress => "in_progress",
        acp::PlanEntryStatus::Completed => "completed",
        _ => "pending",
    }
}

/// The text of a content block; other kinds are named, not dropped silently.
fn block_text(block: &acp::ContentBlock) -> String {
    match block {
        acp::ContentBlock::Text(t) => t.text.clone(),
        acp::ContentBlock::ResourceLink(link) => format!("[{}]({})", link.name, link.uri),
        acp::ContentBlock::Image(_) => "[image]".into(),
        acp::ContentBlock::Audio(_) => "[audio]".into(),
        _ => "[resource]".into(),
    }
}
