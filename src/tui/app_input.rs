//! The workspace's input: terminal events, keys (prefix, locked panes, keys forwarded to a
//! pane and the echo they await), pastes and the mouse.

use super::*;

impl App {
    /// Handles one terminal event; true when the screen must be redrawn.
    pub fn handle_terminal_event(&mut self, ev: TermEvent) -> bool {
        match ev {
            TermEvent::Key(key) if key.kind != KeyEventKind::Release => self.handle_key(key),
            TermEvent::Key(_) => false,
            TermEvent::Paste(text) => self.handle_paste(&text),
            TermEvent::Mouse(m) => self.handle_mouse(m),
            TermEvent::Resize(w, h) => {
                self.size = Rect::new(0, 0, w, h);
                true
            }
            TermEvent::FocusGained | TermEvent::FocusLost => false,
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        if self.overlay.is_some() {
            self.overlay_key(key);
            return true;
        }
        if self
            .panes
            .get(&self.layout.focus)
            .is_some_and(|p| p.is_locked())
        {
            return self.locked_key(key);
        }
        let was_pending = self.prefix_pending;
        match self.keymap.feed(&mut self.prefix_pending, key) {
            Dispatch::PrefixStarted | Dispatch::Cancelled => {}
            Dispatch::Action(a) => self.run_action(a),
            Dispatch::Unbound(k) => self.notify(format!(
                "{} {k} is not bound — {} ? lists the keys",
                self.keymap.prefix, self.keymap.prefix
            )),
            Dispatch::Forward(k) => {
                let focus = self.layout.focus;
                let ctx = ctx!(self);
                let outcome = match self.panes.get_mut(&focus) {
                    Some(p) => p.handle_key(k, &ctx),
                    None => KeyOutcome::Ignored,
                };
                match outcome {
                    KeyOutcome::Forwarded => {
                        self.awaiting_echo = Some(focus);
                        // The status line still changes when this key ended prefix mode.
                        return was_pending;
                    }
                    KeyOutcome::Ignored => return was_pending,
                    KeyOutcome::Consumed => {}
                    KeyOutcome::Actions(actions) => self.apply(actions),
                }
                self.sync_spec(focus);
            }
        }
        true
    }

    /// A locked pane gets every key, the prefix too, except the unlock key.
    fn locked_key(&mut self, key: KeyEvent) -> bool {
        let focus = self.layout.focus;
        if Key::from_event(&key) == self.keymap.unlock {
            if let Some(pane) = self.panes.get_mut(&focus) {
                pane.set_locked(false, "");
            }
            self.notify("unlocked: the prefix works again");
            return true;
        }
        self.give_focused(|pane, ctx| pane.handle_key(key, ctx))
    }

    /// Hands something to the focused pane and does what it asks; true when a redraw is due.
    fn give_focused(
        &mut self,
        give: impl FnOnce(&mut dyn Pane, &PaneContext<'_>) -> KeyOutcome,
    ) -> bool {
        let focus = self.layout.focus;
        let ctx = ctx!(self);
        let outcome = match self.panes.get_mut(&focus) {
            Some(p) => give(p.as_mut(), &ctx),
            None => KeyOutcome::Ignored,
        };
        if outcome == KeyOutcome::Forwarded {
            self.awaiting_echo = Some(focus);
        }
        self.apply_outcome(outcome)
    }

    /// Whether a program was sent a key and has not answered on screen yet.
    pub fn awaits_echo(&self) -> bool {
        self.awaiting_echo.is_some()
    }

    /// Whether the program awaited since its key has changed its screen (the echo is then no
    /// longer awaited): that frame is one the person is waiting for.
    pub fn take_echo(&mut self) -> bool {
        let Some(id) = self.awaiting_echo else {
            return false;
        };
        match self.panes.get(&id) {
            Some(pane) if !pane.has_news() => false,
            // Shown, or its pane closed.
            pane => {
                self.awaiting_echo = None;
                pane.is_some()
            }
        }
    }

    /// Does what a pane asked; true when the screen must be redrawn.
    fn apply_outcome(&mut self, outcome: KeyOutcome) -> bool {
        match outcome {
            KeyOutcome::Ignored | KeyOutcome::Forwarded => false,
            KeyOutcome::Consumed => true,
            KeyOutcome::Actions(a) => {
                self.apply(a);
                true
            }
        }
    }

    /// Asks every pane what changed on its own (after [`App::wake`] fired); true when the
    /// screen must be redrawn.
    pub fn poll_panes(&mut self) -> bool {
        let mut outcomes = Vec::new();
        for (id, pane) in self.panes.iter_mut() {
            let outcome = pane.poll();
            if self.awaiting_echo == Some(*id) && outcome != KeyOutcome::Ignored {
                self.awaiting_echo = None;
            }
            outcomes.push(outcome);
        }
        outcomes
            .into_iter()
            .fold(false, |dirty, outcome| self.apply_outcome(outcome) | dirty)
    }

    fn handle_paste(&mut self, text: &str) -> bool {
        match &mut self.overlay {
            Some(Overlay::Picker(picker)) => {
                picker.paste(text);
                return true;
            }
            Some(Overlay::Help { .. } | Overlay::Quit(_)) => return false,
            None => {}
        }
        self.give_focused(|pane, ctx| pane.handle_paste(text, ctx))
    }

    fn handle_mouse(&mut self, m: MouseEvent) -> bool {
        if self.overlay.is_some() {
            return false;
        }
        let rects = self.layout.rects(self.pane_area());
        let Some((id, rect)) = rects.into_iter().find(|(_, r)| {
            m.column >= r.x && m.column < r.x + r.width && m.row >= r.y && m.row < r.y + r.height
        }) else {
            return false;
        };
        let mut dirty = false;
        if matches!(m.kind, MouseEventKind::Down(MouseButton::Left)) && id != self.layout.focus {
            self.layout.focus = id;
            self.update_last_chat();
            self.save_layout();
            dirty = true;
        }
        let body = body_of(rect);
        let ctx = ctx!(self);
        let outcome = match self.panes.get_mut(&id) {
            Some(p) => p.handle_mouse(m, body, &ctx),
            None => KeyOutcome::Ignored,
        };
        self.apply_outcome(outcome) | dirty
    }

    fn overlay_key(&mut self, key: KeyEvent) {
        let Some(overlay) = &mut self.overlay else {
            return;
        };
        let scroll = match overlay {
            Overlay::Help { scroll } => scroll,
            Overlay::Picker(picker) => {
                match picker.key(key) {
                    PickerKey::Stay => {}
                    PickerKey::Close => self.overlay = None,
                    PickerKey::Chosen(choice) => {
                        self.overlay = None;
                        self.choose(choice);
                    }
                }
                return;
            }
            Overlay::Quit(_) => {
                if let Some(quit) = QuitQuestion::answer(&key) {
                    self.overlay = None;
                    self.quit = quit;
                }
                return;
            }
        };
        let ctrl_c = key.code == KeyCode::Char('c')
            && key
                .modifiers
                .contains(crossterm::event::KeyModifiers::CONTROL);
        match key.code {
            _ if ctrl_c => self.overlay = None,
            KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => *scroll += 1,
            KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
            KeyCode::PageDown | KeyCode::Char(' ') => *scroll += 10,
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Enter => {
                self.overlay = None
            }
            _ => {}
        }
    }

    /// Carries out what was picked in the palette or a picker.
    fn choose(&mut self, choice: Choice) {
        match choice {
            Choice::Action(action) => self.run_action(action),
            Choice::Slash(name) => self.type_slash_command(name),
            Choice::Session(id) => self.switch_session(&id),
            Choice::Chat {
                chat_id,
                session_id,
            } => self.show_chat(&chat_id, &session_id),
        }
    }

    /// Puts `/name ` in the composer of the chat last focused, for the user to complete and
    /// send: a command is never run from the palette without the user pressing Enter.
    fn type_slash_command(&mut self, name: &str) {
        let Some(id) = self.last_chat.clone().and_then(|c| self.find_chat_pane(&c)) else {
            self.notify(format!("/{name} works in a chat pane: open one first"));
            return;
        };
        self.layout.focus = id;
        self.focus_changed();
        let ctx = ctx!(self);
        if let Some(pane) = self.panes.get_mut(&id) {
            pane.handle_paste(&format!("/{name} "), &ctx);
        }
    }
}
