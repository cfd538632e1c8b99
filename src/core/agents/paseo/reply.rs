//! A Paseo turn's reply in the chat: previewed from the followed transcript as its lines
//! arrive, then settled from the agent's whole transcript once the turn is over
//! ([`super::transcript`]).

use std::collections::VecDeque;

use crate::core::agents::turn::{CallEnd, ExternalTurn};
use crate::core::store::{new_id, MessagePart, PartKind};

use super::transcript::{Entry, LiveReader, Preview, ToolLine};

/// What a tool call's trace says of its result: the transcript names a call, never its
/// result, so a call is taken to have ended when the agent went on to something else.
const MOVED_ON: &str = "the agent went on (Paseo's transcript does not show a call's result)";

pub struct PaseoReply {
    live: LiveReader,
    /// The tool call the agent is in, as far as the followed lines tell.
    open_call: Option<String>,
}

impl PaseoReply {
    pub fn new(prompt: &str) -> PaseoReply {
        PaseoReply {
            live: LiveReader::new(prompt),
            open_call: None,
        }
    }

    /// Shows a line of `paseo logs -f` in the reply.
    pub fn show(&mut self, turn: &mut ExternalTurn, line: &str) {
        match self.live.read(line) {
            Preview::Nothing => {}
            Preview::Text(delta) => {
                self.end_open_call(turn);
                turn.stream(PartKind::Text, &delta);
            }
            Preview::Reasoning(delta) => {
                self.end_open_call(turn);
                turn.stream(PartKind::Reasoning, &delta);
            }
            Preview::Tool(tool) => {
                self.end_open_call(turn);
                self.open_call = Some(start_call(turn, &tool));
            }
        }
    }

    fn end_open_call(&mut self, turn: &mut ExternalTurn) {
        if let Some(id) = self.open_call.take() {
            end_call(turn, &id);
        }
    }

    /// Rebuilds the reply from `entries`, the turn as the agent's transcript records it: its
    /// text and reasoning exactly, its tool calls matched in order with those already shown
    /// (by name), any the preview missed started and ended now.
    pub fn settle(mut self, turn: &mut ExternalTurn, entries: Vec<Entry>) {
        self.end_open_call(turn);
        let mut shown: VecDeque<MessagePart> = turn
            .take_parts()
            .into_iter()
            .filter(|p| p.kind == PartKind::ToolCall)
            .collect();
        for entry in entries {
            match entry {
                Entry::Text(text) => turn.push_part(MessagePart::text(PartKind::Text, text)),
                Entry::Reasoning(text) => {
                    turn.push_part(MessagePart::text(PartKind::Reasoning, text))
                }
                Entry::Tool(tool) => {
                    let seen = shown
                        .front()
                        .is_some_and(|p| p.tool_name.as_deref() == Some(tool.name.as_str()));
                    match seen.then(|| shown.pop_front()).flatten() {
                        Some(part) => turn.push_part(part),
                        None => {
                            let id = start_call(turn, &tool);
                            end_call(turn, &id);
                        }
                    }
                }
            }
        }
    }
}

fn start_call(turn: &mut ExternalTurn, tool: &ToolLine) -> String {
    let id = new_id();
    turn.tool_started(&id, &tool.name, tool.input());
    id
}

fn end_call(turn: &mut ExternalTurn, id: &str) {
    turn.tool_finished(
        id,
        CallEnd {
            outcome: "success",
            output: MOVED_ON.to_string(),
            diff: None,
        },
    );
}
