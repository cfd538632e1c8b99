//! Measures context compaction against the scripted model server: a long session whose every
//! turn reads a large file, on a server that refuses prompts past the model's window and
//! simulates a provider's prompt cache.
//!
//! ```text
//! cargo run --release --example compaction_cache -- [--turns 200] [--window 32000] [--file-kb 16]
//! ```
//!
//! Prints whether any turn failed, how often the chat compacted, and the prompt-cache hit
//! ratio (hit tokens ÷ prompt tokens, every model call included) of the whole session and of
//! the turns before the first compaction (where the session is the same as one without
//! compaction). The figures go to benches/RESULTS.md.

#[path = "../tests/support/mock_server.rs"]
mod mock_server;

use std::collections::BTreeMap;

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::agent::{TurnRequest, TurnStatus};
use boocode::core::config::{Config, Environment, Overrides};
use boocode::core::context::compaction::SUMMARY_PROMPT_HEAD;
use boocode::core::engine::{Engine, EngineOptions};
use boocode::core::events::Event;
use boocode::core::llm::types::Usage;

use mock_server::{Match, MockServer, Reply, Step};

struct Options {
    turns: usize,
    window: u64,
    file_kb: usize,
}

fn options() -> Options {
    let mut o = Options {
        turns: 200,
        window: 32_000,
        file_kb: 16,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--turns", Some(v)) => o.turns = v as usize,
            ("--window", Some(v)) => o.window = v,
            ("--file-kb", Some(v)) => o.file_kb = v as usize,
            _ => {
                eprintln!("usage: compaction_cache [--turns N] [--window TOKENS] [--file-kb KB]");
                std::process::exit(2)
            }
        }
    }
    o
}

fn script() -> Vec<Step> {
    vec![
        Reply::summary()
            .when(Match::last_user_contains(SUMMARY_PROMPT_HEAD))
            .repeat(),
        Reply::text("Read it; the file lists the entries, nothing unusual.")
            .when(Match::last_role("tool"))
            .repeat(),
        Reply::tool_call("read_file", r#"{"file_path":"big.txt"}"#)
            .when(Match::last_role("user"))
            .repeat(),
    ]
}

fn ratio(usage: &Usage) -> f64 {
    100.0 * usage.cache_hit_tokens as f64 / usage.prompt_tokens.max(1) as f64
}

#[tokio::main]
async fn main() {
    let o = options();
    let project = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let line = "0123456789 lorem ipsum dolor sit amet, consectetur adipiscing elit\n";
    let file: String = line.repeat(o.file_kb * 1024 / line.len());
    std::fs::write(project.path().join("big.txt"), file).expect("write big.txt");
    std::fs::create_dir_all(project.path().join(".boocode")).expect("mkdir");
    std::fs::write(
        project.path().join(".boocode/config.toml"),
        format!(
            "max_attempts = 1\n[models.mock-model]\ncontext_window = {}\n",
            o.window
        ),
    )
    .expect("write config");

    let server = MockServer::start(script()).await;
    server.set_context_limit(Some(o.window));
    server.simulate_prompt_cache(true);
    let env = Environment {
        vars: BTreeMap::from([
            ("HOME".into(), home.path().to_string_lossy().into_owned()),
            (
                "BOOCODE_HOME".into(),
                home.path().to_string_lossy().into_owned(),
            ),
        ]),
        user_config: None,
    };
    let config = Config::load(
        project.path(),
        &env,
        &Overrides {
            base_url: Some(server.base_url()),
            model: Some("mock-model".into()),
            api_key: Some("sk-measure".into()),
            approval: Some(ApprovalMode::ReadOnly),
            ..Overrides::default()
        },
    )
    .expect("config");
    let (engine, mut events, _) = Engine::start(EngineOptions {
        config,
        project_root: project.path().to_path_buf(),
        interactive: false,
    })
    .expect("engine");
    let session = engine.open_session(None, false).expect("session");
    let chat = engine.main_chat(&session).expect("chat");

    let mut failed = Vec::new();
    let mut compactions: Vec<(i64, String, bool)> = Vec::new();
    for n in 1..=o.turns {
        let request = TurnRequest::new(
            &chat.id,
            &format!("turn {n}: read big.txt"),
            ApprovalMode::ReadOnly,
        );
        let outcome = engine.run_turn(request).await;
        if outcome.status != TurnStatus::Completed {
            failed.push((n, outcome.error.unwrap_or_default()));
        }
        while let Ok(event) = events.try_recv() {
            if let Event::ContextCompacted {
                notice, summarized, ..
            } = event
            {
                compactions.push((outcome.turn, notice, summarized > 0));
            }
        }
    }

    let turns = engine.store().turn_usage(&chat.id).expect("usage");
    let first = compactions.first().map_or(i64::MAX, |c| c.0);
    let mut all = Usage::default();
    let mut before_first = Usage::default();
    for t in &turns {
        all.add(&t.usage);
        if t.turn_number < first {
            before_first.add(&t.usage);
        }
    }
    let summaries = compactions.iter().filter(|c| c.2).count();
    println!(
        "turns: {}, window: {} tokens, file: {} KB, failed turns: {}",
        o.turns,
        o.window,
        o.file_kb,
        failed.len()
    );
    for (n, e) in failed.iter().take(3) {
        println!("  turn {n} failed: {e}");
    }
    println!(
        "compactions: {} ({} clipping only, {} with a summary); first at turn {}",
        compactions.len(),
        compactions.len() - summaries,
        summaries,
        if first == i64::MAX {
            "-".to_string()
        } else {
            first.to_string()
        }
    );
    if let Some((turn, notice, _)) = compactions.first() {
        println!("  turn {turn}: {notice}");
    }
    println!(
        "cache hit ratio: whole session {:.1} % ({} of {} prompt tokens); before the first compaction {:.1} % ({} of {})",
        ratio(&all),
        all.cache_hit_tokens,
        all.prompt_tokens,
        ratio(&before_first),
        before_first.cache_hit_tokens,
        before_first.prompt_tokens,
    );
    println!("requests: {}", server.request_count());
}
