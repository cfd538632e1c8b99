//! `boocode hooks`: the hooks boocode would run here, and the person's decision about the
//! project's own.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use boocode::core::hooks::settings::Scope;
use boocode::core::hooks::{Hooks, ProjectApproval};

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
}

pub fn run(global: &GlobalArgs, args: &HooksArgs) -> Result<()> {
    match &args.command {
        HooksCommand::List { json } => list(global, *json),
    }
}

fn load(global: &GlobalArgs) -> Result<Hooks> {
    let (root, config) = global.load_config().map_err(usage_error)?;
    Ok(Hooks::load(
        &root,
        config.user_home.as_deref(),
        config.user_config_dir.as_deref(),
    ))
}

fn list(global: &GlobalArgs, as_json: bool) -> Result<()> {
    let hooks = load(global)?;
    let runs =
        |scope: Scope| scope == Scope::User || hooks.project_approval == ProjectApproval::Approved;
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
            "project_approval": hooks.project_approval,
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
    for note in hooks.startup_notes() {
        println!("{note}");
    }
    Ok(())
}
