//! Transcript items: what one message, tool call, change or notice looks like, with its rendered
//! lines cached per width (a long chat lays out only what is on screen, once).

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use crate::core::agent::tools::changes::pending_change_id;
use crate::core::events::{PermissionAnswer, PlanItem};
use crate::core::store::{PartKind, StoredMessage, ToolOutcome};
use crate::tui::diff::render_diff;
use crate::tui::markdown::{self, wrap_plain, wrap_spans, MarkdownStream};
use crate::tui::theme::Theme;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// Diffs longer than this show collapsed.
pub const DIFF_COLLAPSED_LINES: usize = 10;
/// Expanded tool output shows at most this many lines.
const TOOL_OUTPUT_LINES: usize = 40;

#[derive(Debug, Clone, PartialEq)]
pub enum ToolState {
    Running,
    Done {
        outcome: String,
        latency_ms: Option<u64>,
        error: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct ToolItem {
    pub tool_call_id: Option<String>,
    pub trace_id: Option<String>,
    pub name: String,
    pub input: String,
    pub output: Option<String>,
    pub diff: Option<String>,
    pub state: ToolState,
    pub expanded: bool,
    pub diff_expanded: bool,
    /// The pending change this call proposed (review mode).
    pub change_id: Option<String>,
    /// That change is shown as its own item, diff included, so this line leaves it out.
    pub diff_in_change: bool,
    /// How the person decided that change, for a call loaded from history whose change is no
    /// longer pending (`applied` or `rejected`).
    pub decided: Option<String>,
}

impl ToolItem {
    pub fn set_output(&mut self, output: String) {
        self.change_id = pending_change_id(&output).map(str::to_string);
        self.output = Some(output);
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChangeState {
    Pending,
    Applied,
    Rejected,
}

#[derive(Debug, Clone)]
pub enum Kind {
    User {
        text: String,
        attachments: Vec<String>,
    },
    Assistant {
        stream: MarkdownStream,
        /// The finished text; `None` while streaming.
        done: Option<String>,
    },
    Reasoning {
        text: String,
        expanded: bool,
    },
    Tool(ToolItem),
    Change {
        change_id: String,
        path: String,
        diff: String,
        state: ChangeState,
        /// The pane's turn when the change was last decided.
        decided_in: Option<i64>,
        expanded: bool,
    },
    Confirm {
        request_id: String,
        command: String,
        answer: Option<bool>,
    },
    /// An external agent asks before a tool call.
    Permission {
        request_id: String,
        title: String,
        answer: Option<PermissionAnswer>,
    },
    /// An external agent's plan, as a checklist.
    Plan(Vec<PlanItem>),
    Error(String),
    Notice(String),
    /// A context compaction: its notice line, and the summary the model wrote (Enter shows
    /// it).
    Summary {
        notice: String,
        text: String,
        expanded: bool,
    },
    Interrupted {
        resumed: bool,
    },
}

impl Kind {
    /// A change waiting for the user.
    pub fn pending_change(change_id: String, path: String, diff: String) -> Kind {
        Kind::Change {
            change_id,
            path,
            diff,
            state: ChangeState::Pending,
            decided_in: None,
            expanded: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Item {
    pub kind: Kind,
    pub turn: i64,
    /// A blank line above (separates messages; tool lines stay compact).
    pub gap: bool,
    /// A compaction's summary stands in for it: kept in the transcript, no longer sent.
    pub compacted: bool,
    cache: Option<(usize, u64, Vec<Line<'static>>)>,
    /// A streaming reply's open line: how many of the cached lines show it, and whether it
    /// grew since (it is laid out again when drawn, not for every delta).
    open_rows: usize,
    open_stale: bool,
}

impl Item {
    pub fn new(kind: Kind, turn: i64) -> Item {
        let gap = !matches!(kind, Kind::Tool(_) | Kind::Notice(_));
        Item {
            kind,
            turn,
            gap,
            compacted: false,
            cache: None,
            open_rows: 0,
            open_stale: false,
        }
    }

    pub fn invalidate(&mut self) {
        self.cache = None;
        self.open_rows = 0;
    }

    /// A streaming reply grew: its open line changed, and it may have committed new lines,
    /// which are appended to the cached lines rather than rebuilding the cache (that would
    /// clone the whole reply again for every new line).
    pub fn append_streamed(&mut self, width: usize, theme: &Theme) {
        let Kind::Assistant { stream, done: None } = &mut self.kind else {
            self.invalidate();
            return;
        };
        self.open_stale = true;
        let Some((w, _, lines)) = &mut self.cache else {
            return;
        };
        lines.truncate(lines.len() - self.open_rows);
        self.open_rows = 0;
        let have = lines.len() - usize::from(self.gap);
        let all = stream.lines(width, theme);
        if *w == width && all.len() >= have {
            lines.extend(all[have..].iter().cloned());
        } else {
            self.cache = None;
        }
    }

    /// The streamed reply ended with `content`: keep its lines rather than render it afresh.
    pub fn finish_stream(&mut self, content: &str, width: usize, theme: &Theme) {
        let Kind::Assistant { stream, done } = &mut self.kind else {
            return;
        };
        let lines = stream.finish(content, width, theme);
        *done = Some(content.to_string());
        let mut cached = Vec::with_capacity(lines.len() + 1);
        if self.gap {
            cached.push(Line::default());
        }
        cached.extend(lines);
        self.cache = Some((width, 0, cached));
        self.open_rows = 0;
        self.open_stale = false;
    }

    /// Lays out a streaming reply's open line again at the end of the cached lines.
    fn refresh_open_line(&mut self, width: usize, theme: &Theme) {
        self.open_stale = false;
        let (Kind::Assistant { stream, done: None }, Some((_, _, lines))) =
            (&self.kind, &mut self.cache)
        else {
            return;
        };
        lines.truncate(lines.len() - self.open_rows);
        let open = stream.open_lines(width, theme);
        self.open_rows = open.len();
        lines.extend(open);
    }

    /// Items that keys act on (expand, apply, answer, resume).
    pub fn is_actionable(&self) -> bool {
        matches!(
            self.kind,
            Kind::Reasoning { .. }
                | Kind::Summary { .. }
                | Kind::Tool(_)
                | Kind::Change { .. }
                | Kind::Confirm { .. }
                | Kind::Permission { .. }
                | Kind::Interrupted { .. }
        )
    }

    pub fn animates(&self) -> bool {
        matches!(&self.kind, Kind::Tool(t) if t.state == ToolState::Running)
    }

    /// Expands or collapses; true when something changed.
    pub fn toggle(&mut self) -> bool {
        let changed = match &mut self.kind {
            Kind::Reasoning { expanded, .. }
            | Kind::Summary { expanded, .. }
            | Kind::Change { expanded, .. } => {
                *expanded = !*expanded;
                true
            }
            Kind::Tool(t) => {
                // Write tools: first open the whole diff, then the input/output too.
                if t.diff.is_some() && !t.diff_expanded {
                    t.diff_expanded = true;
                } else if !t.expanded {
                    t.expanded = true;
                } else {
                    t.expanded = false;
                    t.diff_expanded = false;
                }
                true
            }
            _ => false,
        };
        if changed {
            self.invalidate();
        }
        changed
    }

    /// Rendered lines at `width`; cached until the item changes, the width changes, or (for a
    /// running tool) the spinner frame changes.
    pub fn lines(&mut self, width: usize, theme: &Theme, tick: u64) -> &[Line<'static>] {
        let frame = if self.animates() { tick } else { 0 };
        let fresh = matches!(&self.cache, Some((w, f, _)) if *w == width && *f == frame);
        if !fresh {
            let mut lines = Vec::new();
            if self.gap {
                lines.push(Line::default());
            }
            self.render_into(&mut lines, width, theme, tick);
            if self.compacted {
                for line in &mut lines {
                    for span in &mut line.spans {
                        span.style = theme.dim;
                    }
                }
            }
            self.cache = Some((width, frame, lines));
            self.open_rows = 0;
            self.open_stale = true;
        }
        if self.open_stale {
            self.refresh_open_line(width, theme);
        }
        match &self.cache {
            Some((_, _, lines)) => lines,
            None => &[],
        }
    }

    pub fn height(&mut self, width: usize, theme: &Theme, tick: u64) -> usize {
        self.lines(width, theme, tick).len()
    }

    fn render_into(
        &mut self,
        out: &mut Vec<Line<'static>>,
        width: usize,
        theme: &Theme,
        tick: u64,
    ) {
        match &mut self.kind {
            Kind::User { text, attachments } => {
                let first = [Span::styled("› ", theme.user)];
                let cont = [Span::raw("  ")];
                for (i, l) in text.split('\n').enumerate() {
                    let p: &[Span<'static>] = if i == 0 { &first } else { &cont };
                    out.extend(wrap_spans(
                        &[Span::styled(
                            l.to_string(),
                            theme.text.add_modifier(Modifier::BOLD),
                        )],
                        width,
                        p,
                        &cont,
                    ));
                }
                for a in attachments.iter() {
                    out.extend(wrap_spans(
                        &[Span::styled(format!("[image {a}]"), theme.accent)],
                        width,
                        &cont,
                        &cont,
                    ));
                }
            }
            Kind::Assistant { stream, done } => match done {
                Some(text) => out.extend(markdown::render(text, width, theme)),
                None => out.extend(stream.lines(width, theme).iter().cloned()),
            },
            Kind::Reasoning { text, expanded } => {
                let style = theme.reasoning;
                let body = text.trim_matches('\n');
                let n = body.lines().count();
                if *expanded {
                    out.extend(wrap_spans(
                        &[Span::styled("▾ thinking", style)],
                        width,
                        &[],
                        &[],
                    ));
                    for l in body.lines() {
                        out.extend(wrap_spans(
                            &[Span::styled(l.to_string(), style)],
                            width,
                            &[Span::styled("  ", style)],
                            &[Span::styled("  ", style)],
                        ));
                    }
                } else {
                    let first = body.lines().next().unwrap_or("thinking…");
                    let more = if n > 1 {
                        format!(" … ({n} lines)")
                    } else {
                        String::new()
                    };
                    let line = truncate(&format!("▸ {first}{more}"), width);
                    out.push(Line::from(Span::styled(line, style)));
                }
            }
            Kind::Tool(t) => render_tool(t, out, width, theme, tick),
            Kind::Change {
                path,
                diff,
                state,
                expanded,
                ..
            } => {
                let (mark, style, hint) = match state {
                    ChangeState::Pending => ("●", theme.warning, "  pending review"),
                    ChangeState::Applied => ("✓", theme.success, "  applied"),
                    ChangeState::Rejected => ("✗", theme.error, "  rejected"),
                };
                out.push(Line::from(vec![
                    Span::styled(format!("{mark} change "), style),
                    Span::styled(truncate(path, width.saturating_sub(12)), theme.text),
                    Span::styled(hint, theme.dim),
                ]));
                let limit = (!*expanded).then_some(DIFF_COLLAPSED_LINES);
                for l in render_diff(diff, theme, limit) {
                    out.extend(wrap_spans(
                        &l.spans,
                        width,
                        &[Span::raw("  ")],
                        &[Span::raw("  ")],
                    ));
                }
            }
            Kind::Confirm {
                command, answer, ..
            } => {
                let (mark, style, hint) = match answer {
                    None => ("?", theme.warning, "  waiting for your answer"),
                    Some(true) => ("✓", theme.success, "  allowed"),
                    Some(false) => ("✗", theme.error, "  refused"),
                };
                out.extend(wrap_spans(
                    &[
                        Span::styled(format!("{mark} run "), style),
                        Span::styled(command.clone(), theme.code),
                        Span::styled(hint, theme.dim),
                    ],
                    width,
                    &[],
                    &[Span::raw("  ")],
                ));
            }
            Kind::Permission { title, answer, .. } => {
                let (mark, style, hint) = match answer {
                    None => ("?", theme.warning, "  waiting for your answer"),
                    Some(PermissionAnswer::AllowOnce) => ("✓", theme.success, "  allowed once"),
                    Some(PermissionAnswer::AllowAlways) => {
                        ("✓", theme.success, "  allowed for this chat")
                    }
                    Some(PermissionAnswer::Reject) => ("✗", theme.error, "  rejected"),
                };
                out.extend(wrap_spans(
                    &[
                        Span::styled(format!("{mark} allow "), style),
                        Span::styled(title.clone(), theme.code),
                        Span::styled(hint, theme.dim),
                    ],
                    width,
                    &[],
                    &[Span::raw("  ")],
                ));
            }
            Kind::Plan(entries) => {
                out.push(Line::from(Span::styled("plan", theme.dim)));
                for e in entries {
                    let (mark, style) = match e.status.as_str() {
                        "completed" => ("[x] ", theme.success),
                        "in_progress" => ("[~] ", theme.warning),
                        _ => ("[ ] ", theme.dim),
                    };
                    out.extend(wrap_spans(
                        &[Span::styled(e.content.clone(), theme.text)],
                        width,
                        &[Span::raw("  "), Span::styled(mark, style)],
                        &[Span::raw("      ")],
                    ));
                }
            }
            Kind::Error(message) => out.extend(wrap_spans(
                &[Span::styled(message.clone(), theme.error)],
                width,
                &[Span::styled("✗ ", theme.error)],
                &[Span::raw("  ")],
            )),
            Kind::Notice(message) => out.extend(wrap_spans(
                &[Span::styled(message.clone(), theme.dim)],
                width,
                &[Span::styled("· ", theme.dim)],
                &[Span::raw("  ")],
            )),
            Kind::Summary {
                notice,
                text,
                expanded,
            } => {
                let style = theme.accent;
                let lines = text.lines().count();
                let head = match (*expanded, lines) {
                    (_, 0) => format!("⇡ {notice}"),
                    (true, _) => format!("▾ {notice} — the summary that stands in for it:"),
                    (false, n) => format!("▸ {notice} — summary ({n} lines)"),
                };
                out.extend(wrap_spans(&[Span::styled(head, style)], width, &[], &[]));
                if *expanded {
                    for l in text.lines() {
                        out.extend(wrap_spans(
                            &[Span::styled(l.to_string(), theme.dim)],
                            width,
                            &[Span::raw("  ")],
                            &[Span::raw("  ")],
                        ));
                    }
                }
            }
            Kind::Interrupted { resumed } => {
                let text = if *resumed {
                    "⟳ resuming the interrupted turn…"
                } else {
                    "⚠ this turn was interrupted — Ctrl-R resumes it"
                };
                out.extend(wrap_plain(text, theme.warning, width));
            }
        }
    }
}

/// The argument worth showing on a tool's one line.
pub fn key_argument(input: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(input) else {
        return input.lines().next().unwrap_or("").to_string();
    };
    for key in ["file_path", "path", "pattern", "pane"] {
        if let Some(s) = v.get(key).and_then(|x| x.as_str()) {
            return s.to_string();
        }
    }
    if let Some(cmd) = v.get("command").and_then(|x| x.as_str()) {
        let args: Vec<String> = v
            .get("args")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        return std::iter::once(cmd.to_string())
            .chain(args)
            .collect::<Vec<_>>()
            .join(" ");
    }
    v.as_object()
        .and_then(|o| o.values().find_map(|x| x.as_str()))
        .map(|s| s.lines().next().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn fmt_latency(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

fn render_tool(t: &ToolItem, out: &mut Vec<Line<'static>>, width: usize, theme: &Theme, tick: u64) {
    let arg = key_argument(&t.input);
    let (mark, mark_style, tail) = match &t.state {
        ToolState::Running => (
            SPINNER[(tick as usize) % SPINNER.len()].to_string(),
            theme.tool,
            Vec::new(),
        ),
        ToolState::Done {
            outcome,
            latency_ms,
            error,
        } => {
            let style = match outcome.as_str() {
                "success" => theme.success,
                "denied" | "refused" | "pending" => theme.warning,
                _ => theme.error,
            };
            let proposed = outcome == "success" && t.change_id.is_some();
            let (mark, style) = match outcome.as_str() {
                // Nothing was written yet: the change waits for the user.
                _ if proposed => ("•", theme.warning),
                "success" => ("✓", style),
                _ => ("✗", style),
            };
            let mut tail = Vec::new();
            if let Some(ms) = latency_ms {
                tail.push(Span::styled(
                    format!("  {}", fmt_latency(*ms)),
                    theme.latency(*ms),
                ));
            }
            if let Some(e) = error {
                tail.push(Span::styled(
                    format!("  {}", e.lines().next().unwrap_or("")),
                    theme.error,
                ));
            } else if !matches!(outcome.as_str(), "success" | "error") {
                // Say why a call without an error did not succeed (interrupted, denied…).
                tail.push(Span::styled(format!("  {outcome}"), style));
            } else if proposed {
                let note = match &t.decided {
                    Some(decision) => format!("  {decision} in review"),
                    None => "  proposed for review".to_string(),
                };
                tail.push(Span::styled(note, theme.dim));
            }
            (mark.to_string(), style, tail)
        }
    };
    let head = format!("{mark} {} ", t.name);
    let tail_w: usize = tail.iter().map(|s| s.content.width()).sum();
    let room = width.saturating_sub(head.width() + tail_w.min(width / 2));
    let mut spans = vec![
        Span::styled(format!("{mark} "), mark_style),
        Span::styled(t.name.clone(), theme.tool),
        Span::raw(" "),
        Span::styled(truncate(&arg, room), theme.text),
    ];
    spans.extend(tail);
    // The one line stays one line: cut what does not fit.
    let line = wrap_spans(&spans, usize::MAX / 2, &[], &[]);
    out.extend(line.into_iter().take(1).map(|l| cut_line(l, width)));
    if let Some(diff) = t.diff.as_ref().filter(|_| !t.diff_in_change) {
        let limit = (!t.diff_expanded).then_some(DIFF_COLLAPSED_LINES);
        for l in render_diff(diff, theme, limit) {
            out.extend(wrap_spans(
                &l.spans,
                width,
                &[Span::raw("  ")],
                &[Span::raw("  ")],
            ));
        }
    }
    if t.expanded {
        let pad = [Span::styled("  │ ", theme.dim)];
        out.push(Line::from(Span::styled("  input", theme.dim)));
        let pretty = serde_json::from_str::<serde_json::Value>(&t.input)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| t.input.clone());
        for l in pretty.lines() {
            out.extend(wrap_spans(
                &[Span::styled(l.to_string(), theme.text)],
                width,
                &pad,
                &pad,
            ));
        }
        if let Some(output) = &t.output {
            out.push(Line::from(Span::styled("  output", theme.dim)));
            let n = output.lines().count();
            for l in output.lines().take(TOOL_OUTPUT_LINES) {
                out.extend(wrap_spans(
                    &[Span::styled(l.to_string(), theme.text)],
                    width,
                    &pad,
                    &pad,
                ));
            }
            if n > TOOL_OUTPUT_LINES {
                out.push(Line::from(Span::styled(
                    format!(
                        "  … {} more lines (trace pane has all)",
                        n - TOOL_OUTPUT_LINES
                    ),
                    theme.dim,
                )));
            }
        }
    }
}

/// Cuts a line to `width` display columns, ending with `…` when cut.
fn cut_line(line: Line<'static>, width: usize) -> Line<'static> {
    if line.width() <= width {
        return line;
    }
    let mut spans = Vec::new();
    let mut used = 0;
    for s in line.spans {
        let w = s.content.width();
        if used + w < width {
            used += w;
            spans.push(s);
        } else {
            let t = truncate(&s.content, width - used);
            spans.push(Span::styled(t, s.style));
            break;
        }
    }
    Line::from(spans)
}

/// Shortens `s` to `width` columns, ending with `…` when shortened.
pub fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// The finished state of a stored call from its trace; a call without a finished trace never
/// got its result (the process died or the turn was cut short).
fn ended(trace: Option<&ToolOutcome>) -> ToolState {
    ToolState::Done {
        outcome: trace
            .and_then(|t| t.outcome.clone())
            .unwrap_or_else(|| "interrupted".into()),
        latency_ms: trace
            .and_then(|t| t.latency_ms)
            .and_then(|ms| u64::try_from(ms).ok()),
        error: trace.and_then(|t| t.error.clone()),
    }
}

/// Items of stored messages; tool results join their calls when both are in `messages`, and
/// calls show how they ended (outcome, latency, diff) from their traces in `outcomes`.
pub fn items_from_messages(messages: &[StoredMessage], outcomes: &[ToolOutcome]) -> Vec<Item> {
    let outcomes: std::collections::HashMap<&str, &ToolOutcome> = outcomes
        .iter()
        .map(|o| (o.tool_call_id.as_str(), o))
        .collect();
    let traced =
        |call_id: Option<&String>| call_id.and_then(|id| outcomes.get(id.as_str()).copied());
    let mut items: Vec<Item> = Vec::new();
    let mut calls: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut in_compacted = false;
    for m in messages {
        let turn = m.turn_number;
        if m.compacted && !in_compacted {
            items.push(Item::new(Kind::Notice(COMPACTED_NOTE.into()), turn));
        }
        in_compacted = m.compacted;
        let first_item = items.len();
        match m.role.as_str() {
            "compaction" => {
                let mut texts = m.parts.iter().map(|p| p.content.as_str());
                let notice = texts.next().unwrap_or_default().to_string();
                let text: String = texts.collect();
                items.push(summary_item(notice, text, turn));
            }
            "user" => {
                let attachments = m
                    .parts
                    .iter()
                    .filter(|p| p.kind == PartKind::Image)
                    .map(|p| file_name(&p.content))
                    .collect();
                items.push(Item::new(
                    Kind::User {
                        text: m.joined(PartKind::Text),
                        attachments,
                    },
                    turn,
                ));
            }
            "workflow" => {
                let mut texts = m.parts.iter().map(|p| p.content.as_str());
                let heading = texts.next().unwrap_or_default();
                let body: String = texts.collect();
                items.extend(report_items(heading, &body, turn));
            }
            "assistant" => {
                for p in &m.parts {
                    match p.kind {
                        PartKind::Reasoning if !p.content.trim().is_empty() => {
                            items.push(Item::new(
                                Kind::Reasoning {
                                    text: p.content.clone(),
                                    expanded: false,
                                },
                                turn,
                            ))
                        }
                        PartKind::Text if !p.content.trim().is_empty() => items.push(Item::new(
                            Kind::Assistant {
                                stream: MarkdownStream::new(),
                                done: Some(p.content.clone()),
                            },
                            turn,
                        )),
                        PartKind::ToolCall => {
                            if let Some(id) = &p.tool_call_id {
                                calls.insert(id.clone(), items.len());
                            }
                            let trace = traced(p.tool_call_id.as_ref());
                            items.push(Item::new(
                                Kind::Tool(ToolItem {
                                    tool_call_id: p.tool_call_id.clone(),
                                    trace_id: trace.map(|t| t.trace_id.clone()),
                                    name: p.tool_name.clone().unwrap_or_default(),
                                    input: p.content.clone(),
                                    output: None,
                                    diff: trace.and_then(|t| t.diff.clone()),
                                    state: ended(trace),
                                    expanded: false,
                                    diff_expanded: false,
                                    change_id: None,
                                    diff_in_change: false,
                                    decided: None,
                                }),
                                turn,
                            ));
                        }
                        _ => {}
                    }
                }
                match m.status.as_str() {
                    "failed" => items.push(Item::new(
                        Kind::Error(m.error.clone().unwrap_or_else(|| "the turn failed".into())),
                        turn,
                    )),
                    "cancelled" => items.push(Item::new(Kind::Notice("cancelled".into()), turn)),
                    "interrupted" => {
                        items.push(Item::new(Kind::Notice("interrupted".into()), turn))
                    }
                    _ => {}
                }
            }
            "tool" => {
                for p in &m.parts {
                    let target = p
                        .tool_call_id
                        .as_ref()
                        .and_then(|id| calls.get(id))
                        .copied();
                    let trace = traced(p.tool_call_id.as_ref());
                    let state = match trace {
                        Some(t) if t.outcome.is_some() => ended(Some(t)),
                        // No finished trace (an older store): judge by the result text.
                        _ => {
                            let is_error = p.content.starts_with("error:");
                            ToolState::Done {
                                outcome: if is_error { "error" } else { "success" }.into(),
                                latency_ms: None,
                                error: is_error.then(|| {
                                    p.content.trim_start_matches("error:").trim().to_string()
                                }),
                            }
                        }
                    };
                    match target.and_then(|i| items.get_mut(i)) {
                        Some(Item {
                            kind: Kind::Tool(t),
                            ..
                        }) => {
                            t.set_output(p.content.clone());
                            t.state = state;
                        }
                        _ => items.push(Item::new(
                            Kind::Tool(ToolItem {
                                tool_call_id: p.tool_call_id.clone(),
                                trace_id: trace.map(|t| t.trace_id.clone()),
                                name: p.tool_name.clone().unwrap_or_default(),
                                input: String::new(),
                                output: Some(p.content.clone()),
                                diff: trace.and_then(|t| t.diff.clone()),
                                state,
                                expanded: false,
                                diff_expanded: false,
                                change_id: pending_change_id(&p.content).map(str::to_string),
                                diff_in_change: false,
                                decided: None,
                            }),
                            turn,
                        )),
                    }
                }
            }
            _ => {}
        }
        for it in &mut items[first_item..] {
            it.compacted = m.compacted;
        }
    }
    items
}

/// Above a stretch of messages a summary stands in for.
pub const COMPACTED_NOTE: &str =
    "compacted: the model no longer sees the messages below; a summary stands in for them";

/// A compaction's item: its notice, with the summary (if the model wrote one) to expand.
pub fn summary_item(notice: String, text: String, turn: i64) -> Item {
    let mut item = Item::new(
        Kind::Summary {
            notice,
            text,
            expanded: false,
        },
        turn,
    );
    item.gap = true;
    item
}

/// A workflow run's report in the chat that started it: its heading as a notice, then the
/// result rendered like an answer.
pub fn report_items(heading: &str, body: &str, turn: i64) -> [Item; 2] {
    let mut heading = Item::new(Kind::Notice(format!("⚙ {heading}")), turn);
    heading.gap = true;
    let body = Item::new(
        Kind::Assistant {
            stream: MarkdownStream::new(),
            done: Some(body.to_string()),
        },
        turn,
    );
    [heading, body]
}

pub fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// Plain text of a line (copy mode).
pub fn line_text(line: &Line<'_>) -> String {
    let s: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    s.trim_end().to_string()
}

pub fn dim_style(theme: &Theme) -> Style {
    theme.dim
}
