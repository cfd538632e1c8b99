//! `boocode mcp`: list the MCP servers of the project (started to list their tools), and
//! approve or deny the ones the project defines.

use anyhow::Result;
use clap::{Args, Subcommand};

use boocode::core::mcp::McpManager;
use boocode::core::store::Store;
use boocode::core::trust::ProjectTrust;

use super::output::outln;
use super::{usage_error, GlobalArgs};

#[derive(Args, Debug)]
pub struct McpArgs {
    #[command(subcommand)]
    command: McpCommand,
}

#[derive(Subcommand, Debug)]
enum McpCommand {
    /// Servers (user config and project), their status and tools. Starts the servers that
    /// may run, to ask them for their tools, and stops them again.
    List {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Allow a project server (from .mcp.json or .boocode/config.toml) to run in this
    /// project; asked again if its definition changes.
    Approve {
        /// The server's name.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Every project server waiting for approval.
        #[arg(long)]
        all: bool,
    },
    /// Refuse a project server: it is never started in this project.
    Deny { name: String },
}

pub fn run(global: &GlobalArgs, args: McpArgs) -> Result<()> {
    let (root, config) = global.load_config().map_err(usage_error)?;
    let store = Store::open(&config.database_path())?;
    let manager = McpManager::new(&config, &root, ProjectTrust::new(store), None);
    match args.command {
        McpCommand::List { json } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let servers = runtime.block_on(async {
                manager.ready().await;
                manager.reports()
            });
            if json {
                let doc = serde_json::json!({"servers": servers, "problems": manager.problems});
                outln!("{}", serde_json::to_string_pretty(&doc)?)?;
            } else {
                if servers.is_empty() {
                    outln!("no MCP servers (add [mcp_servers.NAME] to config.toml, or a project .mcp.json)")?;
                }
                for s in &servers {
                    outln!(
                        "{}  {}  {}  {}{}",
                        s.name,
                        s.transport,
                        s.source,
                        s.status,
                        if s.read_only_trusted {
                            "  (read-only trusted)"
                        } else {
                            ""
                        }
                    )?;
                    if let Some(url) = &s.url {
                        outln!("    url {url}")?;
                    }
                    if !s.headers.is_empty() {
                        outln!("    headers {} (values not shown)", s.headers.join(", "))?;
                    }
                    for t in &s.tools {
                        outln!("    {}  {}", t.name, t.description)?;
                    }
                    for skipped in &s.skipped_tools {
                        outln!("    ! {skipped}")?;
                    }
                }
                for problem in &manager.problems {
                    outln!("! {problem}")?;
                }
                for notice in manager.approval_notices() {
                    outln!("{notice}")?;
                }
            }
            // The connections end (and their servers with them) inside the runtime.
            runtime.block_on(async move { drop(manager) });
            runtime.shutdown_timeout(std::time::Duration::from_millis(200));
        }
        McpCommand::Approve { name, all } => {
            let decided = manager
                .decide(name.as_deref().filter(|_| !all), true)
                .map_err(usage_error)?;
            if decided.is_empty() {
                outln!("no project MCP server is waiting for approval")?;
            }
            for name in decided {
                outln!("approved MCP server '{name}' for {}", root.display())?;
            }
        }
        McpCommand::Deny { name } => {
            for name in manager.decide(Some(&name), false).map_err(usage_error)? {
                outln!("denied MCP server '{name}' for {}", root.display())?;
            }
        }
    }
    Ok(())
}
