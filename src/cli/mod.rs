//! Argument parsing and dispatch.

mod agents;
mod changes;
mod debug;
mod exec;
mod format;
mod hooks;
mod mcp;
mod output;
mod sessions;
mod skills;
mod traces;
mod workflow;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::config::{Config, Environment, Overrides};
use boocode::core::process::{self, reaper, secrets};
use boocode::core::store::Store;

use output::errln;

/// Exit codes of the headless commands.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "boocode",
    version,
    about = "A terminal workspace for AI coding agents"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    /// Open the workspace on the project's latest session.
    #[arg(long, conflicts_with = "session")]
    resume: bool,
    /// Open the workspace on this session, or on this chat in its session (id or unique
    /// prefix; `boocode sessions` lists both).
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    #[command(subcommand)]
    command: Option<Commands>,
}

/// Flags every subcommand takes.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Model id or alias.
    #[arg(long, global = true)]
    pub model: Option<String>,
    /// Provider preset: deepseek, openai, openrouter, ollama, llamacpp, vllm, lmstudio.
    #[arg(long, global = true)]
    pub provider: Option<String>,
    /// Any OpenAI-compatible base URL (overrides the provider's).
    #[arg(long, global = true)]
    pub base_url: Option<String>,
    /// API key (prefer DEEPSEEK_API_KEY / OPENAI_API_KEY / BOOCODE_API_KEY).
    #[arg(long, global = true, hide_env_values = true)]
    pub api_key: Option<String>,
    /// Project directory (default: the current directory).
    #[arg(long, global = true)]
    pub project: Option<PathBuf>,
    /// Approval policy: read-only, review or auto.
    #[arg(long, global = true, value_parser = parse_approval)]
    pub approval: Option<ApprovalMode>,
}

fn parse_approval(s: &str) -> std::result::Result<ApprovalMode, String> {
    s.parse()
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Run one prompt headless: the answer on stdout, progress on stderr.
    Exec(exec::ExecArgs),
    /// Finish a turn that a crash or kill interrupted, from its snapshot.
    Resume(exec::ResumeArgs),
    /// List sessions and their chats.
    Sessions {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List the skills (SKILL.md) of the project and the user, and broken ones with their error.
    Skills {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List the external agents (presets and `[agents.NAME]`) and whether each can run here;
    /// approve or deny the ones the project defines.
    Agents {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        command: Option<agents::AgentsCommand>,
    },
    /// External agents: `agent run NAME TASK`.
    Agent(agents::AgentArgs),
    /// MCP servers: list them with their status and tools; approve or deny project servers.
    Mcp(mcp::McpArgs),
    /// Hooks (Claude Code's format): list them; approve or deny the project's own.
    Hooks(hooks::HooksArgs),
    /// Print a chat's tool traces and per-turn usage.
    Traces(traces::TracesArgs),
    /// Pending changes of the project with their collisions; `apply` / `reject` them.
    Changes(changes::ChangesArgs),
    /// Workflows: list, show, run, runs, resume, cancel.
    Workflow(workflow::WorkflowArgs),
    /// Tools for checking boocode against other programs (vt-replay).
    #[command(hide = true)]
    Debug(debug::DebugArgs),
    /// Internal: runs one workflow script, speaking JSON lines on stdin/stdout.
    #[command(name = "__workflow-worker", hide = true)]
    WorkflowWorker,
    /// Internal: kills the process groups boocode registers on stdin once boocode is gone.
    #[command(name = "__reaper", hide = true)]
    Reaper,
}

/// The environment as boocode started, read before the provider keys are withdrawn from the
/// process (see [`secrets::withdraw_startup_keys`]).
static STARTUP_ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

fn startup_environment() -> &'static Environment {
    STARTUP_ENVIRONMENT.get_or_init(Environment::from_process)
}

impl GlobalArgs {
    pub fn project_root(&self) -> Result<PathBuf> {
        let dir = match &self.project {
            Some(p) => p.clone(),
            None => std::env::current_dir()?,
        };
        std::fs::canonicalize(&dir)
            .map_err(|e| anyhow::anyhow!("project directory {}: {e}", dir.display()))
    }

    pub fn load_config(&self) -> Result<(PathBuf, Config)> {
        let root = self.project_root()?;
        let flags = Overrides {
            provider: self.provider.clone(),
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            api_key: self.api_key.clone(),
            approval: self.approval,
        };
        let config = Config::load(&root, startup_environment(), &flags)?;
        Ok((root, config))
    }

    /// The config of a command that talks to a model: with the key from `api_key_command`
    /// when that is where the key comes from (listing commands never run it).
    pub fn load_config_with_key(&self) -> Result<(PathBuf, Config)> {
        let (root, mut config) = self.load_config()?;
        config.fetch_key_from_command()?;
        Ok((root, config))
    }

    /// Opens the store for read-only listing commands.
    pub fn open_store(&self) -> Result<Store> {
        let (_, config) = self.load_config().map_err(usage_error)?;
        Store::open(&config.database_path())
    }
}

/// An error the user fixes by changing the command line or the configuration: exit code 2.
#[derive(Debug)]
pub struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Marks `e` as bad usage.
pub fn usage_error(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(UsageError(format!("{e:#}")))
}

/// Parses the command line and runs it; returns the process exit code.
pub fn run() -> i32 {
    secrets::forbid_inspection();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    // Still one thread: the keys are read, then withdrawn from what children could see.
    startup_environment();
    secrets::withdraw_startup_keys(cli.global.api_key.as_deref());
    match process::own_executable() {
        Ok(program) => reaper::enable(program),
        Err(e) => errln!("boocode: {e:#}; programs it starts may outlive it"),
    }
    let result = match cli.command {
        Some(Commands::Exec(args)) => return exec::run(&cli.global, args),
        Some(Commands::Resume(args)) => return exec::run_resume(&cli.global, args),
        Some(Commands::Sessions { json }) => sessions::run(&cli.global, json),
        Some(Commands::Skills { json }) => skills::run(&cli.global, json),
        Some(Commands::Agents {
            command: Some(command),
            ..
        }) => agents::decide(&cli.global, command),
        Some(Commands::Agents {
            json,
            command: None,
        }) => agents::list(&cli.global, json),
        Some(Commands::Agent(args)) => return agents::run(&cli.global, args),
        Some(Commands::Traces(args)) => traces::run(&cli.global, &args),
        Some(Commands::Mcp(args)) => mcp::run(&cli.global, args),
        Some(Commands::Hooks(args)) => hooks::run(&cli.global, &args),
        Some(Commands::Changes(args)) => changes::run(&cli.global, args),
        Some(Commands::Workflow(args)) => return workflow::run(&cli.global, args),
        Some(Commands::Debug(args)) => debug::run(args),
        Some(Commands::WorkflowWorker) => {
            return boocode::core::workflow::script_host::run_worker(
                std::io::BufReader::new(std::io::stdin()),
                std::io::stdout(),
            )
        }
        Some(Commands::Reaper) => return reaper::run(),
        None => return run_workspace(&cli.global, cli.session, cli.resume),
    };
    exit_code(result)
}

/// The exit code of a command that printed its output: 0, or its error on stderr and 2 for
/// bad usage, 1 otherwise. Stdout closed by its reader (`| head`) ends the command quietly.
pub fn exit_code(result: Result<()>) -> i32 {
    match result {
        Ok(()) => EXIT_OK,
        Err(e) if output::is_closed_pipe(&e) => EXIT_OK,
        Err(e) => {
            errln!("boocode: {e:#}");
            if e.is::<UsageError>() {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            }
        }
    }
}

/// `boocode` with no subcommand: the pane workspace.
fn run_workspace(global: &GlobalArgs, session: Option<String>, resume_latest: bool) -> i32 {
    let (project_root, config) = match global.load_config_with_key() {
        Ok(c) => c,
        Err(e) => {
            errln!("boocode: {e:#}");
            return EXIT_USAGE;
        }
    };
    boocode::tui::run_workspace(boocode::tui::WorkspaceOptions {
        config,
        project_root,
        session,
        resume_latest,
    })
}

/// What every headless command that talks to a model needs: the project, its config (with a
/// key, when the provider needs one), the file logger and a runtime. `Err` is the exit code,
/// after one line on stderr saying why.
pub fn prepare_headless(
    global: &GlobalArgs,
) -> std::result::Result<(PathBuf, Config, tokio::runtime::Runtime), i32> {
    let (root, config) = global.load_config_with_key().map_err(|e| {
        errln!("boocode: {e:#}");
        EXIT_USAGE
    })?;
    if let Some(message) = config.missing_key_error() {
        errln!("boocode: {message}");
        return Err(EXIT_USAGE);
    }
    if let Err(e) = boocode::core::logging::init(&config.home) {
        errln!("boocode: {e:#}");
        return Err(EXIT_FAILURE);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            errln!("boocode: starting the runtime: {e}");
            EXIT_FAILURE
        })?;
    Ok((root, config, runtime))
}

/// Resolves when this process is asked to stop: SIGINT (Ctrl-C), SIGTERM or SIGHUP. The
/// headless commands then cancel their work and exit, so it ends `cancelled` in the store
/// instead of staying `running` under a process that is gone.
pub async fn stop_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut signals: Vec<_> = [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ]
    .into_iter()
    .filter_map(|kind| signal(kind).ok())
    .collect();
    if signals.is_empty() {
        return std::future::pending().await;
    }
    futures::future::select_all(signals.iter_mut().map(|s| Box::pin(s.recv()))).await;
}

/// The text a command works on: its words joined, else stdin (when it is not a terminal). On
/// failure the error is printed, naming `command` and `what` it wanted, and the exit code is
/// returned.
pub fn words_or_stdin(words: &[String], command: &str, what: &str) -> Result<String, i32> {
    if !words.is_empty() {
        return Ok(words.join(" "));
    }
    match read_stdin_prompt() {
        Ok(Some(text)) => Ok(text),
        Ok(None) => {
            errln!("boocode {command}: no {what} given (pass it as an argument or on stdin)");
            Err(EXIT_USAGE)
        }
        Err(e) => {
            errln!("boocode {command}: reading the {what} from stdin: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// Reads the prompt from stdin when it is not a terminal.
fn read_stdin_prompt() -> Result<Option<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let text = std::io::read_to_string(stdin)?;
    let text = text.trim_end();
    Ok((!text.trim().is_empty()).then(|| text.to_string()))
}
