//! Keeping a chat's history inside the model's context window: what compaction does to the
//! message list, without any I/O (the agent loop drives it, see `agent/compact.rs`).
//!
//! Two steps, cheapest first. Clipping replaces the content of old bulky tool results by a
//! short stub; it needs no model call and is a pure function of the history, so the same
//! history always clips the same way and the prompt before the first clipped message stays
//! byte-identical (the provider's prompt cache keeps it). If that is not enough, the oldest
//! messages are replaced by a summary the model writes: the history becomes the system prompt
//! (byte-identical), one user message holding the summary and the text of the user message of
//! the turn the cut fell in, then the recent messages verbatim. A later compaction summarises
//! that summary together with the next messages (anchored, rolling).
//!
//! Cuts fall only before a user message or before an assistant message that made tool calls,
//! so a tool call and its result are never separated and every kept assistant message keeps
//! its `reasoning_content` (DeepSeek requires it back on turns that made tool calls).

use std::collections::HashMap;

use super::window::estimate_prompt_tokens;
use crate::core::llm::types::{ChatMessage, ContentPart, ToolSpec, UserContent};

/// A tool result at least this long may be clipped; anything shorter costs less than its stub
/// would save. Stubs are shorter than this, so clipping twice changes nothing.
pub const CLIP_MIN_BYTES: usize = 2048;

/// Opens the summary in the user message that carries it. The summarisation prompt starts
/// with [`SUMMARY_PROMPT_HEAD`] (scripted model servers answer it by that).
const SUMMARY_OPEN: &str = "<conversation-summary>";
const SUMMARY_CLOSE: &str = "</conversation-summary>";
const SUMMARY_INTRO: &str = "The earlier part of this conversation was compacted to save \
context. This summary, written by you, stands in for it:";

/// The first words of the summarisation prompt.
pub const SUMMARY_PROMPT_HEAD: &str = "Summarise the conversation so far";

const SUMMARY_PROMPT: &str = "Summarise the conversation so far for your own later use. \
The messages above will be replaced by your summary and you will no longer see them, so \
keep everything needed to carry on: the user's requests and constraints (quote them when \
short), decisions made and why, files read or changed (with paths) and what you learned from \
them, commands run and their outcomes, errors met and how they were solved, and what remains \
to do. If an earlier summary is present, fold it in. Be specific and concise; write notes, \
not prose. Reply with the summary only and do not call tools.";

/// The sizes compaction works with, all in tokens of the next request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub window: u64,
    /// `[context] compact_at`.
    pub compact_at: f64,
}

impl Budget {
    /// A request estimated above this compacts first.
    pub fn threshold(&self) -> u64 {
        (self.window as f64 * self.compact_at) as u64
    }

    /// Where a compaction aims: half the threshold, so that many turns pass before the next
    /// one (each compaction makes the provider read the rest of the prompt afresh).
    pub fn target(&self) -> u64 {
        self.threshold() / 2
    }

    /// The recent messages kept verbatim: up to a quarter of the threshold, and always the
    /// latest step whatever its size.
    pub fn keep_recent(&self) -> u64 {
        self.threshold() / 4
    }
}

/// Measures messages in tokens: the fast estimate times the chat's correction from the
/// provider's counts, with the request's tool schemas included.
pub struct Meter<'a> {
    pub tools: &'a [ToolSpec],
    /// The provider's count ÷ the estimate, from earlier requests of the chat.
    pub ratio: f64,
}

impl Meter<'_> {
    /// The prompt tokens of a request sending `history`.
    pub fn request(&self, history: &[ChatMessage]) -> u64 {
        self.scale(estimate_prompt_tokens(history, self.tools))
    }

    fn message(&self, message: &ChatMessage) -> u64 {
        self.scale(estimate_prompt_tokens(std::slice::from_ref(message), &[]))
    }

    fn scale(&self, tokens: u64) -> u64 {
        (tokens as f64 * self.ratio).round() as u64
    }
}

/// Whether a cut may fall right before `history[index]`: a user message, or an assistant
/// message that made tool calls (its results follow it; everything before is answered).
fn is_cut_point(history: &[ChatMessage], index: usize) -> bool {
    index >= 1
        && match &history[index] {
            ChatMessage::User { .. } => true,
            ChatMessage::Assistant { tool_calls, .. } => !tool_calls.is_empty(),
            _ => false,
        }
}

/// Where the recent messages kept verbatim start: the earliest cut point whose tail fits in
/// `keep_tokens`, and at least the last cut point (the step under way). `history.len()` when
/// the history has no cut point.
pub fn recent_start(history: &[ChatMessage], meter: &Meter<'_>, keep_tokens: u64) -> usize {
    let mut tail = 0u64;
    let mut start = history.len();
    for index in (1..history.len()).rev() {
        tail += meter.message(&history[index]);
        if !is_cut_point(history, index) {
            continue;
        }
        if tail > keep_tokens && start < history.len() {
            break;
        }
        start = index;
    }
    start
}

/// The stub an old bulky tool result is replaced by.
pub fn clip_stub(tool_name: &str, bytes: usize) -> String {
    format!(
        "[output clipped by boocode to save context: {tool_name} returned {bytes} bytes here; \
         run it again if you need them]"
    )
}

/// Clips every tool result before `before` that is at least [`CLIP_MIN_BYTES`] long; returns
/// how many it clipped.
pub fn clip_tool_outputs(history: &mut [ChatMessage], before: usize) -> usize {
    let names: HashMap<String, String> = history
        .iter()
        .flat_map(|m| match m {
            ChatMessage::Assistant { tool_calls, .. } => tool_calls.as_slice(),
            _ => &[],
        })
        .map(|c| (c.id.clone(), c.function.name.clone()))
        .collect();
    let mut clipped = 0;
    for message in history.iter_mut().take(before) {
        if let ChatMessage::Tool {
            tool_call_id,
            content,
        } = message
        {
            if content.len() >= CLIP_MIN_BYTES {
                let name = names.get(tool_call_id).map_or("a tool", String::as_str);
                *content = clip_stub(name, content.len());
                clipped += 1;
            }
        }
    }
    clipped
}

/// Where a summary's cut falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// The first message kept verbatim.
    pub boundary: usize,
    /// The user message of the turn the cut falls in (at or before `boundary`): its text is
    /// kept, after the summary.
    pub turn_user: usize,
}

impl Cut {
    /// A cut before `boundary` (a cut point), when it leaves something to summarise.
    pub fn before(history: &[ChatMessage], boundary: usize) -> Option<Cut> {
        if boundary >= history.len() || !is_cut_point(history, boundary) {
            return None;
        }
        let turn_user = (1..=boundary)
            .rev()
            .find(|&i| matches!(history[i], ChatMessage::User { .. }))?;
        // Covered: history[1..boundary] without the turn's user message.
        let covered = boundary - 1 - usize::from(turn_user < boundary);
        (covered > 0).then_some(Cut {
            boundary,
            turn_user,
        })
    }

    /// The first message after the summary's user message.
    fn kept_from(&self) -> usize {
        match self.boundary == self.turn_user {
            true => self.boundary + 1,
            false => self.boundary,
        }
    }
}

/// The request that asks the model for the summary: the history up to the cut exactly as it
/// was sent (so the provider's cache serves it), then the summarisation prompt.
pub fn summary_request(
    history: &[ChatMessage],
    cut: &Cut,
    focus: Option<&str>,
) -> Vec<ChatMessage> {
    let mut prompt = SUMMARY_PROMPT.to_string();
    if let Some(focus) = focus.map(str::trim).filter(|f| !f.is_empty()) {
        prompt.push_str(&format!("\n\nThe user asks you to focus on: {focus}"));
    }
    let mut messages = history[..cut.boundary].to_vec();
    // Some providers refuse two user messages in a row.
    match messages.last_mut() {
        Some(ChatMessage::User { content }) => append_text(content, &prompt),
        _ => messages.push(ChatMessage::user(prompt)),
    }
    messages
}

/// The history after a summary: system prompt, the summary with the text of the cut turn's
/// user message, then the kept messages.
pub fn apply_summary(history: &[ChatMessage], cut: &Cut, summary: &str) -> Vec<ChatMessage> {
    let summary = summary.replace(SUMMARY_CLOSE, "").trim().to_string();
    let block = format!("{SUMMARY_OPEN}\n{SUMMARY_INTRO}\n\n{summary}\n{SUMMARY_CLOSE}\n\n");
    let task = match &history[cut.turn_user] {
        ChatMessage::User { content } => content.clone(),
        _ => UserContent::Text(String::new()),
    };
    let content = match task {
        UserContent::Text(text) => UserContent::Text(format!("{block}{}", unwrap_task(&text))),
        UserContent::Parts(mut parts) => {
            match parts.iter_mut().find_map(|p| match p {
                ContentPart::Text { text } => Some(text),
                _ => None,
            }) {
                Some(text) => *text = format!("{block}{}", unwrap_task(text)),
                None => parts.insert(0, ContentPart::Text { text: block }),
            }
            UserContent::Parts(parts)
        }
    };
    let mut out = Vec::with_capacity(history.len() - cut.kept_from() + 2);
    out.push(history[0].clone());
    out.push(ChatMessage::User { content });
    out.extend_from_slice(&history[cut.kept_from()..]);
    out
}

/// The user's own text of a message that may carry an earlier summary in front of it.
fn unwrap_task(text: &str) -> &str {
    match text.strip_prefix(SUMMARY_OPEN) {
        Some(rest) => rest
            .split_once(&format!("{SUMMARY_CLOSE}\n\n"))
            .map_or(text, |(_, task)| task),
        None => text,
    }
}

fn append_text(content: &mut UserContent, extra: &str) {
    match content {
        UserContent::Text(text) => {
            text.push_str("\n\n");
            text.push_str(extra);
        }
        UserContent::Parts(parts) => parts.push(ContentPart::Text {
            text: extra.to_string(),
        }),
    }
}

/// The turn of the user message at `index`: turns have one user message each, so it is the
/// current turn minus the user messages after it.
pub fn turn_of(history: &[ChatMessage], index: usize, current_turn: i64) -> i64 {
    let later = history[index + 1..]
        .iter()
        .filter(|m| matches!(m, ChatMessage::User { .. }))
        .count();
    current_turn - later as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::llm::types::ToolCall;

    fn user(text: &str) -> ChatMessage {
        ChatMessage::user(text)
    }

    fn calls(ids: &[&str], name: &str) -> ChatMessage {
        ChatMessage::Assistant {
            content: None,
            reasoning_content: Some(format!("thinking about {}", ids.join(","))),
            tool_calls: ids
                .iter()
                .map(|id| ToolCall::new(*id, name, "{}"))
                .collect(),
        }
    }

    fn answer(text: &str) -> ChatMessage {
        ChatMessage::Assistant {
            content: Some(text.into()),
            reasoning_content: None,
            tool_calls: Vec::new(),
        }
    }

    fn result(id: &str, bytes: usize) -> ChatMessage {
        ChatMessage::tool_result(id, "x".repeat(bytes))
    }

    /// Three turns, each reading a big file; the last one still running.
    fn session() -> Vec<ChatMessage> {
        vec![
            ChatMessage::system("you are boocode"),
            user("read a"),
            calls(&["a1", "a2"], "read_file"),
            result("a1", 8000),
            result("a2", 100),
            answer("a is long"),
            user("read b"),
            calls(&["b1"], "grep"),
            result("b1", 9000),
            answer("b is long"),
            user("read c"),
            calls(&["c1"], "read_file"),
            result("c1", 7000),
        ]
    }

    const METER: Meter<'static> = Meter {
        tools: &[],
        ratio: 1.0,
    };

    /// Every tool call is answered, in order, right after the message that made it.
    fn assert_pairs_intact(history: &[ChatMessage]) {
        let mut open: Vec<String> = Vec::new();
        for m in history {
            match m {
                ChatMessage::Assistant { tool_calls, .. } => {
                    assert!(
                        open.is_empty(),
                        "calls {open:?} unanswered before the next step"
                    );
                    open = tool_calls.iter().map(|c| c.id.clone()).collect();
                }
                ChatMessage::Tool { tool_call_id, .. } => {
                    assert_eq!(open.first(), Some(tool_call_id), "orphan result");
                    open.remove(0);
                }
                _ => assert!(open.is_empty(), "calls {open:?} unanswered"),
            }
        }
    }

    #[test]
    fn clipping_stubs_old_bulky_results_deterministically_and_only_once() {
        let mut history = session();
        let keep = recent_start(&history, &METER, 2500);
        assert_eq!(keep, 10, "the running turn is kept");
        let mut again = session();
        assert_eq!(clip_tool_outputs(&mut history, keep), 2);
        assert_eq!(clip_tool_outputs(&mut again, keep), 2);
        assert_eq!(history, again, "the same history clips the same way");
        assert_eq!(
            history[3],
            ChatMessage::tool_result("a1", clip_stub("read_file", 8000))
        );
        assert_eq!(
            history[8],
            ChatMessage::tool_result("b1", clip_stub("grep", 9000))
        );
        assert_eq!(history[4], session()[4], "small results stay");
        assert_eq!(history[12], session()[12], "recent results stay");
        assert_eq!(
            history[..3],
            session()[..3],
            "the prefix stays byte-identical"
        );
        let before = history.clone();
        assert_eq!(clip_tool_outputs(&mut history, keep), 0);
        assert_eq!(history, before, "clipping again changes nothing");
        assert_pairs_intact(&history);
    }

    #[test]
    fn the_recent_tail_keeps_the_latest_step_whatever_its_size() {
        let history = session();
        assert_eq!(recent_start(&history, &METER, 0), 11);
        assert_eq!(recent_start(&history, &METER, 1_000_000), 1);
        assert_eq!(recent_start(&history[..1], &METER, 100), 1);
    }

    #[test]
    fn cuts_never_split_a_call_from_its_result() {
        let history = session();
        for boundary in 0..history.len() + 1 {
            let Some(cut) = Cut::before(&history, boundary) else {
                continue;
            };
            assert!(
                matches!(history[boundary], ChatMessage::User { .. })
                    || matches!(&history[boundary], ChatMessage::Assistant { tool_calls, .. } if !tool_calls.is_empty()),
                "cut at {boundary}"
            );
            let after = apply_summary(&history, &cut, "S");
            assert_pairs_intact(&after);
            assert_eq!(
                after[0], history[0],
                "the system prompt stays byte-identical"
            );
            assert_pairs_intact(&summary_request(&history, &cut, None));
        }
        assert_eq!(Cut::before(&history, 3), None, "never before a tool result");
        assert_eq!(Cut::before(&history, 1), None, "nothing to summarise");
        assert_eq!(
            Cut::before(&history, 2),
            None,
            "only the kept user message is before it"
        );
    }

    #[test]
    fn a_summary_replaces_the_oldest_turns_and_keeps_the_task_and_recent_turns() {
        let history = session();
        let cut = Cut::before(&history, 6).unwrap();
        assert_eq!(cut.turn_user, 6);
        let after = apply_summary(&history, &cut, "read a: it is long");
        assert_eq!(after.len(), 2 + history.len() - 7);
        let ChatMessage::User {
            content: UserContent::Text(first),
        } = &after[1]
        else {
            panic!("{:?}", after[1])
        };
        assert!(first.contains("read a: it is long"), "{first}");
        assert!(
            first.ends_with("\n\nread b"),
            "the turn's own text follows: {first}"
        );
        assert_eq!(after[2..], history[7..], "recent messages verbatim");
        assert_eq!(turn_of(&after, 1, 3), 2);
    }

    #[test]
    fn a_cut_inside_the_running_turn_keeps_its_task_text() {
        let mut history = session();
        history.push(answer("c next"));
        history.push(calls(&["c2"], "read_file"));
        history.push(result("c2", 10));
        let cut = Cut::before(&history, 14).unwrap();
        assert_eq!(cut.turn_user, 10);
        let after = apply_summary(&history, &cut, "S1");
        let ChatMessage::User {
            content: UserContent::Text(first),
        } = &after[1]
        else {
            panic!()
        };
        assert!(first.ends_with("\n\nread c"), "{first}");
        assert_eq!(after[2..], history[14..]);
        assert_pairs_intact(&after);
    }

    #[test]
    fn a_later_summary_folds_in_the_earlier_one() {
        let history = session();
        let first = apply_summary(&history, &Cut::before(&history, 6).unwrap(), "SUMMARY-ONE");
        // [system, summary+"read b", calls b1, result, answer, "read c", calls c1, result]
        let cut = Cut::before(&first, 5).unwrap();
        let request = summary_request(&first, &cut, Some("the grep results"));
        assert!(
            serde_json::to_string(&request[1])
                .unwrap()
                .contains("SUMMARY-ONE"),
            "the earlier summary is summarised again"
        );
        let ChatMessage::User {
            content: UserContent::Text(prompt),
        } = request.last().unwrap()
        else {
            panic!()
        };
        assert!(prompt.starts_with(SUMMARY_PROMPT_HEAD), "{prompt}");
        assert!(prompt.ends_with("focus on: the grep results"), "{prompt}");
        assert_eq!(
            request[..5],
            first[..5],
            "the request shares the sent prefix"
        );
        let second = apply_summary(&first, &cut, "SUMMARY-TWO");
        let text = serde_json::to_string(&second[1]).unwrap();
        assert!(
            text.contains("SUMMARY-TWO") && !text.contains("SUMMARY-ONE"),
            "{text}"
        );
        let ChatMessage::User {
            content: UserContent::Text(first_text),
        } = &second[1]
        else {
            panic!()
        };
        assert!(first_text.ends_with("\n\nread c"), "{first_text}");
        assert_eq!(first_text.matches(SUMMARY_OPEN).count(), 1);
        assert_eq!(second[2..], first[6..]);
    }

    #[test]
    fn the_summary_request_merges_into_a_trailing_user_message() {
        let history = vec![
            ChatMessage::system("s"),
            user("one"),
            answer("ok"),
            user("two"),
            calls(&["t1"], "grep"),
            result("t1", 10),
        ];
        let cut = Cut::before(&history, 4).unwrap();
        let request = summary_request(&history, &cut, None);
        assert_eq!(request.len(), 4);
        assert!(matches!(request[2], ChatMessage::Assistant { .. }));
    }

    #[test]
    fn the_budget_follows_the_window_and_threshold() {
        let budget = Budget {
            window: 100_000,
            compact_at: 0.8,
        };
        assert_eq!(budget.threshold(), 80_000);
        assert_eq!(budget.target(), 40_000);
        assert_eq!(budget.keep_recent(), 20_000);
    }
}
