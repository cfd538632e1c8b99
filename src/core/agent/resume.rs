//! Resuming a turn a crash or kill interrupted, from the chat's snapshot. A side-effecting
//! call that had started is never run a second time: it may have done part or all of its work.

use std::sync::Arc;

use anyhow::{anyhow, Result};

use super::tools::ApprovalMode;
use super::{drive, failed_before_start, is_read_only, LoopState, TurnOutcome};
use crate::core::events::Event;
use crate::core::llm::types::ChatMessage;
use crate::core::runtime::Runtime;
use crate::core::store::ToolResult;

/// Continues a chat from its last snapshot: runs the tool calls it had pending, then goes on
/// talking to the model. The turn keeps the approval mode it ran under unless `approval` says
/// otherwise.
pub async fn resume_chat(
    rt: &Arc<Runtime>,
    chat_id: &str,
    approval: Option<ApprovalMode>,
) -> TurnOutcome {
    let token = match rt.begin_turn(chat_id, None) {
        Ok(t) => t,
        Err(e) => return failed_before_start(rt, chat_id, 0, e),
    };
    let prepared = (|| -> Result<LoopState> {
        let chat = rt.store.get_chat(chat_id)?;
        let snapshot = rt
            .store
            .load_snapshot(&chat.id)?
            .filter(|s| s.state != "idle")
            .ok_or_else(|| anyhow!("chat {} has no interrupted turn to resume", chat.id))?;
        let approval = match approval {
            Some(a) => a,
            None => snapshot.mode.parse().map_err(|e: String| anyhow!(e))?,
        };
        rt.store.set_chat_status(&chat.id, "running")?;
        rt.emit(Event::TurnStarted {
            chat_id: chat.id.clone(),
            turn: snapshot.turn_number,
        });
        Ok(LoopState::from_snapshot(chat, snapshot, approval))
    })();
    let outcome = match prepared {
        Ok(state) => drive(rt, state, &token).await,
        Err(e) => failed_before_start(rt, chat_id, 0, e),
    };
    rt.end_turn(chat_id);
    outcome
}

/// What the model is told about a side-effecting call that was running when its turn was
/// interrupted.
pub const INTERRUPTED_CALL_RESULT: &str = "error: interrupted: boocode stopped while this call \
was running, so it may have partly run and its effects may have happened. It was not run \
again; check the current state before deciding whether to repeat it.";

/// On resume, answers the pending side-effecting calls that had already started (their trace
/// exists) instead of running them again: with the recorded result when the call had finished,
/// else with [`INTERRUPTED_CALL_RESULT`]. Read-only calls and calls that never started stay
/// pending and run. A started call is always the first pending one (calls with effects run
/// one at a time, each batch's results are recorded before the next starts), so answering it
/// here keeps the results in call order.
pub(super) fn answer_calls_that_had_started(
    rt: &Arc<Runtime>,
    state: &mut LoopState,
) -> Result<()> {
    for call in state.pending.clone() {
        if is_read_only(rt, &call) {
            continue;
        }
        let Some(trace) = rt
            .store
            .trace_of_call(&state.chat.id, state.turn, &call.id)?
        else {
            continue;
        };
        let finished = trace.finished_at.is_some()
            && trace.outcome.as_deref().is_some_and(|o| o != "interrupted");
        let content = match trace.tool_output.filter(|_| finished) {
            Some(recorded) => recorded,
            None => INTERRUPTED_CALL_RESULT.to_string(),
        };
        rt.emit(Event::Notice {
            message: format!(
                "{} ({}) had started before the interruption; it is not run again{}",
                call.function.name,
                call.id,
                if finished {
                    " (it had finished: the model gets its result)"
                } else {
                    " (the model is told it may have partly run)"
                }
            ),
        });
        state
            .history
            .push(ChatMessage::tool_result(call.id.clone(), content.clone()));
        state.pending.retain(|p| p.id != call.id);
        let snapshot = state.snapshot_between_calls();
        rt.store.record_tool_results(
            &state.chat.id,
            state.turn,
            &[ToolResult {
                tool_call_id: &call.id,
                tool_name: &call.function.name,
                content: &content,
            }],
            &snapshot,
        )?;
    }
    Ok(())
}
