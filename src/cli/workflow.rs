//! `boocode workflow …`: list, show, run, runs, resume, cancel.
//!
//! `run` and `resume` print live progress on stderr (or every event except text deltas as JSON
//! lines on stdout with `--json`), then the script's return value on stdout: strings as they
//! are, anything else as pretty JSON. They exit non-zero when the run does not complete.
//!
//! `cancel` of a run owned by another process marks it cancelled in the store; that process
//! checks the store a few times a second, then kills its worker and aborts its agents.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::Event;

use boocode::core::store::{IdTable, Store};
use boocode::core::workflow::args::args_summary;
use boocode::core::workflow::discovery;
use boocode::core::workflow::{RunOptions, RunOutcome};

use super::format::{clip, short_id, tokens};
use super::output::{errln, outln};
use super::{usage_error, GlobalArgs, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(Args, Debug)]
pub struct WorkflowArgs {
    #[command(subcommand)]
    command: WorkflowCommand,
}

#[derive(Subcommand, Debug)]
enum WorkflowCommand {
    /// List the workflows this project can run (and invalid files, with their errors).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print a workflow's description, phases, origin and source.
    Show { name: String },
    /// Run a workflow: progress on stderr, its return value on stdout.
    Run {
        name: String,
        /// Arguments for the script: JSON, or any other text as a string.
        #[arg(long)]
        args: Option<String>,
        /// Token budget; further agent() calls fail once it is spent.
        #[arg(long)]
        budget: Option<u64>,
        /// Sub-agents running at once.
        #[arg(long)]
        concurrency: Option<usize>,
        /// Stop the run after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
        /// Do not reuse results of earlier runs.
        #[arg(long)]
        no_cache: bool,
        /// Events as JSON lines on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List this project's runs, newest first.
    Runs {
        #[arg(long)]
        json: bool,
    },
    /// Resume a run: completed agent calls come from the store, the rest run again.
    Resume {
        run_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a run (here or in another boocode process).
    Cancel { run_id: String },
}

pub fn run(global: &GlobalArgs, args: WorkflowArgs) -> i32 {
    let result = match args.command {
        WorkflowCommand::List { json } => list(global, json),
        WorkflowCommand::Show { name } => show(global, &name),
        WorkflowCommand::Runs { json } => runs(global, json),
        WorkflowCommand::Cancel { run_id } => cancel(global, &run_id),
        WorkflowCommand::Run {
            name,
            args,
            budget,
            concurrency,
            timeout,
            no_cache,
            json,
        } => {
            let args = match args {
                None => Value::Null,
                Some(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            };
            let options = RunOptions {
                args,
                budget,
                concurrency,
                timeout: timeout.map(Duration::from_secs),
                fresh: no_cache,
                ..RunOptions::default()
            };
            return execute(global, json, Work::Run { name, options });
        }
        WorkflowCommand::Resume { run_id, json } => {
            return execute(global, json, Work::Resume { run_id })
        }
    };
    super::exit_code(result)
}

fn discover(global: &GlobalArgs) -> Result<Vec<discovery::WorkflowEntry>> {
    let (root, config) = global.load_config().map_err(usage_error)?;
    Ok(discovery::discover(&root, config.user_home.as_deref()))
}

fn list(global: &GlobalArgs, json: bool) -> Result<()> {
    let all = discover(global)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(());
    }
    for w in &all {
        match &w.error {
            None => outln!(
                "{:<20} {:<9} {}",
                w.name,
                w.source.as_str(),
                clip(w.description.as_deref().unwrap_or(""), 70)
            )?,
            Some(e) => outln!(
                "{:<20} {:<9} INVALID {}: {}",
                w.name,
                w.source.as_str(),
                w.origin,
                clip(e, 120)
            )?,
        }
    }
    Ok(())
}

fn show(global: &GlobalArgs, name: &str) -> Result<()> {
    let all = discover(global)?;
    let w = all
        .iter()
        .find(|w| w.name == name && w.error.is_none())
        .or_else(|| all.iter().find(|w| w.name == name))
        .ok_or_else(|| usage_error(anyhow!("no workflow named '{name}'")))?;
    outln!("name:        {}", w.name)?;
    outln!("source:      {}", w.source.as_str())?;
    outln!("origin:      {}", w.origin)?;
    if let Some(d) = &w.description {
        outln!("description: {d}")?;
    }
    if let Some(when) = &w.when_to_use {
        outln!("when to use: {when}")?;
    }
    if !w.phases.is_empty() {
        outln!("phases:      {}", w.phases.join(" → "))?;
    }
    for o in &w.overrides {
        outln!("overrides:   {o}")?;
    }
    if let Some(e) = &w.error {
        outln!("error:       {e}")?;
        return Err(anyhow!("workflow '{name}' is invalid"));
    }
    Ok(())
}

fn open_store(global: &GlobalArgs) -> Result<(Store, Option<String>)> {
    let (root, config) = global.load_config().map_err(usage_error)?;
    let store = Store::open(&config.database_path())?;
    let project = store.ensure_project(&root.to_string_lossy())?;
    Ok((store, Some(project.id)))
}

fn runs(global: &GlobalArgs, json: bool) -> Result<()> {
    let (store, project) = open_store(global)?;
    let runs = store.list_workflow_runs(project.as_deref())?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&runs)?)?;
        return Ok(());
    }
    if runs.is_empty() {
        outln!("no workflow runs yet: run `boocode workflow run NAME`")?;
        return Ok(());
    }
    for r in &runs {
        let budget = r
            .budget_total
            .map(|b| format!("/{}", tokens(b)))
            .unwrap_or_default();
        outln!(
            "{}  {:<11} {:<20} {:<24} {}  {}{} tokens  {}",
            r.id,
            r.status,
            clip(&r.workflow, 20),
            clip(&args_summary(&r.args).replace('\n', " "), 24),
            r.created_at,
            tokens(r.tokens_spent),
            budget,
            clip(r.error.as_deref().unwrap_or(""), 60)
        )?;
    }
    Ok(())
}

fn cancel(global: &GlobalArgs, run_id: &str) -> Result<()> {
    let (store, _) = open_store(global)?;
    let run = store.get_workflow_run(run_id).map_err(usage_error)?;
    if store.cancel_workflow_run(&run.id)? {
        outln!("cancelled run {}", run.id)?;
        Ok(())
    } else {
        Err(anyhow!(
            "run {} is not going (it is {})",
            run.id,
            run.status
        ))
    }
}

enum Work {
    Run { name: String, options: RunOptions },
    Resume { run_id: String },
}

fn execute(global: &GlobalArgs, json: bool, work: Work) -> i32 {
    let (root, config, runtime) = match super::prepare_headless(global) {
        Ok(v) => v,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let (engine, mut events, _) = match Engine::start(EngineOptions {
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
        // A reader that closed stdout (`--json | head -1`) is gone like one that pressed
        // Ctrl-C: the run is cancelled rather than paid for with nobody watching.
        let stdout_closed = CancellationToken::new();
        let printer_closed = stdout_closed.clone();
        let mut names = AgentNames::new(engine.store().clone());
        let printer = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if json {
                    if !matches!(
                        event,
                        Event::TextDelta { .. } | Event::ReasoningDelta { .. }
                    ) && outln!("{}", serde_json::to_value(&event).unwrap_or_default()).is_err()
                    {
                        printer_closed.cancel();
                        return;
                    }
                } else {
                    show_event(&event, &mut names);
                }
            }
        });
        // Ctrl-C, SIGTERM or SIGHUP cancels whatever run this process drives (or is about to
        // start), so it ends `cancelled` instead of staying `running` after the process is gone.
        let interrupt_engine = engine.clone();
        let interrupt = tokio::spawn(async move {
            tokio::select! {
                _ = super::stop_requested() => {}
                _ = stdout_closed.cancelled() => {}
            }
            interrupt_engine.shutdown();
        });
        let outcome = match work {
            Work::Run { name, options } => engine.run_workflow(&name, options).await,
            Work::Resume { run_id } => engine.resume_workflow(&run_id).await,
        };
        interrupt.abort();
        engine.shutdown();
        drop(engine);
        let _ = tokio::time::timeout(Duration::from_secs(2), printer).await;
        match outcome {
            Err(e) => {
                errln!("boocode: {e:#}");
                EXIT_USAGE
            }
            Ok(outcome) => report(&outcome, json),
        }
    })
}

/// Prints how the run ended; a closed stdout is the reader's choice and goes unremarked.
fn report(outcome: &RunOutcome, json: bool) -> i32 {
    if json {
        let _ = outln!(
            "{}",
            json!({"type": "workflow_result", "run_id": outcome.run_id, "status": outcome.status,
                   "result": outcome.result, "error": outcome.error, "agents": outcome.agents,
                   "cached": outcome.cached, "tokens_spent": outcome.tokens_spent})
        );
    } else {
        errln!(
            "workflow run {} {}: {} agents ({} cached), {} tokens",
            outcome.run_id,
            outcome.status,
            outcome.agents,
            outcome.cached,
            tokens(outcome.tokens_spent)
        );
        let _ = match &outcome.result {
            Some(Value::String(s)) => outln!("{s}"),
            Some(Value::Null) | None => Ok(()),
            Some(other) => outln!(
                "{}",
                serde_json::to_string_pretty(other).unwrap_or_default()
            ),
        };
        if let Some(e) = &outcome.error {
            errln!("boocode: {e}");
        }
    }
    if outcome.status == "completed" {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }
}

/// How progress lines name a run's agents: by label (and phase), else by the shortest prefix
/// of the id that no other agent shares. A UUID v7 starts with its timestamp, so the first 8
/// hex digits are the same for every agent of a run.
struct AgentNames {
    store: Store,
    known: HashMap<String, String>,
}

impl AgentNames {
    fn new(store: Store) -> AgentNames {
        AgentNames {
            store,
            known: HashMap::new(),
        }
    }

    /// The name for `agent_id`; `label` and `phase` when the event carries them, else what the
    /// store has (a call served from the cache has no start event).
    fn name(&mut self, agent_id: &str, label: Option<&str>, phase: Option<&str>) -> String {
        if label.is_none() {
            if let Some(name) = self.known.get(agent_id) {
                return name.clone();
            }
        }
        let row = self.store.get_workflow_agent(agent_id).ok();
        let label = label.or(row.as_ref().and_then(|r| r.label.as_deref()));
        let phase = phase.or(row.as_ref().and_then(|r| r.phase.as_deref()));
        let who = match label {
            Some(label) => label.to_string(),
            None => short_id(&self.store, IdTable::WorkflowAgents, agent_id),
        };
        let name = match phase {
            Some(phase) => format!("{who} ({phase})"),
            None => who,
        };
        self.known.insert(agent_id.to_string(), name.clone());
        name
    }
}

fn show_event(event: &Event, names: &mut AgentNames) {
    match event {
        Event::WorkflowRunStarted {
            run_id,
            workflow,
            source,
        } => errln!("▶ workflow {workflow} ({source}) run {run_id}"),
        Event::WorkflowPhase { title, .. } => errln!("── {title}"),
        Event::WorkflowLog { message, .. } => errln!("   {message}"),
        Event::WorkflowAgentStarted {
            label,
            phase,
            agent_id,
            ..
        } => errln!(
            "   ◦ agent {} started",
            names.name(agent_id, label.as_deref(), phase.as_deref())
        ),
        Event::WorkflowAgentFinished {
            agent_id,
            status,
            cached,
            tokens: n,
            error,
            ..
        } => errln!(
            "   • agent {} {status}{}{}{}",
            names.name(agent_id, None, None),
            if *cached { " (cached)" } else { "" },
            if *n > 0 {
                format!(", {} tokens", tokens(*n))
            } else {
                String::new()
            },
            error
                .as_deref()
                .map(|e| format!(": {}", clip(e, 120)))
                .unwrap_or_default()
        ),
        Event::ChangePending { path, .. } => errln!("   pending change: {path}"),
        Event::Notice { message } => errln!("   note: {message}"),
        _ => {}
    }
}
