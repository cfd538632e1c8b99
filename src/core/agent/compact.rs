//! Compaction in the agent loop: before a request that would pass `[context] compact_at` of
//! the window, after the provider says a prompt did not fit, and on `/compact`. What it does
//! to the history is `context::compaction`; this runs the summary request and records the
//! result (the `compaction` message, its coverage and the rewritten snapshot, together).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Result};
use tokio_util::sync::CancellationToken;

use super::{chat_request, tool_specs, LoopState};
use crate::core::context::compaction::{
    apply_summary, clip_tool_outputs, recent_start, summary_request, turn_of, Budget, Cut, Meter,
};
use crate::core::context::window::kilo;
use crate::core::events::Event;
use crate::core::llm::error::LlmErrorKind;
use crate::core::llm::types::{ChatMessage, ToolSpec, Usage};
use crate::core::runtime::Runtime;
use crate::core::store::{MessageAnchor, ModelCallEnd, NewCompaction};

/// Why a compaction runs.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Trigger {
    /// The next request would pass the threshold.
    Auto,
    /// The provider answered that the prompt is longer than the model's context.
    Overflow,
    /// `/compact [focus]`.
    Manual { focus: Option<String> },
}

impl Trigger {
    fn as_str(&self) -> &'static str {
        match self {
            Trigger::Auto => "auto",
            Trigger::Overflow => "overflow",
            Trigger::Manual { .. } => "manual",
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Compacted {
    /// The summary request's usage (none when clipping was enough).
    pub usage: Usage,
}

/// `context compacted: 96k → 14k tokens`.
pub fn compaction_notice(before: u64, after: u64) -> String {
    format!(
        "context compacted: {} → {} tokens",
        kilo(before),
        kilo(after)
    )
}

/// Compacts `state.history` when `trigger` calls for it; `None` when nothing was done (not
/// needed, nothing left to clip or summarise, or cancelled meanwhile).
pub(super) async fn compact(
    rt: &Arc<Runtime>,
    state: &mut LoopState,
    specs: &[ToolSpec],
    token: &CancellationToken,
    trigger: Trigger,
) -> Result<Option<Compacted>> {
    let window = rt
        .context
        .window_of(&rt.config, &rt.llm, &state.chat.model)
        .await;
    let meter = Meter {
        tools: specs,
        ratio: rt.context.ratio(&state.chat.id),
    };
    let before = meter.request(&state.history);
    // An overflow proves the window is no larger than this prompt, whatever was configured.
    let window = match trigger {
        Trigger::Overflow => window.min(before),
        _ => window,
    };
    let budget = Budget {
        window,
        compact_at: rt.config.compact_at,
    };
    if trigger == Trigger::Auto && before <= budget.threshold() {
        return Ok(None);
    }
    let mut history = state.history.clone();
    let mut keep = recent_start(&history, &meter, budget.keep_recent());
    if let Trigger::Manual { .. } = trigger {
        // Asked for: everything before the last turn goes, unless that turn alone is too big.
        let last_user = (1..history.len())
            .rev()
            .find(|&i| matches!(history[i], ChatMessage::User { .. }));
        keep = keep.max(last_user.unwrap_or(keep));
    }
    let clipped = clip_tool_outputs(&mut history, keep);
    let wants_summary = match trigger {
        Trigger::Manual { .. } => true,
        _ => meter.request(&history) > budget.target(),
    };
    let mut usage = Usage::default();
    let mut summary = None;
    if let Some(cut) = Cut::before(&history, keep).filter(|_| wants_summary) {
        let focus = match &trigger {
            Trigger::Manual { focus } => focus.as_deref(),
            _ => None,
        };
        match summarise(rt, state, &history, &cut, specs, focus, token).await {
            Ok((text, call_usage)) => {
                usage = call_usage;
                summary = Some((cut, text));
            }
            Err(_) if token.is_cancelled() => return Ok(None),
            // The clipping alone may do; a failed summary is said, not fatal.
            Err(e) => rt.emit(Event::Notice {
                message: format!("{e:#}"),
            }),
        }
    }
    if clipped == 0 && summary.is_none() {
        return Ok(None);
    }
    let (first_kept, kept_user, summarized, covers_turns_before) = match &summary {
        Some((cut, _)) => (
            anchor_at(&history, cut.boundary, state.turn),
            anchor_at(&history, cut.turn_user, state.turn),
            cut.boundary - 1 - usize::from(cut.turn_user < cut.boundary),
            Some(turn_of(&history, cut.turn_user, state.turn)),
        ),
        None => (None, None, 0, None),
    };
    if let Some((cut, text)) = &summary {
        history = apply_summary(&history, cut, text);
    }
    let after = meter.request(&history);
    state.history = history;
    let notice = compaction_notice(before, after);
    let snapshot = state.snapshot(match trigger {
        Trigger::Manual { .. } => "idle",
        _ => "awaiting_model",
    });
    let focus = match &trigger {
        Trigger::Manual { focus } => focus.as_deref(),
        _ => None,
    };
    let message_id = rt.store.record_compaction(
        &NewCompaction {
            chat_id: &state.chat.id,
            turn_number: state.turn,
            trigger: trigger.as_str(),
            focus,
            notice: &notice,
            summary: summary.as_ref().map(|(_, text)| text.as_str()),
            first_kept,
            kept_user,
            tokens_before: before,
            tokens_after: after,
            clipped,
        },
        &snapshot,
    )?;
    rt.emit(Event::ContextCompacted {
        chat_id: state.chat.id.clone(),
        message_id,
        trigger: trigger.as_str().into(),
        before,
        after,
        clipped,
        summarized,
        summary: summary.map(|(_, text)| text),
        covers_turns_before,
        notice,
    });
    Ok(Some(Compacted { usage }))
}

/// The transcript message that `history[index]` (a cut point) is.
fn anchor_at(history: &[ChatMessage], index: usize, current_turn: i64) -> Option<MessageAnchor> {
    match &history[index] {
        ChatMessage::User { .. } => Some(MessageAnchor::UserOfTurn(turn_of(
            history,
            index,
            current_turn,
        ))),
        ChatMessage::Assistant { tool_calls, .. } => tool_calls
            .first()
            .map(|c| MessageAnchor::ToolCall(c.id.clone())),
        _ => None,
    }
}

/// Asks the model for the summary of `history[..cut.boundary]`. The request is recorded as a
/// model call of the chat (it costs tokens) but streams nothing into the chat.
async fn summarise(
    rt: &Arc<Runtime>,
    state: &LoopState,
    history: &[ChatMessage],
    cut: &Cut,
    specs: &[ToolSpec],
    focus: Option<&str>,
    token: &CancellationToken,
) -> Result<(String, Usage)> {
    let mut request = chat_request(rt, state, &summary_request(history, cut, focus), specs)?;
    request.tool_choice = (!specs.is_empty()).then(|| "none".to_string());
    let chat = &state.chat;
    let call_id = rt
        .store
        .begin_model_call(&chat.id, state.turn, &chat.model)?;
    let started = Instant::now();
    let result = rt.llm.stream_chat(&request, token, &mut |_| {}).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let (usage, error, finish_reason) = match &result {
        Ok(response) => (
            response.usage.clone().unwrap_or_default(),
            None,
            response.finish_reason.clone(),
        ),
        Err(e) => (Usage::default(), Some(e.to_string()), None),
    };
    rt.store.finish_model_call(&ModelCallEnd {
        call_id: &call_id,
        error: error.as_deref(),
        usage: &usage,
        finish_reason: finish_reason.as_deref(),
        latency_ms,
    })?;
    let response = result.map_err(|e| match e.kind {
        LlmErrorKind::Cancelled => anyhow!("cancelled"),
        _ => anyhow!("the context was not summarised: the summary request failed: {e}"),
    })?;
    let text = response.content.trim();
    if text.is_empty() {
        bail!("the context was not summarised: the model's summary was empty");
    }
    Ok((text.to_string(), usage))
}

/// `/compact [focus]` on a chat between turns.
pub async fn compact_chat(rt: &Arc<Runtime>, chat_id: &str, focus: Option<String>) -> Result<()> {
    let token = rt.begin_turn(chat_id, None)?;
    let result = compact_idle_chat(rt, chat_id, focus, &token).await;
    rt.end_turn(chat_id);
    result
}

async fn compact_idle_chat(
    rt: &Arc<Runtime>,
    chat_id: &str,
    focus: Option<String>,
    token: &CancellationToken,
) -> Result<()> {
    let chat = rt.store.get_chat(chat_id)?;
    let Some(snapshot) = rt.store.load_snapshot(&chat.id)? else {
        bail!("nothing to compact: the chat has no history yet");
    };
    if snapshot.state != "idle" {
        bail!("the chat has an interrupted turn: resume it before compacting");
    }
    let approval = snapshot.mode.parse().map_err(|e: String| anyhow!(e))?;
    let mut state = LoopState::from_snapshot(chat, snapshot, approval);
    let specs = tool_specs(rt, &state.chat, None);
    match compact(rt, &mut state, &specs, token, Trigger::Manual { focus }).await? {
        Some(_) => Ok(()),
        None => bail!("nothing to compact: the chat is its last turn and has no bulky tool output"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_reads_in_thousands() {
        assert_eq!(
            compaction_notice(96_400, 14_200),
            "context compacted: 96k → 14k tokens"
        );
    }
}
