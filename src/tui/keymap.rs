//! Workspace key bindings: a tmux-style prefix table, a small root table (keys that work
//! without the prefix), and the prefix state machine.
//!
//! Config (`config.toml`):
//!
//! ```toml
//! [ui]
//! prefix = "C-a"              # default C-b
//! unlock = "F12"              # ends a terminal pane's locked mode (default C-g)
//! [ui.keys]                   # keys pressed after the prefix
//! split_right = "|"
//! close = ["x", "X"]
//! [ui.root_keys]              # keys that work without the prefix
//! focus_left = "M-h"
//! ```
//!
//! A rebinding replaces that action's default keys in that table; `""` or `[]` unbinds it.
//! Key strings: one character (`%`, `"`, `h`), a name (`Left`, `Enter`, `Esc`, `Tab`, `BTab`,
//! `Space`, `BSpace`, `Home`, `End`, `PageUp`, `PageDown`, `Delete`, `F1`…`F12`), with any of
//! the modifiers `C-` (Ctrl), `M-` (Alt) and `S-` (Shift) in front.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};

/// Everything the workspace can do from the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    SplitRight,
    SplitDown,
    FocusLeft,
    FocusDown,
    FocusUp,
    FocusRight,
    FocusNext,
    ResizeLeft,
    ResizeDown,
    ResizeUp,
    ResizeRight,
    Zoom,
    Close,
    SwapPrev,
    SwapNext,
    NewChat,
    Terminal,
    Trace,
    Orchestrator,
    Background,
    Changes,
    Timeline,
    Sessions,
    Chats,
    ScrollMode,
    Search,
    Lock,
    Help,
    Palette,
    Quit,
}

impl Action {
    pub const ALL: [Action; 30] = [
        Action::SplitRight,
        Action::SplitDown,
        Action::FocusLeft,
        Action::FocusDown,
        Action::FocusUp,
        Action::FocusRight,
        Action::FocusNext,
        Action::ResizeLeft,
        Action::ResizeDown,
        Action::ResizeUp,
        Action::ResizeRight,
        Action::Zoom,
        Action::Close,
        Action::SwapPrev,
        Action::SwapNext,
        Action::NewChat,
        Action::Terminal,
        Action::Trace,
        Action::Orchestrator,
        Action::Background,
        Action::Changes,
        Action::Timeline,
        Action::Sessions,
        Action::Chats,
        Action::ScrollMode,
        Action::Search,
        Action::Lock,
        Action::Help,
        Action::Palette,
        Action::Quit,
    ];

    /// The name used in config files and the palette.
    pub fn name(self) -> &'static str {
        self.info().0
    }

    pub fn description(self) -> &'static str {
        self.info().1
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    fn info(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    ) {
        // (name, description, default prefix-table keys, default root-table keys)
        match self {
            Action::SplitRight => ("split_right", "Split the pane left/right", &["%"], &[]),
            Action::SplitDown => ("split_down", "Split the pane top/bottom", &["\""], &[]),
            Action::FocusLeft => (
                "focus_left",
                "Focus the pane to the left",
                &["Left", "h"],
                &["M-Left"],
            ),
            Action::FocusDown => (
                "focus_down",
                "Focus the pane below",
                &["Down", "j"],
                &["M-Down"],
            ),
            Action::FocusUp => ("focus_up", "Focus the pane above", &["Up", "k"], &["M-Up"]),
            Action::FocusRight => (
                "focus_right",
                "Focus the pane to the right",
                &["Right", "l"],
                &["M-Right"],
            ),
            Action::FocusNext => ("focus_next", "Focus the next pane", &["Tab"], &[]),
            Action::ResizeLeft => (
                "resize_left",
                "Move the pane's vertical border left",
                &["H", "C-Left"],
                &[],
            ),
            Action::ResizeDown => (
                "resize_down",
                "Move the pane's horizontal border down",
                &["J", "C-Down"],
                &[],
            ),
            Action::ResizeUp => (
                "resize_up",
                "Move the pane's horizontal border up",
                &["K", "C-Up"],
                &[],
            ),
            Action::ResizeRight => (
                "resize_right",
                "Move the pane's vertical border right",
                &["L", "C-Right"],
                &[],
            ),
            Action::Zoom => ("zoom", "Zoom the pane to full size and back", &["z"], &[]),
            Action::Close => ("close", "Close the pane (the last one stays)", &["x"], &[]),
            Action::SwapPrev => (
                "swap_prev",
                "Swap the pane with the previous one",
                &["{"],
                &[],
            ),
            Action::SwapNext => ("swap_next", "Swap the pane with the next one", &["}"], &[]),
            Action::NewChat => ("new_chat", "New chat pane", &["c"], &[]),
            Action::Terminal => ("terminal", "New terminal pane", &["t"], &[]),
            Action::Trace => ("trace", "Trace pane (tool calls of the chat)", &["r"], &[]),
            Action::Orchestrator => ("orchestrator", "Orchestrator pane (workflows)", &["o"], &[]),
            Action::Background => ("background", "Background agents pane", &["g"], &[]),
            Action::Changes => (
                "changes",
                "Changes pane (pending changes of all chats, collisions)",
                &["d"],
                &[],
            ),
            Action::Timeline => ("timeline", "Timeline pane (turns of the chat)", &["y"], &[]),
            Action::Sessions => ("sessions", "Switch session", &["s"], &[]),
            Action::Chats => ("chats", "Open any chat, closed ones too", &["w"], &[]),
            Action::ScrollMode => ("scroll_mode", "Scroll / copy mode in the pane", &["["], &[]),
            Action::Search => ("search", "Search in the pane", &["/"], &[]),
            Action::Lock => (
                "lock",
                "Lock a terminal pane: all keys to it till unlocked",
                &["C-g"],
                &[],
            ),
            Action::Help => ("help", "Show the key bindings", &["?"], &[]),
            Action::Palette => ("palette", "Command palette", &[":"], &[]),
            Action::Quit => ("quit", "Quit (the layout is saved)", &["q"], &[]),
        }
    }
}

/// A key with its modifiers, normalised so that a binding and a key event compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn from_event(ev: &KeyEvent) -> Key {
        Key::normalised(ev.code, ev.modifiers)
    }

    fn normalised(code: KeyCode, mods: KeyModifiers) -> Key {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            // The character already says whether Shift was held (`%`, `H`).
            KeyCode::Char(c) => {
                mods.remove(KeyModifiers::SHIFT);
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Key { code, mods }
    }

    /// The key event this key stands for (to forward a literal prefix to a pane).
    pub fn to_event(self) -> KeyEvent {
        KeyEvent {
            code: self.code,
            modifiers: self.mods,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        }
    }

    pub fn parse(s: &str) -> Result<Key, String> {
        let mut rest = s;
        let mut mods = KeyModifiers::NONE;
        loop {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                (Some(m @ ('C' | 'M' | 'A' | 'S')), Some('-')) if rest.chars().count() > 2 => {
                    mods |= match m {
                        'C' => KeyModifiers::CONTROL,
                        'S' => KeyModifiers::SHIFT,
                        _ => KeyModifiers::ALT,
                    };
                    rest = &rest[2..];
                }
                _ => break,
            }
        }
        let code = match rest {
            "Left" => KeyCode::Left,
            "Right" => KeyCode::Right,
            "Up" => KeyCode::Up,
            "Down" => KeyCode::Down,
            "Enter" => KeyCode::Enter,
            "Esc" | "Escape" => KeyCode::Esc,
            "Tab" => KeyCode::Tab,
            "BTab" => KeyCode::BackTab,
            "Space" => KeyCode::Char(' '),
            "BSpace" | "Backspace" => KeyCode::Backspace,
            "Home" => KeyCode::Home,
            "End" => KeyCode::End,
            "PageUp" | "PPage" => KeyCode::PageUp,
            "PageDown" | "NPage" => KeyCode::PageDown,
            "Delete" | "DC" => KeyCode::Delete,
            "Insert" | "IC" => KeyCode::Insert,
            f if f.len() > 1 && f.starts_with('F') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse::<u8>().unwrap_or(1))
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            _ => return Err(format!("unknown key '{s}'")),
        };
        Ok(Key::normalised(code, mods))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("C-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("M-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("S-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Left => f.write_str("Left"),
            KeyCode::Right => f.write_str("Right"),
            KeyCode::Up => f.write_str("Up"),
            KeyCode::Down => f.write_str("Down"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("BTab"),
            KeyCode::Backspace => f.write_str("BSpace"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PageUp"),
            KeyCode::PageDown => f.write_str("PageDown"),
            KeyCode::Delete => f.write_str("Delete"),
            KeyCode::Insert => f.write_str("Insert"),
            KeyCode::F(n) => write!(f, "F{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// What a key press means to the workspace.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatch {
    /// Give the key to the focused pane.
    Forward(KeyEvent),
    Action(Action),
    /// The prefix was pressed; the next key picks the action.
    PrefixStarted,
    /// A key after the prefix that means nothing.
    Unbound(String),
    /// `Esc` after the prefix.
    Cancelled,
}

/// The live key bindings.
#[derive(Debug, Clone)]
pub struct Keymap {
    pub prefix: Key,
    /// Ends a terminal pane's locked mode (which passes every other key, the prefix too).
    pub unlock: Key,
    prefix_table: Vec<(Key, Action)>,
    root_table: Vec<(Key, Action)>,
}

impl Default for Keymap {
    fn default() -> Keymap {
        let parse_all = |keys: &[&str]| -> Vec<Key> {
            keys.iter().filter_map(|k| Key::parse(k).ok()).collect()
        };
        let mut prefix_table = Vec::new();
        let mut root_table = Vec::new();
        for action in Action::ALL {
            let (_, _, prefix_keys, root_keys) = action.info();
            prefix_table.extend(parse_all(prefix_keys).into_iter().map(|k| (k, action)));
            root_table.extend(parse_all(root_keys).into_iter().map(|k| (k, action)));
        }
        let ctrl = |c| Key {
            code: KeyCode::Char(c),
            mods: KeyModifiers::CONTROL,
        };
        Keymap {
            prefix: ctrl('b'),
            unlock: ctrl('g'),
            prefix_table,
            root_table,
        }
    }
}

impl Keymap {
    /// The default map with the `[ui]` table of the config applied. Problems (unknown actions,
    /// unparsable keys) come back as warnings and leave the default in place.
    pub fn from_config(ui: &toml::Table) -> (Keymap, Vec<String>) {
        let mut map = Keymap::default();
        let mut warnings = Vec::new();
        let keys = ui.get("keys").and_then(|v| v.as_table());
        let prefix = ui
            .get("prefix")
            .or_else(|| keys.and_then(|k| k.get("prefix")));
        if let Some(p) = prefix {
            match p.as_str().map(Key::parse) {
                Some(Ok(key)) => map.prefix = key,
                Some(Err(e)) => warnings.push(format!("ui.prefix: {e}")),
                None => warnings.push("ui.prefix: expected a key string".into()),
            }
        }
        if let Some(u) = ui.get("unlock") {
            match u.as_str().map(Key::parse) {
                Some(Ok(key)) if key != map.prefix => map.unlock = key,
                Some(Ok(_)) => warnings
                    .push("ui.unlock: the prefix cannot unlock (a locked pane gets it)".into()),
                Some(Err(e)) => warnings.push(format!("ui.unlock: {e}")),
                None => warnings.push("ui.unlock: expected a key string".into()),
            }
        }
        if let Some(table) = keys {
            apply(&mut map.prefix_table, table, "ui.keys", &mut warnings);
        }
        if let Some(table) = ui.get("root_keys").and_then(|v| v.as_table()) {
            apply(&mut map.root_table, table, "ui.root_keys", &mut warnings);
        }
        (map, warnings)
    }

    /// Feeds one key press through the prefix state machine; `prefix_pending` is the state.
    pub fn feed(&self, prefix_pending: &mut bool, ev: KeyEvent) -> Dispatch {
        let key = Key::from_event(&ev);
        if *prefix_pending {
            *prefix_pending = false;
            if key == self.prefix {
                return Dispatch::Forward(self.prefix.to_event());
            }
            if let Some(action) = lookup(&self.prefix_table, key) {
                return Dispatch::Action(action);
            }
            if key.code == KeyCode::Esc && key.mods.is_empty() {
                return Dispatch::Cancelled;
            }
            return Dispatch::Unbound(key.to_string());
        }
        if key == self.prefix {
            *prefix_pending = true;
            return Dispatch::PrefixStarted;
        }
        match lookup(&self.root_table, key) {
            Some(action) => Dispatch::Action(action),
            None => Dispatch::Forward(ev),
        }
    }

    /// Keys bound to `action`: after the prefix, and without it.
    pub fn keys_for(&self, action: Action) -> (Vec<Key>, Vec<Key>) {
        let pick = |t: &[(Key, Action)]| {
            t.iter()
                .filter(|(_, a)| *a == action)
                .map(|(k, _)| *k)
                .collect()
        };
        (pick(&self.prefix_table), pick(&self.root_table))
    }

    /// The key column of the help overlay and the palette for one action, e.g. `C-b % ` or
    /// `C-b Left, C-b h, M-Left`.
    pub fn describe_keys(&self, action: Action) -> String {
        let (prefixed, root) = self.keys_for(action);
        let mut parts: Vec<String> = prefixed
            .iter()
            .map(|k| format!("{} {k}", self.prefix))
            .collect();
        parts.extend(root.iter().map(|k| k.to_string()));
        parts.join(", ")
    }

    /// Help rows generated from the live map: (keys, action name, description).
    pub fn help_rows(&self) -> Vec<(String, &'static str, &'static str)> {
        let mut rows: Vec<_> = Action::ALL
            .into_iter()
            .map(|a| (self.describe_keys(a), a.name(), a.description()))
            .collect();
        rows.push((
            format!("{} {}", self.prefix, self.prefix),
            "send_prefix",
            "Send a literal prefix key to the pane",
        ));
        rows.push((
            self.unlock.to_string(),
            "unlock",
            "Unlock a locked terminal pane",
        ));
        rows
    }

    /// The keys that may follow the prefix, most used first, for the status line.
    pub fn prefix_hint(&self) -> String {
        const ORDER: [Action; 25] = [
            Action::Help,
            Action::SplitRight,
            Action::SplitDown,
            Action::FocusLeft,
            Action::NewChat,
            Action::Close,
            Action::Zoom,
            Action::Trace,
            Action::Background,
            Action::Changes,
            Action::Timeline,
            Action::Sessions,
            Action::Chats,
            Action::Palette,
            Action::Quit,
            Action::ResizeLeft,
            Action::SwapPrev,
            Action::SwapNext,
            Action::ScrollMode,
            Action::Search,
            Action::FocusNext,
            Action::Terminal,
            Action::Orchestrator,
            Action::ResizeRight,
            Action::ResizeUp,
        ];
        let first = |a: Action| self.keys_for(a).0.first().map(|k| k.to_string());
        let mut out = Vec::new();
        for action in ORDER {
            match action {
                Action::FocusLeft => {
                    let keys: Vec<String> = [
                        Action::FocusLeft,
                        Action::FocusDown,
                        Action::FocusUp,
                        Action::FocusRight,
                    ]
                    .into_iter()
                    .filter_map(|a| {
                        self.keys_for(a)
                            .0
                            .iter()
                            .find(|k| matches!(k.code, KeyCode::Char(_)))
                            .map(|k| k.to_string())
                    })
                    .collect();
                    if !keys.is_empty() {
                        out.push(format!("{}/arrows focus", keys.concat()));
                    }
                }
                Action::ResizeLeft => {
                    let keys: Vec<String> = [
                        Action::ResizeLeft,
                        Action::ResizeDown,
                        Action::ResizeUp,
                        Action::ResizeRight,
                    ]
                    .into_iter()
                    .filter_map(first)
                    .collect();
                    if !keys.is_empty() {
                        out.push(format!("{} size", keys.concat()));
                    }
                }
                Action::ResizeRight | Action::ResizeUp => {}
                a => {
                    if let Some(k) = first(a) {
                        out.push(format!("{k} {}", short_label(a)));
                    }
                }
            }
        }
        out.join("  ")
    }
}

fn short_label(action: Action) -> &'static str {
    match action {
        Action::SplitRight => "split|",
        Action::SplitDown => "split-",
        Action::FocusNext => "next",
        Action::ResizeLeft => "◂size",
        Action::ResizeDown => "▾size",
        Action::ResizeUp => "▴size",
        Action::ResizeRight => "▸size",
        Action::Zoom => "zoom",
        Action::Close => "close",
        Action::SwapPrev => "swap◂",
        Action::SwapNext => "swap▸",
        Action::NewChat => "chat",
        Action::Terminal => "term",
        Action::Trace => "trace",
        Action::Orchestrator => "orch",
        Action::Background => "bg",
        Action::Changes => "changes",
        Action::Timeline => "timeline",
        Action::Sessions => "sessions",
        Action::Chats => "chats",
        Action::ScrollMode => "scroll",
        Action::Search => "search",
        Action::Lock => "lock",
        Action::Help => "help",
        Action::Palette => "palette",
        Action::Quit => "quit",
        _ => "focus",
    }
}

fn lookup(table: &[(Key, Action)], key: Key) -> Option<Action> {
    table.iter().find(|(k, _)| *k == key).map(|(_, a)| *a)
}

fn apply(
    table: &mut Vec<(Key, Action)>,
    conf: &toml::Table,
    what: &str,
    warnings: &mut Vec<String>,
) {
    for (name, value) in conf {
        if name == "prefix" && what == "ui.keys" {
            continue;
        }
        let Some(action) = Action::from_name(name) else {
            warnings.push(format!("{what}: unknown action '{name}'"));
            continue;
        };
        let strings: Vec<&str> = match value {
            toml::Value::String(s) if s.is_empty() => Vec::new(),
            toml::Value::String(s) => vec![s.as_str()],
            toml::Value::Array(items) => items.iter().filter_map(|v| v.as_str()).collect(),
            _ => {
                warnings.push(format!("{what}.{name}: expected a key string or a list"));
                continue;
            }
        };
        let unbind = strings.is_empty();
        let mut keys = Vec::new();
        for s in strings {
            match Key::parse(s) {
                Ok(k) => keys.push(k),
                Err(e) => warnings.push(format!("{what}.{name}: {e}")),
            }
        }
        if keys.is_empty() && !unbind {
            continue;
        }
        table.retain(|(k, a)| *a != action && !keys.contains(k));
        table.extend(keys.into_iter().map(|k| (k, action)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    fn ch(c: char) -> KeyEvent {
        ev(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        ev(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn prefix_then_key_is_an_action() {
        let map = Keymap::default();
        let mut pending = false;
        assert_eq!(map.feed(&mut pending, ctrl('b')), Dispatch::PrefixStarted);
        assert!(pending);
        // `%` arrives with Shift held on most terminals.
        let pct = ev(KeyCode::Char('%'), KeyModifiers::SHIFT);
        assert_eq!(
            map.feed(&mut pending, pct),
            Dispatch::Action(Action::SplitRight)
        );
        assert!(!pending);
        // Without the prefix the same key goes to the pane.
        assert_eq!(map.feed(&mut pending, ch('%')), Dispatch::Forward(ch('%')));
    }

    #[test]
    fn double_prefix_sends_a_literal_prefix() {
        let map = Keymap::default();
        let mut pending = false;
        map.feed(&mut pending, ctrl('b'));
        assert_eq!(
            map.feed(&mut pending, ctrl('b')),
            Dispatch::Forward(ctrl('b'))
        );
        assert!(!pending);
    }

    #[test]
    fn unbound_and_escape_leave_prefix_mode() {
        let map = Keymap::default();
        let mut pending = false;
        map.feed(&mut pending, ctrl('b'));
        assert_eq!(
            map.feed(&mut pending, ch('Q')),
            Dispatch::Unbound("Q".into())
        );
        assert!(!pending);
        map.feed(&mut pending, ctrl('b'));
        assert_eq!(
            map.feed(&mut pending, ev(KeyCode::Esc, KeyModifiers::NONE)),
            Dispatch::Cancelled
        );
    }

    #[test]
    fn alt_arrows_work_without_the_prefix() {
        let map = Keymap::default();
        let mut pending = false;
        assert_eq!(
            map.feed(&mut pending, ev(KeyCode::Left, KeyModifiers::ALT)),
            Dispatch::Action(Action::FocusLeft)
        );
        map.feed(&mut pending, ctrl('b'));
        assert_eq!(
            map.feed(&mut pending, ch('H')),
            Dispatch::Action(Action::ResizeLeft)
        );
    }

    #[test]
    fn key_strings_round_trip() {
        for s in [
            "C-b", "M-Left", "%", "\"", "H", "C-Right", "F5", "Space", "BTab", "S-Up",
        ] {
            assert_eq!(Key::parse(s).unwrap().to_string(), s, "{s}");
        }
        assert!(Key::parse("Nope").is_err());
        assert_eq!(Key::parse("-").unwrap().code, KeyCode::Char('-'));
        assert_eq!(Key::parse("C--").unwrap().to_string(), "C--");
    }

    #[test]
    fn rebinding_from_toml() {
        let ui: toml::Table = toml::from_str(
            r#"
            prefix = "C-a"
            [keys]
            split_right = "|"
            close = ["X", "Delete"]
            quit = ""
            bogus = "b"
            zoom = "NotAKey"
            [root_keys]
            focus_left = "M-h"
            "#,
        )
        .unwrap();
        let (map, warnings) = Keymap::from_config(&ui);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let mut pending = false;
        assert_eq!(
            map.feed(&mut pending, ctrl('b')),
            Dispatch::Forward(ctrl('b'))
        );
        assert_eq!(map.feed(&mut pending, ctrl('a')), Dispatch::PrefixStarted);
        assert_eq!(
            map.feed(&mut pending, ch('|')),
            Dispatch::Action(Action::SplitRight)
        );
        map.feed(&mut pending, ctrl('a'));
        assert_eq!(
            map.feed(&mut pending, ch('%')),
            Dispatch::Unbound("%".into())
        );
        map.feed(&mut pending, ctrl('a'));
        assert_eq!(
            map.feed(&mut pending, ch('q')),
            Dispatch::Unbound("q".into())
        );
        map.feed(&mut pending, ctrl('a'));
        assert_eq!(
            map.feed(&mut pending, ch('X')),
            Dispatch::Action(Action::Close)
        );
        assert_eq!(
            map.feed(&mut pending, ev(KeyCode::Char('h'), KeyModifiers::ALT)),
            Dispatch::Action(Action::FocusLeft)
        );
        // The old root binding is gone.
        assert_eq!(
            map.feed(&mut pending, ev(KeyCode::Left, KeyModifiers::ALT)),
            Dispatch::Forward(ev(KeyCode::Left, KeyModifiers::ALT))
        );
        // Zoom kept its default after the bad key.
        assert_eq!(map.describe_keys(Action::Zoom), "C-a z");
    }

    #[test]
    fn help_is_generated_from_the_live_map() {
        let ui: toml::Table = toml::from_str("[keys]\nsplit_right = \"|\"").unwrap();
        let (map, _) = Keymap::from_config(&ui);
        let rows = map.help_rows();
        let split = rows.iter().find(|r| r.1 == "split_right").unwrap();
        assert_eq!(split.0, "C-b |");
        let focus = rows.iter().find(|r| r.1 == "focus_left").unwrap();
        assert_eq!(focus.0, "C-b Left, C-b h, M-Left");
        assert!(rows.iter().any(|r| r.0 == "C-b C-b"));
        assert!(rows.iter().any(|r| r.0 == "C-g" && r.1 == "unlock"));
        assert_eq!(rows.len(), Action::ALL.len() + 2);
        assert!(
            map.prefix_hint().contains("| split|"),
            "{}",
            map.prefix_hint()
        );
        assert!(map.prefix_hint().starts_with("? help"));
    }

    #[test]
    fn every_action_has_a_unique_name() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
        }
    }
}
