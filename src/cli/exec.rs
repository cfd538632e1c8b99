//! `boocode exec`: one prompt, headless. The final answer goes to stdout; progress to stderr;
//! with `--json`, one event per line on stdout instead.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use boocode::core::agent::{TurnRequest, TurnStatus};
use boocode::core::context;
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::{retry_notice, Event};
use boocode::core::hooks;
use boocode::core::store::{IdTable, Store};

use super::format::{clip, key_argument, short_id, tokens};
use super::output::{errln, outln};
use super::{words_or_stdin, GlobalArgs, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// One JSON event per line on stdout.
    #[arg(long)]
    json: bool,
    /// Continue the project's latest session.
    #[arg(long, conflicts_with = "session")]
    r#continue: bool,
    /// Continue the session with this id (or unique prefix).
    #[arg(long)]
    session: Option<String>,
    /// Attach an image (png, jpeg, gif, webp); repeatable.
    #[arg(long = "image")]
    images: Vec<PathBuf>,
    /// The prompt; read from stdin when absent.
    prompt: Vec<String>,
}

/// `boocode resume`: finish a turn a crash or kill interrupted.
#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The chat to resume (id or unique prefix); default: the project's latest interrupted one.
    #[arg(long)]
    chat: Option<String>,
    /// One JSON event per line on stdout.
    #[arg(long)]
    json: bool,
}

/// What a headless run does once the engine is up.
enum Work {
    Prompt {
        prompt: String,
        images: Vec<PathBuf>,
        session: Option<String>,
        continue_latest: bool,
    },
    Resume {
        chat: Option<String>,
    },
}

pub fn run(global: &GlobalArgs, args: ExecArgs) -> i32 {
    let prompt = match words_or_stdin(&args.prompt, "exec", "prompt") {
        Ok(p) => p,
        Err(code) => return code,
    };
    run_headless(
        global,
        args.json,
        Work::Prompt {
            prompt,
            images: args.images,
            session: args.session,
            continue_latest: args.r#continue,
        },
    )
}

pub fn run_resume(global: &GlobalArgs, args: ResumeArgs) -> i32 {
    run_headless(global, args.json, Work::Resume { chat: args.chat })
}

fn run_headless(global: &GlobalArgs, json: bool, work: Work) -> i32 {
    let (root, config, runtime) = match super::prepare_headless(global) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let approval = config.approval;
    let approval_flag = global.approval;
    runtime.block_on(async move {
        let (engine, mut events, recovery) = match Engine::start(EngineOptions {
            config,
            project_root: root,
            interactive: false,
        }) {
            Ok(v) => v,
            Err(e) => {
                errln!("boocode: {e:#}");
                return EXIT_FAILURE;
            }
        };
        if !recovery.is_empty() && !json {
            errln!(
                "boocode: recovered from an earlier crash ({} interrupted tool calls, {} interrupted messages, {} re-queued tasks)",
                recovery.traces_interrupted, recovery.messages_interrupted, recovery.tasks_requeued
            );
        }
        let target = match &work {
            Work::Prompt {
                session,
                continue_latest,
                ..
            } => engine
                .open_session(session.as_deref(), *continue_latest)
                .and_then(|s| engine.main_chat(&s)),
            Work::Resume { chat: Some(id) } => engine.store().get_chat(id),
            Work::Resume { chat: None } => engine.latest_interrupted_chat().and_then(|c| {
                c.ok_or_else(|| anyhow::anyhow!("nothing to resume: no chat of this project has an interrupted turn"))
            }),
        };
        let chat = match target {
            Ok(c) => c,
            Err(e) => {
                errln!("boocode: {e:#}");
                return EXIT_USAGE;
            }
        };
        let main_chat = chat.id.clone();
        let store = engine.store().clone();
        let printer_store = store.clone();
        let stdout_closed = CancellationToken::new();
        let printer_closed = stdout_closed.clone();
        let printer = tokio::spawn(async move {
            let mut progress = Progress::new(printer_store, main_chat);
            while let Some(event) = events.recv().await {
                if json {
                    if outln!("{}", serde_json::to_value(&event).unwrap_or_default()).is_err() {
                        printer_closed.cancel();
                        return;
                    }
                } else {
                    progress.show(&event);
                }
            }
        });
        // Ctrl-C, SIGTERM, SIGHUP or a reader that closed stdout (`--json | head -1`) cancels
        // the turn: it ends `cancelled` rather than running on with nobody watching.
        let cancel_engine = engine.clone();
        let cancel_chat = chat.id.clone();
        let interrupt = tokio::spawn(async move {
            tokio::select! {
                _ = super::stop_requested() => {}
                _ = stdout_closed.cancelled() => {}
            }
            cancel_engine.rt.cancel_turn(&cancel_chat);
        });

        let outcome = match work {
            Work::Prompt { prompt, images, .. } => {
                let mut request = TurnRequest::new(&chat.id, &prompt, approval);
                request.attachments = images;
                engine.run_turn(request).await
            }
            Work::Resume { .. } => engine.resume_chat(&chat.id, approval_flag).await,
        };
        if let Err(e) = engine.wait_for_tasks_of(&chat.id).await {
            errln!("boocode: waiting for background tasks: {e:#}");
        }
        interrupt.abort();
        engine.shutdown();
        drop(engine);
        // The printer ends when the engine's last event sender is gone.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), printer).await;

        let code = if outcome.status == TurnStatus::Completed {
            EXIT_OK
        } else {
            EXIT_FAILURE
        };
        if json {
            let _ = outln!(
                "{}",
                json!({
                "type": "result",
                "session_id": chat.session_id,
                "chat_id": outcome.chat_id,
                "turn": outcome.turn,
                "status": outcome.status.as_str(),
                "final_text": outcome.final_text,
                "error": outcome.error,
                "usage": outcome.usage,
                "context": outcome.context,
            })
            );
        } else {
            if let Some(text) = &outcome.final_text {
                // A closed stdout is the reader's choice: nothing to say about it.
                let _ = outln!("{text}");
            }
            match &outcome.error {
                Some(error) => errln!("boocode: turn {}: {error}", outcome.status.as_str()),
                None if outcome.status != TurnStatus::Completed => {
                    errln!("boocode: turn {}", outcome.status.as_str())
                }
                None => {}
            }
            // The window only needs a mention once it is half used.
            let context = match outcome.context {
                Some(c) if c.percent() > 50 => format!(" · context {c} ({} %)", c.percent()),
                _ => String::new(),
            };
            errln!(
                "[session {} · chat {} · {} prompt ({} cached) / {} completion tokens{context}]",
                short_id(&store, IdTable::Sessions, &chat.session_id),
                short_id(&store, IdTable::Chats, &outcome.chat_id),
                tokens(outcome.usage.prompt_tokens),
                tokens(outcome.usage.cache_hit_tokens),
                tokens(outcome.usage.completion_tokens),
            );
        }
        code
    })
}

/// Human progress on stderr: tool calls with timings, a reasoning summary, retries.
pub(super) struct Progress {
    store: Store,
    main_chat: String,
    reasoning: HashMap<String, String>,
    labels: HashMap<String, String>,
}

impl Progress {
    pub(super) fn new(store: Store, main_chat: String) -> Self {
        Progress {
            store,
            main_chat,
            reasoning: HashMap::new(),
            labels: HashMap::new(),
        }
    }

    /// Prefix naming the sub-agent an event comes from; empty for the main chat.
    fn who(&self, chat_id: &str) -> String {
        if chat_id == self.main_chat {
            String::new()
        } else {
            let label = self
                .labels
                .get(chat_id)
                .map(String::as_str)
                .unwrap_or("sub-agent");
            format!("[{label}] ")
        }
    }

    fn flush_reasoning(&mut self, chat_id: &str) {
        if let Some(text) = self.reasoning.remove(chat_id) {
            let first = text.split_whitespace().collect::<Vec<_>>().join(" ");
            if !first.is_empty() {
                errln!("{}thinking: {}", self.who(chat_id), clip(&first, 160));
            }
        }
    }

    pub(super) fn show(&mut self, event: &Event) {
        match event {
            Event::ReasoningDelta { chat_id, text } => {
                self.reasoning
                    .entry(chat_id.clone())
                    .or_default()
                    .push_str(text);
            }
            Event::TextDelta { chat_id, .. } | Event::ModelCallFinished { chat_id, .. } => {
                self.flush_reasoning(&chat_id.clone());
            }
            Event::ToolStarted {
                chat_id,
                tool_name,
                input,
                ..
            } => {
                self.flush_reasoning(&chat_id.clone());
                errln!(
                    "{}→ {tool_name} {}",
                    self.who(chat_id),
                    key_argument(tool_name, input)
                );
            }
            Event::ToolFinished {
                chat_id,
                tool_name,
                outcome,
                latency_ms,
                error,
                ..
            } => {
                let mark = if outcome == "success" { "✓" } else { "✗" };
                let detail = error
                    .as_deref()
                    .map(|e| format!(": {}", clip(e, 200)))
                    .unwrap_or_default();
                errln!(
                    "{}  {mark} {tool_name} {outcome} in {latency_ms} ms{detail}",
                    self.who(chat_id)
                );
            }
            Event::Retrying {
                chat_id,
                attempt,
                max_attempts,
                delay_ms,
                reason,
                ..
            } => {
                errln!(
                    "{}… {}",
                    self.who(chat_id),
                    retry_notice(*attempt, *max_attempts, *delay_ms, reason)
                );
            }
            Event::ChangePending {
                path, change_id, ..
            } => {
                errln!(
                    "  pending change to {path} ({})",
                    short_id(&self.store, IdTable::PendingChanges, change_id)
                );
            }
            Event::TaskUpdated {
                task_id,
                status,
                label,
                chat_id,
            } => {
                let name = label
                    .clone()
                    .unwrap_or_else(|| short_id(&self.store, IdTable::Tasks, task_id));
                if let Some(c) = chat_id {
                    self.labels.insert(c.clone(), name.clone());
                }
                errln!("· background task {name}: {status}");
            }
            Event::Notice { message } => errln!("boocode: {message}"),
            Event::AgentTerminalLines { chat_id, lines } => {
                let who = self.who(chat_id);
                for line in lines {
                    errln!("{who}│ {line}");
                }
            }
            Event::HookFinished { chat_id, .. } => {
                let who = chat_id.as_deref().map(|c| self.who(c)).unwrap_or_default();
                for line in hooks::report_lines(event) {
                    errln!("{who}  ⚑ {line}");
                }
            }
            Event::ContextCompacted {
                chat_id, notice, ..
            } => errln!("{}{notice}", self.who(chat_id)),
            // Sub-agents and workflow agents take in the same files; saying so once is enough.
            Event::ContextLoaded {
                chat_id,
                instructions,
                skills,
            } if *chat_id == self.main_chat => {
                errln!("{}", context::describe(instructions, skills));
            }
            _ => {}
        }
    }
}
