//! `boocode changes`: the project's pending changes across chats (native review-mode edits
//! and changes captured from agent worktrees) with their collisions; `changes apply` and
//! `changes reject` decide them.

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use serde_json::json;

use boocode::core::changes::{self, ChangeView};
use boocode::core::store::{IdTable, Store};

use super::format::{clip, short_id};
use super::output::{errln, outln};
use super::{usage_error, GlobalArgs};

#[derive(Args, Debug)]
pub struct ChangesArgs {
    #[command(subcommand)]
    action: Option<Action>,
    /// One JSON document on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Write pending changes into the project (refused for a file changed there since).
    Apply(Decision),
    /// Drop pending changes; the project's files stay as they are.
    Reject(Decision),
}

#[derive(Args, Debug)]
struct Decision {
    /// Change ids, or unique prefixes of them (`boocode changes` shows them).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    ids: Vec<String>,
    /// Every pending change of the project.
    #[arg(long)]
    all: bool,
    /// One JSON line per change on stdout.
    #[arg(long)]
    json: bool,
}

fn project_changes(global: &GlobalArgs) -> Result<(Store, Vec<ChangeView>)> {
    let store = global.open_store()?;
    let root = global.project_root().map_err(usage_error)?;
    let project = store.ensure_project(&root.to_string_lossy())?;
    let views = changes::project_changes(&store, &project.id)?;
    Ok((store, views))
}

pub fn run(global: &GlobalArgs, args: ChangesArgs) -> Result<()> {
    match args.action {
        None => list(global, args.json),
        Some(Action::Apply(d)) => decide(global, d, true),
        Some(Action::Reject(d)) => decide(global, d, false),
    }
}

fn list(global: &GlobalArgs, json: bool) -> Result<()> {
    let (store, views) = project_changes(global)?;
    let short = |id: &str| short_id(&store, IdTable::PendingChanges, id);
    if json {
        let rows: Vec<_> = views
            .iter()
            .map(|v| {
                let c = &v.change;
                json!({
                    "id": c.id,
                    "short_id": short(&c.id),
                    "agent": c.source_agent,
                    "chat_id": c.chat_id,
                    "kind": c.content.kind,
                    "path": c.content.display_path,
                    "old_path": c.content.old_display_path,
                    "binary": c.content.binary,
                    "lines_added": v.lines_added,
                    "lines_removed": v.lines_removed,
                    "collisions": v.collisions,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    if views.is_empty() {
        outln!("no pending changes")?;
        return Ok(());
    }
    for v in &views {
        let c = &v.change;
        outln!(
            "{}  {:<14}  chat {}  {:<7} {}  {}",
            short(&c.id),
            clip(&c.source_agent, 14),
            short_id(&store, IdTable::Chats, &c.chat_id),
            c.content.kind,
            v.file_label(),
            v.size_label()
        )?;
        for x in &v.collisions {
            outln!(
                "    collides ({}) with {} by {}",
                x.severity.as_str(),
                short(&x.change_id),
                x.agent
            )?;
        }
    }
    let pairs = changes::collision_count(&views);
    outln!(
        "{} pending change{}, {pairs} collision{}",
        views.len(),
        if views.len() == 1 { "" } else { "s" },
        if pairs == 1 { "" } else { "s" }
    )?;
    Ok(())
}

fn decide(global: &GlobalArgs, d: Decision, apply: bool) -> Result<()> {
    let (store, views) = project_changes(global)?;
    let ids: Vec<String> = if d.all {
        views.into_iter().map(|v| v.change.id).collect()
    } else {
        d.ids
    };
    let verb = if apply { "applied" } else { "rejected" };
    let mut failed = 0;
    for id in &ids {
        match changes::decide(&store, id, apply) {
            Ok(change) => {
                let shown = short_id(&store, IdTable::PendingChanges, &change.id);
                if d.json {
                    outln!(
                        "{}",
                        json!({"id": change.id, "path": change.content.display_path, "status": verb})
                    )?;
                } else {
                    outln!("{verb} {shown} {}", change.content.display_path)?;
                }
            }
            Err(e) => {
                failed += 1;
                if d.json {
                    outln!(
                        "{}",
                        json!({"id": id, "status": "error", "error": format!("{e:#}")})
                    )?;
                } else {
                    errln!("boocode: {id}: {e:#}");
                }
            }
        }
    }
    if failed > 0 {
        return Err(anyhow!(
            "{failed} of {} change{} not {verb}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}
