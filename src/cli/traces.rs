//! `boocode traces`: a chat's tool traces grouped by turn, with per-turn usage and the cache
//! hit rate.

use anyhow::{anyhow, Result};
use clap::Args;
use serde_json::json;

use boocode::core::llm::types::Usage;
use boocode::core::store::{cache_hit_rate, Store, TraceCursor, TraceRow};

use super::format::{clip, tokens};
use super::output::outln;
use super::{usage_error, GlobalArgs};

#[derive(Args, Debug)]
pub struct TracesArgs {
    /// The chat (id or unique prefix).
    #[arg(long, conflicts_with = "last")]
    chat: Option<String>,
    /// The most recently active chat (the default).
    #[arg(long)]
    last: bool,
    /// One JSON document on stdout.
    #[arg(long)]
    json: bool,
}

const PAGE: usize = 1000;

/// Every trace of a chat, read page by page.
fn all_traces(store: &Store, chat_id: &str) -> Result<Vec<TraceRow>> {
    let mut out: Vec<TraceRow> = Vec::new();
    loop {
        let cursor = out.last().map(|t| TraceCursor {
            started_at: t.started_at.clone(),
            id: t.id.clone(),
        });
        let page = store.list_traces(chat_id, cursor.as_ref(), PAGE)?;
        let done = page.len() < PAGE;
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

pub fn run(global: &GlobalArgs, args: &TracesArgs) -> Result<()> {
    let store = global.open_store()?;
    let chat = match &args.chat {
        Some(id) => store.get_chat(id).map_err(usage_error)?,
        None => store
            .latest_chat()?
            .ok_or_else(|| usage_error(anyhow!("no chats yet: run `boocode exec PROMPT` first")))?,
    };
    let traces = all_traces(&store, &chat.id)?;
    let turns = store.turn_usage(&chat.id)?;
    let mut total = Usage::default();
    for t in &turns {
        total.add(&t.usage);
    }
    let model_calls: i64 = turns.iter().map(|t| t.model_calls).sum();
    if args.json {
        let turns_json: Vec<_> = turns
            .iter()
            .map(|t| {
                json!({
                    "turn_number": t.turn_number,
                    "started_at": t.started_at,
                    "finished_at": t.finished_at,
                    "model_calls": t.model_calls,
                    "tool_calls": t.tool_calls,
                    "usage": t.usage,
                    "cache_hit_rate": t.cache_hit_rate(),
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "chat": chat,
                "turns": turns_json,
                "traces": traces,
                "totals": {
                    "usage": total,
                    "model_calls": model_calls,
                    "cache_hit_rate": cache_hit_rate(&total),
                },
            }))?
        )?;
        return Ok(());
    }
    outln!(
        "chat {}  {}  {}",
        chat.id,
        chat.model,
        clip(&chat.title, 60)
    )?;
    let max_turn = turns
        .iter()
        .map(|t| t.turn_number)
        .chain(traces.iter().map(|t| t.turn_number))
        .max()
        .unwrap_or(0);
    for turn in 1..=max_turn {
        let usage = turns.iter().find(|t| t.turn_number == turn);
        match usage {
            Some(u) => outln!(
                "turn {turn}: {} model calls · prompt {} ({}) · completion {} · reasoning {}",
                u.model_calls,
                tokens(u.usage.prompt_tokens),
                rate_text(&u.usage),
                tokens(u.usage.completion_tokens),
                tokens(u.usage.reasoning_tokens),
            )?,
            None => outln!("turn {turn}:")?,
        }
        for t in traces.iter().filter(|t| t.turn_number == turn) {
            let latency = t
                .latency_ms
                .map(|ms| format!("{ms} ms"))
                .unwrap_or_else(|| "-".into());
            outln!(
                "  {:<16} {:>9}  {:<11} {}{}",
                t.tool_name,
                latency,
                t.outcome.as_deref().unwrap_or("running"),
                clip(&t.tool_input, 70),
                t.error
                    .as_deref()
                    .map(|e| format!("  ! {}", clip(e, 80)))
                    .unwrap_or_default()
            )?;
        }
    }
    let cached = total.cache_hit_tokens;
    let prompt = total.cache_hit_tokens + total.cache_miss_tokens;
    outln!(
        "Cache hit rate: {} ({}/{} tokens) · total {} tokens · reasoning {} · {} model calls · {} tool calls",
        cache_hit_rate(&total)
            .map(|r| format!("{:.0}%", r * 100.0))
            .unwrap_or_else(|| "n/a".into()),
        tokens(cached),
        tokens(prompt),
        tokens(total.total()),
        tokens(total.reasoning_tokens),
        model_calls,
        traces.len()
    )?;
    Ok(())
}

fn rate_text(usage: &Usage) -> String {
    match cache_hit_rate(usage) {
        Some(r) => format!("cache hit {:.0}%", r * 100.0),
        None => "no cache data".into(),
    }
}
