//! Keys: the composer, the transcript selection, and what they send.

use super::*;

impl ChatPane {
    pub(super) fn actionable(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| self.items[i].is_actionable())
            .collect()
    }

    pub(super) fn move_selection(&mut self, down: bool) {
        let all = self.actionable();
        let next = match self.selected {
            None => all.last().copied(),
            Some(s) if down => all.iter().copied().find(|&i| i > s).or(Some(s)),
            Some(s) => all.iter().rev().copied().find(|&i| i < s).or(Some(s)),
        };
        if let Some(i) = next {
            self.selected = Some(i);
            self.reveal_item(i);
        }
    }

    pub(super) fn resume(&mut self) -> Option<KeyOutcome> {
        if self.status != Status::Interrupted {
            return None;
        }
        self.status = Status::Streaming;
        for it in &mut self.items {
            if let Kind::Interrupted { resumed } = &mut it.kind {
                *resumed = true;
                it.invalidate();
            }
        }
        self.top = None;
        // Back to the composer, where Esc cancels the resumed turn.
        self.focus = Focus::Composer;
        self.selected = None;
        Some(KeyOutcome::Actions(vec![AppAction::Engine(
            Command::ResumeChat {
                chat_id: self.chat_id.clone(),
            },
        )]))
    }

    pub(super) fn is_running(&self) -> bool {
        matches!(self.status, Status::Streaming | Status::RunningTool(_))
    }

    pub(super) fn transcript_key(&mut self, key: KeyEvent) -> KeyOutcome {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(false),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(true),
            KeyCode::Enter | KeyCode::Char(' ') | KeyCode::Char('e') => {
                if let Some(i) = self.selected {
                    if let Some(it) = self.items.get_mut(i) {
                        it.toggle();
                    }
                }
            }
            KeyCode::Char('v') => {
                let start = match self.selected {
                    Some(i) => (i, 0),
                    None => self.top_pos(),
                };
                self.copy = Some((start, start));
                self.reveal(start);
            }
            KeyCode::Esc | KeyCode::Tab | KeyCode::Char('i') => {
                self.focus = Focus::Composer;
                self.selected = None;
            }
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                // Typing goes back to the composer.
                self.focus = Focus::Composer;
                self.selected = None;
                self.composer.insert_char(c);
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Consumed
    }

    /// boocode's slash commands, then the bound agent's, that complete what is typed.
    pub(super) fn popup_items(&self) -> Vec<(String, String, String)> {
        slash::completions(self.composer.text())
            .into_iter()
            .map(|(n, a, d)| (n.to_string(), a.to_string(), d.to_string()))
            .chain(self.agent_completions())
            .collect()
    }

    pub(super) fn complete(&mut self) {
        let items = self.popup_items();
        if let Some((name, _, _)) = items.get(self.popup.min(items.len().saturating_sub(1))) {
            self.composer.set_text(&format!("/{name} "));
        }
        self.popup = 0;
    }

    pub(super) fn composer_key(&mut self, key: KeyEvent) -> KeyOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        let popup = self.popup_items();
        if !popup.is_empty() {
            match key.code {
                KeyCode::Tab => {
                    self.complete();
                    return KeyOutcome::Consumed;
                }
                KeyCode::Down => {
                    self.popup = (self.popup + 1) % popup.len();
                    return KeyOutcome::Consumed;
                }
                KeyCode::Up => {
                    self.popup = (self.popup + popup.len() - 1) % popup.len();
                    return KeyOutcome::Consumed;
                }
                KeyCode::Enter if !alt && !shift => {
                    let typed = self.composer.text().trim_start_matches('/').to_string();
                    // A command whose argument is absent or optional (`[NAME]`) runs as typed.
                    let exact = popup.iter().any(|(n, args, _)| {
                        *n == typed && (args.is_empty() || args.starts_with('['))
                    });
                    if !exact {
                        self.complete();
                        return KeyOutcome::Consumed;
                    }
                }
                _ => {}
            }
        }
        match key.code {
            KeyCode::Enter if alt || shift => self.composer.newline(),
            KeyCode::Char('j') if ctrl => self.composer.newline(),
            KeyCode::Enter => return self.submit(),
            KeyCode::Esc => {
                if self.is_running() {
                    return KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelTurn {
                        chat_id: self.chat_id.clone(),
                    })]);
                }
                // Attached images stay: Esc is pressed for many things, and losing an image
                // to it would go unnoticed. Backspace on an empty draft removes one, visibly.
                let Some(models) = self.compare.take() else {
                    return KeyOutcome::Ignored;
                };
                self.push(Kind::Notice(format!(
                    "compare with {} dropped",
                    models.join(", ")
                )));
                self.top = None;
            }
            KeyCode::Tab => {
                if self.actionable().is_empty() {
                    return KeyOutcome::Ignored;
                }
                self.focus = Focus::Transcript;
                self.selected = None;
                self.move_selection(false);
            }
            KeyCode::Backspace if self.composer.is_empty() && !self.attachments.is_empty() => {
                if let Some(a) = self.attachments.pop() {
                    self.push(Kind::Notice(format!(
                        "removed image {} — /attach adds it again",
                        a.name
                    )));
                    self.top = None;
                }
            }
            KeyCode::Backspace => self.composer.backspace(),
            KeyCode::Delete => self.composer.delete(),
            KeyCode::Left => self.composer.left(),
            KeyCode::Right => self.composer.right(),
            KeyCode::Up if !alt => self.composer.up(),
            KeyCode::Down if !alt => self.composer.down(),
            KeyCode::Char('a') if ctrl => self.composer.line_start(),
            KeyCode::Char('e') if ctrl => self.composer.line_end(),
            KeyCode::Char('w') if ctrl => self.composer.delete_word(),
            KeyCode::Char('u') if ctrl => self.composer.clear(),
            KeyCode::Char(c) if !ctrl && !alt => {
                self.composer.insert_char(c);
                self.popup = 0;
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Consumed
    }

    pub(super) fn submit(&mut self) -> KeyOutcome {
        let shown = self.composer.text().to_string();
        if shown.trim().is_empty() && self.attachments.is_empty() {
            return KeyOutcome::Consumed;
        }
        if self.is_agent_command(&shown) {
            return self.send();
        }
        match slash::parse(&shown) {
            Err(e) => {
                self.push(Kind::Error(e));
                self.top = None;
                KeyOutcome::Consumed
            }
            Ok(Some(cmd)) => {
                self.composer.take();
                self.run_slash(cmd)
            }
            Ok(None) => self.send(),
        }
    }

    pub(super) fn send(&mut self) -> KeyOutcome {
        // An external agent brings its own model access: no provider key is needed.
        if let Some(msg) = self.missing_key.clone().filter(|_| self.agent.is_none()) {
            self.push(Kind::Error(msg));
            self.top = None;
            return KeyOutcome::Consumed;
        }
        if self.is_running() {
            self.push(Kind::Notice(
                "a turn is running — wait for it, or Esc to cancel it".into(),
            ));
            self.top = None;
            return KeyOutcome::Consumed;
        }
        let mut text = self.composer.take();
        if text.starts_with("//") {
            text.remove(0);
        }
        self.top = None;
        if let Some(models) = self.compare.take() {
            self.push(Kind::Notice(format!(
                "compare: sent to {}",
                models.join(", ")
            )));
            return KeyOutcome::Actions(vec![AppAction::Compare {
                models,
                prompt: text,
            }]);
        }
        let attachments = std::mem::take(&mut self.attachments);
        self.turn += 1;
        self.push(Kind::User {
            text: text.clone(),
            attachments: attachments.iter().map(|a| a.name.clone()).collect(),
        });
        self.echoed = Some(text.clone());
        self.status = Status::Streaming;
        KeyOutcome::Actions(vec![AppAction::Engine(Command::SendMessage {
            chat_id: self.chat_id.clone(),
            text,
            attachments: attachments.into_iter().map(|a| a.path).collect(),
        })])
    }

    pub(super) fn run_slash(&mut self, cmd: Slash) -> KeyOutcome {
        self.top = None;
        match cmd {
            Slash::Model(name) => match self.engine.set_chat_model(&self.chat_id, &name) {
                Ok(()) => {
                    if let Ok(chat) = self.engine.chat(&self.chat_id) {
                        self.model = chat.model;
                    }
                    self.push(Kind::Notice(format!("model: {}", self.model)));
                }
                Err(e) => {
                    self.push(Kind::Error(format!("/model: {e:#}")));
                }
            },
            Slash::Models => {
                let aliases = &self.engine.rt.config.model_aliases;
                let mut text = format!("model: {} — /model NAME switches", self.model);
                if !aliases.is_empty() {
                    let listed: Vec<String> =
                        aliases.iter().map(|(a, m)| format!("{a} → {m}")).collect();
                    text.push_str(&format!("; aliases: {}", listed.join(", ")));
                }
                self.push(Kind::Notice(text));
                return KeyOutcome::Actions(vec![AppAction::Engine(Command::ListModels {
                    chat_id: self.chat_id.clone(),
                })]);
            }
            Slash::New => return KeyOutcome::Actions(vec![AppAction::NewChat]),
            Slash::Agent(name) => return self.bind_agent(&name),
            Slash::Resume => return KeyOutcome::Actions(vec![AppAction::PickSession]),
            Slash::Help => return KeyOutcome::Actions(vec![AppAction::Help]),
            Slash::Skills => {
                let rt = &self.engine.rt;
                let catalog =
                    SkillCatalog::discover(&rt.project_root, rt.config.user_home.as_deref());
                for line in catalog.describe() {
                    self.push(Kind::Notice(line));
                }
            }
            Slash::Clear => {
                // Display only: the model keeps the history (use /new for a fresh context).
                self.floor_seq = self
                    .engine
                    .message_count(&self.chat_id)
                    .unwrap_or(0)
                    .saturating_add(1);
                self.first_seq = self.floor_seq;
                self.items.clear();
                self.selected = None;
                self.copy = None;
                self.reindex();
                self.push(Kind::Notice(
                    "view cleared — the model still sees the history; /new starts afresh".into(),
                ));
            }
            Slash::Attach(path) => {
                let path = if path.is_absolute() {
                    path
                } else {
                    self.engine.rt.project_root.join(path)
                };
                match images::image_info(&path) {
                    Ok(info) => self.attachments.push(Attachment {
                        name: file_name(&path.to_string_lossy()),
                        path,
                        bytes: info.bytes,
                        width: info.width,
                        height: info.height,
                    }),
                    Err(e) => {
                        self.push(Kind::Error(format!("/attach: {e}")));
                    }
                }
            }
            Slash::Compare(arg) => {
                let config = &self.engine.rt.config;
                let agents =
                    crate::core::agents::registry::agents(&config.agents).unwrap_or_default();
                let is_name = |w: &str| {
                    agents.iter().any(|a| a.name == w)
                        || config.model_aliases.contains_key(w)
                        || w == config.model
                        || slash::looks_like_model(w)
                };
                let (names, prompt) = slash::compare_split(&arg, is_name);
                if let Some(prompt) = prompt {
                    self.push(Kind::Notice(format!(
                        "compare: sent to {}",
                        names.join(", ")
                    )));
                    return KeyOutcome::Actions(vec![AppAction::Compare {
                        models: names,
                        prompt,
                    }]);
                }
                self.push(Kind::Notice(format!(
                    "the next prompt goes to {} side by side (Esc cancels)",
                    names.join(", ")
                )));
                self.compare = Some(names);
            }
            Slash::Approval(mode) => {
                let current = self.engine.rt.config.approval.as_str();
                let text = match mode.parse::<crate::core::agent::tools::ApprovalMode>() {
                    Ok(m) => format!(
                        "approval is set per project, not per chat: put approval = \"{}\" in \
                         .boocode/config.toml (now: {current})",
                        m.as_str()
                    ),
                    Err(e) => {
                        self.push(Kind::Error(format!("/approval: {e}")));
                        return KeyOutcome::Consumed;
                    }
                };
                self.push(Kind::Notice(text));
            }
            Slash::Compact(focus) => {
                if self.is_running() {
                    self.push(Kind::Notice(
                        "a turn is running — /compact when it ends (compaction also happens on \
                         its own near the context limit)"
                            .into(),
                    ));
                    return KeyOutcome::Consumed;
                }
                self.push(Kind::Notice("compacting the context…".into()));
                return KeyOutcome::Actions(vec![AppAction::Engine(Command::CompactChat {
                    chat_id: self.chat_id.clone(),
                    focus,
                })]);
            }
            Slash::Workflow { name, args } => {
                let args = match crate::core::workflow::args::args_from_text(&args) {
                    Ok(args) => args,
                    Err(e) => {
                        self.push(Kind::Error(format!("/workflow {name}: args: {e}")));
                        return KeyOutcome::Consumed;
                    }
                };
                self.push(Kind::Notice(format!(
                    "starting workflow {name}: progress in the orchestrator pane, the result \
                     comes back here"
                )));
                return KeyOutcome::Actions(vec![AppAction::RunWorkflow { name, args }]);
            }
        }
        KeyOutcome::Consumed
    }
}
