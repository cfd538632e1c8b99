//! Folding engine events into the transcript.

use super::*;

impl ChatPane {
    pub(super) fn last_streaming(&mut self) -> Option<usize> {
        let i = self.items.len().checked_sub(1)?;
        matches!(self.items[i].kind, Kind::Assistant { done: None, .. }).then_some(i)
    }

    /// The stored reply the pane opened on is still arriving (a running sub-agent's chat):
    /// its deltas go on in the same item, and its end replaces it, instead of a second item
    /// appearing beside a frozen fragment. Text written between the last save and the pane
    /// opening shows when the reply ends.
    pub(super) fn reopen_stream(&mut self) {
        let width = if self.width == 0 { 80 } else { self.width };
        let Some(it) = self.items.last_mut() else {
            return;
        };
        if let Kind::Assistant {
            stream,
            done: done @ Some(_),
        } = &mut it.kind
        {
            if let Some(text) = done.take() {
                stream.push(&text, width, &self.theme);
            }
            it.invalidate();
        }
    }

    /// A call whose change is shown as its own item leaves the diff to it, so each diff
    /// shows once.
    pub(super) fn link_changes(&mut self) {
        let shown: std::collections::HashSet<String> = self
            .items
            .iter()
            .filter_map(|it| match &it.kind {
                Kind::Change { change_id, .. } => Some(change_id.clone()),
                _ => None,
            })
            .collect();
        for it in &mut self.items {
            if let Kind::Tool(t) = &mut it.kind {
                let in_change = t.change_id.as_ref().is_some_and(|id| shown.contains(id));
                if in_change != t.diff_in_change {
                    t.diff_in_change = in_change;
                    it.invalidate();
                }
            }
        }
    }

    /// Calls from history whose change was decided before this pane opened say how, since
    /// only pending changes come back as items of their own.
    pub(super) fn mark_decided_changes(&mut self) {
        for it in &mut self.items {
            let Kind::Tool(t) = &mut it.kind else {
                continue;
            };
            let Some(id) = t.change_id.as_deref().filter(|_| !t.diff_in_change) else {
                continue;
            };
            if let Ok(status) = self.engine.change_status(id) {
                if status != "pending" {
                    t.decided = Some(status);
                    it.invalidate();
                }
            }
        }
    }

    /// Ends streamed items (a turn ended without `MessageFinished`, e.g. cancelled).
    pub(super) fn settle_streams(&mut self, width: usize) {
        for it in self.items.iter_mut().rev().take(8) {
            if let Kind::Assistant { stream, done: None } = &it.kind {
                let text = stream.buffer().to_string();
                it.finish_stream(&text, width, &self.theme);
            }
        }
    }

    /// Drops the partial reply of a retried request.
    pub(super) fn discard_partial(&mut self) {
        while let Some(last) = self.items.last() {
            let partial = match &last.kind {
                Kind::Assistant { done, .. } => done.is_none(),
                Kind::Reasoning { .. } => true,
                _ => false,
            };
            if !partial || last.turn != self.turn {
                break;
            }
            self.items.pop();
        }
        if self.selected.is_some_and(|s| s >= self.items.len()) {
            self.selected = None;
        }
    }

    /// Shows the stored reply `message_id` of the current turn in place of what was streamed
    /// for it (an external agent rebuilt the reply from its own record of the turn).
    fn show_stored_reply(&mut self, message_id: &str) -> bool {
        // Nothing is stored after a reply while its turn ends: it is among the newest.
        let newest = self.engine.message_count(&self.chat_id).and_then(|count| {
            self.engine
                .transcript_range(&self.chat_id, (count - 3).max(1), 4)
        });
        let message = match newest {
            Ok(messages) => messages.into_iter().find(|m| m.id == message_id),
            Err(e) => {
                tracing::warn!("reloading reply {message_id}: {e:#}");
                None
            }
        };
        let Some(message) = message else {
            return false;
        };
        let turn = message.turn_number;
        let streamed = |it: &Item| {
            it.turn == turn
                && matches!(
                    it.kind,
                    Kind::Assistant { .. } | Kind::Reasoning { .. } | Kind::Tool(_)
                )
        };
        let at = self
            .items
            .iter()
            .position(streamed)
            .unwrap_or(self.items.len());
        self.items.retain(|it| !streamed(it));
        let stored = super::transcript_items(&self.engine, &self.chat_id, &[message], None);
        self.items.splice(at..at, stored);
        if self.top.is_some_and(|(item, _)| item >= at) {
            self.top = None;
        }
        if self.selected.is_some_and(|s| s >= at) {
            self.selected = None;
        }
        self.reindex();
        self.link_changes();
        self.mark_decided_changes();
        true
    }

    pub(super) fn fold(&mut self, event: &Event) -> bool {
        // Before the first draw the width is unknown; a later draw re-renders at the real one.
        let width = if self.width == 0 { 80 } else { self.width };
        match event {
            Event::TurnStarted { turn, .. } => {
                self.turn = *turn;
                self.status = Status::Streaming;
                if self.title.is_empty() {
                    // The core titles a chat from its first message when that turn starts.
                    if let Ok(chat) = self.engine.chat(&self.chat_id) {
                        self.title = chat.title;
                    }
                }
                for it in &mut self.items {
                    if let Kind::Interrupted { resumed } = &mut it.kind {
                        *resumed = true;
                        it.invalidate();
                    }
                }
            }
            Event::UserMessage {
                turn,
                text,
                attachments,
                ..
            } => {
                if self.echoed.take().as_ref() == Some(text) {
                    return false;
                }
                self.turn = *turn;
                self.top = None;
                self.push(Kind::User {
                    text: text.clone(),
                    attachments: attachments.clone(),
                });
            }
            Event::WorkflowReported { heading, body, .. } => {
                self.items
                    .extend(items::report_items(heading, body, self.turn));
            }
            Event::ModelCallStarted { model, context, .. } => {
                self.model = model.clone();
                self.context = Some(*context);
                self.status = Status::Streaming;
            }
            Event::TextDelta { text, .. } => {
                self.status = Status::Streaming;
                let i = match self.last_streaming() {
                    Some(i) => i,
                    None => self.push(Kind::Assistant {
                        stream: MarkdownStream::new(),
                        done: None,
                    }),
                };
                let theme = &self.theme;
                let it = &mut self.items[i];
                if let Kind::Assistant { stream, .. } = &mut it.kind {
                    stream.push(text, width, theme);
                }
                // The open line grew even when no line was completed.
                it.append_streamed(width, theme);
            }
            Event::ReasoningDelta { text, .. } => {
                self.status = Status::Streaming;
                match self.items.last_mut() {
                    Some(it)
                        if matches!(it.kind, Kind::Reasoning { .. }) && it.turn == self.turn =>
                    {
                        if let Kind::Reasoning { text: t, .. } = &mut it.kind {
                            t.push_str(text);
                        }
                        it.invalidate();
                    }
                    _ => {
                        self.push(Kind::Reasoning {
                            text: text.clone(),
                            expanded: false,
                        });
                    }
                }
            }
            Event::Retrying {
                attempt,
                max_attempts,
                delay_ms,
                reason,
                discard_partial,
                ..
            } => {
                if *discard_partial {
                    self.discard_partial();
                }
                self.push(Kind::Notice(retry_notice(
                    *attempt,
                    *max_attempts,
                    *delay_ms,
                    reason,
                )));
            }
            Event::ModelCallFinished { usage, context, .. } => {
                self.tokens += usage.prompt_tokens + usage.completion_tokens;
                self.context = Some(*context);
            }
            Event::ReplyRewritten { message_id, .. } => return self.show_stored_reply(message_id),
            Event::MessageFinished { content, .. } => match self.last_streaming() {
                Some(i) => self.items[i].finish_stream(content, width, &self.theme),
                None if !content.trim().is_empty() => {
                    self.push(Kind::Assistant {
                        stream: MarkdownStream::new(),
                        done: Some(content.clone()),
                    });
                }
                None => return false,
            },
            Event::ToolStarted {
                trace_id,
                tool_call_id,
                tool_name,
                input,
                ..
            } => {
                self.settle_streams(width);
                self.status = Status::RunningTool(tool_name.clone());
                let i = self.push(Kind::Tool(ToolItem {
                    tool_call_id: Some(tool_call_id.clone()),
                    trace_id: Some(trace_id.clone()),
                    name: tool_name.clone(),
                    input: input.to_string(),
                    output: None,
                    diff: None,
                    state: ToolState::Running,
                    expanded: false,
                    diff_expanded: false,
                    change_id: None,
                    diff_in_change: false,
                    decided: None,
                }));
                self.tools_by_call.insert(tool_call_id.clone(), i);
                self.tools_by_trace.insert(trace_id.clone(), i);
            }
            Event::ToolFinished {
                trace_id,
                outcome,
                latency_ms,
                output,
                error,
                diff,
                ..
            } => {
                let Some(&i) = self.tools_by_trace.get(trace_id) else {
                    return false;
                };
                if let Some(Item {
                    kind: Kind::Tool(t),
                    ..
                }) = self.items.get_mut(i)
                {
                    t.state = ToolState::Done {
                        outcome: outcome.clone(),
                        latency_ms: Some(*latency_ms),
                        error: error.clone(),
                    };
                    t.set_output(output.clone());
                    t.diff = diff.clone().filter(|d| !d.is_empty());
                }
                self.items[i].invalidate();
                self.link_changes();
                if !self.items.iter().any(Item::animates) {
                    self.status = Status::Streaming;
                }
            }
            Event::ChangePending {
                change_id,
                path,
                diff,
                ..
            } => {
                // Shown on the decision line; the keys stay with whatever the user was doing.
                self.push(Kind::pending_change(
                    change_id.clone(),
                    path.clone(),
                    diff.clone(),
                ));
                self.link_changes();
            }
            Event::ChangeResolved { change_id, applied } => {
                let Some(it) = self.items.iter_mut().find(
                    |it| matches!(&it.kind, Kind::Change { change_id: c, .. } if c == change_id),
                ) else {
                    return false;
                };
                if let Kind::Change {
                    state, decided_in, ..
                } = &mut it.kind
                {
                    *state = if *applied {
                        ChangeState::Applied
                    } else {
                        ChangeState::Rejected
                    };
                    *decided_in = Some(self.turn);
                }
                it.invalidate();
            }
            Event::CommandConfirmationRequested {
                request_id,
                command,
                ..
            } => {
                self.push(Kind::Confirm {
                    request_id: request_id.clone(),
                    command: command.clone(),
                    answer: None,
                    outlives_turn: false,
                });
            }
            Event::ProjectApprovalRequested {
                request_id,
                question,
                ..
            } => {
                self.push(Kind::Confirm {
                    request_id: request_id.clone(),
                    command: question.clone(),
                    answer: None,
                    outlives_turn: true,
                });
            }
            Event::TurnFinished { status, error, .. } => {
                self.settle_streams(width);
                self.settle_permissions();
                self.status = Status::Idle;
                // A question the turn did not wait for is answered no (the command never ran).
                for it in &mut self.items {
                    if let Kind::Confirm {
                        answer: answer @ None,
                        outlives_turn: false,
                        ..
                    } = &mut it.kind
                    {
                        *answer = Some(false);
                        it.invalidate();
                    }
                }
                match (status.as_str(), error) {
                    ("completed", _) => {}
                    ("cancelled", _) => {
                        self.push(Kind::Notice("turn cancelled".into()));
                    }
                    ("step_limit", _) => {
                        self.push(Kind::Notice(
                            "stopped at the step limit — send a message to continue".into(),
                        ));
                    }
                    (_, Some(e)) => {
                        self.push(Kind::Error(e.clone()));
                    }
                    (other, None) => {
                        self.push(Kind::Error(format!("turn {other}")));
                    }
                }
            }
            Event::ContextLoaded {
                instructions,
                skills,
                ..
            } => {
                self.push(Kind::Notice(context::describe(instructions, skills)));
            }
            Event::HookFinished { .. } => {
                let lines = hooks::report_lines(event);
                if lines.is_empty() {
                    return false;
                }
                for line in lines {
                    self.push(Kind::Notice(line));
                }
            }
            Event::ContextCompacted {
                notice,
                summary,
                covers_turns_before,
                ..
            } => {
                // Whole turns the summary covers dim at once; the store marks each message
                // exactly when the transcript is loaded again.
                if let Some(before) = *covers_turns_before {
                    for it in self.items.iter_mut().filter(|it| it.turn < before) {
                        it.compacted = true;
                        it.invalidate();
                    }
                }
                let text = summary.clone().unwrap_or_default();
                self.items
                    .push(summary_item(notice.clone(), text, self.turn));
            }
            Event::ModelList { models, error, .. } => {
                self.push(Kind::Notice(match (models.is_empty(), error) {
                    (false, _) => format!("models on the server: {}", models.join(", ")),
                    (true, Some(e)) => format!("the server lists no models ({e})"),
                    (true, None) => "the server lists no models".into(),
                }));
            }
            other => return self.fold_agent(other),
        }
        true
    }
}
