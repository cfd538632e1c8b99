//! A scripted Agent Client Protocol agent for tests and demos: JSON-RPC 2.0 over stdin/stdout,
//! written by hand (not with the SDK) so it can also misbehave on purpose.
//!
//! Start-up behaviour by flag:
//!   --hang-initialize   never answers `initialize`
//!   --exit-at-start     says why on stderr and exits 2 before reading anything
//!   --garbage           writes a line that is not JSON-RPC before anything else
//!   --stamp FILE        writes the time (Unix µs) it sent its first text chunk to FILE
//!
//! Turn behaviour by cues in the prompt text (any order; the reply echoes the prompt):
//!   [[think]]         a thought chunk
//!   [[plan]]          a plan with three entries
//!   [[commands]]      an `available_commands_update`
//!   [[mode:ID]]       switches its mode and says so (`current_mode_update`)
//!   [[read:PATH]]     `fs/read_text_file` of PATH, then says what it read
//!   [[edit:PATH]]     a tool call that writes PATH with `fs/write_text_file` and reports a diff
//!   [[permission]]    `session/request_permission`, then says which option it got
//!   [[slow:MS]]       waits MS ms before answering (a `session/cancel` ends the wait)
//!   [[crash]]         streams a chunk, then exits 3 mid-turn
//!   [[garbage]]       writes a line that is not JSON-RPC mid-turn
//!   [[usage]]         reports token usage with its answer
//!   [[term:CMD]]      an `execute` tool call embedding a terminal that runs `sh -c CMD`
//!                     (`terminal/create`, `wait_for_exit`, `output`, `release`), then says
//!                     how it ended and what it printed; a cancel meanwhile ends the turn
//!   [[term-limit:N]]  later terminals ask for at most N bytes of output
//!   [[json:TEXT]]     answers exactly TEXT (instead of echoing the prompt)
//!   [[term-kill:CMD]] runs `sh -c CMD`, `terminal/kill`s it once it printed something, then
//!                     says how it ended and releases it

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Agent {
    inbox: mpsc::Receiver<Value>,
    next_id: i64,
    stamp: Option<String>,
    stamped: bool,
    session: String,
    mode: String,
    /// A `session/cancel` came while the agent waited for an answer.
    cancelled: bool,
    /// `outputByteLimit` of the terminals it creates.
    output_limit: Option<u64>,
}

fn send(message: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{message}");
    let _ = out.flush();
}

fn respond(id: &Value, result: Value) {
    send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
}

impl Agent {
    fn update(&mut self, update: Value) {
        send(&json!({
            "jsonrpc": "2.0",
            "method": "session/update",
            "params": {"sessionId": self.session, "update": update}
        }));
    }

    fn say(&mut self, text: &str) {
        if !self.stamped {
            self.stamped = true;
            if let Some(file) = &self.stamp {
                let micros = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_micros())
                    .unwrap_or(0);
                let _ = std::fs::write(file, micros.to_string());
            }
        }
        self.update(json!({
            "sessionUpdate": "agent_message_chunk",
            "content": {"type": "text", "text": text}
        }));
    }

    /// Sends a request to the client and waits for its answer (a cancel meanwhile is noted).
    fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        while let Ok(message) = self.inbox.recv() {
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return match message.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
            if message.get("method").and_then(Value::as_str) == Some("session/cancel") {
                self.cancelled = true;
            }
        }
        std::process::exit(0);
    }

    /// Waits `ms`; true when a `session/cancel` came meanwhile.
    fn wait_cancellable(&mut self, ms: u64) -> bool {
        let until = Instant::now() + Duration::from_millis(ms);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.inbox.recv_timeout(left) {
                Ok(m) if m.get("method").and_then(Value::as_str) == Some("session/cancel") => {
                    return true
                }
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => return false,
                Err(mpsc::RecvTimeoutError::Disconnected) => std::process::exit(0),
            }
        }
    }

    fn prompt(&mut self, id: &Value, params: &Value) {
        let text: String = params["prompt"]
            .as_array()
            .map(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("")
            })
            .unwrap_or_default();
        let cues: Vec<String> = text
            .split("[[")
            .skip(1)
            .filter_map(|rest| rest.split_once("]]").map(|(cue, _)| cue.to_string()))
            .collect();
        let mut usage = false;
        let mut answer = None;
        for cue in &cues {
            let (name, arg) = cue.split_once(':').unwrap_or((cue.as_str(), ""));
            match name {
                "think" => self.update(json!({
                    "sessionUpdate": "agent_thought_chunk",
                    "content": {"type": "text", "text": "Thinking it over."}
                })),
                "plan" => self.update(json!({
                    "sessionUpdate": "plan",
                    "entries": [
                        {"content": "read the code", "priority": "high", "status": "completed"},
                        {"content": "make the change", "priority": "high", "status": "in_progress"},
                        {"content": "run the tests", "priority": "medium", "status": "pending"}
                    ]
                })),
                "commands" => self.update(json!({
                    "sessionUpdate": "available_commands_update",
                    "availableCommands": [
                        {"name": "review", "description": "Review the changes"},
                        {"name": "init", "description": "Write an AGENTS.md"}
                    ]
                })),
                "mode" => {
                    self.mode = arg.to_string();
                    self.update(
                        json!({"sessionUpdate": "current_mode_update", "currentModeId": arg}),
                    );
                }
                "read" => {
                    let answer = self.request(
                        "fs/read_text_file",
                        json!({"sessionId": self.session, "path": arg}),
                    );
                    match answer {
                        Ok(r) => self.say(&format!(
                            "read {arg}: {}",
                            r["content"].as_str().unwrap_or("")
                        )),
                        Err(e) => self.say(&format!("could not read {arg}: {e}")),
                    }
                }
                "edit" => self.edit(arg),
                "permission" => {
                    self.update(json!({
                        "sessionUpdate": "tool_call", "toolCallId": "call-perm",
                        "title": "Run rm -rf build", "kind": "execute", "status": "pending"
                    }));
                    let answer = self.request("session/request_permission", json!({
                        "sessionId": self.session,
                        "toolCall": {"toolCallId": "call-perm", "title": "Run rm -rf build", "kind": "execute"},
                        "options": [
                            {"optionId": "allow-once", "name": "Allow once", "kind": "allow_once"},
                            {"optionId": "allow-always", "name": "Always allow", "kind": "allow_always"},
                            {"optionId": "reject-once", "name": "Reject", "kind": "reject_once"}
                        ]
                    }));
                    let outcome = match answer {
                        Ok(r) => match r["outcome"]["outcome"].as_str() {
                            Some("selected") => {
                                r["outcome"]["optionId"].as_str().unwrap_or("?").to_string()
                            }
                            other => other.unwrap_or("?").to_string(),
                        },
                        Err(e) => format!("error {e}"),
                    };
                    let status = if outcome.starts_with("allow") {
                        "completed"
                    } else {
                        "failed"
                    };
                    self.update(json!({
                        "sessionUpdate": "tool_call_update", "toolCallId": "call-perm", "status": status,
                        "content": [{"type": "content", "content": {"type": "text", "text": format!("permission: {outcome}")}}]
                    }));
                    self.say(&format!("permission: {outcome}. "));
                }
                "slow" => {
                    let ms = arg.parse().unwrap_or(1000);
                    self.say("working… ");
                    if self.wait_cancellable(ms) {
                        respond(id, json!({"stopReason": "cancelled"}));
                        return;
                    }
                }
                "crash" => {
                    self.say("about to crash ");
                    eprintln!("scripted agent: crashing on purpose");
                    std::process::exit(3);
                }
                "garbage" => {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "Debug: this line is not JSON-RPC");
                    let _ = out.flush();
                }
                "usage" => usage = true,
                "json" => answer = Some(arg.to_string()),
                "term-limit" => self.output_limit = arg.parse().ok(),
                "term" | "term-kill" => {
                    self.terminal(arg, name == "term-kill");
                    if self.cancelled {
                        respond(id, json!({"stopReason": "cancelled"}));
                        return;
                    }
                }
                _ => {}
            }
        }
        let clean: String = cues
            .iter()
            .fold(text.clone(), |t, c| t.replace(&format!("[[{c}]]"), ""));
        match answer {
            Some(text) => self.say(&text),
            None => {
                self.say("You said: ");
                self.say(clean.trim());
            }
        }
        let mut result = json!({"stopReason": "end_turn"});
        if usage {
            result["usage"] = json!({"totalTokens": 150, "inputTokens": 100, "outputTokens": 50, "cachedReadTokens": 40});
        }
        respond(id, result);
    }

    /// Runs `sh -c command` in a terminal embedded in an `execute` tool call.
    fn terminal(&mut self, command: &str, kill: bool) {
        let call = format!("call-term-{}", self.next_id);
        let mut create = json!({
            "sessionId": self.session, "command": "sh", "args": ["-c", command],
            "env": [{"name": "SCRIPTED_TERMINAL", "value": "yes"}]
        });
        if let Some(limit) = self.output_limit {
            create["outputByteLimit"] = json!(limit);
        }
        let terminal = match self.request("terminal/create", create) {
            Ok(r) => r["terminalId"].as_str().unwrap_or("").to_string(),
            Err(e) => {
                self.say(&format!(
                    "terminal refused: {} ",
                    e["data"].as_str().unwrap_or("")
                ));
                return;
            }
        };
        self.update(json!({
            "sessionUpdate": "tool_call", "toolCallId": call, "title": format!("Run {command}"),
            "kind": "execute", "status": "in_progress",
            "content": [{"type": "terminal", "terminalId": terminal}]
        }));
        let ids = json!({"sessionId": self.session, "terminalId": terminal});
        if kill {
            // Wait until the command has started (printed something), then kill it.
            loop {
                let out = self
                    .request("terminal/output", ids.clone())
                    .unwrap_or_default();
                if !out["output"].as_str().unwrap_or("").is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.request("terminal/kill", ids.clone());
        }
        let exit = self
            .request("terminal/wait_for_exit", ids.clone())
            .unwrap_or_default();
        let out = self
            .request("terminal/output", ids.clone())
            .unwrap_or_default();
        let _ = self.request("terminal/release", ids.clone());
        let after_release = match self.request("terminal/output", ids) {
            Ok(_) => "still there",
            Err(_) => "gone",
        };
        let status = if exit["exitCode"] == json!(0) {
            "completed"
        } else {
            "failed"
        };
        self.update(json!({
            "sessionUpdate": "tool_call_update", "toolCallId": call, "status": status,
            "content": [{"type": "terminal", "terminalId": terminal}]
        }));
        self.say(&format!(
            "terminal exit {} signal {} truncated {} released {after_release} output <{}> ",
            exit["exitCode"],
            exit["signal"],
            out["truncated"],
            out["output"].as_str().unwrap_or(""),
        ));
    }

    fn edit(&mut self, path: &str) {
        let call = format!("call-edit-{}", self.next_id);
        self.update(json!({
            "sessionUpdate": "tool_call", "toolCallId": call, "title": format!("Edit {path}"),
            "kind": "edit", "status": "in_progress", "locations": [{"path": path, "line": 1}]
        }));
        let old = self
            .request(
                "fs/read_text_file",
                json!({"sessionId": self.session, "path": path}),
            )
            .ok()
            .and_then(|r| r["content"].as_str().map(str::to_string));
        let new = format!(
            "{}edited by the scripted agent\n",
            old.clone().unwrap_or_default()
        );
        let written = self.request(
            "fs/write_text_file",
            json!({"sessionId": self.session, "path": path, "content": new}),
        );
        let update = match written {
            Ok(_) => json!({
                "sessionUpdate": "tool_call_update", "toolCallId": call, "status": "completed",
                "content": [{"type": "diff", "path": path, "oldText": old, "newText": new}]
            }),
            Err(e) => json!({
                "sessionUpdate": "tool_call_update", "toolCallId": call, "status": "failed",
                "content": [{"type": "content", "content": {"type": "text", "text": format!("write refused: {}", e["data"].as_str().unwrap_or(""))}}]
            }),
        };
        self.update(update);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    if flag("--exit-at-start") {
        eprintln!("scripted agent: no credentials configured");
        std::process::exit(2);
    }
    if flag("--garbage") {
        println!("Welcome to the scripted agent v0!");
    }
    let stamp = args
        .iter()
        .position(|a| a == "--stamp")
        .and_then(|i| args.get(i + 1).cloned());
    let (tx, inbox) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<Value>(&line) {
                Ok(v) => {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                Err(e) => eprintln!("scripted agent: bad line from the client: {e}"),
            }
        }
    });
    let mut agent = Agent {
        inbox,
        next_id: 1000,
        stamp,
        stamped: false,
        session: String::new(),
        mode: "code".into(),
        cancelled: false,
        output_limit: None,
    };
    while let Ok(message) = agent.inbox.recv() {
        let Some(method) = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            continue;
        };
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let params = message.get("params").cloned().unwrap_or(Value::Null);
        match method.as_str() {
            "initialize" => {
                if flag("--hang-initialize") {
                    continue;
                }
                respond(
                    &id,
                    json!({
                        "protocolVersion": 1,
                        "agentCapabilities": {"loadSession": true},
                        "authMethods": [],
                        "agentInfo": {"name": "scripted-agent", "version": "1"}
                    }),
                );
            }
            "session/new" | "session/load" => {
                agent.session = match params["sessionId"].as_str() {
                    Some(old) => old.to_string(),
                    None => format!("scripted-session-{}", std::process::id()),
                };
                eprintln!("scripted agent: {method} {}", agent.session);
                let modes = json!({
                    "currentModeId": agent.mode,
                    "availableModes": [{"id": "code", "name": "Code"}, {"id": "plan", "name": "Plan"}]
                });
                let models = json!({
                    "currentModelId": "scripted-small",
                    "availableModels": [
                        {"modelId": "scripted-small", "name": "Small"},
                        {"modelId": "scripted-large", "name": "Large"}
                    ]
                });
                let mut result = json!({"modes": modes, "models": models});
                if method == "session/new" {
                    result["sessionId"] = json!(agent.session);
                }
                respond(&id, result);
            }
            "session/set_mode" => {
                agent.mode = params["modeId"].as_str().unwrap_or("code").to_string();
                respond(&id, json!({}));
            }
            "session/set_model" => respond(&id, json!({})),
            "session/prompt" => {
                agent.cancelled = false;
                agent.prompt(&id, &params)
            }
            "session/cancel" => {}
            _ if !id.is_null() => send(&json!({
                "jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": format!("method not found: {method}")}
            })),
            _ => {}
        }
    }
}
