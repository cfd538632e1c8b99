//! `boocode hooks`: the hooks boocode would run here, and the person's decision about the
//! project's own.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use boocode::core::hooks::settings::Scope;
use boocode::core::hooks::{Hooks, ProjectApproval};
use boocode::core::store::Store;
use boocode::core::trust::ProjectTrust;

use super::{usage_error, GlobalArgs};

#[derive(Args, Debug)]
pub struct HooksArgs {
    #[command(subcommand)]
    command: HooksCommand,
}

#[derive(Subcommand, Debug)]
enum HooksCommand {
    /// Every hook of the project and the user, whether it runs, and broken settings.
    List {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run the project's hooks (.claude/settings.json, .claude/settings.local.json,
    /// .boocode/settings.json) as they are now; a later change to them asks again.
    Approve,
    /// Keep the project's hooks from running.
    Deny,
}

pub fn run(global: &GlobalArgs, args: &HooksArgs) -> Result<()> {
    match &args.command {
        HooksCommand::List { json } => list(global, *json),
        HooksCommand::Approve => decide(global, true),
        HooksCommand::Deny => decide(global, false),
    }
}

/// The hooks as an engine here would load them, and the project's approval store.
fn load(global: &GlobalArgs) -> Result<(Hooks, ProjectTrust)> {
    let (root, config) = global.load_config().map_err(usage_error)?;
    let hooks = Hooks::load(
        &root,
        config.user_home.as_deref(),
        config.user_config_dir.as_deref(),
    );
    let store = Store::open(&config.database_path())?;
    Ok((hooks, ProjectTrust::new(store)))
}

fn decide(global: &GlobalArgs, allow: bool) -> Result<()> {
    let (hooks, trust) = load(global)?;
    let count = hooks.decide(&trust, allow).map_err(usage_error)?;
    if allow {
        println!("approved: this project's {count} hook(s) run from now on, until they change");
    } else {
        println!("denied: this project's {count} hook(s) do not run (`boocode hooks approve` to run them)");
    }
    Ok(())
}

fn list(global: &GlobalArgs, as_json: bool) -> Result<()> {
    let (hooks, trust) = load(global)?;
    let approval = hooks.project_approval(&trust);
    let runs = |scope: Scope| scope == Scope::User || approval == ProjectApproval::Approved;
    if as_json {
        let definitions: Vec<_> = hooks
            .definitions()
            .iter()
            .map(|d| {
                json!({
                    "event": d.event,
                    "matcher": d.matcher_text,
                    "command": d.command,
                    "timeout_secs": d.timeout.as_secs_f64(),
                    "source": d.source,
                    "scope": d.scope,
                    "runs": runs(d.scope),
                })
            })
            .collect();
        let doc = json!({
            "hooks": definitions,
            "project_approval": approval,
            "problems": hooks.problems,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    if hooks.definitions().is_empty() {
        println!("no hooks");
    }
    for d in hooks.definitions() {
        let matcher = d
            .matcher_text
            .as_deref()
            .filter(|m| !m.is_empty())
            .map(|m| format!(" [{m}]"))
            .unwrap_or_default();
        let state = if runs(d.scope) {
            ""
        } else {
            " (not run: needs approval)"
        };
        println!(
            "{}{matcher}: {} (timeout {} s) — {}{state}",
            d.event.as_str(),
            d.command,
            d.timeout.as_secs_f64(),
            d.source.display()
        );
    }
    for note in hooks.notes(Some(approval)) {
        println!("{note}");
    }
    Ok(())
}
