//! Reading Paseo's curated transcript: the text `paseo logs` prints (the daemon's
//! `curateAgentActivity`, packages/server/src/server/agent/activity-curator.ts). Each timeline
//! item is one entry, entries joined by line ends:
//!
//! - a user message: `[User] TEXT`;
//! - assistant text: the text itself, unlabelled;
//! - reasoning: `[Thought] TEXT`;
//! - a tool call: `[NAME] SUMMARY` or `[NAME]` (a path, a command, a query; the input as JSON
//!   for an external tool), without its status or result;
//! - `[Error] MESSAGE`, `[Tasks]` followed by `- [x] TEXT` lines, `[Compacted]`.
//!
//! Text is trimmed and may hold line ends, so a line is read by what it starts with. `paseo
//! logs ID` merges the item chunks of a message; `paseo logs -f` prints every item as it
//! arrives, each chunk of a streamed message on a line of its own, and a tool call once when it
//! starts and again when it ends. The followed lines are therefore a preview ([`LiveReader`]);
//! the reply is what `paseo logs ID` says once the turn is over ([`turn_entries`]).

use serde_json::{json, Value};

/// One entry of a turn's transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Text(String),
    Reasoning(String),
    Tool(ToolLine),
}

/// A tool call as the transcript names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolLine {
    pub name: String,
    pub summary: Option<String>,
}

impl ToolLine {
    /// The call's input for its trace: the JSON input an external tool's line carries, else
    /// the summary.
    pub fn input(&self) -> Value {
        match self.summary.as_deref() {
            Some(s) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({ "summary": s })),
            None => json!({}),
        }
    }
}

/// Labels of entries that are not tool calls.
const USER: &str = "[User] ";
const THOUGHT: &str = "[Thought] ";
/// Entries shown as text: they start a text block of their own.
const TEXT_LABELS: [&str; 3] = ["[Error]", "[Tasks]", "[Compacted]"];
/// The longest tool name read as one (longer brackets are text).
const MAX_TOOL_NAME: usize = 64;

/// What a line of the transcript starts.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    User(&'a str),
    Thought(&'a str),
    Tool(ToolLine),
    /// `[Error] …`, `[Tasks]`, `[Compacted]`.
    Labelled(&'a str),
    Plain(&'a str),
}

fn classify(line: &str) -> Line<'_> {
    if let Some(text) = line.strip_prefix(USER) {
        return Line::User(text);
    }
    if let Some(text) = line.strip_prefix(THOUGHT) {
        return Line::Thought(text);
    }
    if TEXT_LABELS
        .iter()
        .any(|l| line == *l || line.starts_with(&format!("{l} ")))
    {
        return Line::Labelled(line);
    }
    tool_line(line).map_or(Line::Plain(line), Line::Tool)
}

/// `[NAME]` or `[NAME] SUMMARY`, NAME starting with a letter or digit.
fn tool_line(line: &str) -> Option<ToolLine> {
    let rest = line.strip_prefix('[')?;
    let end = rest.find(']')?;
    let name = &rest[..end];
    let after = &rest[end + 1..];
    let summary = match after {
        "" => None,
        _ => Some(after.strip_prefix(' ')?.to_string()),
    };
    let plausible = name.len() <= MAX_TOOL_NAME
        && name.chars().next().is_some_and(char::is_alphanumeric)
        && !name.contains('[');
    plausible.then(|| ToolLine {
        name: name.to_string(),
        summary,
    })
}

/// The entries of the turn that began with the user message `prompt`: what follows the last
/// `[User] PROMPT` of `transcript` (the whole of `paseo logs ID`) up to the next user message.
/// `None` when the transcript does not hold that message.
pub fn turn_entries(transcript: &str, prompt: &str) -> Option<Vec<Entry>> {
    let marker = format!("{USER}{}", prompt.trim());
    let start = transcript
        .match_indices(&marker)
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || transcript[..i].ends_with('\n'))
        .filter(|&i| {
            let after = &transcript[i + marker.len()..];
            after.is_empty() || after.starts_with('\n')
        })
        .last()?;
    let rest = transcript[start + marker.len()..]
        .strip_prefix('\n')
        .unwrap_or("");
    let mut entries: Vec<Entry> = Vec::new();
    for line in rest.lines() {
        match classify(line) {
            Line::User(_) => break,
            Line::Thought(text) => entries.push(Entry::Reasoning(text.to_string())),
            Line::Tool(tool) => entries.push(Entry::Tool(tool)),
            Line::Labelled(text) => entries.push(Entry::Text(text.to_string())),
            // A reasoning or text block goes on to the next entry's line.
            Line::Plain(text) => match entries.last_mut() {
                Some(Entry::Text(block) | Entry::Reasoning(block)) => {
                    block.push('\n');
                    block.push_str(text);
                }
                _ => entries.push(Entry::Text(text.to_string())),
            },
        }
    }
    Some(reasoning_first(entries))
}

/// The curator prints a stretch's text before its reasoning, whatever their order; the
/// reasoning came first.
fn reasoning_first(mut entries: Vec<Entry>) -> Vec<Entry> {
    for i in 1..entries.len() {
        if matches!(
            (&entries[i - 1], &entries[i]),
            (Entry::Text(_), Entry::Reasoning(_))
        ) {
            entries.swap(i - 1, i);
        }
    }
    entries
}

/// What a followed line adds to the reply's preview.
#[derive(Debug, PartialEq, Eq)]
pub enum Preview {
    /// Text or reasoning to append (a line end first when it goes on the block before).
    Text(String),
    Reasoning(String),
    /// A tool call starts.
    Tool(ToolLine),
    /// Nothing to show: the user's own message, a tool call's end, the banner.
    Nothing,
}

/// Reads the lines of `paseo logs -f --tail 0 ID` for one turn: after the banner, the user's
/// own message (skipped), then the agent's items one by one.
pub struct LiveReader {
    prompt_lines: Vec<String>,
    /// Lines of the user's message still to skip.
    skipping: usize,
    block: Block,
    last_tool: Option<ToolLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    None,
    Text,
    Reasoning,
}

/// The banner `paseo logs -f` prints before it follows (`--- Following logs (no history;
/// Ctrl+C to stop) ---`).
pub fn is_follow_banner(line: &str) -> bool {
    line.starts_with("--- Following logs") && line.ends_with("---")
}

impl LiveReader {
    pub fn new(prompt: &str) -> LiveReader {
        LiveReader {
            prompt_lines: prompt.trim().lines().map(str::to_string).collect(),
            skipping: 0,
            block: Block::None,
            last_tool: None,
        }
    }

    pub fn read(&mut self, line: &str) -> Preview {
        if self.skipping > 0 {
            self.skipping -= 1;
            return Preview::Nothing;
        }
        let line = classify(line);
        if let (Line::Tool(tool), Some(last)) = (&line, &self.last_tool) {
            // A call's end repeats its start, with the summary it may have lacked then.
            let same_call =
                tool.name == last.name && (last.summary.is_none() || last.summary == tool.summary);
            if same_call {
                self.last_tool = Some(tool.clone());
                return Preview::Nothing;
            }
        }
        self.last_tool = None;
        match line {
            Line::User(first) => {
                if self.prompt_lines.first().map(String::as_str) == Some(first) {
                    self.skipping = self.prompt_lines.len().saturating_sub(1);
                }
                self.block = Block::None;
                Preview::Nothing
            }
            Line::Thought(text) => self.continue_block(Block::Reasoning, text, false),
            Line::Tool(tool) => {
                self.block = Block::None;
                self.last_tool = Some(tool.clone());
                Preview::Tool(tool)
            }
            Line::Labelled(text) => self.continue_block(Block::Text, text, true),
            // Entries are trimmed: an empty line is inside a block, or the banner's.
            Line::Plain("") if self.block == Block::None => Preview::Nothing,
            Line::Plain(text) => self.continue_block(Block::Text, text, false),
        }
    }

    fn continue_block(&mut self, block: Block, text: &str, own_line: bool) -> Preview {
        let delta = match self.block == block || own_line && self.block == Block::Text {
            true => format!("\n{text}"),
            false => text.to_string(),
        };
        self.block = block;
        match block {
            Block::Reasoning => Preview::Reasoning(delta),
            _ => Preview::Text(delta),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, summary: Option<&str>) -> ToolLine {
        ToolLine {
            name: name.into(),
            summary: summary.map(str::to_string),
        }
    }

    /// `paseo logs ID` after two turns, as the curator prints it (a stretch's text before its
    /// reasoning).
    const TRANSCRIPT: &str = "[User] first\nOld reply.\n[User] fix the bug\n  in main\n\
        [Read] src/main.rs\n[Shell] cargo test\nThe bug is fixed.\n\nAll tests pass.\n\
        [Thought] It was an off-by-one.\nSecond line of thought.\n[Error] rate limited\n\
        [Tasks]\n- [x] fix\n- [ ] test\n[mcp__fs__write] {\"path\":\"a.txt\"}";

    #[test]
    fn a_turn_is_what_follows_its_user_message_text_after_reasoning() {
        let entries = turn_entries(TRANSCRIPT, " fix the bug\n  in main ").unwrap();
        assert_eq!(
            entries,
            [
                Entry::Tool(tool("Read", Some("src/main.rs"))),
                Entry::Tool(tool("Shell", Some("cargo test"))),
                Entry::Reasoning("It was an off-by-one.\nSecond line of thought.".into()),
                Entry::Text("The bug is fixed.\n\nAll tests pass.".into()),
                Entry::Text("[Error] rate limited".into()),
                Entry::Text("[Tasks]\n- [x] fix\n- [ ] test".into()),
                Entry::Tool(tool("mcp__fs__write", Some("{\"path\":\"a.txt\"}"))),
            ]
        );
        // The turn ends at the next user message; a prompt the transcript lacks has no turn.
        assert_eq!(
            turn_entries(TRANSCRIPT, "first").unwrap(),
            [Entry::Text("Old reply.".into())]
        );
        assert_eq!(turn_entries(TRANSCRIPT, "fix the"), None);
        assert_eq!(turn_entries("No activity to display.", "first"), None);
    }

    #[test]
    fn a_tool_input_is_its_json_or_its_summary() {
        assert_eq!(
            tool("mcp__fs__write", Some("{\"path\":\"a.txt\"}")).input(),
            json!({"path": "a.txt"})
        );
        assert_eq!(
            tool("Shell", Some("ls -la")).input(),
            json!({"summary": "ls -la"})
        );
        assert_eq!(tool("Plan", None).input(), json!({}));
    }

    #[test]
    fn brackets_that_are_not_tool_lines_are_text() {
        assert_eq!(
            classify("[link](http://x)"),
            Line::Plain("[link](http://x)")
        );
        assert_eq!(classify("[ ] open"), Line::Plain("[ ] open"));
        assert_eq!(classify("- [x] done"), Line::Plain("- [x] done"));
        assert_eq!(classify("[Error] boom"), Line::Labelled("[Error] boom"));
        assert_eq!(classify("[Compacted]"), Line::Labelled("[Compacted]"));
        assert_eq!(classify("[Read]"), Line::Tool(tool("Read", None)));
    }

    #[test]
    fn followed_lines_preview_the_reply_as_they_arrive() {
        let mut live = LiveReader::new("do it\nnow");
        let lines = [
            "",
            "[User] do it",
            "now",
            "[Thought] Planning",
            "[Thought] more",
            "[Read] a.txt",
            "[Read] a.txt",
            "[Shell]",
            "[Shell] ls",
            "[Read] b.txt",
            "Working",
            "on it",
            "[Error] oops",
            "[Read] a.txt",
        ];
        let previews: Vec<Preview> = lines.iter().map(|l| live.read(l)).collect();
        assert_eq!(
            previews,
            [
                Preview::Nothing,
                Preview::Nothing,
                Preview::Nothing,
                Preview::Reasoning("Planning".into()),
                Preview::Reasoning("\nmore".into()),
                Preview::Tool(tool("Read", Some("a.txt"))),
                Preview::Nothing,
                Preview::Tool(tool("Shell", None)),
                Preview::Nothing,
                Preview::Tool(tool("Read", Some("b.txt"))),
                Preview::Text("Working".into()),
                Preview::Text("\non it".into()),
                Preview::Text("\n[Error] oops".into()),
                Preview::Tool(tool("Read", Some("a.txt"))),
            ]
        );
        assert!(is_follow_banner(
            "--- Following logs (no history; Ctrl+C to stop) ---"
        ));
        assert!(!is_follow_banner("--- a rule ---x"));
    }
}
