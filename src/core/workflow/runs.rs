//! Workflow runs: the parent side of a script worker.
//!
//! A run is a row in `workflow_runs`; driving it spawns a worker, hands it the script, and
//! answers its requests: every `agent()` call becomes a sub-agent (at most `concurrency` at a
//! time, the rest queue), `workflow()` lookups are resolved by discovery. Each call is keyed by
//! the SHA-256 of its spec plus its occurrence among identical specs (in issue order), so a
//! re-run or a resume serves completed calls from the store without a model request, whatever
//! order parallel calls finished in. Cancelling kills the worker and aborts in-flight agents.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, AcquireError, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::agent_call::{self, AgentOutcome, AgentPlace};
use super::cache::{script_hash, spec_hash, Occurrences};
use super::discovery::{self, WorkflowEntry};
use super::protocol::{AgentSpec, FromWorker, ToWorker, WorkerLimits};
use super::report;
use super::worker::{WorkerCommand, WorkerProcess};
use crate::core::events::Event;
use crate::core::hooks::points::{self, Notification};
use crate::core::runtime::{lock, Runtime};
use crate::core::store::{
    NewWorkflowRun, WorkflowAgentRow, WorkflowBatch, WorkflowEventRow, WorkflowRun,
};

/// `agent()` calls a run may make; the next one gets an error.
pub const MAX_AGENTS_PER_RUN: usize = 1000;
/// How often a run checks the store for a cancel from another process.
const CANCEL_POLL: Duration = Duration::from_millis(250);
/// How long cancelled agents get to wind down before their tasks are aborted.
const CANCEL_GRACE: Duration = Duration::from_millis(700);

/// How to run a workflow.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Passed to the script as `args`.
    pub args: Value,
    /// Token budget; `None` = unlimited.
    pub budget: Option<u64>,
    /// Sub-agents running at once; `None` = config `workflow_concurrency`.
    pub concurrency: Option<usize>,
    /// Session the agents' chats go in; a new one when `None`.
    pub session_id: Option<String>,
    /// Chat that started the run (parent of the agents' chats).
    pub parent_chat_id: Option<String>,
    /// Wall-clock limit of the whole run.
    pub timeout: Option<Duration>,
    /// Do not serve calls from earlier runs' results.
    pub fresh: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub run_id: String,
    /// `completed`, `failed`, `cancelled`.
    pub status: String,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub agents: usize,
    pub cached: usize,
    pub tokens_spent: u64,
}

/// A run with its calls and event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetails {
    pub run: WorkflowRun,
    pub agents: Vec<WorkflowAgentRow>,
    pub events: Vec<WorkflowEventRow>,
}

struct RunHandle {
    cancel: CancellationToken,
    worker_pid: Option<u32>,
}

/// Runs going on in this process.
pub(crate) struct RunSlots {
    running: Mutex<HashMap<String, RunHandle>>,
    worker: Mutex<Option<WorkerCommand>>,
    limits: Mutex<Option<WorkerLimits>>,
}

impl RunSlots {
    pub(crate) fn new() -> RunSlots {
        RunSlots {
            running: Mutex::new(HashMap::new()),
            worker: Mutex::new(None),
            limits: Mutex::new(None),
        }
    }

    /// Runs driven by this process.
    pub(crate) fn running_count(&self) -> usize {
        lock(&self.running).len()
    }
}

/// Replaces the worker command (tests use a fake worker).
pub fn set_worker_command(rt: &Runtime, command: WorkerCommand) {
    *lock(&rt.workflows.worker) = Some(command);
}

/// Replaces the limits the worker enforces on scripts (tests use small ones so a runaway loop
/// stops quickly in a debug build); config `[workflow_limits]` otherwise.
pub fn set_worker_limits(rt: &Runtime, limits: WorkerLimits) {
    *lock(&rt.workflows.limits) = Some(limits);
}

fn worker_command(rt: &Runtime) -> Result<WorkerCommand> {
    match lock(&rt.workflows.worker).clone() {
        Some(c) => Ok(c),
        None => WorkerCommand::default_command(),
    }
}

/// Every workflow this project can run (and the invalid files, with their errors).
pub fn list(rt: &Runtime) -> Vec<WorkflowEntry> {
    discovery::discover(&rt.project_root, rt.config.user_home.as_deref())
}

/// Creates a run of the workflow called `name`.
pub fn create(rt: &Runtime, name: &str, options: &RunOptions) -> Result<WorkflowRun> {
    let entry = discovery::find(&rt.project_root, rt.config.user_home.as_deref(), name)
        .map_err(|e| anyhow!(e))?;
    let session_id = match &options.session_id {
        Some(s) => rt.store.get_session(s)?.id,
        None => {
            rt.store
                .create_session(&rt.project_id, &format!("workflow {}", entry.name))?
                .id
        }
    };
    let concurrency = options
        .concurrency
        .unwrap_or(rt.config.workflow_concurrency)
        .max(1);
    rt.store.create_workflow_run(&NewWorkflowRun {
        project_id: &rt.project_id,
        session_id: Some(&session_id),
        parent_chat_id: options.parent_chat_id.as_deref(),
        workflow: &entry.name,
        source: entry.source.as_str(),
        origin: &entry.origin,
        script: &entry.script,
        script_hash: &script_hash(&entry.script),
        args: &options.args,
        budget_total: options.budget,
        concurrency: concurrency as u64,
    })
}

/// Runs the workflow called `name` to the end.
pub async fn run(rt: &Arc<Runtime>, name: &str, options: RunOptions) -> Result<RunOutcome> {
    let run = create(rt, name, &options)?;
    Ok(drive(rt.clone(), run, options.timeout, options.fresh).await)
}

/// Starts a run in the background; returns its id at once.
pub fn start(rt: &Arc<Runtime>, name: &str, options: RunOptions) -> Result<String> {
    let run = create(rt, name, &options)?;
    let id = run.id.clone();
    let rt = rt.clone();
    tokio::spawn(async move { drive(rt, run, options.timeout, options.fresh).await });
    Ok(id)
}

/// Checks that a run can be resumed here and returns it.
fn resumable(rt: &Runtime, run_id: &str) -> Result<WorkflowRun> {
    let run = rt.store.get_workflow_run(run_id)?;
    if lock(&rt.workflows.running).contains_key(&run.id) {
        bail!("run {} is already running in this process", run.id);
    }
    if run.status == "running" && run.owner_pid.is_some_and(process_alive) {
        bail!(
            "run {} is running in another boocode process (pid {}); cancel it first",
            run.id,
            run.owner_pid.unwrap_or_default()
        );
    }
    if run.project_id != rt.project_id {
        bail!("run {} belongs to another project", run.id);
    }
    Ok(run)
}

/// Resumes a run (interrupted, failed or cancelled): completed calls come from the store,
/// the rest run again.
pub async fn resume(rt: &Arc<Runtime>, run_id: &str) -> Result<RunOutcome> {
    let run = resumable(rt, run_id)?;
    Ok(drive(rt.clone(), run, None, false).await)
}

/// [`resume`] in the background.
pub fn resume_in_background(rt: &Arc<Runtime>, run_id: &str) -> Result<String> {
    let run = resumable(rt, run_id)?;
    let id = run.id.clone();
    let rt = rt.clone();
    tokio::spawn(async move { drive(rt, run, None, false).await });
    Ok(id)
}

/// Re-runs one failed call: resumes its run, so every completed call is served from the store
/// and only the failed (and never-run) ones run again.
pub fn retry_agent(rt: &Arc<Runtime>, agent_id: &str) -> Result<String> {
    let agent = rt.store.get_workflow_agent(agent_id)?;
    if agent.status == "completed" {
        bail!("agent {} already completed", agent.id);
    }
    resume_in_background(rt, &agent.run_id)
}

/// Cancels a run: here, by killing its worker and aborting its agents; in another process, by
/// marking it cancelled in the store (that process notices within a fraction of a second).
pub fn cancel(rt: &Runtime, run_id: &str) -> Result<bool> {
    let run = rt.store.get_workflow_run(run_id)?;
    let was_going = rt.store.cancel_workflow_run(&run.id)?;
    if let Some(handle) = lock(&rt.workflows.running).get(&run.id) {
        handle.cancel.cancel();
        return Ok(true);
    }
    Ok(was_going)
}

/// The pid of a running run's worker in this process.
pub fn worker_pid(rt: &Runtime, run_id: &str) -> Option<u32> {
    lock(&rt.workflows.running)
        .get(run_id)
        .and_then(|h| h.worker_pid)
}

/// True when this process drives the run (its events reach this engine's clients).
pub fn is_running_here(rt: &Runtime, run_id: &str) -> bool {
    lock(&rt.workflows.running).contains_key(run_id)
}

pub fn details(rt: &Runtime, run_id: &str) -> Result<RunDetails> {
    let run = rt.store.get_workflow_run(run_id)?;
    Ok(RunDetails {
        agents: rt.store.list_workflow_agents(&run.id)?,
        events: rt.store.list_workflow_events(&run.id)?,
        run,
    })
}

fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    // Signal 0 checks that the process exists without touching it.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// What a finished agent task reports to the run loop.
struct AgentDone {
    call_id: u64,
    agent_id: String,
    outcome: AgentOutcome,
}

/// State shared by a run's agent tasks.
struct Shared {
    rt: Arc<Runtime>,
    run_id: String,
    place: AgentPlace,
    cancel: CancellationToken,
    slots: Arc<Semaphore>,
    /// Tells when the call issued last has taken its place in the slots' queue: the next call
    /// waits for it, so calls get their slots in the order the script issued them (the
    /// semaphore is first come, first served, but spawned tasks start in any order).
    last_queued: Mutex<Option<oneshot::Receiver<()>>>,
    spent: AtomicU64,
    budget: Option<u64>,
}

impl Shared {
    fn budget_error(&self) -> Option<String> {
        let spent = self.spent.load(Ordering::SeqCst);
        self.budget
            .filter(|total| spent >= *total)
            .map(|total| format!("budget exhausted (spent {spent} of {total} tokens)"))
    }

    /// Appends to the run's log and emits the matching event.
    fn record(&self, kind: &str, payload: Value, event: Option<Event>) {
        self.record_with(
            "recording a workflow event",
            |_| Ok(()),
            kind,
            payload,
            event,
        );
    }

    /// [`Shared::record`] with other writes that commit in the same transaction: a call's
    /// bookkeeping is one commit, not one per row it touches. `what` names the writes in the
    /// error logged if they fail; the event is emitted either way.
    fn record_with(
        &self,
        what: &str,
        writes: impl FnOnce(&WorkflowBatch<'_>) -> Result<()>,
        kind: &str,
        payload: Value,
        event: Option<Event>,
    ) {
        let stored = self.rt.store.workflow_batch(|w| {
            writes(w)?;
            w.append_event(&self.run_id, kind, &payload)?;
            Ok(())
        });
        if let Err(e) = stored {
            tracing::error!("{what} failed: {e:#}");
        }
        if let Some(event) = event {
            self.rt.emit(event);
        }
    }
}

enum End {
    Done(Value),
    Failed(String),
    Cancelled(String),
}

/// Drives a run to its end; never fails (failures end the run and are recorded).
async fn drive(
    rt: Arc<Runtime>,
    run: WorkflowRun,
    timeout: Option<Duration>,
    fresh: bool,
) -> RunOutcome {
    let cancel = rt.shutdown.child_token();
    lock(&rt.workflows.running).insert(
        run.id.clone(),
        RunHandle {
            cancel: cancel.clone(),
            worker_pid: None,
        },
    );
    let session_id = match &run.session_id {
        Some(s) => s.clone(),
        None => rt
            .store
            .create_session(&rt.project_id, &format!("workflow {}", run.workflow))
            .map(|s| s.id)
            .unwrap_or_default(),
    };
    let shared = Arc::new(Shared {
        rt: rt.clone(),
        run_id: run.id.clone(),
        place: AgentPlace {
            session_id,
            parent_chat_id: run.parent_chat_id.clone(),
        },
        cancel: cancel.child_token(),
        slots: Arc::new(Semaphore::new(run.concurrency.max(1) as usize)),
        last_queued: Mutex::new(None),
        spent: AtomicU64::new(run.tokens_spent),
        budget: run.budget_total,
    });
    shared.record_with(
        &format!("marking run {} running", run.id),
        |w| w.start_run(&run.id, std::process::id()),
        "run_started",
        json!({"workflow": run.workflow, "source": run.source, "origin": run.origin,
               "args": run.args, "resumed": run.started_at.is_some()}),
        Some(Event::WorkflowRunStarted {
            run_id: run.id.clone(),
            workflow: run.workflow.clone(),
            source: run.source.clone(),
        }),
    );
    let mut stats = Stats::default();
    let end = run_loop(&rt, &run, &shared, &cancel, timeout, fresh, &mut stats).await;
    let (status, result, error) = match end {
        End::Done(v) => ("completed", Some(v), None),
        End::Failed(e) => ("failed", None, Some(e)),
        End::Cancelled(e) => ("cancelled", None, Some(e)),
    };
    let spent = shared.spent.load(Ordering::SeqCst);
    if stats.cached > 0 {
        let summary = format!("{}/{} agents cached", stats.cached, stats.issued);
        shared.record(
            "log",
            json!({"message": summary}),
            Some(Event::WorkflowLog {
                run_id: run.id.clone(),
                message: summary,
            }),
        );
    }
    shared.record_with(
        &format!("closing run {}", run.id),
        |w| {
            w.set_run_tokens(&run.id, spent)?;
            w.finish_run(&run.id, status, result.as_ref(), error.as_deref())
        },
        "run_finished",
        json!({"status": status, "result": result, "error": error, "agents": stats.issued,
               "cached": stats.cached, "tokens_spent": spent}),
        Some(Event::WorkflowRunFinished {
            run_id: run.id.clone(),
            status: status.to_string(),
            result: result.clone(),
            error: error.clone(),
        }),
    );
    if let Some(chat_id) = &run.parent_chat_id {
        let report = report::report(
            &run.workflow,
            &run.id,
            status,
            result.as_ref(),
            error.as_deref(),
        );
        report::post(&rt, chat_id, &run.id, &report);
    }
    points::notify(
        &rt,
        run.parent_chat_id.as_deref(),
        Notification::WorkflowRun,
        format!("workflow {} {status} (run {})", run.workflow, run.id),
    );
    lock(&rt.workflows.running).remove(&run.id);
    RunOutcome {
        run_id: run.id,
        status: status.to_string(),
        result,
        error,
        agents: stats.issued,
        cached: stats.cached,
        tokens_spent: spent,
    }
}

#[derive(Default)]
struct Stats {
    issued: usize,
    cached: usize,
}

#[allow(clippy::too_many_arguments)]
async fn run_loop(
    rt: &Arc<Runtime>,
    run: &WorkflowRun,
    shared: &Arc<Shared>,
    cancel: &CancellationToken,
    timeout: Option<Duration>,
    fresh: bool,
    stats: &mut Stats,
) -> End {
    let command = match worker_command(rt) {
        Ok(c) => c,
        Err(e) => return End::Failed(format!("{e:#}")),
    };
    let (mut worker, mut lines) = match WorkerProcess::spawn(&command, &rt.project_root) {
        Ok(w) => w,
        Err(e) => return End::Failed(format!("{e:#}")),
    };
    if let Some(h) = lock(&rt.workflows.running).get_mut(&run.id) {
        h.worker_pid = worker.id();
    }
    let start = ToWorker::Start {
        source: run.script.clone(),
        origin: run.origin.clone(),
        args: run.args.clone(),
        budget_total: run.budget_total,
        budget_spent: shared.spent.load(Ordering::SeqCst),
        limits: lock(&rt.workflows.limits)
            .clone()
            .unwrap_or_else(|| rt.config.workflow_limits.clone()),
    };
    if let Err(e) = worker.send(&start).await {
        let why = worker.exit_description().await;
        return End::Failed(format!("the script worker died: {why} ({e:#})"));
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<AgentDone>();
    let mut tasks = JoinSet::new();
    let mut occurrences = Occurrences::default();
    let mut phase: Option<String> = None;
    let mut poll = tokio::time::interval(CANCEL_POLL);
    let end = loop {
        tokio::select! {
            // A cancel also ends the agents' turns, whose completions are then ready in the same
            // poll: checked first, it wins, so the script never sees them and finishes the run.
            biased;
            _ = cancel.cancelled() => break End::Cancelled("cancelled".into()),
            _ = poll.tick() => {
                if rt.store.workflow_run_status(&run.id).ok().as_deref() == Some("cancelled") {
                    break End::Cancelled("cancelled".into());
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break End::Failed(format!(
                        "the run exceeded its time limit of {} s",
                        timeout.map(|t| t.as_secs()).unwrap_or_default()
                    ));
                }
            }
            Some(done) = done_rx.recv() => {
                let message = finish_agent(shared, done);
                if let Err(e) = worker.send(&message).await {
                    let why = worker.exit_description().await;
                    break End::Failed(format!("the script worker died: {why} ({e:#})"));
                }
            }
            line = lines.recv() => {
                let message = match line {
                    None => {
                        let why = worker.exit_description().await;
                        break End::Failed(format!("the script worker died: {why}"));
                    }
                    Some(Err(e)) => {
                        break End::Failed(format!("the script worker sent an invalid message: {e}"));
                    }
                    Some(Ok(m)) => m,
                };
                match message {
                    FromWorker::Phase { title } => {
                        shared.record("phase", json!({"title": title}), Some(Event::WorkflowPhase {
                            run_id: run.id.clone(),
                            title: title.clone(),
                        }));
                        phase = Some(title);
                    }
                    FromWorker::Log { message } => {
                        shared.record("log", json!({"message": message}), Some(Event::WorkflowLog {
                            run_id: run.id.clone(),
                            message,
                        }));
                    }
                    FromWorker::Agent { call_id, spec } => {
                        stats.issued += 1;
                        let reply = issue_agent(shared, run, call_id, spec, phase.as_deref(),
                            stats, &mut occurrences, fresh, &done_tx, &mut tasks);
                        if let Some(reply) = reply {
                            if let Err(e) = worker.send(&reply).await {
                                let why = worker.exit_description().await;
                                break End::Failed(format!("the script worker died: {why} ({e:#})"));
                            }
                        }
                    }
                    FromWorker::ResolveWorkflow { call_id, name, script_path } => {
                        let reply = resolve_workflow(rt, call_id, name, script_path);
                        if let Err(e) = worker.send(&reply).await {
                            let why = worker.exit_description().await;
                            break End::Failed(format!("the script worker died: {why} ({e:#})"));
                        }
                    }
                    FromWorker::Done { result } => break End::Done(result),
                    FromWorker::Failed { kind, message } => {
                        break End::Failed(match kind.as_str() {
                            "error" => format!("the script threw: {message}"),
                            "stalled" => format!("the script stalled: {message}"),
                            "limit" => format!("the script hit a resource limit: {message}"),
                            "invalid" => format!("the script could not be loaded: {message}"),
                            other => format!("the script failed ({other}): {message}"),
                        });
                    }
                }
            }
        }
    };
    worker.kill();
    // Agents still running are no longer wanted (the script ended, failed or was cancelled).
    shared.cancel.cancel();
    let grace = tokio::time::sleep(CANCEL_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            joined = tasks.join_next() => if joined.is_none() { break },
            _ = &mut grace => { tasks.abort_all(); break; }
        }
    }
    while let Ok(done) = done_rx.try_recv() {
        finish_agent(shared, done);
    }
    let reason = match &end {
        End::Cancelled(_) => "cancelled",
        _ => "the run ended before the agent finished",
    };
    if let Err(e) = rt.store.close_open_workflow_agents(&run.id, reason) {
        tracing::error!("closing open agents of run {} failed: {e:#}", run.id);
    }
    end
}

/// Handles an `agent()` request: refuses it, serves it from the store, or starts it. Returns
/// the answer when there is one at once.
#[allow(clippy::too_many_arguments)]
fn issue_agent(
    shared: &Arc<Shared>,
    run: &WorkflowRun,
    call_id: u64,
    spec: AgentSpec,
    current_phase: Option<&str>,
    stats: &mut Stats,
    occurrences: &mut Occurrences,
    fresh: bool,
    done_tx: &mpsc::UnboundedSender<AgentDone>,
    tasks: &mut JoinSet<()>,
) -> Option<ToWorker> {
    let rt = &shared.rt;
    let refuse = |error: String| {
        Some(ToWorker::AgentResult {
            call_id,
            value: None,
            error: Some(error),
            budget_spent: shared.spent.load(Ordering::SeqCst),
        })
    };
    if stats.issued > MAX_AGENTS_PER_RUN {
        return refuse(format!(
            "too many agents: a run may start at most {MAX_AGENTS_PER_RUN} (this was call {})",
            stats.issued
        ));
    }
    let hash = spec_hash(&spec);
    let occurrence = occurrences.next(&hash);
    let phase = spec.phase.clone().or(current_phase.map(str::to_string));
    let spec_json = serde_json::to_value(&spec).unwrap_or(Value::Null);
    // The call's row and the cache lookup share one transaction.
    let recorded = rt.store.workflow_batch(|w| {
        let row = w.upsert_agent(
            &run.id,
            &hash,
            occurrence,
            &spec_json,
            spec.label.as_deref(),
            phase.as_deref(),
        )?;
        let cached = if fresh && row.status != "completed" {
            None
        } else {
            // A failed lookup is a miss: the call runs again.
            w.cached_agent(&run.project_id, &run.workflow, &run.id, &hash, occurrence)
                .ok()
                .flatten()
        };
        Ok((row, cached))
    });
    let (row, cached) = match recorded {
        Ok(r) => r,
        Err(e) => return refuse(format!("recording the agent call failed: {e:#}")),
    };
    if let Some(hit) = cached {
        stats.cached += 1;
        let value = hit.result.clone().unwrap_or(Value::Null);
        shared.record_with(
            "recording a cached agent",
            |w| {
                w.finish_agent(
                    &row.id,
                    "completed",
                    Some(&value),
                    None,
                    0,
                    true,
                    hit.chat_id.as_deref(),
                )
            },
            "agent_finished",
            json!({"agent_id": row.id, "status": "completed", "cached": true, "tokens": 0,
                   "label": spec.label, "phase": phase}),
            Some(Event::WorkflowAgentFinished {
                run_id: run.id.clone(),
                agent_id: row.id.clone(),
                status: "completed".into(),
                cached: true,
                tokens: 0,
                error: None,
            }),
        );
        return Some(ToWorker::AgentResult {
            call_id,
            value: Some(value),
            error: None,
            budget_spent: shared.spent.load(Ordering::SeqCst),
        });
    }
    if let Some(e) = shared.budget_error() {
        let _ = rt
            .store
            .finish_workflow_agent(&row.id, "failed", None, Some(&e), 0, false, None);
        return refuse(e);
    }
    let shared = shared.clone();
    let done_tx = done_tx.clone();
    let agent_id = row.id.clone();
    let label = spec.label.clone();
    let (queued, queued_rx) = oneshot::channel();
    let after = lock(&shared.last_queued).replace(queued_rx);
    tasks.spawn(async move {
        let turn = QueueTurn { after, queued };
        let outcome = run_queued(&shared, &agent_id, label, phase, &spec, turn).await;
        let _ = done_tx.send(AgentDone {
            call_id,
            agent_id,
            outcome,
        });
    });
    None
}

/// A call's place in the line for slots: after the call issued before it.
struct QueueTurn {
    after: Option<oneshot::Receiver<()>>,
    queued: oneshot::Sender<()>,
}

impl QueueTurn {
    /// Waits until the call issued before has joined the semaphore's queue, joins it, lets the
    /// next call go, then waits for a slot.
    async fn take_slot(self, slots: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, AcquireError> {
        if let Some(previous) = self.after {
            // Its sender is dropped if that call ended early, which lets this one in too.
            let _ = previous.await;
        }
        let acquire = slots.clone().acquire_owned();
        tokio::pin!(acquire);
        // The first poll puts this call in the queue, behind those issued before it.
        let first = futures::poll!(&mut acquire);
        let _ = self.queued.send(());
        match first {
            std::task::Poll::Ready(p) => p,
            std::task::Poll::Pending => acquire.await,
        }
    }
}

/// Waits for a slot, then runs the agent.
async fn run_queued(
    shared: &Arc<Shared>,
    agent_id: &str,
    label: Option<String>,
    phase: Option<String>,
    spec: &AgentSpec,
    turn: QueueTurn,
) -> AgentOutcome {
    let cancelled = || AgentOutcome {
        value: Err("cancelled".into()),
        tokens: 0,
        chat_id: None,
        cancelled: true,
    };
    let permit = tokio::select! {
        p = turn.take_slot(&shared.slots) => match p {
            Ok(p) => p,
            Err(_) => return cancelled(),
        },
        _ = shared.cancel.cancelled() => return cancelled(),
    };
    if let Some(e) = shared.budget_error() {
        return AgentOutcome {
            value: Err(e),
            tokens: 0,
            chat_id: None,
            cancelled: false,
        };
    }
    let rt = &shared.rt;
    if let Err(e) = rt.store.start_workflow_agent(agent_id, None) {
        tracing::error!("marking agent {agent_id} running failed: {e:#}");
    }
    let first_chat: Mutex<Option<String>> = Mutex::new(None);
    let on_chat = |chat_id: &str| {
        let what = format!("recording the chat of agent {agent_id}");
        let set_chat = |w: &WorkflowBatch<'_>| w.set_agent_chat(agent_id, chat_id);
        let mut first = lock(&first_chat);
        if first.is_some() {
            drop(first);
            if let Err(e) = rt.store.workflow_batch(set_chat) {
                tracing::error!("{what} failed: {e:#}");
            }
        } else {
            *first = Some(chat_id.to_string());
            drop(first);
            shared.record_with(
                &what,
                set_chat,
                "agent_started",
                json!({"agent_id": agent_id, "label": label, "phase": phase, "chat_id": chat_id}),
                Some(Event::WorkflowAgentStarted {
                    run_id: shared.run_id.clone(),
                    agent_id: agent_id.to_string(),
                    label: label.clone(),
                    phase: phase.clone(),
                    chat_id: Some(chat_id.to_string()),
                }),
            );
        }
    };
    let outcome = agent_call::run_agent(rt, &shared.place, spec, &shared.cancel, &on_chat).await;
    shared.spent.fetch_add(outcome.tokens, Ordering::SeqCst);
    drop(permit);
    outcome
}

/// Records a finished agent and builds the answer for the worker.
fn finish_agent(shared: &Shared, done: AgentDone) -> ToWorker {
    let o = &done.outcome;
    let status = if o.cancelled {
        "cancelled"
    } else if o.value.is_ok() {
        "completed"
    } else {
        "failed"
    };
    let (value, error) = match &o.value {
        Ok(v) => (Some(v.clone()), None),
        Err(e) => (None, Some(e.clone())),
    };
    let spent = shared.spent.load(Ordering::SeqCst);
    shared.record_with(
        &format!("recording agent {}", done.agent_id),
        |w| {
            w.finish_agent(
                &done.agent_id,
                status,
                value.as_ref(),
                error.as_deref(),
                o.tokens,
                false,
                o.chat_id.as_deref(),
            )?;
            w.set_run_tokens(&shared.run_id, spent)
        },
        "agent_finished",
        json!({"agent_id": done.agent_id, "status": status, "cached": false,
               "tokens": o.tokens, "error": error}),
        Some(Event::WorkflowAgentFinished {
            run_id: shared.run_id.clone(),
            agent_id: done.agent_id.clone(),
            status: status.to_string(),
            cached: false,
            tokens: o.tokens,
            error: error.clone(),
        }),
    );
    ToWorker::AgentResult {
        call_id: done.call_id,
        value,
        error,
        budget_spent: spent,
    }
}

fn resolve_workflow(
    rt: &Runtime,
    call_id: u64,
    name: Option<String>,
    script_path: Option<String>,
) -> ToWorker {
    let found = match (name, script_path) {
        (_, Some(path)) => discovery::load_path(&rt.project_root, &path),
        (Some(name), None) => {
            discovery::find(&rt.project_root, rt.config.user_home.as_deref(), &name)
        }
        (None, None) => Err("workflow() needs a name or {scriptPath}".to_string()),
    };
    match found {
        Ok(entry) => ToWorker::WorkflowSource {
            call_id,
            source: Some(entry.script),
            origin: Some(entry.origin),
            error: None,
        },
        Err(e) => ToWorker::WorkflowSource {
            call_id,
            source: None,
            origin: None,
            error: Some(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tasks waiting for a slot may start in any order; they still get slots in issue order.
    #[tokio::test]
    async fn slots_go_in_issue_order_whatever_order_the_waiters_start_in() {
        let slots = Arc::new(Semaphore::new(1));
        let held = slots.clone().acquire_owned().await.unwrap();
        let mut last = None;
        let mut turns = Vec::new();
        for _ in 0..5 {
            let (queued, rx) = oneshot::channel();
            turns.push(QueueTurn {
                after: last.replace(rx),
                queued,
            });
        }
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = JoinSet::new();
        // Started last-issued first.
        for (issued, turn) in turns.into_iter().enumerate().rev() {
            let (slots, order) = (slots.clone(), order.clone());
            waiters.spawn(async move {
                let permit = turn.take_slot(&slots).await.unwrap();
                lock(&order).push(issued);
                drop(permit);
            });
            tokio::task::yield_now().await;
        }
        drop(held);
        while waiters.join_next().await.is_some() {}
        assert_eq!(*lock(&order), vec![0, 1, 2, 3, 4]);
    }
}
