//! `boocode agents`: the external agents and whether each can run here; `boocode agent run`:
//! one task on an external agent, headless.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use boocode::core::agent::TurnStatus;
use boocode::core::agents;
use boocode::core::agents::acp::SessionOptions;
use boocode::core::agents::approval;
use boocode::core::agents::job::{self, AgentJob, JobOutcome};
use boocode::core::agents::registry::{self, AgentSpec};
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::Event;
use boocode::core::store::Store;
use boocode::core::trust::{ProjectTrust, TrustStatus};
use boocode::core::worktree::checkout::{Isolation, IN_PLACE_WARNING};

use super::exec::Progress;
use super::output::{errln, outln};
use super::{usage_error, words_or_stdin, GlobalArgs, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(Args, Debug)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: AgentCommand,
}

#[derive(Subcommand, Debug)]
enum AgentCommand {
    /// Run one task on an external agent: its work streams to stderr, its final message to
    /// stdout.
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The agent (`boocode agents` lists them).
    name: String,
    /// The agent's session mode, when it offers modes.
    #[arg(long, value_name = "ID")]
    mode: Option<String>,
    /// Run in the project itself instead of a git worktree of it.
    #[arg(long)]
    no_worktree: bool,
    /// One JSON event per line on stdout.
    #[arg(long)]
    json: bool,
    /// The task; read from stdin when absent.
    task: Vec<String>,
}

/// `boocode agents approve|deny NAME`.
#[derive(Subcommand, Debug)]
pub enum AgentsCommand {
    /// Allow an agent the project defines (`[agents.NAME]` in .boocode/config.toml) to run in
    /// this project; asked again if its definition changes.
    Approve { name: String },
    /// Refuse an agent the project defines: it never runs in this project.
    Deny { name: String },
}

/// `boocode agents approve|deny NAME`: the person's decision about a project-defined agent.
pub fn decide(global: &GlobalArgs, command: AgentsCommand) -> Result<()> {
    let (root, config) = global.load_config().map_err(usage_error)?;
    let (name, allow) = match &command {
        AgentsCommand::Approve { name } => (name, true),
        AgentsCommand::Deny { name } => (name, false),
    };
    let spec = registry::find(&config.agents, name).map_err(usage_error)?;
    let trust = ProjectTrust::new(Store::open(&config.database_path())?);
    approval::decide(&trust, &root, &spec, allow).map_err(usage_error)?;
    if allow {
        outln!(
            "approved agent '{name}' ({}) for {}",
            spec.command_line(),
            root.display()
        )?;
    } else {
        outln!("denied agent '{name}' for {}", root.display())?;
    }
    Ok(())
}

/// `boocode agents [--json]`.
pub fn list(global: &GlobalArgs, json: bool) -> Result<()> {
    let (root, config) = global.load_config().map_err(usage_error)?;
    let all = registry::agents(&config.agents).map_err(usage_error)?;
    let trust = ProjectTrust::new(Store::open(&config.database_path())?);
    let approvals = all
        .iter()
        .map(|a| approval::status(&trust, &root, a))
        .collect::<Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let found = runtime.block_on(futures::future::join_all(
        all.iter().map(registry::availability),
    ));
    if json {
        let rows: Vec<_> = all
            .iter()
            .zip(&found)
            .zip(&approvals)
            .map(|((a, found), approval)| {
                json!({
                    "name": a.name,
                    "protocol": a.protocol,
                    "command": a.command,
                    "args": a.args,
                    // Values may be secrets: only the names are shown.
                    "env": a.env.keys().collect::<Vec<_>>(),
                    "provider": a.provider,
                    "host": a.host,
                    "session": a.session,
                    "origin": a.origin,
                    "available": found.available,
                    "detail": found.detail,
                    // Only for agents the project defines: approved, denied, needs approval.
                    "approval": approval.map(|s| s.to_string()),
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    for ((a, found), approval) in all.iter().zip(&found).zip(&approvals) {
        let mark = match approval {
            Some(TrustStatus::Unknown | TrustStatus::Denied) => "?",
            _ if found.available => "✓",
            _ => "✗",
        };
        let standing = match approval {
            Some(TrustStatus::Unknown) => format!(
                "  project agent, needs approval: boocode agents approve {}",
                a.name
            ),
            Some(TrustStatus::Denied) => "  project agent, denied".to_string(),
            Some(TrustStatus::Approved) => "  project agent, approved".to_string(),
            None => String::new(),
        };
        outln!(
            "{mark} {:<12} {:<5} {}  ({}){standing}",
            a.name,
            a.protocol.as_str(),
            a.command_line(),
            found.detail
        )?;
    }
    Ok(())
}

pub fn run(global: &GlobalArgs, args: AgentArgs) -> i32 {
    match args.command {
        AgentCommand::Run(run) => run_task(global, run),
    }
}

fn run_task(global: &GlobalArgs, args: RunArgs) -> i32 {
    let task = match words_or_stdin(&args.task, "agent run", "task") {
        Ok(t) => t,
        Err(code) => return code,
    };
    // An external agent brings its own model access: no provider key is needed here.
    let (root, config) = match global.load_config() {
        Ok(v) => v,
        Err(e) => {
            errln!("boocode: {e:#}");
            return EXIT_USAGE;
        }
    };
    let spec = match registry::find(&config.agents, &args.name) {
        Ok(s) => s,
        Err(e) => {
            errln!("boocode: {e:#}");
            return EXIT_USAGE;
        }
    };
    if let Err(e) = boocode::core::logging::init(&config.home) {
        errln!("boocode: {e:#}");
        return EXIT_FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            errln!("boocode: starting the runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    let approval = config.approval;
    runtime.block_on(async move {
        let (engine, events, _) = match Engine::start(EngineOptions {
            config,
            project_root: root.clone(),
            interactive: false,
        }) {
            Ok(v) => v,
            Err(e) => {
                errln!("boocode: {e:#}");
                return EXIT_FAILURE;
            }
        };
        // `--model` names the agent's model here, not the native loop's.
        let model = global.model.clone();
        let code =
            run_on_engine(&engine, events, &root, &spec, &task, &args, model, approval).await;
        engine.rt.agents.disconnect_all();
        engine.shutdown();
        code
    })
}

#[allow(clippy::too_many_arguments)]
async fn run_on_engine(
    engine: &Engine,
    mut events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    root: &std::path::Path,
    spec: &AgentSpec,
    task: &str,
    args: &RunArgs,
    model: Option<String>,
    approval: boocode::core::agent::tools::ApprovalMode,
) -> i32 {
    let rt = engine.rt.clone();
    let agent = spec.name.as_str();
    if let Err(e) = approval::check(&ProjectTrust::new(rt.store.clone()), root, spec) {
        errln!("boocode: {e:#}");
        return EXIT_USAGE;
    }
    let prepared = (|| -> Result<_> {
        let session = engine.open_session(None, false)?;
        let chat = engine.new_titled_chat(&session, "main", None, "")?;
        rt.store.bind_chat_agent(&chat.id, &spec.name)?;
        let task_row = agents::task::start(&rt, &chat, spec, task, model.as_deref().unwrap_or(""))?;
        Ok((chat, task_row))
    })();
    let (chat, task_row) = match prepared {
        Ok(v) => v,
        Err(e) => {
            errln!("boocode: {e:#}");
            return EXIT_FAILURE;
        }
    };
    let isolation = if args.no_worktree {
        if !args.json {
            errln!(
                "boocode: warning: --no-worktree: {agent} works in {} itself ({IN_PLACE_WARNING})",
                root.display()
            );
        }
        Isolation::InPlace
    } else {
        Isolation::Worktree
    };
    let json = args.json;
    let store = rt.store.clone();
    let main_chat = chat.id.clone();
    let stdout_closed = CancellationToken::new();
    let printer_closed = stdout_closed.clone();
    let last_event_task = task_row.id.clone();
    let printer = tokio::spawn(async move {
        let mut progress = Progress::new(store, main_chat);
        while let Some(event) = events.recv().await {
            let last =
                matches!(&event, Event::TaskUpdated { task_id, .. } if *task_id == last_event_task);
            if json {
                if outln!("{}", serde_json::to_value(&event).unwrap_or_default()).is_err() {
                    printer_closed.cancel();
                    return;
                }
            } else {
                progress.show(&event);
            }
            if last {
                return;
            }
        }
    });
    let cancel = CancellationToken::new();
    let interrupt_cancel = cancel.clone();
    let interrupt = tokio::spawn(async move {
        tokio::select! {
            _ = super::stop_requested() => {}
            _ = stdout_closed.cancelled() => {}
        }
        interrupt_cancel.cancel();
    });
    let job = AgentJob {
        chat_id: chat.id.clone(),
        agent: agent.to_string(),
        task_id: Some(task_row.id.clone()),
        text: task.to_string(),
        approval,
        isolation,
        options: SessionOptions {
            model,
            mode: args.mode.clone(),
            resume_session: None,
        },
    };
    let done = job::run(&rt, job, &cancel, |_| None).await;
    interrupt.abort();
    let JobOutcome {
        turn: outcome,
        changes,
    } = match done {
        Ok(done) => done,
        Err(e) => {
            errln!("boocode: {e:#} (--no-worktree runs the agent in the project itself)");
            let _ = rt
                .store
                .finish_task(&task_row.id, "failed", None, Some(&format!("{e:#}")));
            return EXIT_FAILURE;
        }
    };
    let status = agents::task::finish(&rt, &task_row, &outcome);
    let code = if outcome.status == TurnStatus::Completed {
        EXIT_OK
    } else {
        EXIT_FAILURE
    };
    // The printer ends at the task's own update, the last event of the run.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), printer).await;
    if json {
        let _ = outln!(
            "{}",
            json!({
                "type": "result",
                "agent": agent,
                "task_id": task_row.id,
                "session_id": chat.session_id,
                "chat_id": chat.id,
                "status": status,
                "final_text": outcome.final_text,
                "error": outcome.error,
                "usage": outcome.usage,
                "changes": changes.iter().map(|c| json!({"id": c.id, "path": c.content.display_path})).collect::<Vec<_>>(),
            })
        );
    } else {
        if let Some(text) = &outcome.final_text {
            let _ = outln!("{text}");
        }
        if let Some(error) = &outcome.error {
            errln!("boocode: {agent}: {error}");
        }
    }
    code
}
