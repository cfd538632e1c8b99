//! `boocode sessions`: sessions and their chats, newest first.

use anyhow::Result;

use super::format::clip;
use super::output::outln;
use super::GlobalArgs;

pub fn run(global: &GlobalArgs, json: bool) -> Result<()> {
    let store = global.open_store()?;
    let sessions = store.list_sessions(None)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&sessions)?)?;
        return Ok(());
    }
    if sessions.is_empty() {
        outln!("no sessions yet: run `boocode exec PROMPT` to start one")?;
        return Ok(());
    }
    for s in &sessions {
        let title = if s.session.title.is_empty() {
            "(untitled)"
        } else {
            &s.session.title
        };
        outln!(
            "session {}  {}  {}  {}",
            s.session.id,
            s.session.updated_at,
            s.project_root,
            clip(title, 60)
        )?;
        for c in &s.chats {
            outln!(
                "  chat {}  {:<8} {:<11} {:<20} {:>3} turns {:>4} messages  {}",
                c.chat.id,
                c.chat.kind,
                c.chat.status,
                clip(&c.chat.model, 20),
                c.turns,
                c.message_count,
                clip(&c.chat.title, 40)
            )?;
        }
    }
    Ok(())
}
