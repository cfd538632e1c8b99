//! The run view's model: a run's phases, agents and log, rebuilt from the store and folded from events.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::{one_line, parse_time};
use crate::core::events::Event;
use crate::core::store::WorkflowAgentRow;
use crate::core::workflow::RunDetails;

/// Log lines kept in the run view (the oldest are dropped).
const MAX_LOG: usize = 5_000;
/// Title of the group of agents started outside any phase.
const NO_PHASE: &str = "(no phase)";

/// One `agent()` call as the run view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentNode {
    pub id: String,
    pub label: String,
    pub phase: Option<String>,
    /// Store status: `pending` (shown as queued), `running`, `completed`, `failed`,
    /// `cancelled`, `interrupted`.
    pub status: String,
    pub chat_id: Option<String>,
    pub tokens: u64,
    pub cached: bool,
    pub error: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
}

impl AgentNode {
    fn from_row(row: &WorkflowAgentRow) -> AgentNode {
        AgentNode {
            id: row.id.clone(),
            label: agent_label(row.label.as_deref(), &row.id),
            phase: row.phase.clone(),
            status: row.status.clone(),
            chat_id: row.chat_id.clone(),
            tokens: row.tokens,
            cached: row.cached,
            error: row.error.clone(),
            started: row.started_at.as_deref().and_then(parse_time),
            finished: row.finished_at.as_deref().and_then(parse_time),
        }
    }

    pub(super) fn is_done(&self) -> bool {
        matches!(
            self.status.as_str(),
            "completed" | "failed" | "cancelled" | "interrupted"
        )
    }
}

fn agent_label(label: Option<&str>, id: &str) -> String {
    match label.map(one_line).filter(|l| !l.trim().is_empty()) {
        Some(l) => l,
        None => format!("agent {}", id.get(..8).unwrap_or(id)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// A `log()` line of the script.
    Info,
    /// A phase began.
    Phase,
    /// The run started, resumed or ended well.
    Run,
    /// The run failed or was cancelled.
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub kind: LogKind,
    pub text: String,
}

/// Everything the run view shows, rebuilt from the store and then folded from events.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub run_id: String,
    pub workflow: String,
    pub source: String,
    /// `pending`, `running`, `completed`, `failed`, `cancelled`, `interrupted`.
    pub status: String,
    pub error: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    /// Tokens the store recorded for the run (updated when it ends).
    pub tokens_spent: u64,
    /// Phases in the order they began.
    pub phases: Vec<String>,
    /// Agents in the order they were issued.
    pub agents: Vec<AgentNode>,
    pub log: Vec<LogLine>,
    /// What the run was started with (`Null` for none).
    pub args: Value,
    /// What the script returned, once the run completed.
    pub result: Option<Value>,
    /// This process drives the run (the store says so, or its events reached the view): its
    /// events come here, so re-reading the store could only fold them twice.
    pub driven_here: bool,
}

/// Counts shown in the progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub cached: usize,
    pub failed: usize,
    pub running: usize,
}

impl RunView {
    /// An empty view of a run about to start.
    pub fn new(run_id: &str, workflow: &str) -> RunView {
        RunView {
            run_id: run_id.to_string(),
            workflow: workflow.to_string(),
            source: String::new(),
            status: "pending".into(),
            error: None,
            started: None,
            finished: None,
            tokens_spent: 0,
            phases: Vec::new(),
            agents: Vec::new(),
            log: Vec::new(),
            args: Value::Null,
            result: None,
            driven_here: false,
        }
    }

    /// The view of a run as the store has it.
    pub fn from_details(details: &RunDetails) -> RunView {
        let run = &details.run;
        let mut view = RunView::new(&run.id, &run.workflow);
        view.source = run.source.clone();
        view.status = run.status.clone();
        view.error = run.error.clone();
        view.started = run.started_at.as_deref().and_then(parse_time);
        view.finished = run.finished_at.as_deref().and_then(parse_time);
        view.tokens_spent = run.tokens_spent;
        view.args = run.args.clone();
        view.result = run.result.clone();
        view.driven_here = run.owner_pid == Some(std::process::id());
        for e in &details.events {
            let text = |key: &str| e.payload.get(key).and_then(Value::as_str).map(one_line);
            match e.kind.as_str() {
                "run_started" => {
                    let resumed = e.payload.get("resumed").and_then(Value::as_bool) == Some(true);
                    view.push_log(LogKind::Run, start_line(resumed));
                }
                "phase" => {
                    if let Some(title) = text("title") {
                        view.begin_phase(&title);
                    }
                }
                "log" => {
                    if let Some(message) = text("message") {
                        view.push_log(LogKind::Info, message);
                    }
                }
                "agent_finished" if text("status").as_deref() == Some("failed") => {
                    let id = text("agent_id").unwrap_or_default();
                    let label = details
                        .agents
                        .iter()
                        .find(|a| a.id == id)
                        .map(|a| agent_label(a.label.as_deref(), &a.id))
                        .unwrap_or_else(|| agent_label(None, &id));
                    view.push_agent_failure(&label, text("error").as_deref());
                }
                "run_finished" => {
                    let status = text("status").unwrap_or_else(|| "ended".into());
                    let error = text("error");
                    view.push_end_line(&status, error.as_deref());
                }
                _ => {}
            }
        }
        for row in &details.agents {
            view.note_phase(row.phase.as_deref());
            view.agents.push(AgentNode::from_row(row));
        }
        view
    }

    /// True while the run may still change.
    pub fn is_live(&self) -> bool {
        matches!(self.status.as_str(), "pending" | "running")
    }

    pub fn progress(&self) -> Progress {
        let mut p = Progress {
            total: self.agents.len(),
            ..Progress::default()
        };
        for a in &self.agents {
            p.done += usize::from(a.is_done());
            p.cached += usize::from(a.cached);
            p.failed += usize::from(a.status == "failed");
            p.running += usize::from(a.status == "running");
        }
        p
    }

    /// Tokens spent so far: the store's total, or the agents' sum while it is not yet written.
    pub fn tokens(&self) -> u64 {
        let sum: u64 = self.agents.iter().map(|a| a.tokens).sum();
        self.tokens_spent.max(sum)
    }

    fn push_log(&mut self, kind: LogKind, text: String) {
        self.log.push(LogLine { kind, text });
        if self.log.len() > MAX_LOG {
            let extra = self.log.len() - MAX_LOG;
            self.log.drain(..extra);
        }
    }

    fn push_end_line(&mut self, status: &str, error: Option<&str>) {
        match (status, error) {
            ("completed", _) => self.push_log(LogKind::Run, "■ run completed".into()),
            (s, Some(e)) if e != s => {
                self.push_log(LogKind::Error, format!("■ run {s}: {}", one_line(e)))
            }
            (s, _) => self.push_log(LogKind::Error, format!("■ run {s}")),
        }
    }

    fn push_agent_failure(&mut self, label: &str, error: Option<&str>) {
        let text = match error {
            Some(e) => format!("✗ {label} failed: {}", one_line(e)),
            None => format!("✗ {label} failed"),
        };
        self.push_log(LogKind::Error, text);
    }

    /// Records a phase (once) without a log line.
    fn note_phase(&mut self, phase: Option<&str>) {
        if let Some(p) = phase {
            if !self.phases.iter().any(|x| x == p) {
                self.phases.push(p.to_string());
            }
        }
    }

    fn begin_phase(&mut self, title: &str) {
        let line = format!("── {title}");
        if self
            .log
            .iter()
            .rev()
            .find(|l| l.kind == LogKind::Phase)
            .map(|l| &l.text)
            == Some(&line)
            && self.phases.last().is_some_and(|p| p == title)
        {
            // The same phase again (read from the store and then received as an event).
            return;
        }
        self.note_phase(Some(title));
        self.push_log(LogKind::Phase, line);
    }

    /// The agent with this id, added (from `lookup`, else as a bare entry in the current
    /// phase) when the view has not seen it yet.
    fn agent_mut(
        &mut self,
        id: &str,
        lookup: &dyn Fn(&str) -> Option<WorkflowAgentRow>,
    ) -> &mut AgentNode {
        let pos = match self.agents.iter().position(|a| a.id == id) {
            Some(p) => p,
            None => {
                let node = match lookup(id) {
                    Some(row) => AgentNode::from_row(&row),
                    None => AgentNode {
                        id: id.to_string(),
                        label: agent_label(None, id),
                        phase: self.phases.last().cloned(),
                        status: "pending".into(),
                        chat_id: None,
                        tokens: 0,
                        cached: false,
                        error: None,
                        started: None,
                        finished: None,
                    },
                };
                let phase = node.phase.clone();
                self.note_phase(phase.as_deref());
                self.agents.push(node);
                self.agents.len() - 1
            }
        };
        &mut self.agents[pos]
    }

    /// Adds the calls the store knows and the view does not (queued ones have no event).
    pub fn merge_rows(&mut self, rows: &[WorkflowAgentRow]) {
        for row in rows {
            if !self.agents.iter().any(|a| a.id == row.id) {
                self.note_phase(row.phase.as_deref());
                self.agents.push(AgentNode::from_row(row));
            }
        }
    }

    /// Folds one event; true when it was about this run. `lookup` finds an agent the view has
    /// not seen (a cached call is finished without being started).
    pub fn apply(
        &mut self,
        event: &Event,
        now: DateTime<Utc>,
        lookup: &dyn Fn(&str) -> Option<WorkflowAgentRow>,
    ) -> bool {
        match event {
            Event::WorkflowRunStarted {
                run_id,
                workflow,
                source,
            } if *run_id == self.run_id => {
                if self.status == "running" {
                    // Already read from the store when the pane opened on a starting run.
                    self.driven_here = true;
                    return true;
                }
                let resumed = self.started.is_some();
                if resumed {
                    // The store queues every call that did not complete again (see
                    // `start_run`); they show as queued until they start.
                    for a in self.agents.iter_mut().filter(|a| a.status != "completed") {
                        a.status = "pending".into();
                        a.error = None;
                        a.started = None;
                        a.finished = None;
                    }
                }
                self.result = None;
                self.workflow = workflow.clone();
                self.source = source.clone();
                self.status = "running".into();
                self.error = None;
                self.started.get_or_insert(now);
                self.finished = None;
                self.push_log(LogKind::Run, start_line(resumed));
            }
            Event::WorkflowPhase { run_id, title } if *run_id == self.run_id => {
                self.begin_phase(&one_line(title));
            }
            Event::WorkflowLog { run_id, message } if *run_id == self.run_id => {
                self.push_log(LogKind::Info, one_line(message));
            }
            Event::WorkflowAgentStarted {
                run_id,
                agent_id,
                label,
                phase,
                chat_id,
            } if *run_id == self.run_id => {
                let fallback_phase = self.phases.last().cloned();
                let node = self.agent_mut(agent_id, lookup);
                node.status = "running".into();
                node.cached = false;
                node.error = None;
                node.started = Some(now);
                node.finished = None;
                if let Some(l) = label {
                    node.label = agent_label(Some(l), agent_id);
                }
                if phase.is_some() {
                    node.phase = phase.clone();
                } else if node.phase.is_none() {
                    node.phase = fallback_phase;
                }
                if chat_id.is_some() {
                    node.chat_id = chat_id.clone();
                }
                let phase = node.phase.clone();
                self.note_phase(phase.as_deref());
            }
            Event::WorkflowAgentFinished {
                run_id,
                agent_id,
                status,
                cached,
                tokens,
                error,
            } if *run_id == self.run_id => {
                let node = self.agent_mut(agent_id, lookup);
                node.status = status.clone();
                node.cached = *cached;
                node.tokens = *tokens;
                node.error = error.clone();
                if !*cached {
                    node.started.get_or_insert(now);
                }
                node.finished = Some(now);
                if status == "failed" {
                    let label = node.label.clone();
                    self.push_agent_failure(&label, error.as_deref());
                }
            }
            Event::WorkflowRunFinished {
                run_id,
                status,
                result,
                error,
            } if *run_id == self.run_id => {
                self.status = status.clone();
                self.result = result.clone();
                self.error = error.clone();
                self.finished = Some(now);
                self.push_end_line(status, error.as_deref());
            }
            _ => return false,
        }
        // Only the process that drives a run emits its events.
        self.driven_here = true;
        true
    }

    /// The tree's rows: each phase (in order, agents without a phase first) and its agents.
    pub(super) fn tree(&self) -> Vec<TreeRow> {
        let mut groups: Vec<Option<&str>> = Vec::new();
        if self.agents.iter().any(|a| a.phase.is_none()) {
            groups.push(None);
        }
        groups.extend(self.phases.iter().map(|p| Some(p.as_str())));
        let mut rows = Vec::new();
        for g in groups {
            let members: Vec<usize> = self
                .agents
                .iter()
                .enumerate()
                .filter(|(_, a)| a.phase.as_deref() == g)
                .map(|(i, _)| i)
                .collect();
            let done = members
                .iter()
                .filter(|&&i| self.agents[i].is_done())
                .count();
            rows.push(TreeRow::Phase {
                title: g.unwrap_or(NO_PHASE).to_string(),
                done,
                total: members.len(),
            });
            rows.extend(members.into_iter().map(TreeRow::Agent));
        }
        rows
    }
}

fn start_line(resumed: bool) -> String {
    if resumed {
        "▶ run resumed".into()
    } else {
        "▶ run started".into()
    }
}

pub(super) enum TreeRow {
    Phase {
        title: String,
        done: usize,
        total: usize,
    },
    Agent(usize),
}
