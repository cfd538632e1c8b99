//! One turn of a chat run by an external agent, persisted and announced exactly like a native
//! turn: the user message, one assistant message streaming text, reasoning and tool calls in
//! the order they came, a `model_calls` row for the prompt round trip (usage when the agent
//! reports it), and one `tool_traces` row per tool call with its latency and outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use crate::core::agent::{TurnOutcome, TurnStatus};
use crate::core::events::Event;
use crate::core::llm::types::{ToolCall, Usage};
use crate::core::runtime::Runtime;
use crate::core::store::{Chat, MessagePart, PartKind, ReplyEnd, TraceCompletion, TraceRow};

/// How often streamed text is written to the store while the reply is still arriving (as the
/// native loop does).
const PROGRESS_SAVE_INTERVAL: Duration = Duration::from_millis(500);

/// A tool call the agent reported and has not finished.
struct OpenCall {
    trace_id: String,
    tool_name: String,
    started: Instant,
}

/// How a tool call ended, as the agent reported it.
pub struct CallEnd<'a> {
    /// `success`, `error`, `cancelled`, `denied`.
    pub outcome: &'a str,
    pub output: String,
    pub diff: Option<String>,
}

pub struct ExternalTurn {
    rt: Arc<Runtime>,
    chat: Chat,
    pub turn: i64,
    call_id: String,
    message_id: String,
    parts: Vec<MessagePart>,
    last_save: Instant,
    started: Instant,
    open: HashMap<String, OpenCall>,
    usage: Usage,
    /// The parts were rebuilt after streaming ([`ExternalTurn::take_parts`]): the panes are
    /// told to show the stored reply instead of what they were streamed.
    rewritten: bool,
}

impl ExternalTurn {
    /// Stores the user message and opens the assistant message; `label` names what answers
    /// (`agent:claude`, with its model when known) in `model_calls` and the message.
    pub fn begin(rt: &Arc<Runtime>, chat: &Chat, text: &str, label: &str) -> Result<ExternalTurn> {
        let turn = rt.store.last_turn(&chat.id)? + 1;
        rt.store.insert_user_message(&chat.id, turn, text, &[])?;
        rt.emit(Event::UserMessage {
            chat_id: chat.id.clone(),
            turn,
            text: text.to_string(),
            attachments: Vec::new(),
        });
        rt.store
            .touch_chat_and_session(&chat.id, &crate::core::agent::title_of(text))?;
        rt.store.set_chat_status(&chat.id, "running")?;
        rt.emit(Event::TurnStarted {
            chat_id: chat.id.clone(),
            turn,
        });
        let call_id = rt.store.begin_model_call(&chat.id, turn, label)?;
        let message = rt.store.begin_assistant_message(&chat.id, turn, label)?;
        Ok(ExternalTurn {
            rt: rt.clone(),
            chat: chat.clone(),
            turn,
            call_id,
            message_id: message.id,
            parts: Vec::new(),
            last_save: Instant::now(),
            started: Instant::now(),
            open: HashMap::new(),
            usage: Usage::default(),
            rewritten: false,
        })
    }

    pub fn chat_id(&self) -> &str {
        &self.chat.id
    }

    /// Appends streamed text (`PartKind::Text`) or reasoning to the reply.
    pub fn stream(&mut self, kind: PartKind, delta: &str) {
        if delta.is_empty() {
            return;
        }
        match self.parts.last_mut() {
            Some(last) if last.kind == kind => last.content.push_str(delta),
            _ => self.parts.push(MessagePart::text(kind, delta)),
        }
        let chat_id = self.chat.id.clone();
        let text = delta.to_string();
        self.rt.emit(if kind == PartKind::Reasoning {
            Event::ReasoningDelta { chat_id, text }
        } else {
            Event::TextDelta { chat_id, text }
        });
        if self.last_save.elapsed() >= PROGRESS_SAVE_INTERVAL {
            self.last_save = Instant::now();
            if let Err(e) = self
                .rt
                .store
                .save_assistant_progress(&self.message_id, &self.parts)
            {
                tracing::warn!("saving streamed text failed: {e:#}");
            }
        }
    }

    pub fn is_open(&self, tool_call_id: &str) -> bool {
        self.open.contains_key(tool_call_id)
    }

    /// A tool call started: a tool-call part of the reply, a trace row, `ToolStarted`.
    pub fn tool_started(&mut self, tool_call_id: &str, tool_name: &str, input: Value) {
        let call = ToolCall::new(tool_call_id, tool_name, input.to_string());
        self.parts.push(MessagePart::tool_call(&call));
        let row = TraceRow {
            message_id: Some(self.message_id.clone()),
            ..TraceRow::started(&self.chat, self.turn, &call, input.to_string())
        };
        if let Err(e) = self.rt.store.begin_trace(&row) {
            tracing::error!("writing trace {} failed: {e:#}", row.id);
        }
        self.rt.emit(Event::ToolStarted {
            chat_id: self.chat.id.clone(),
            trace_id: row.id.clone(),
            tool_call_id: tool_call_id.to_string(),
            tool_name: tool_name.to_string(),
            input,
        });
        self.open.insert(
            tool_call_id.to_string(),
            OpenCall {
                trace_id: row.id,
                tool_name: tool_name.to_string(),
                started: Instant::now(),
            },
        );
    }

    /// A tool call ended: its trace row is closed, `ToolFinished`.
    pub fn tool_finished(&mut self, tool_call_id: &str, end: CallEnd<'_>) {
        let Some(call) = self.open.remove(tool_call_id) else {
            return;
        };
        let latency_ms = call.started.elapsed().as_millis() as u64;
        let error = (end.outcome != "success").then(|| match end.output.is_empty() {
            true => end.outcome.to_string(),
            false => end.output.clone(),
        });
        if let Err(e) = self.rt.store.finish_trace(
            &call.trace_id,
            &TraceCompletion {
                output: &end.output,
                diff: end.diff.as_deref(),
                error: error.as_deref(),
                outcome: end.outcome,
                latency_ms,
            },
        ) {
            tracing::error!("completing trace {} failed: {e:#}", call.trace_id);
        }
        self.rt.emit(Event::ToolFinished {
            chat_id: self.chat.id.clone(),
            trace_id: call.trace_id,
            tool_name: call.tool_name,
            outcome: end.outcome.to_string(),
            latency_ms,
            output: end.output,
            error,
            diff: end.diff,
        });
    }

    /// Takes the reply's parts so far: an agent whose stream was only a preview rebuilds
    /// the reply from its own record of the turn ([`ExternalTurn::push_part`]), keeping the
    /// tool-call parts it started.
    pub fn take_parts(&mut self) -> Vec<MessagePart> {
        self.rewritten = true;
        std::mem::take(&mut self.parts)
    }

    /// Appends a part without announcing it (see [`ExternalTurn::take_parts`]): the panes
    /// show the stored reply on `ReplyRewritten` when the turn finishes.
    pub fn push_part(&mut self, part: MessagePart) {
        self.parts.push(part);
    }

    /// Usage the agent reported for this turn.
    pub fn add_usage(&mut self, usage: &Usage) {
        self.usage.add(usage);
    }

    /// The reply's text so far (the last text part: what the agent said after its last tool).
    pub fn final_text(&self) -> Option<String> {
        self.parts
            .iter()
            .rev()
            .find(|p| p.kind == PartKind::Text)
            .map(|p| p.content.clone())
    }

    /// Closes the turn: calls still open end as the turn did, the reply and the model call are
    /// written, the chat goes idle and its turn is no longer running, `MessageFinished` and
    /// `TurnFinished` go out.
    pub fn finish(mut self, status: TurnStatus, error: Option<String>) -> TurnOutcome {
        let open_outcome = match status {
            TurnStatus::Cancelled => "cancelled",
            _ => "error",
        };
        let open: Vec<String> = self.open.keys().cloned().collect();
        for id in open {
            let output = match status {
                TurnStatus::Cancelled => "cancelled with the turn".to_string(),
                _ => "the turn ended before the call finished".to_string(),
            };
            self.tool_finished(
                &id,
                CallEnd {
                    outcome: open_outcome,
                    output,
                    diff: None,
                },
            );
        }
        let final_text = self.final_text();
        let message_status = match status {
            TurnStatus::Completed | TurnStatus::StepLimit => "complete",
            TurnStatus::Cancelled => "cancelled",
            TurnStatus::Failed => "failed",
        };
        let finish_reason = match status {
            TurnStatus::Completed => Some("stop"),
            TurnStatus::StepLimit => Some("length"),
            _ => None,
        };
        if let Err(e) = self.rt.store.finish_reply(&ReplyEnd {
            call_id: &self.call_id,
            message_id: &self.message_id,
            parts: &self.parts,
            status: message_status,
            error: error.as_deref(),
            usage: &self.usage,
            finish_reason,
            latency_ms: self.started.elapsed().as_millis() as u64,
        }) {
            tracing::error!("closing the agent's reply failed: {e:#}");
        }
        if let Err(e) = self.rt.store.set_chat_status(&self.chat.id, "idle") {
            tracing::error!("updating chat status failed: {e:#}");
        }
        // The chat takes a new turn from here: a client that sends at once on `TurnFinished`
        // must not find this one still registered.
        self.rt.end_turn(&self.chat.id);
        if message_status == "complete" {
            self.rt.emit(Event::MessageFinished {
                chat_id: self.chat.id.clone(),
                message_id: self.message_id.clone(),
                content: final_text.clone().unwrap_or_default(),
            });
        }
        // After `MessageFinished`, which ends the streamed preview: the stored reply then
        // takes the preview's place.
        if self.rewritten {
            self.rt.emit(Event::ReplyRewritten {
                chat_id: self.chat.id.clone(),
                message_id: self.message_id.clone(),
            });
        }
        self.rt.emit(Event::TurnFinished {
            chat_id: self.chat.id.clone(),
            turn: self.turn,
            status: status.as_str().into(),
            usage: self.usage.clone(),
            error: error.clone(),
        });
        TurnOutcome {
            chat_id: self.chat.id.clone(),
            turn: self.turn,
            status,
            final_text,
            error,
            usage: self.usage,
            context: None,
        }
    }
}
