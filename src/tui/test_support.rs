//! Helpers for the workspace's unit and snapshot tests: an engine on temp dirs and a
//! `TestBackend` rendered to text.

use std::collections::BTreeMap;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::Terminal;

use crate::core::config::{Config, Environment, Overrides};
use crate::core::engine::{Engine, EngineOptions};
use crate::core::events::Event;
use crate::core::llm::types::Usage;
use crate::core::store::{Chat, ReplyEnd, Session};
use crate::tui::pane::{Pane, PaneContext};
use crate::tui::theme::{ColorSupport, Theme};

#[allow(dead_code)]
pub struct TestEngine {
    pub engine: Engine,
    pub events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    pub session: Session,
    pub chat: Chat,
    pub theme: Theme,
    pub project: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

/// A config on temp dirs. With `key` false no API key is set (the "missing key" case).
pub fn test_config(project: &std::path::Path, home: &std::path::Path, key: bool) -> Config {
    let home_s = home.to_string_lossy().into_owned();
    let env = Environment {
        vars: BTreeMap::from([
            ("HOME".to_string(), home_s.clone()),
            ("BOOCODE_HOME".to_string(), home_s),
        ]),
        user_config: None,
    };
    Config::load(
        project,
        &env,
        &Overrides {
            provider: None,
            base_url: key.then(|| "http://127.0.0.1:9/v1".to_string()),
            model: Some("mock-model".into()),
            api_key: key.then(|| "sk-test".to_string()),
            approval: None,
        },
    )
    .expect("test config")
}

impl TestEngine {
    /// Must run inside a tokio runtime.
    pub fn new() -> TestEngine {
        TestEngine::with_key(true)
    }

    pub fn with_key(key: bool) -> TestEngine {
        let project = tempfile::tempdir().expect("tempdir");
        let home = tempfile::tempdir().expect("tempdir");
        let config = test_config(project.path(), home.path(), key);
        let (engine, events, _) = Engine::start(EngineOptions {
            config,
            project_root: project.path().to_path_buf(),
            interactive: true,
        })
        .expect("engine");
        let session = engine.open_session(None, false).expect("session");
        let chat = engine.main_chat(&session).expect("chat");
        engine
            .store()
            .touch_chat_and_session(&chat.id, "Fix the parser")
            .expect("title");
        let chat = engine.chat(&chat.id).expect("chat");
        let session = engine.session(&session.id).expect("session");
        TestEngine {
            engine,
            events,
            session,
            chat,
            theme: Theme::new(ColorSupport::Ansi256),
            project,
            home,
        }
    }

    /// Records one finished model call of `turn` in the main chat.
    pub fn model_call(&self, turn: i64, prompt: u64, cache_hits: u64, completion: u64) {
        let store = self.engine.store();
        let id = store
            .begin_model_call(&self.chat.id, turn, "mock-model")
            .expect("model call");
        let message = store
            .begin_assistant_message(&self.chat.id, turn, "mock-model")
            .expect("assistant message");
        let usage = Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            reasoning_tokens: completion / 10,
            cache_hit_tokens: cache_hits,
            cache_miss_tokens: prompt - cache_hits,
        };
        store
            .finish_reply(&ReplyEnd {
                call_id: &id,
                message_id: &message.id,
                parts: &[],
                status: "complete",
                error: None,
                usage: &usage,
                finish_reason: Some("stop"),
                latency_ms: 1200,
            })
            .expect("finish model call");
    }
}

pub fn ctx_for<'a>(t: &'a TestEngine, focused_chat: Option<&'a str>) -> PaneContext<'a> {
    PaneContext {
        engine: &t.engine,
        theme: &t.theme,
        session_id: &t.session.id,
        focused_chat,
        tick: 0,
        wake: wake(),
    }
}

/// The wake-up panes made by tests notify (nothing waits on it).
pub fn wake() -> &'static std::sync::Arc<tokio::sync::Notify> {
    static WAKE: std::sync::OnceLock<std::sync::Arc<tokio::sync::Notify>> =
        std::sync::OnceLock::new();
    WAKE.get_or_init(Default::default)
}

/// The buffer as text, one line per row, trailing spaces trimmed.
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut line = String::new();
        let mut skip = 0;
        for x in 0..area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(area.x + x, area.y + y)].symbol();
            skip = unicode_width::UnicodeWidthStr::width(sym).saturating_sub(1);
            line.push_str(sym);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Renders a pane (title line included, as the workspace draws it) into `w`×`h` cells.
pub fn render_pane(pane: &mut dyn Pane, ctx: &PaneContext<'_>, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| {
        let area = Rect::new(0, 0, w, h);
        crate::tui::app::draw_pane(f, pane, area, ctx, true);
    })
    .expect("draw");
    normalise(&buffer_text(term.backend().buffer()))
}

/// Masks clock times (`12:34:56`) so snapshots do not depend on when they ran.
pub fn normalise(s: &str) -> String {
    let clock = regex::Regex::new(r"\b\d\d:\d\d:\d\d\b").expect("regex");
    let id = regex::Regex::new(r"\bchat [0-9a-f]{8}\b").expect("regex");
    let s = clock.replace_all(s, "HH:MM:SS");
    id.replace_all(&s, "chat ID").into_owned()
}
