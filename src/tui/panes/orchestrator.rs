//! Orchestrator pane: the workflows this project can run and its past runs (list view), and one
//! run as a live tree of phases → agents with its log (run view).
//!
//! The list shows every discovered workflow with its description and source (built-in,
//! project, user); invalid files are listed with their error and cannot be run. `Enter` on a
//! workflow edits its args (JSON, validated as you type; empty = no args) and `Enter` again
//! starts it (`AppAction::RunWorkflow`). `Enter` on a past run opens it.
//!
//! The run view is rebuilt from the store when opened (`Engine::workflow_run_details`), so a
//! run of an earlier session shows as it ended, then folds `Workflow*` events as they come.
//! `Enter` opens an agent's chat, `c` cancels the run, `r` retries a failed agent, `R` resumes
//! an interrupted, failed or cancelled run, `Esc`/`Backspace` goes back to the list.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use super::{fit, fit_right, fmt_ms, fmt_tokens, keep_visible, one_line, parse_time, truncate};
use crate::core::events::{Command, Event};
use crate::core::store::{WorkflowAgentRow, WorkflowRun};
use crate::core::workflow::{RunDetails, WorkflowEntry};
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::theme::Theme;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
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

    fn is_done(&self) -> bool {
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
                    return true;
                }
                let resumed = self.started.is_some();
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
            }
            Event::WorkflowRunFinished {
                run_id,
                status,
                error,
                ..
            } if *run_id == self.run_id => {
                self.status = status.clone();
                self.error = error.clone();
                self.finished = Some(now);
                self.push_end_line(status, error.as_deref());
            }
            _ => return false,
        }
        true
    }

    /// The tree's rows: each phase (in order, agents without a phase first) and its agents.
    fn tree(&self) -> Vec<TreeRow> {
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

enum TreeRow {
    Phase {
        title: String,
        done: usize,
        total: usize,
    },
    Agent(usize),
}

/// The args editor of one workflow: a single line of JSON.
#[derive(Debug, Clone, Default)]
struct ArgsEditor {
    text: String,
    /// Cursor as a char index.
    cursor: usize,
}

impl ArgsEditor {
    /// The args to run with: `Null` when empty, else the parsed JSON or its error.
    fn parse(&self) -> Result<Value, String> {
        if self.text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&self.text).map_err(|e| e.to_string())
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map(|(b, _)| b)
            .unwrap_or(self.text.len())
    }

    fn insert(&mut self, s: &str) {
        let at = self.byte_at(self.cursor);
        self.text.insert_str(at, s);
        self.cursor += s.chars().count();
    }

    /// Edits for a key; false when the key is not an editing key.
    fn key(&mut self, key: KeyEvent) -> bool {
        let len = self.text.chars().count();
        match key.code {
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.insert(&c.to_string());
            }
            KeyCode::Char('u') => {
                self.text.clear();
                self.cursor = 0;
            }
            KeyCode::Char('a') | KeyCode::Home => self.cursor = 0,
            KeyCode::Char('e') | KeyCode::End => self.cursor = len,
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Backspace if self.cursor > 0 => {
                let at = self.byte_at(self.cursor - 1);
                self.text.remove(at);
                self.cursor -= 1;
            }
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }
}

enum Mode {
    /// Workflows and past runs; `editing` while the args editor has the keys.
    List {
        editing: bool,
    },
    Run(Box<RunView>),
}

pub struct OrchestratorPane {
    workflows: Vec<WorkflowEntry>,
    runs: Vec<WorkflowRun>,
    mode: Mode,
    /// List view: index over workflows, then runs.
    selected: usize,
    scroll: usize,
    /// Args per workflow name.
    args: Vec<(String, ArgsEditor)>,
    /// Run view: the selected agent's id.
    agent: Option<String>,
    tree_scroll: usize,
    /// Log lines scrolled up from the tail; 0 follows the tail.
    log_back: usize,
    error: Option<String>,
    /// A fixed "now" for tests (elapsed times).
    fixed_now: Option<DateTime<Utc>>,
    /// When the shown run last changed: opened, re-read from the store, or an event of it
    /// folded. A run is re-read only after a quiet spell, so a run that ends here is never
    /// re-read while its last events are still on their way (they would show twice).
    touched_at: Option<DateTime<Utc>>,
}

/// The list shows the selected workflow's details from this pane height on.
const DETAILS_MIN_HEIGHT: u16 = 16;
/// Lines of details at most.
const DETAILS_MAX_LINES: usize = 3;

/// How long a shown live run that sends no events here stays quiet before it is re-read from
/// the store (another process drives it).
const EXTERNAL_RUN_POLL_MS: i64 = 500;

impl OrchestratorPane {
    pub fn new(run_id: Option<String>, ctx: &PaneContext<'_>) -> OrchestratorPane {
        let mut pane = OrchestratorPane {
            workflows: Vec::new(),
            runs: Vec::new(),
            mode: Mode::List { editing: false },
            selected: 0,
            scroll: 0,
            args: Vec::new(),
            agent: None,
            tree_scroll: 0,
            log_back: 0,
            error: None,
            fixed_now: None,
            touched_at: None,
        };
        pane.refresh_lists(ctx);
        if let Some(id) = run_id {
            pane.open_run(&id, ctx);
        }
        pane
    }

    fn now(&self) -> DateTime<Utc> {
        self.fixed_now.unwrap_or_else(Utc::now)
    }

    #[cfg(test)]
    fn set_now(&mut self, now: DateTime<Utc>) {
        self.fixed_now = Some(now);
    }

    fn refresh_lists(&mut self, ctx: &PaneContext<'_>) {
        self.workflows = ctx.engine.list_workflows();
        match ctx.engine.list_workflow_runs() {
            Ok(runs) => {
                self.runs = runs;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{e:#}")),
        }
        let count = self.workflows.len() + self.runs.len();
        self.selected = self.selected.min(count.saturating_sub(1));
    }

    fn refresh_runs(&mut self, ctx: &PaneContext<'_>) {
        if let Ok(runs) = ctx.engine.list_workflow_runs() {
            self.runs = runs;
        }
    }

    /// Shows a run, rebuilt from the store.
    fn open_run(&mut self, run_id: &str, ctx: &PaneContext<'_>) {
        match ctx.engine.workflow_run_details(run_id) {
            Ok(details) => {
                let view = RunView::from_details(&details);
                self.agent = view.agents.first().map(|a| a.id.clone());
                self.tree_scroll = 0;
                self.log_back = 0;
                self.mode = Mode::Run(Box::new(view));
                self.touched_at = Some(self.now());
                self.error = None;
            }
            Err(e) => {
                self.mode = Mode::List { editing: false };
                self.error = Some(format!("run {run_id}: {e:#}"));
            }
        }
    }

    /// A live run that another process drives sends no events here: re-read it from the store
    /// every half second while it is shown (the pane animates while a run is live, so this
    /// costs nothing once the run ends or the view closes).
    fn follow_external_run(&mut self, ctx: &PaneContext<'_>) {
        let now = self.now();
        let Mode::Run(view) = &mut self.mode else {
            return;
        };
        if !view.is_live() || ctx.engine.is_workflow_running_here(&view.run_id) {
            return;
        }
        if self
            .touched_at
            .is_some_and(|t| (now - t).num_milliseconds() < EXTERNAL_RUN_POLL_MS)
        {
            return;
        }
        self.touched_at = Some(now);
        if let Ok(details) = ctx.engine.workflow_run_details(&view.run_id) {
            **view = RunView::from_details(&details);
            if self.agent.is_none() {
                self.agent = view.agents.first().map(|a| a.id.clone());
            }
        }
    }

    /// Shows a run from a view built elsewhere (tests fold events into it).
    #[cfg(test)]
    fn show_view(&mut self, view: RunView) {
        self.agent = view.agents.first().map(|a| a.id.clone());
        self.mode = Mode::Run(Box::new(view));
    }

    fn selected_workflow(&self) -> Option<&WorkflowEntry> {
        self.workflows.get(self.selected)
    }

    fn editor(&mut self, name: &str) -> &mut ArgsEditor {
        let pos = match self.args.iter().position(|(n, _)| n == name) {
            Some(p) => p,
            None => {
                self.args.push((name.to_string(), ArgsEditor::default()));
                self.args.len() - 1
            }
        };
        &mut self.args[pos].1
    }

    fn editor_ref(&self, name: &str) -> Option<&ArgsEditor> {
        self.args.iter().find(|(n, _)| n == name).map(|(_, e)| e)
    }

    fn list_key(&mut self, key: KeyEvent, editing: bool, ctx: &PaneContext<'_>) -> KeyOutcome {
        if editing {
            let Some(name) = self.selected_workflow().map(|w| w.name.clone()) else {
                self.mode = Mode::List { editing: false };
                return KeyOutcome::Consumed;
            };
            return match key.code {
                KeyCode::Esc => {
                    self.mode = Mode::List { editing: false };
                    KeyOutcome::Consumed
                }
                KeyCode::Enter => match self.editor(&name).parse() {
                    Ok(args) => {
                        self.mode = Mode::List { editing: false };
                        KeyOutcome::Actions(vec![AppAction::RunWorkflow { name, args }])
                    }
                    Err(e) => KeyOutcome::Actions(vec![AppAction::Notice(format!(
                        "args are not valid JSON: {e}"
                    ))]),
                },
                _ => {
                    if self.editor(&name).key(key) {
                        KeyOutcome::Consumed
                    } else {
                        KeyOutcome::Ignored
                    }
                }
            };
        }
        let last = (self.workflows.len() + self.runs.len()).saturating_sub(1);
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(10),
            KeyCode::PageDown => self.selected = (self.selected + 10).min(last),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = last,
            KeyCode::Char('u') => self.refresh_lists(ctx),
            KeyCode::Enter | KeyCode::Char('a') => {
                if let Some(w) = self.selected_workflow() {
                    if let Some(e) = &w.error {
                        return KeyOutcome::Actions(vec![AppAction::Notice(format!(
                            "{} cannot run: {}",
                            w.name,
                            one_line(e)
                        ))]);
                    }
                    let name = w.name.clone();
                    let editor = self.editor(&name);
                    editor.cursor = editor.text.chars().count();
                    self.mode = Mode::List { editing: true };
                } else if key.code == KeyCode::Enter {
                    let i = self.selected - self.workflows.len();
                    if let Some(id) = self.runs.get(i).map(|r| r.id.clone()) {
                        self.open_run(&id, ctx);
                    }
                }
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Consumed
    }

    fn run_key(&mut self, key: KeyEvent, ctx: &PaneContext<'_>) -> KeyOutcome {
        let Mode::Run(view) = &self.mode else {
            return KeyOutcome::Ignored;
        };
        let order: Vec<String> = view
            .tree()
            .into_iter()
            .filter_map(|r| match r {
                TreeRow::Agent(i) => Some(view.agents[i].id.clone()),
                TreeRow::Phase { .. } => None,
            })
            .collect();
        let pos = self
            .agent
            .as_ref()
            .and_then(|id| order.iter().position(|x| x == id));
        let selected = pos.and_then(|p| view.agents.iter().find(|a| a.id == order[p]));
        let last = order.len().saturating_sub(1);
        let go = |p: usize| order.get(p).cloned();
        match key.code {
            KeyCode::Esc | KeyCode::Backspace => {
                self.mode = Mode::List { editing: false };
                self.refresh_runs(ctx);
                return KeyOutcome::Consumed;
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.agent = go(pos.map_or(0, |p| p.saturating_sub(1)))
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.agent = go(pos.map_or(0, |p| (p + 1).min(last)))
            }
            KeyCode::Home | KeyCode::Char('g') => self.agent = go(0),
            KeyCode::Char('G') => self.agent = go(last),
            KeyCode::PageUp => self.log_back = self.log_back.saturating_add(10),
            KeyCode::PageDown => self.log_back = self.log_back.saturating_sub(10),
            KeyCode::End => self.log_back = 0,
            KeyCode::Enter => {
                let Some(agent) = selected else {
                    return KeyOutcome::Consumed;
                };
                return KeyOutcome::Actions(vec![match &agent.chat_id {
                    Some(chat_id) => AppAction::OpenChat {
                        chat_id: chat_id.clone(),
                    },
                    None => AppAction::Notice(format!("{} has no chat yet", agent.label)),
                }]);
            }
            KeyCode::Char('c') => {
                if !view.is_live() {
                    return notice(format!("the run is {}: nothing to cancel", view.status));
                }
                return KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelWorkflow {
                    run_id: view.run_id.clone(),
                })]);
            }
            KeyCode::Char('r') => {
                let Some(agent) = selected else {
                    return KeyOutcome::Consumed;
                };
                if !matches!(
                    agent.status.as_str(),
                    "failed" | "cancelled" | "interrupted"
                ) {
                    return notice(format!(
                        "{} is {}: only a failed, cancelled or interrupted agent can be retried",
                        agent.label,
                        status_word(agent)
                    ));
                }
                if view.is_live() {
                    return notice("the run is still going: retry when it has ended".into());
                }
                return KeyOutcome::Actions(vec![AppAction::Engine(Command::RetryWorkflowAgent {
                    agent_id: agent.id.clone(),
                })]);
            }
            KeyCode::Char('R') => {
                if !matches!(view.status.as_str(), "interrupted" | "failed" | "cancelled") {
                    return notice(format!(
                        "the run is {}: only an interrupted, failed or cancelled run resumes",
                        view.status
                    ));
                }
                return KeyOutcome::Actions(vec![AppAction::Engine(Command::ResumeWorkflow {
                    run_id: view.run_id.clone(),
                })]);
            }
            _ => return KeyOutcome::Ignored,
        }
        KeyOutcome::Consumed
    }

    // -----------------------------------------------------------------------------------
    // Drawing
    // -----------------------------------------------------------------------------------

    fn render_list(&mut self, frame: &mut Frame<'_>, area: Rect, t: &Theme, editing: bool) {
        let width = area.width as usize;
        let footer_h = u16::from(area.height >= 4);
        let editor_h: u16 = if area.height >= 8 {
            2
        } else {
            u16::from(editing && area.height >= 3)
        };
        // The selected workflow in full, when there is room for it under the list.
        let details = if area.height >= DETAILS_MIN_HEIGHT {
            self.details_lines(t, width)
        } else {
            Vec::new()
        };
        let details_h = details.len() as u16;
        let body_h = area.height.saturating_sub(footer_h + editor_h + details_h) as usize;
        let mut lines: Vec<Line<'static>> = Vec::new();
        let mut selected_line = 0;
        if let Some(e) = &self.error {
            lines.push(Line::styled(truncate(&format!("⚠ {e}"), width), t.error));
        }
        lines.push(Line::styled(
            truncate(&format!("Workflows ({})", self.workflows.len()), width),
            t.heading,
        ));
        let name_w = self
            .workflows
            .iter()
            .map(|w| w.name.width())
            .max()
            .unwrap_or(4)
            .clamp(4, 22)
            .min(width / 3);
        let source_w = if width >= 36 { 9 } else { 0 };
        for (i, w) in self.workflows.iter().enumerate() {
            let selected = i == self.selected;
            if selected {
                selected_line = lines.len();
            }
            lines.push(workflow_row(w, t, width, name_w, source_w, selected));
        }
        if self.workflows.is_empty() {
            lines.push(Line::styled(truncate("  no workflows found", width), t.dim));
        }
        lines.push(Line::styled(
            truncate(&format!("Runs ({})", self.runs.len()), width),
            t.heading,
        ));
        for (i, r) in self.runs.iter().enumerate() {
            let selected = self.workflows.len() + i == self.selected;
            if selected {
                selected_line = lines.len();
            }
            lines.push(run_row(r, t, width, selected));
        }
        if self.runs.is_empty() {
            lines.push(Line::styled(truncate("  no runs yet", width), t.dim));
        }
        keep_visible(&mut self.scroll, selected_line, body_h);
        // Show the section headings when the selection allows.
        if self.scroll > 0 && lines.len() <= body_h {
            self.scroll = 0;
        }
        let shown: Vec<Line<'static>> = lines.into_iter().skip(self.scroll).take(body_h).collect();
        frame.render_widget(
            Paragraph::new(shown),
            Rect::new(area.x, area.y, area.width, body_h as u16),
        );
        let mut y = area.y + body_h as u16;
        for line in details {
            frame.render_widget(Paragraph::new(line), Rect::new(area.x, y, area.width, 1));
            y += 1;
        }
        if editor_h > 0 {
            let editor_lines = self.editor_lines(t, width, editing);
            for line in editor_lines.into_iter().take(editor_h as usize) {
                frame.render_widget(Paragraph::new(line), Rect::new(area.x, y, area.width, 1));
                y += 1;
            }
        }
        if footer_h > 0 {
            let hint = if editing {
                "type JSON args · Enter run · Esc done · C-u clear"
            } else {
                "Enter args/open run · a args · j/k move · u refresh"
            };
            frame.render_widget(
                Paragraph::new(Line::styled(truncate(hint, width), t.dim)),
                Rect::new(area.x, y, area.width, 1),
            );
        }
    }

    /// The selected workflow's description, when to use it and its phases, wrapped, at most
    /// `DETAILS_MAX_LINES` (the list row cuts the description to one line).
    fn details_lines(&self, t: &Theme, width: usize) -> Vec<Line<'static>> {
        let Some(w) = self.selected_workflow().filter(|w| w.error.is_none()) else {
            return Vec::new();
        };
        let mut text = one_line(w.description.as_deref().unwrap_or(""));
        if let Some(when) = &w.when_to_use {
            text.push_str(&format!(" When: {}", one_line(when)));
        }
        if !w.phases.is_empty() {
            text.push_str(&format!(" Phases: {}.", one_line(&w.phases.join(" → "))));
        }
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        let mut lines = crate::tui::markdown::wrap_plain(text, t.dim, width);
        if lines.len() > DETAILS_MAX_LINES {
            lines.truncate(DETAILS_MAX_LINES);
            if let Some(last) = lines.last_mut() {
                let shown: String = last.spans.iter().map(|s| s.content.as_ref()).collect();
                let cut = truncate(&format!("{shown} …"), width);
                *last = Line::styled(cut, t.dim);
            }
        }
        lines
    }

    /// The args editor line and its validation line.
    fn editor_lines(&self, t: &Theme, width: usize, editing: bool) -> Vec<Line<'static>> {
        let Some(w) = self.selected_workflow() else {
            return vec![Line::styled(
                truncate("args: select a workflow to run", width),
                t.dim,
            )];
        };
        if let Some(e) = &w.error {
            return vec![
                Line::styled(truncate(&format!("{} cannot run", w.name), width), t.dim),
                Line::styled(truncate(&format!("✗ {}", one_line(e)), width), t.error),
            ];
        }
        let empty = ArgsEditor::default();
        let editor = self.editor_ref(&w.name).unwrap_or(&empty);
        let prefix = format!("args {} › ", w.name);
        let prefix = truncate(&prefix, width / 2);
        let room = width.saturating_sub(prefix.width() + 1);
        let mut spans = vec![Span::styled(prefix, if editing { t.accent } else { t.dim })];
        if editor.text.is_empty() && !editing {
            spans.push(Span::styled(truncate("(empty = no args)", room), t.dim));
        } else {
            // Keep the cursor in view: show the tail when the text is longer than the room.
            let chars: Vec<char> = editor.text.chars().collect();
            let cursor = editor.cursor.min(chars.len());
            let mut start = 0;
            while start < cursor && chars[start..cursor].iter().collect::<String>().width() >= room
            {
                start += 1;
            }
            let before: String = chars[start..cursor].iter().collect();
            let after: String = chars[cursor..].iter().collect();
            spans.push(Span::raw(one_line(&before)));
            if editing {
                spans.push(Span::styled("▏", t.accent));
            }
            let used = before.width() + usize::from(editing);
            spans.push(Span::raw(truncate(
                &one_line(&after),
                (room + 1).saturating_sub(used),
            )));
        }
        let status = match editor.parse() {
            Ok(Value::Null) => Line::styled(truncate("✓ no args", width), t.dim),
            Ok(_) => Line::styled(truncate("✓ valid JSON", width), t.success),
            Err(e) => Line::styled(truncate(&format!("✗ {e}"), width), t.error),
        };
        vec![Line::from(spans), status]
    }

    fn render_run(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>) {
        let now = self.now();
        let Mode::Run(view) = &self.mode else {
            return;
        };
        let t = ctx.theme;
        let width = area.width as usize;
        let spin = SPINNER[(ctx.tick % SPINNER.len() as u64) as usize];
        let footer_h = u16::from(area.height >= 4);
        let mut y = area.y;
        // Progress line.
        let p = view.progress();
        let (icon, style) = if view.is_live() {
            (spin, t.accent)
        } else {
            run_badge(&view.status, t)
        };
        let elapsed = view
            .started
            .map(|s| fmt_ms(millis(s, view.finished.unwrap_or(now))))
            .unwrap_or_else(|| "–".into());
        let mut progress = format!("{}/{} agents", p.done, p.total);
        if p.cached > 0 {
            progress.push_str(&format!(" · {} cached", p.cached));
        }
        if p.failed > 0 {
            progress.push_str(&format!(" · {} failed", p.failed));
        }
        progress.push_str(&format!(
            " · {} tokens · {elapsed}",
            fmt_tokens(view.tokens())
        ));
        let head = Line::from(vec![
            Span::styled(format!("{icon} {} ", view.status), style),
            Span::raw(truncate(
                &progress,
                width.saturating_sub(view.status.width() + 3),
            )),
        ]);
        frame.render_widget(Paragraph::new(head), Rect::new(area.x, y, area.width, 1));
        y += 1;
        let rest = area.height.saturating_sub(1 + footer_h) as usize;
        let log_h = if rest >= 7 { (rest * 2 / 5).max(3) } else { 0 };
        let mut tree_h = rest - log_h;
        // The selected agent's error under the tree.
        let selected = self
            .agent
            .as_ref()
            .and_then(|id| view.agents.iter().find(|a| &a.id == id));
        let detail = selected
            .and_then(|a| a.error.as_ref())
            .filter(|_| tree_h >= 4)
            .map(|e| truncate(&format!("  error: {}", one_line(e)), width));
        tree_h -= usize::from(detail.is_some());
        // Tree; room it does not need goes to the log.
        let rows = view.tree();
        let mut log_h = log_h;
        if log_h > 0 && rows.len().max(1) < tree_h {
            log_h += tree_h - rows.len().max(1);
            tree_h = rows.len().max(1);
        }
        let sel_row = rows.iter().position(
            |r| matches!(r, TreeRow::Agent(i) if Some(&view.agents[*i].id) == self.agent.as_ref()),
        );
        if let Some(s) = sel_row {
            keep_visible(&mut self.tree_scroll, s, tree_h);
        }
        self.tree_scroll = self
            .tree_scroll
            .min(rows.len().saturating_sub(tree_h.max(1)));
        let mut lines: Vec<Line<'static>> = Vec::new();
        if rows.is_empty() {
            lines.push(Line::styled(truncate("  no agents yet", width), t.dim));
        }
        for (i, row) in rows.iter().enumerate().skip(self.tree_scroll).take(tree_h) {
            lines.push(match row {
                TreeRow::Phase { title, done, total } => phase_row(title, *done, *total, t, width),
                TreeRow::Agent(a) => {
                    agent_row(&view.agents[*a], t, width, spin, now, Some(i) == sel_row)
                }
            });
        }
        frame.render_widget(
            Paragraph::new(lines),
            Rect::new(area.x, y, area.width, tree_h as u16),
        );
        y += tree_h as u16;
        if let Some(d) = detail {
            frame.render_widget(
                Paragraph::new(Line::styled(d, t.error)),
                Rect::new(area.x, y, area.width, 1),
            );
            y += 1;
        }
        // Log: newest at the bottom, following the tail unless scrolled back.
        if log_h > 0 {
            let body = log_h - 1;
            let max_back = view.log.len().saturating_sub(body);
            self.log_back = self.log_back.min(max_back);
            let label = if self.log_back > 0 {
                format!("─ log (↑{}) ", self.log_back)
            } else {
                "─ log ".to_string()
            };
            let sep = format!("{label}{}", "─".repeat(width.saturating_sub(label.width())));
            frame.render_widget(
                Paragraph::new(Line::styled(truncate(&sep, width), t.border)),
                Rect::new(area.x, y, area.width, 1),
            );
            y += 1;
            let end = view.log.len() - self.log_back;
            let start = end.saturating_sub(body);
            let lines: Vec<Line<'static>> = view.log[start..end]
                .iter()
                .map(|l| {
                    let style = match l.kind {
                        LogKind::Info => t.text,
                        LogKind::Phase => t.heading,
                        LogKind::Run => t.dim,
                        LogKind::Error => t.error,
                    };
                    Line::styled(truncate(&l.text, width), style)
                })
                .collect();
            frame.render_widget(
                Paragraph::new(lines),
                Rect::new(area.x, y, area.width, body as u16),
            );
            y += body as u16;
        }
        if footer_h > 0 {
            let hint = "Enter chat · c cancel · r retry · R resume · PgUp/PgDn log · Esc back";
            frame.render_widget(
                Paragraph::new(Line::styled(truncate(hint, width), t.dim)),
                Rect::new(area.x, y.max(area.y + area.height - 1), area.width, 1),
            );
        }
    }
}

fn notice(message: String) -> KeyOutcome {
    KeyOutcome::Actions(vec![AppAction::Notice(message)])
}

fn millis(a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
    (b - a).num_milliseconds().max(0) as u64
}

fn source_style(source: &str, t: &Theme) -> Style {
    match source {
        "project" => t.accent,
        "user" => t.link,
        _ => t.dim,
    }
}

fn workflow_row(
    w: &WorkflowEntry,
    t: &Theme,
    width: usize,
    name_w: usize,
    source_w: usize,
    selected: bool,
) -> Line<'static> {
    let marker = if w.error.is_some() { "✗ " } else { "  " };
    let desc_w = width.saturating_sub(2 + name_w + 1 + source_w);
    let source = w.source.as_str();
    let mut spans = vec![
        Span::styled(marker, if w.error.is_some() { t.error } else { t.text }),
        Span::styled(
            fit(&one_line(&w.name), name_w),
            if w.error.is_some() {
                t.error.patch(t.dim)
            } else {
                t.text
            },
        ),
        Span::raw(" "),
    ];
    if source_w > 0 {
        spans.push(Span::styled(fit(source, source_w), source_style(source, t)));
    }
    match &w.error {
        Some(e) => spans.push(Span::styled(
            fit(&one_line(e), desc_w),
            t.error.patch(t.dim),
        )),
        None => spans.push(Span::styled(
            fit(&one_line(w.description.as_deref().unwrap_or("")), desc_w),
            t.dim,
        )),
    }
    let line = Line::from(spans);
    if selected {
        line.patch_style(t.selection)
    } else {
        line
    }
}

fn run_badge<'a>(status: &str, t: &Theme) -> (&'a str, Style) {
    match status {
        "running" => ("●", t.accent),
        "pending" => ("○", t.dim),
        "completed" => ("✓", t.success),
        "failed" => ("✗", t.error),
        "cancelled" => ("⊘", t.warning),
        "interrupted" => ("◌", t.warning),
        _ => ("?", t.dim),
    }
}

/// `HH:MM:SS` for today, else the date.
fn started_label(at: &str) -> String {
    match parse_time(at) {
        Some(time) => {
            let local = time.with_timezone(&chrono::Local);
            if local.date_naive() == chrono::Local::now().date_naive() {
                local.format("%H:%M:%S").to_string()
            } else {
                local.format("%Y-%m-%d").to_string()
            }
        }
        None => "–".into(),
    }
}

fn run_row(r: &WorkflowRun, t: &Theme, width: usize, selected: bool) -> Line<'static> {
    let (icon, style) = run_badge(&r.status, t);
    let status_w = 13;
    let time_w = if width >= 50 { 11 } else { 0 };
    let tokens_w = if width >= 40 { 8 } else { 0 };
    let name_w = width.saturating_sub(status_w + time_w + tokens_w);
    let mut spans = vec![
        Span::styled(fit(&format!("  {icon} {}", r.status), status_w), style),
        Span::raw(fit(&one_line(&r.workflow), name_w)),
    ];
    if time_w > 0 {
        let at = r.started_at.as_deref().unwrap_or(&r.created_at);
        spans.push(Span::styled(fit_right(&started_label(at), time_w), t.dim));
    }
    if tokens_w > 0 {
        spans.push(Span::styled(
            fit_right(&fmt_tokens(r.tokens_spent), tokens_w),
            t.dim,
        ));
    }
    let line = Line::from(spans);
    if selected {
        line.patch_style(t.selection)
    } else {
        line
    }
}

fn phase_row(title: &str, done: usize, total: usize, t: &Theme, width: usize) -> Line<'static> {
    let count = format!(" {done}/{total}");
    let title_w = width.saturating_sub(count.width() + 2);
    Line::from(vec![
        Span::styled("▾ ", t.dim),
        Span::styled(truncate(&one_line(title), title_w), t.heading),
        Span::styled(count, t.dim),
    ])
}

fn status_word(a: &AgentNode) -> &'static str {
    match a.status.as_str() {
        "pending" => "queued",
        "running" => "running",
        "completed" if a.cached => "cached",
        "completed" => "completed",
        "failed" => "failed",
        "cancelled" => "cancelled",
        "interrupted" => "interrupted",
        _ => "unknown",
    }
}

fn agent_row(
    a: &AgentNode,
    t: &Theme,
    width: usize,
    spin: &'static str,
    now: DateTime<Utc>,
    selected: bool,
) -> Line<'static> {
    let (icon, style) = match a.status.as_str() {
        "running" => (spin, t.accent),
        "pending" => ("○", t.dim),
        "completed" if a.cached => ("✓", t.success.patch(t.dim)),
        "completed" => ("✓", t.success),
        "failed" => ("✗", t.error),
        "cancelled" => ("⊘", t.warning),
        "interrupted" => ("◌", t.warning),
        _ => ("?", t.dim),
    };
    let elapsed = match (a.started, a.finished) {
        _ if a.cached => "–".to_string(),
        (Some(s), Some(f)) => fmt_ms(millis(s, f)),
        (Some(s), None) if a.status == "running" => match millis(s, now) / 1000 {
            secs @ 0..=59 => format!("{secs}s"),
            secs => fmt_ms(secs * 1000),
        },
        _ => "–".to_string(),
    };
    let status_w = 12;
    let time_w = if width >= 36 { 7 } else { 0 };
    let tokens_w = if width >= 48 { 7 } else { 0 };
    let label_w = width.saturating_sub(4 + status_w + time_w + tokens_w);
    let mut spans = vec![
        Span::styled(format!("  {icon} "), style),
        Span::raw(fit(&a.label, label_w)),
        Span::styled(fit_right(status_word(a), status_w), style),
    ];
    if time_w > 0 {
        spans.push(Span::styled(fit_right(&elapsed, time_w), t.dim));
    }
    if tokens_w > 0 {
        let tokens = if a.tokens > 0 || a.is_done() {
            fmt_tokens(a.tokens)
        } else {
            "–".into()
        };
        spans.push(Span::styled(fit_right(&tokens, tokens_w), t.dim));
    }
    let line = Line::from(spans);
    if selected {
        line.patch_style(t.selection)
    } else {
        line
    }
}

impl Pane for OrchestratorPane {
    fn spec(&self) -> PaneSpec {
        PaneSpec::Orchestrator {
            run_id: match &self.mode {
                Mode::Run(v) => Some(v.run_id.clone()),
                Mode::List { .. } => None,
            },
        }
    }

    fn title(&self, _ctx: &PaneContext<'_>) -> String {
        match &self.mode {
            Mode::Run(v) => format!("orchestrator · {} · {}", v.workflow, v.status),
            Mode::List { .. } => {
                let n = self.workflows.iter().filter(|w| w.error.is_none()).count();
                format!(
                    "orchestrator · {n} workflow{}",
                    if n == 1 { "" } else { "s" }
                )
            }
        }
    }

    fn render(&mut self, frame: &mut Frame<'_>, area: Rect, ctx: &PaneContext<'_>, _focused: bool) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        self.follow_external_run(ctx);
        match self.mode {
            Mode::List { editing } => self.render_list(frame, area, ctx.theme, editing),
            Mode::Run(_) => self.render_run(frame, area, ctx),
        }
    }

    fn handle_key(&mut self, key: KeyEvent, ctx: &PaneContext<'_>) -> KeyOutcome {
        match self.mode {
            Mode::List { editing } => self.list_key(key, editing, ctx),
            Mode::Run(_) => self.run_key(key, ctx),
        }
    }

    fn handle_paste(&mut self, text: &str, _ctx: &PaneContext<'_>) -> KeyOutcome {
        if !matches!(self.mode, Mode::List { editing: true }) {
            return KeyOutcome::Ignored;
        }
        let Some(name) = self.selected_workflow().map(|w| w.name.clone()) else {
            return KeyOutcome::Ignored;
        };
        // JSON allows any whitespace between tokens: newlines become spaces.
        self.editor(&name).insert(&one_line(text));
        KeyOutcome::Consumed
    }

    fn on_event(&mut self, event: &Event, ctx: &PaneContext<'_>) -> bool {
        let is_workflow = matches!(
            event,
            Event::WorkflowRunStarted { .. }
                | Event::WorkflowPhase { .. }
                | Event::WorkflowLog { .. }
                | Event::WorkflowAgentStarted { .. }
                | Event::WorkflowAgentFinished { .. }
                | Event::WorkflowRunFinished { .. }
        );
        if !is_workflow {
            return false;
        }
        let now = self.now();
        match &mut self.mode {
            Mode::Run(view) => {
                let store = ctx.engine.store();
                let lookup = |id: &str| store.get_workflow_agent(id).ok();
                let before = view.log.len();
                if !view.apply(event, now, &lookup) {
                    return false;
                }
                if matches!(
                    event,
                    Event::WorkflowAgentStarted { .. } | Event::WorkflowAgentFinished { .. }
                ) {
                    if let Ok(rows) = store.list_workflow_agents(&view.run_id) {
                        view.merge_rows(&rows);
                    }
                }
                if let Event::WorkflowRunFinished { run_id, .. } = event {
                    // Agents closed by the end of the run have no event: take the store's word.
                    if let Ok(details) = ctx.engine.workflow_run_details(run_id) {
                        view.agents = RunView::from_details(&details).agents;
                        view.tokens_spent = details.run.tokens_spent;
                    }
                }
                if self.log_back > 0 {
                    self.log_back += view.log.len().saturating_sub(before);
                }
                self.touched_at = Some(now);
                if self.agent.is_none() {
                    self.agent = view.agents.first().map(|a| a.id.clone());
                }
                true
            }
            Mode::List { .. } => {
                if matches!(
                    event,
                    Event::WorkflowRunStarted { .. } | Event::WorkflowRunFinished { .. }
                ) {
                    self.refresh_runs(ctx);
                    return true;
                }
                false
            }
        }
    }

    /// The spinner and clocks move only while the shown run is live.
    fn is_animating(&self) -> bool {
        matches!(&self.mode, Mode::Run(v) if v.is_live())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::NewWorkflowRun;
    use crate::tui::test_support::{buffer_text, ctx_for, normalise, render_pane, TestEngine};
    use crate::tui::theme::ColorSupport;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    fn at(secs: i64) -> DateTime<Utc> {
        t0() + Duration::seconds(secs)
    }

    fn started(agent: &str, label: &str, phase: Option<&str>) -> Event {
        Event::WorkflowAgentStarted {
            run_id: "run1".into(),
            agent_id: agent.into(),
            label: Some(label.into()),
            phase: phase.map(str::to_string),
            chat_id: Some(format!("chat-{agent}")),
        }
    }

    fn finished(agent: &str, status: &str, cached: bool, tokens: u64) -> Event {
        Event::WorkflowAgentFinished {
            run_id: "run1".into(),
            agent_id: agent.into(),
            status: status.into(),
            cached,
            tokens,
            error: (status == "failed").then(|| "the model returned an error".to_string()),
        }
    }

    /// A live run: two phases, agents running, completed, failed and cached, a queued one.
    fn live_view() -> RunView {
        let no_rows = |_: &str| None;
        let mut v = RunView::new("run1", "deep-research");
        let events = [
            (
                0,
                Event::WorkflowRunStarted {
                    run_id: "run1".into(),
                    workflow: "deep-research".into(),
                    source: "built-in".into(),
                },
            ),
            (
                0,
                Event::WorkflowPhase {
                    run_id: "run1".into(),
                    title: "Search".into(),
                },
            ),
            (1, started("a1", "search the web for 日本語 sources", None)),
            (1, started("a2", "search the codebase", None)),
            (2, finished("a3", "completed", true, 0)),
            (
                3,
                Event::WorkflowLog {
                    run_id: "run1".into(),
                    message: "found 3 sources".into(),
                },
            ),
            (13, finished("a1", "completed", false, 12_400)),
            (14, finished("a2", "failed", false, 800)),
            (
                15,
                Event::WorkflowPhase {
                    run_id: "run1".into(),
                    title: "Write the report".into(),
                },
            ),
            (
                16,
                started("a4", "draft the summary", Some("Write the report")),
            ),
            (
                17,
                Event::WorkflowLog {
                    run_id: "run1".into(),
                    message: "drafting\nwith a newline".into(),
                },
            ),
        ];
        for (secs, e) in events {
            assert!(v.apply(&e, at(secs), &no_rows), "{e:?}");
        }
        // A call still waiting for a slot (known from the store only).
        v.merge_rows(&[WorkflowAgentRow {
            id: "a5".into(),
            run_id: "run1".into(),
            spec_hash: "h".into(),
            occurrence: 0,
            spec: Value::Null,
            status: "pending".into(),
            chat_id: None,
            label: Some("check the citations".into()),
            phase: Some("Write the report".into()),
            tokens: 0,
            result: None,
            error: None,
            cached: false,
            created_at: "2025-03-01T10:00:16Z".into(),
            started_at: None,
            finished_at: None,
        }]);
        v
    }

    #[test]
    fn events_fold_into_the_run_view() {
        let mut v = live_view();
        assert_eq!(v.status, "running");
        assert!(v.is_live());
        assert_eq!(v.phases, vec!["Search", "Write the report"]);
        let status: Vec<(&str, &str, Option<&str>)> = v
            .agents
            .iter()
            .map(|a| (a.id.as_str(), a.status.as_str(), a.phase.as_deref()))
            .collect();
        assert_eq!(
            status,
            vec![
                ("a1", "completed", Some("Search")),
                ("a2", "failed", Some("Search")),
                ("a3", "completed", Some("Search")),
                ("a4", "running", Some("Write the report")),
                ("a5", "pending", Some("Write the report")),
            ]
        );
        assert!(v.agents[2].cached);
        assert_eq!(v.agents[0].tokens, 12_400);
        assert_eq!(v.agents[0].chat_id.as_deref(), Some("chat-a1"));
        assert_eq!(
            v.progress(),
            Progress {
                done: 3,
                total: 5,
                cached: 1,
                failed: 1,
                running: 1
            }
        );
        assert_eq!(v.tokens(), 13_200);
        // Events of other runs are not this view's.
        let other = Event::WorkflowLog {
            run_id: "run2".into(),
            message: "x".into(),
        };
        assert!(!v.apply(&other, at(18), &|_| None));
        // A start seen twice (store, then the event) is folded once.
        let log_len = v.log.len();
        let again = Event::WorkflowRunStarted {
            run_id: "run1".into(),
            workflow: "deep-research".into(),
            source: "built-in".into(),
        };
        assert!(v.apply(&again, at(18), &|_| None));
        assert_eq!(v.log.len(), log_len);
        // The end.
        let end = Event::WorkflowRunFinished {
            run_id: "run1".into(),
            status: "failed".into(),
            result: None,
            error: Some("the script threw: boom".into()),
        };
        assert!(v.apply(&end, at(20), &|_| None));
        assert!(!v.is_live());
        let log: Vec<&str> = v.log.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            log,
            vec![
                "▶ run started",
                "── Search",
                "found 3 sources",
                "── Write the report",
                "drafting with a newline",
                "■ run failed: the script threw: boom",
            ]
        );
        assert_eq!(v.log.last().map(|l| l.kind), Some(LogKind::Error));
        // A resume starts it again.
        assert!(v.apply(&again, at(30), &|_| None));
        assert_eq!(v.status, "running");
        assert_eq!(v.log.last().map(|l| l.text.as_str()), Some("▶ run resumed"));
    }

    #[test]
    fn args_are_validated() {
        let mut e = ArgsEditor::default();
        assert_eq!(e.parse(), Ok(Value::Null));
        e.insert("{\"topic\": ");
        assert!(e.parse().is_err());
        e.insert("\"日本\"}");
        assert_eq!(e.parse(), Ok(serde_json::json!({"topic": "日本"})));
        e.key(KeyEvent::from(KeyCode::Left));
        e.key(KeyEvent::from(KeyCode::Backspace));
        assert_eq!(e.text, "{\"topic\": \"日本}");
        e.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(e.text, "");
    }

    fn write(dir: &std::path::Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// A project workflow, an invalid project file, a user workflow, and one finished run.
    /// A running `triage` run in the store, as another process would have started it.
    fn started_triage_run(t: &TestEngine) -> WorkflowRun {
        let store = t.engine.store();
        let run = store
            .create_workflow_run(&NewWorkflowRun {
                project_id: &t.engine.rt.project_id,
                session_id: Some(&t.session.id),
                parent_chat_id: None,
                workflow: "triage",
                source: "project",
                origin: ".boocode/workflows/triage.js",
                script: "",
                script_hash: "h",
                args: &Value::Null,
                budget_total: None,
                concurrency: 2,
            })
            .expect("run");
        store.start_workflow_run(&run.id, 1).expect("start");
        run
    }

    fn setup(t: &TestEngine) -> WorkflowRun {
        write(
            t.project.path(),
            ".boocode/workflows/triage.js",
            "export const meta = { name: 'triage', description: 'Sort the open issues by urgency', whenToUse: 'after a release', phases: ['Read', 'Sort'] };\n",
        );
        write(
            t.project.path(),
            ".boocode/workflows/broken.js",
            "const nothing = 1;\n",
        );
        write(
            t.home.path(),
            ".boocode/workflows/nightly.js",
            "export const meta = { name: 'nightly', description: 'Nightly dependency check' };\n",
        );
        let store = t.engine.store();
        let run = started_triage_run(t);
        store
            .append_workflow_event(
                &run.id,
                "run_started",
                &serde_json::json!({"workflow": "triage", "resumed": false}),
            )
            .expect("event");
        store
            .append_workflow_event(&run.id, "phase", &serde_json::json!({"title": "Read"}))
            .expect("event");
        let spec = serde_json::json!({"prompt": "read"});
        let a = store
            .upsert_workflow_agent(
                &run.id,
                "h1",
                0,
                &spec,
                Some("read the issues"),
                Some("Read"),
            )
            .expect("agent");
        store
            .start_workflow_agent(&a.id, None)
            .expect("start agent");
        store
            .finish_workflow_agent(&a.id, "completed", None, None, 4_200, false, None)
            .expect("finish agent");
        let b = store
            .upsert_workflow_agent(&run.id, "h2", 0, &spec, Some("sort them"), Some("Read"))
            .expect("agent");
        store
            .finish_workflow_agent(&b.id, "failed", None, Some("rate limited"), 0, false, None)
            .expect("finish agent");
        store
            .append_workflow_event(&run.id, "log", &serde_json::json!({"message": "1/2 done"}))
            .expect("event");
        store
            .set_workflow_run_tokens(&run.id, 4_200)
            .expect("tokens");
        store
            .finish_workflow_run(&run.id, "failed", None, Some("an agent failed"))
            .expect("finish");
        store
            .append_workflow_event(
                &run.id,
                "run_finished",
                &serde_json::json!({"status": "failed", "error": "an agent failed"}),
            )
            .expect("event");
        store.get_workflow_run(&run.id).expect("run")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_run_driven_by_another_process_is_followed_through_the_store() {
        let t = TestEngine::new();
        let store = t.engine.store();
        let run = started_triage_run(&t);
        let spec = serde_json::json!({"prompt": "read"});
        let a = store
            .upsert_workflow_agent(&run.id, "h1", 0, &spec, Some("read the issues"), None)
            .expect("agent");
        store
            .start_workflow_agent(&a.id, None)
            .expect("start agent");
        let ctx = ctx_for(&t, None);
        let mut pane = OrchestratorPane::new(None, &ctx);
        pane.set_now(at(1));
        pane.open_run(&run.id, &ctx);
        let out = render_pane(&mut pane, &ctx, 80, 12);
        assert!(out.contains("running"), "{out}");
        assert!(pane.is_animating());
        // The other process finishes the agent and the run.
        store
            .finish_workflow_agent(&a.id, "completed", None, None, 1_000, false, None)
            .expect("finish agent");
        store
            .append_workflow_event(&run.id, "log", &serde_json::json!({"message": "all read"}))
            .expect("event");
        store
            .finish_workflow_run(&run.id, "completed", None, None)
            .expect("finish");
        pane.set_now(at(1) + Duration::milliseconds(100));
        let out = render_pane(&mut pane, &ctx, 80, 12);
        assert!(
            !out.contains("all read"),
            "re-read at most every 500 ms: {out}"
        );
        pane.set_now(at(2));
        let out = render_pane(&mut pane, &ctx, 80, 12);
        assert_eq!(out.matches("all read").count(), 1, "{out}");
        assert!(out.contains("completed"), "{out}");
        assert!(!pane.is_animating(), "a finished run stops the clock");
        // The run's own end event, had it reached this engine, finds the run already ended.
        pane.set_now(at(3));
        assert_eq!(render_pane(&mut pane, &ctx, 80, 12), out);
    }

    fn select(pane: &mut OrchestratorPane, name: &str) {
        pane.selected = pane
            .workflows
            .iter()
            .position(|w| w.name == name)
            .expect("workflow listed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn list_and_args_editor_snapshots() {
        let t = TestEngine::new();
        let run = setup(&t);
        let ctx = ctx_for(&t, None);
        let mut pane = OrchestratorPane::new(None, &ctx);
        let sources: Vec<&str> = pane.workflows.iter().map(|w| w.source.as_str()).collect();
        assert!(sources.contains(&"built-in") && sources.contains(&"project"));
        assert!(sources.contains(&"user"));
        assert!(pane.workflows.iter().any(|w| w.error.is_some()));
        select(&mut pane, "broken");
        insta::assert_snapshot!("orchestrator_list", render_pane(&mut pane, &ctx, 90, 20));
        // An invalid workflow does not run.
        let out = pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
        assert!(
            matches!(&out, KeyOutcome::Actions(a) if matches!(&a[0], AppAction::Notice(m) if m.contains("cannot run"))),
            "{out:?}"
        );
        select(&mut pane, "triage");
        assert_eq!(
            pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
            KeyOutcome::Consumed
        );
        for c in "{\"topic\": ".chars() {
            pane.handle_key(KeyEvent::from(KeyCode::Char(c)), &ctx);
        }
        insta::assert_snapshot!(
            "orchestrator_args_error",
            render_pane(&mut pane, &ctx, 90, 20)
        );
        let out = pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
        assert!(
            matches!(&out, KeyOutcome::Actions(a) if matches!(&a[0], AppAction::Notice(m) if m.contains("not valid JSON"))),
            "{out:?}"
        );
        pane.handle_paste("\"urgent\"\n}", &ctx);
        assert_eq!(
            pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
            KeyOutcome::Actions(vec![AppAction::RunWorkflow {
                name: "triage".into(),
                args: serde_json::json!({"topic": "urgent"}),
            }])
        );
        insta::assert_snapshot!(
            "orchestrator_list_narrow",
            render_pane(&mut pane, &ctx, 40, 20)
        );
        // The past run opens rebuilt from the store.
        pane.selected = pane.workflows.len();
        pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
        assert_eq!(
            pane.spec(),
            PaneSpec::Orchestrator {
                run_id: Some(run.id.clone())
            }
        );
        assert_eq!(pane.title(&ctx), "orchestrator · triage · failed");
        assert!(!pane.is_animating());
        // The failed agent's error shows while it is selected.
        pane.handle_key(KeyEvent::from(KeyCode::Down), &ctx);
        let text = render_pane(&mut pane, &ctx, 80, 16);
        for want in [
            "2/2 agents · 1 failed · 4.2K tokens",
            "▾ Read 2/2",
            "read the issues",
            "rate limited",
            "── Read",
            "1/2 done",
            "■ run failed: an agent failed",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
        // Keys of a failed run.
        let failed = pane.agent.clone().expect("selected");
        assert_eq!(
            pane.handle_key(KeyEvent::from(KeyCode::Char('r')), &ctx),
            KeyOutcome::Actions(vec![AppAction::Engine(Command::RetryWorkflowAgent {
                agent_id: failed
            })])
        );
        assert_eq!(
            pane.handle_key(KeyEvent::from(KeyCode::Char('R')), &ctx),
            KeyOutcome::Actions(vec![AppAction::Engine(Command::ResumeWorkflow {
                run_id: run.id.clone()
            })])
        );
        assert!(matches!(
            pane.handle_key(KeyEvent::from(KeyCode::Char('c')), &ctx),
            KeyOutcome::Actions(a) if matches!(a[0], AppAction::Notice(_))
        ));
        assert!(matches!(
            pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
            KeyOutcome::Actions(a) if matches!(a[0], AppAction::Notice(_))
        ));
        pane.handle_key(KeyEvent::from(KeyCode::Esc), &ctx);
        assert_eq!(pane.spec(), PaneSpec::Orchestrator { run_id: None });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn live_run_snapshots_and_keys() {
        let t = TestEngine::new();
        let ctx = ctx_for(&t, None);
        let mut pane = OrchestratorPane::new(None, &ctx);
        pane.set_now(at(21));
        pane.show_view(live_view());
        assert!(pane.is_animating());
        assert_eq!(pane.title(&ctx), "orchestrator · deep-research · running");
        insta::assert_snapshot!("orchestrator_run", render_pane(&mut pane, &ctx, 80, 20));
        insta::assert_snapshot!(
            "orchestrator_run_narrow",
            render_pane(&mut pane, &ctx, 40, 20)
        );
        // Enter opens the selected agent's chat; c cancels the live run; r waits for its end.
        assert_eq!(
            pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx),
            KeyOutcome::Actions(vec![AppAction::OpenChat {
                chat_id: "chat-a1".into()
            }])
        );
        assert_eq!(
            pane.handle_key(KeyEvent::from(KeyCode::Char('c')), &ctx),
            KeyOutcome::Actions(vec![AppAction::Engine(Command::CancelWorkflow {
                run_id: "run1".into()
            })])
        );
        pane.handle_key(KeyEvent::from(KeyCode::Down), &ctx);
        assert!(matches!(
            pane.handle_key(KeyEvent::from(KeyCode::Char('r')), &ctx),
            KeyOutcome::Actions(a) if matches!(&a[0], AppAction::Notice(m) if m.contains("still going"))
        ));
        // The log follows its tail; scrolled back it stays put as lines arrive.
        for i in 0..30 {
            let e = Event::WorkflowLog {
                run_id: "run1".into(),
                message: format!("line {i}"),
            };
            pane.on_event(&e, &ctx);
        }
        let text = render_pane(&mut pane, &ctx, 80, 20);
        assert!(text.contains("line 29"), "{text}");
        pane.handle_key(KeyEvent::from(KeyCode::PageUp), &ctx);
        let e = Event::WorkflowLog {
            run_id: "run1".into(),
            message: "line 30".into(),
        };
        pane.on_event(&e, &ctx);
        let text = render_pane(&mut pane, &ctx, 80, 20);
        assert!(
            !text.contains("line 30") && text.contains("log (↑"),
            "{text}"
        );
        pane.handle_key(KeyEvent::from(KeyCode::End), &ctx);
        assert!(render_pane(&mut pane, &ctx, 80, 20).contains("line 30"));
        for (w, h) in [(1, 1), (20, 3), (20, 5), (30, 8)] {
            let _ = render_pane(&mut pane, &ctx, w, h);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_color_draws_without_colours() {
        let t = TestEngine::new();
        setup(&t);
        let theme = Theme::new(ColorSupport::None);
        let ctx = PaneContext {
            theme: &theme,
            ..ctx_for(&t, None)
        };
        let mut pane = OrchestratorPane::new(None, &ctx);
        select(&mut pane, "triage");
        pane.handle_key(KeyEvent::from(KeyCode::Enter), &ctx);
        pane.handle_key(KeyEvent::from(KeyCode::Char('{')), &ctx);
        let check = |pane: &mut OrchestratorPane| {
            let mut term =
                ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 20)).expect("term");
            term.draw(|f| crate::tui::app::draw_pane(f, pane, Rect::new(0, 0, 80, 20), &ctx, true))
                .expect("draw");
            let buf = term.backend().buffer();
            for cell in buf.content() {
                assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
                assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
            }
            normalise(&buffer_text(buf))
        };
        let list = check(&mut pane);
        assert!(list.contains("✗ EOF while parsing"), "{list}");
        pane.set_now(at(21));
        pane.show_view(live_view());
        insta::assert_snapshot!("orchestrator_run_no_color", check(&mut pane));
    }
}
