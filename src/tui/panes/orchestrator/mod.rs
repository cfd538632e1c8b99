//! Orchestrator pane: the workflows this project can run and its past runs (list view), and one
//! run as a live tree of phases → agents with its log and result (run view).
//!
//! The list shows every discovered workflow with its description and source (built-in,
//! project, user); invalid files are listed with their error and cannot be run. `Enter` on a
//! workflow edits its args (JSON, or plain text passed as a string; validated as you type;
//! empty = no args) and `Enter` again starts it (`AppAction::RunWorkflow`). Past runs show
//! their args; `Enter` on one opens it.
//!
//! The run view is rebuilt from the store when opened (`Engine::workflow_run_details`), so a
//! run of an earlier session shows as it ended, then folds `Workflow*` events as they come; a
//! run another process drives is re-read from the store instead. The log wraps; an ended run's
//! result follows it (markdown for a string, pretty JSON otherwise), shown from its top.
//! `Enter` opens an agent's chat, `c` cancels the run, `r` retries a failed agent, `R` resumes
//! an interrupted, failed or cancelled run, PgUp/PgDn/End scroll the log, `Esc`/`Backspace`
//! goes back to the list.

mod args;
mod list;
mod run_render;
mod run_view;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use self::args::ArgsEditor;
use self::run_render::status_word;
use self::run_view::{RunView, TreeRow};
use super::one_line;
use crate::core::events::{Command, Event};
use crate::core::store::WorkflowRun;
use crate::core::workflow::WorkflowEntry;
use crate::tui::pane::{AppAction, KeyOutcome, Pane, PaneContext, PaneSpec};
use crate::tui::theme::Theme;

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
    /// The log shows an ended run's result from its top (until the log is scrolled).
    pin_result: bool,
    error: Option<String>,
    /// A fixed "now" for tests (elapsed times).
    fixed_now: Option<DateTime<Utc>>,
    /// When the shown run last changed: opened, re-read from the store, or an event of it
    /// folded. A run is re-read only after a quiet spell, so a run that ends here is never
    /// re-read while its last events are still on their way (they would show twice).
    touched_at: Option<DateTime<Utc>>,
}

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
            pin_result: false,
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
                self.pin_result = view.result.is_some();
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
        if !view.is_live() || view.driven_here || ctx.engine.is_workflow_running_here(&view.run_id)
        {
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
                        "args are not valid JSON: {e} (text that does not begin with {{, [ or \" \
                         goes as a string)"
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
            code if crate::tui::panes::move_selection(&mut self.selected, last, code) => {}
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
            KeyCode::PageUp => {
                self.pin_result = false;
                self.log_back = self.log_back.saturating_add(10);
            }
            KeyCode::PageDown => {
                self.pin_result = false;
                self.log_back = self.log_back.saturating_sub(10);
            }
            KeyCode::End => {
                self.pin_result = false;
                self.log_back = 0;
            }
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
}

/// Workflows that can run and invalid files: the title and the list count the same way.
fn workflow_counts(workflows: &[WorkflowEntry]) -> (usize, usize) {
    let invalid = workflows.iter().filter(|w| w.error.is_some()).count();
    (workflows.len() - invalid, invalid)
}

/// A list row, highlighted when selected.
fn row_line(spans: Vec<Span<'static>>, t: &Theme, selected: bool) -> Line<'static> {
    let line = Line::from(spans);
    if selected {
        line.patch_style(t.selection)
    } else {
        line
    }
}

fn notice(message: String) -> KeyOutcome {
    KeyOutcome::Actions(vec![AppAction::Notice(message)])
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
                let (valid, invalid) = workflow_counts(&self.workflows);
                let mut title = format!(
                    "orchestrator · {valid} workflow{}",
                    if valid == 1 { "" } else { "s" }
                );
                if invalid > 0 {
                    title.push_str(&format!(" · {invalid} invalid"));
                }
                title
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
                match event {
                    Event::WorkflowRunFinished { .. } => self.pin_result = view.result.is_some(),
                    Event::WorkflowRunStarted { .. } => self.pin_result = false,
                    _ => {}
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
