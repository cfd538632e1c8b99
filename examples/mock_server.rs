//! Runnable scripted OpenAI-compatible server for trying boocode without a real provider.
//!
//! ```text
//! cargo run --example mock_server -- [--port N] [--script FILE.json] [--context-limit TOKENS]
//!     [--simulate-cache]
//! ```
//!
//! Prints the base URL (`http://127.0.0.1:PORT/v1`) as the first line of stdout and serves until
//! killed. Without `--script` it runs a built-in demo: any prompt gets a markdown answer, and a
//! prompt containing "list files" gets a `list_dir` tool call followed, after the tool result,
//! by a summary. `--context-limit` refuses longer prompts with OpenAI's context-length error;
//! `--simulate-cache` reports prompt-cache hits like a provider. See `examples/scripts/demo.json` and the docs of `tests/support/mock_server.rs`
//! for the script format.

#[path = "../tests/support/mock_server.rs"]
mod mock_server;

use std::io::Write;

use mock_server::{Match, MockServer, Reply, Step, UsageSpec};

fn demo_script() -> Vec<Step> {
    vec![
        Reply::text(
            "Here is what I found:\n\n| entry | kind |\n|---|---|\n| `Cargo.toml` | file |\n\
             | `src/` | directory |\n| `tests/` | directory |\n\nAnything else?",
        )
        .reasoning("The tool returned the listing; summarise it.")
        .usage(
            UsageSpec::new(420, 48)
                .reasoning_tokens(12)
                .cache_hit_tokens(384),
        )
        .when(Match::has_tool_result_for("list_dir"))
        .when(Match::last_role("tool"))
        .repeat(),
        Reply::tool_call("list_dir", r#"{"path": "."}"#)
            .reasoning("The user wants the files; call list_dir.")
            .when(Match::last_user_contains("list files"))
            .repeat(),
        Reply::text(
            "# Mock answer\n\nThis reply comes from the **boocode mock server**.\n\n\
             - item one\n- item two\n\n```rust\nfn main() {\n    println!(\"hello\");\n}\n```\n",
        )
        .reasoning("A friendly markdown answer.")
        .chunk_chars(6)
        .delay_ms_per_chunk(20)
        .repeat(),
    ]
}

fn usage() -> ! {
    eprintln!(
        "usage: mock_server [--port N] [--script FILE.json] [--context-limit TOKENS] [--simulate-cache]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut port = 0u16;
    let mut script = None;
    let mut context_limit = None;
    let mut simulate_cache = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--script" => script = Some(args.next().unwrap_or_else(|| usage())),
            "--context-limit" => {
                context_limit = Some(
                    args.next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| usage()),
                )
            }
            "--simulate-cache" => simulate_cache = true,
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let steps = match script {
        Some(path) => {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                eprintln!("mock_server: read {path}: {e}");
                std::process::exit(1)
            });
            mock_server::parse_script(&text).unwrap_or_else(|e| {
                eprintln!("mock_server: bad script {path}: {e}");
                std::process::exit(1)
            })
        }
        None => demo_script(),
    };
    let server = MockServer::start_on(port, steps).await;
    server.set_context_limit(context_limit);
    server.simulate_prompt_cache(simulate_cache);
    println!("{}", server.base_url());
    std::io::stdout().flush().ok();
    eprintln!("mock_server: serving POST {}", server.completions_url());
    tokio::signal::ctrl_c().await.ok();
    eprintln!("mock_server: {} requests served", server.request_count());
}
