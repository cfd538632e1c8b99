//! `transcript_path`: the chat a hook runs for, as JSON lines in a file the hook can read
//! (Claude Code sends the path of its own session transcript).
//!
//! boocode's chats live in SQLite, so the file is an export, written when a hook is about to
//! run for the chat and appended to from then on: each finished message is one line, in
//! order, and a message still streaming waits for the next export. The file is
//! `$BOOCODE_HOME/transcripts/CHAT_ID.jsonl` (0600, in a 0700 directory). When it cannot be
//! written the field is left out, so a hook never gets a path that does not exist.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde_json::json;

use crate::core::private_fs::{ensure_private_dir, ensure_private_file, private_open_options};
use crate::core::store::{PartKind, Store, StoredMessage};

/// The directory under the data home.
const DIR: &str = "transcripts";

/// How far each chat's file is written, per engine: the next message seq to append.
#[derive(Debug, Clone, Default)]
pub struct Transcripts {
    next_seq: Arc<Mutex<HashMap<String, i64>>>,
}

impl Transcripts {
    /// Brings `chat_id`'s file up to date and returns its path. The first export of a chat by
    /// this engine rewrites the file, so lines from an earlier process are never doubled.
    pub fn export(&self, store: &Store, data_home: &Path, chat_id: &str) -> Result<PathBuf> {
        let dir = data_home.join(DIR);
        let path = dir.join(format!("{chat_id}.jsonl"));
        // Held while writing: two hooks of one chat firing at once append each line once.
        let mut next_seq = self.next_seq.lock().unwrap_or_else(|p| p.into_inner());
        let from = next_seq.get(chat_id).copied();
        ensure_private_dir(&dir)?;
        ensure_private_file(&path)?;
        let mut options = private_open_options();
        options.create(true);
        if from.is_some() {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        let file = options
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        let mut next = from.unwrap_or(0);
        for message in store.load_messages_range(chat_id, next, i64::MAX)? {
            if message.status == "streaming" {
                break;
            }
            writeln!(out, "{}", line(&message))?;
            next = message.seq + 1;
        }
        out.flush()
            .with_context(|| format!("writing {}", path.display()))?;
        next_seq.insert(chat_id.to_string(), next);
        Ok(path)
    }
}

/// One message in the shape of Claude Code's transcript lines (`type`, `message.role`,
/// `message.content`), with boocode's parts beside it.
fn line(message: &StoredMessage) -> serde_json::Value {
    json!({
        "type": message.role,
        "uuid": message.id,
        "session_id": message.chat_id,
        "timestamp": message.created_at,
        "turn": message.turn_number,
        "status": message.status,
        "compacted": message.compacted,
        "message": {
            "role": message.role,
            "content": message.joined(PartKind::Text),
            "model": message.model,
        },
        "parts": message.parts,
    })
}
