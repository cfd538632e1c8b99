//! Workflows end to end: the real engine, the real script worker (this package's binary,
//! `boocode __workflow-worker`, running Boa) and the scripted model server. The workflows are
//! written the way Claude Code workflows are (plain top-level body after `export const meta`,
//! top-level `await` and `return`) and live as project files under `.boocode/workflows/` or
//! `.claude/workflows/` of a throw-away project.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use boocode::core::agent::tools::ApprovalMode;
use boocode::core::events::Event;
use boocode::core::workflow::protocol::WorkerLimits;
use boocode::core::workflow::{RunOptions, RunOutcome, WorkerCommand};
use serde_json::{json, Value};

use support::harness::{write, Harness, FAST_RETRIES};
use support::mock_server::{CallSpec, Match, MockServer, Reply, Step, UsageSpec};

const RUN_TIMEOUT: Duration = Duration::from_secs(60);

fn real_worker() -> WorkerCommand {
    WorkerCommand::new(env!("CARGO_BIN_EXE_boocode"), &["__workflow-worker"])
}

/// An engine on the scripted server with the real worker; `config` is appended to the
/// project's config file.
async fn harness(script: Vec<Step>, config: &str) -> Harness {
    let config = format!("{FAST_RETRIES}{config}");
    let h = Harness::with_config(script, ApprovalMode::ReadOnly, &config).await;
    h.engine.set_workflow_worker(real_worker());
    h
}

/// Writes `.boocode/workflows/<file>`.
fn workflow(h: &Harness, file: &str, source: &str) {
    write(
        h.project.path(),
        &format!(".boocode/workflows/{file}"),
        source,
    );
}

async fn run(h: &Harness, name: &str, options: RunOptions) -> RunOutcome {
    tokio::time::timeout(RUN_TIMEOUT, h.engine.run_workflow(name, options))
        .await
        .unwrap_or_else(|_| panic!("run of {name} did not finish within {RUN_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("run of {name} could not start: {e:#}"))
}

async fn run_args(h: &Harness, name: &str, args: Value) -> RunOutcome {
    run(
        h,
        name,
        RunOptions {
            args,
            concurrency: Some(4),
            ..RunOptions::default()
        },
    )
    .await
}

fn completed(outcome: &RunOutcome) -> &Value {
    assert_eq!(outcome.status, "completed", "{outcome:#?}");
    outcome.result.as_ref().expect("a result")
}

fn logs(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::WorkflowLog { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn phases(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::WorkflowPhase { title, .. } => Some(title.clone()),
            _ => None,
        })
        .collect()
}

/// The text of the last user message of a recorded request.
fn last_user(request: &Value) -> String {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn user_texts(h: &Harness) -> Vec<String> {
    h.server.requests().iter().map(last_user).collect()
}

fn says(s: &str) -> Match {
    Match::last_user_contains(s)
}

fn answer(text: &str, when: &str) -> Step {
    Reply::text(text)
        .usage(UsageSpec::new(10, 5))
        .when(says(when))
}

/// A `structured_output` call with these arguments.
fn structured(args: Value) -> Reply {
    Reply::tool_call("structured_output", args.to_string())
}

// --- (a) fan-out ---------------------------------------------------------------------------------

const FANOUT: &str = r#"export const meta = {
  name: 'fanout',
  description: 'Summarise every item in parallel.',
  phases: ['Summarise'],
};

phase('Summarise');
const items = args.items;
const out = await parallel(items.map((item) => () => agent(`Summarise ${item}.`, { label: item })));
log(`${out.filter((x) => x !== null).length} of ${out.length} summaries`);
return out;
"#;

#[tokio::test]
async fn fan_out_keeps_input_order_and_a_failing_agent_becomes_null() {
    let items = ["item-0", "item-1", "item-2", "item-3", "item-4"];
    // Earlier items answer later, so the calls finish in reverse order; item-2 is refused.
    let mut script: Vec<Step> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let when = format!("Summarise {item}.");
        if i == 2 {
            script.push(
                Reply::http_error_fixture(402, "X-err-402-insufficient-balance.json")
                    .when(says(&when)),
            );
        } else {
            let delay = 60 * (items.len() - i) as u64;
            script.push(
                Reply::stall(delay, Reply::text(format!("S:{item}")))
                    .when(says(&when))
                    .repeat(),
            );
        }
    }
    let mut h = harness(script, "").await;
    workflow(&h, "fanout.js", FANOUT);
    let outcome = run_args(&h, "fanout", json!({ "items": items })).await;
    assert_eq!(
        completed(&outcome),
        &json!(["S:item-0", "S:item-1", null, "S:item-3", "S:item-4"])
    );
    assert_eq!((outcome.agents, outcome.cached), (5, 0));
    // The 402 is final: one request per item, no retry.
    assert_eq!(h.server.request_count(), 5);
    let events = h.drain_events();
    let logs = logs(&events);
    let failed = logs
        .iter()
        .find(|l| l.starts_with("parallel[2] failed: "))
        .unwrap_or_else(|| panic!("no failure line in {logs:?}"));
    assert!(failed.to_lowercase().contains("balance"), "{failed}");
    assert!(logs.contains(&"4 of 5 summaries".to_string()), "{logs:?}");
    assert_eq!(phases(&events), vec!["Summarise"]);
    let details = h.engine.workflow_run_details(&outcome.run_id).unwrap();
    let mut statuses: Vec<(String, String)> = details
        .agents
        .iter()
        .map(|a| (a.label.clone().unwrap_or_default(), a.status.clone()))
        .collect();
    statuses.sort();
    assert_eq!(statuses[2], ("item-2".into(), "failed".into()));
    assert!(statuses
        .iter()
        .enumerate()
        .all(|(i, (_, s))| i == 2 || s == "completed"));
    assert!(details
        .agents
        .iter()
        .all(|a| a.phase.as_deref() == Some("Summarise")));
}

// --- (b) loop until dry --------------------------------------------------------------------------

const DRY: &str = r#"export const meta = {
  name: 'until-dry',
  description: 'Hunt in rounds until two rounds in a row find nothing new.',
};

const schema = {
  type: 'object',
  properties: { findings: { type: 'array', items: { type: 'string' } } },
  required: ['findings'],
};
const known = [];
let quiet = 0;
let round = 0;
while (quiet < 2 && round < 10) {
  round += 1;
  const r = await agent(`Round ${round}: find bugs. Already known: ${known.join(', ') || 'none'}`, {
    schema,
    label: `round ${round}`,
  });
  const fresh = r.findings.filter((f) => !known.includes(f));
  known.push(...fresh);
  quiet = fresh.length === 0 ? quiet + 1 : 0;
  log(`round ${round}: ${fresh.length} new`);
}
return { rounds: round, known };
"#;

#[tokio::test]
async fn loop_until_dry_with_structured_output_and_a_schema_retry() {
    let mut h = harness(
        vec![
            // Round 1 first answers with an object that does not match the schema.
            Reply::tool_calls(vec![CallSpec::new(
                "structured_output",
                json!({"findings": "two bugs"}).to_string(),
            )
            .id("bad-1")])
            .when(says("Round 1:")),
            structured(json!({"findings": ["a", "b"]})).when(Match::All(vec![
                says("Round 1:"),
                Match::has_tool_result_for("bad-1"),
            ])),
            structured(json!({"findings": ["b", "c"]})).when(says("Round 2:")),
            structured(json!({"findings": ["a"]})).when(says("Round 3:")),
            structured(json!({"findings": []})).when(says("Round 4:")),
            structured(json!({"findings": ["never"]})).when(says("Round 5:")),
        ],
        "",
    )
    .await;
    workflow(&h, "dry.js", DRY);
    let outcome = run(&h, "until-dry", RunOptions::default()).await;
    assert_eq!(
        completed(&outcome),
        &json!({"rounds": 4, "known": ["a", "b", "c"]})
    );
    assert_eq!(outcome.agents, 4);
    let texts = user_texts(&h);
    assert_eq!(texts.len(), 5, "{texts:?}");
    assert!(texts[0].starts_with("Round 1: find bugs. Already known: none"));
    assert!(texts[2].starts_with("Round 2: find bugs. Already known: a, b"));
    assert!(texts[4].starts_with("Round 4: find bugs. Already known: a, b, c"));
    // The invalid object went back to the model as a schema error.
    let retry = &h.server.requests()[1];
    let tool = retry["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(tool.contains("does not match the schema"), "{tool}");
    assert_eq!(
        logs(&h.drain_events())[..4],
        [
            "round 1: 2 new",
            "round 2: 1 new",
            "round 3: 0 new",
            "round 4: 0 new"
        ]
    );
}

// --- (c) judge panel -----------------------------------------------------------------------------

const PANEL: &str = r#"export const meta = {
  name: 'panel',
  description: 'Ask a panel with different models, then let a judge decide.',
  phases: ['Panel', 'Judge'],
};

phase('Panel');
const panel = ['fast', 'strong', 'opus', 'custom-model-7'];
const opinions = await parallel(panel.map((m) => () =>
  agent(`Panelist ${m}: is ${args.claim} true?`, { model: m, label: `panelist ${m}` })));
phase('Judge');
const verdict = await agent(`Judge these opinions: ${opinions.join(' | ')}`, {
  model: 'strong',
  label: 'judge',
  schema: {
    type: 'object',
    properties: { winner: { type: 'string' }, agree: { type: 'integer' } },
    required: ['winner', 'agree'],
  },
});
return { opinions, verdict };
"#;

#[tokio::test]
async fn a_judge_panel_sends_each_agent_to_its_model() {
    let mut h = harness(
        vec![
            answer("yes (fast)", "Panelist fast:"),
            answer("no (strong)", "Panelist strong:"),
            answer("yes (opus)", "Panelist opus:"),
            answer("yes (custom)", "Panelist custom-model-7:"),
            structured(json!({"winner": "yes", "agree": 3})).when(says("Judge these opinions")),
        ],
        "\n[model_aliases]\nfast = \"quick-1\"\nstrong = \"big-1\"\n",
    )
    .await;
    workflow(&h, "panel.js", PANEL);
    let outcome = run_args(&h, "panel", json!({"claim": "P = NP"})).await;
    assert_eq!(
        completed(&outcome),
        &json!({
            "opinions": ["yes (fast)", "no (strong)", "yes (opus)", "yes (custom)"],
            "verdict": {"winner": "yes", "agree": 3},
        })
    );
    let mut models: Vec<(String, String)> = h
        .server
        .requests()
        .iter()
        .map(|r| {
            let who = last_user(r).split(':').next().unwrap().to_string();
            (who, r["model"].as_str().unwrap().to_string())
        })
        .collect();
    models.sort();
    assert_eq!(
        models,
        vec![
            ("Judge these opinions".into(), "big-1".into()),
            ("Panelist custom-model-7".into(), "custom-model-7".into()),
            ("Panelist fast".into(), "quick-1".into()),
            // `opus` has no alias here: the configured model.
            ("Panelist opus".into(), "mock-model".into()),
            ("Panelist strong".into(), "big-1".into()),
        ]
    );
    let judge = h
        .server
        .requests()
        .into_iter()
        .find(|r| last_user(r).starts_with("Judge"))
        .unwrap();
    assert!(last_user(&judge).contains("yes (fast) | no (strong) | yes (opus) | yes (custom)"));
    assert_eq!(phases(&h.drain_events()), vec!["Panel", "Judge"]);
    let details = h.engine.workflow_run_details(&outcome.run_id).unwrap();
    let judge_row = details
        .agents
        .iter()
        .find(|a| a.label.as_deref() == Some("judge"))
        .unwrap();
    assert_eq!(judge_row.phase.as_deref(), Some("Judge"));
    let chat = h
        .store()
        .get_chat(judge_row.chat_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(
        (chat.kind.as_str(), chat.model.as_str()),
        ("workflow", "big-1")
    );
}

// --- (d) nested workflows ------------------------------------------------------------------------

const OUTER: &str = r#"export const meta = { name: 'outer', description: 'Calls inner.' };

phase('Outer');
const first = await workflow('inner', { topic: 'tides' });
const second = await workflow({ scriptPath: '.claude/workflows/inner.js' }, { topic: 'moons' });
let missing = null;
try {
  await workflow('no-such-workflow');
} catch (e) {
  missing = e.message;
}
const summary = await agent(`Outer summary of ${first.answer} and ${second.answer}`);
return { outerArgs: args, first, second, missing, summary };
"#;

const INNER: &str = r#"export const meta = { name: 'inner', description: 'Answers about a topic.' };

phase(`Inner ${args.topic}`);
log(`inner got ${JSON.stringify(args)}`);
const answer = await agent(`Inner question about ${args.topic}`);
return { topic: args.topic, answer };
"#;

const MIDDLE: &str = r#"export const meta = { name: 'middle', description: 'Tries to go two levels deep.' };

log('middle starting');
return await workflow('inner', { topic: 'too deep' });
"#;

const TOP_CATCHES: &str = r#"export const meta = { name: 'top-catches', description: 'Catches the second level.' };

try {
  await workflow('middle');
  return 'no error';
} catch (e) {
  return `caught: ${e.message}`;
}
"#;

const TOP_THROWS: &str = r#"export const meta = { name: 'top-throws', description: 'Lets the second level throw.' };

const r = await workflow('middle', { x: 1 });
return r;
"#;

#[tokio::test]
async fn nested_workflows_run_one_level_deep() {
    let mut h = harness(
        vec![
            answer("high and low", "Inner question about tides"),
            answer("many", "Inner question about moons"),
            answer("done", "Outer summary of high and low and many"),
        ],
        "",
    )
    .await;
    workflow(&h, "outer.js", OUTER);
    write(h.project.path(), ".claude/workflows/inner.js", INNER);
    workflow(&h, "middle.js", MIDDLE);
    workflow(&h, "top-catches.js", TOP_CATCHES);
    workflow(&h, "top-throws.js", TOP_THROWS);

    let outcome = run_args(&h, "outer", json!({"mine": true})).await;
    let result = completed(&outcome);
    assert_eq!(result["outerArgs"], json!({"mine": true}));
    assert_eq!(
        result["first"],
        json!({"topic": "tides", "answer": "high and low"})
    );
    assert_eq!(
        result["second"],
        json!({"topic": "moons", "answer": "many"})
    );
    assert!(result["missing"]
        .as_str()
        .unwrap()
        .contains("no workflow named 'no-such-workflow'"));
    assert_eq!(result["summary"], "done");
    assert_eq!(outcome.agents, 3);
    let events = h.drain_events();
    assert_eq!(phases(&events), vec!["Outer", "Inner tides", "Inner moons"]);
    assert!(logs(&events).contains(&r#"inner got {"topic":"tides"}"#.to_string()));
    // Each agent is filed under the phase of the script that called it: the outer summary is
    // still in "Outer" after the nested workflows set their own phases.
    let details = h.engine.workflow_run_details(&outcome.run_id).unwrap();
    let mut by_phase: Vec<(String, String)> = details
        .agents
        .iter()
        .map(|a| {
            let prompt = a.spec["prompt"].as_str().unwrap().to_string();
            (prompt, a.phase.clone().unwrap_or_default())
        })
        .collect();
    by_phase.sort();
    assert_eq!(
        by_phase,
        vec![
            ("Inner question about moons".into(), "Inner moons".into()),
            ("Inner question about tides".into(), "Inner tides".into()),
            (
                "Outer summary of high and low and many".into(),
                "Outer".into()
            ),
        ]
    );

    let outcome = run(&h, "top-catches", RunOptions::default()).await;
    let caught = completed(&outcome).as_str().unwrap().to_string();
    assert!(
        caught.contains("workflow() nesting is limited to one level"),
        "{caught}"
    );

    let outcome = run(&h, "top-throws", RunOptions::default()).await;
    assert_eq!(outcome.status, "failed");
    let error = outcome.error.unwrap();
    assert!(error.starts_with("the script threw: "), "{error}");
    assert!(
        error.contains("workflow() nesting is limited to one level"),
        "{error}"
    );
    // Only the first workflow asked the model anything.
    assert_eq!(h.server.request_count(), 3);
}

// --- (e) pipeline --------------------------------------------------------------------------------

const PIPELINE: &str = r#"export const meta = { name: 'fruit', description: 'Describe, then rate, each fruit.' };

const fruit = ['apple', 'banana', 'cherry', 'durian', 'elderberry'];
const seen = [];
const out = await pipeline(
  fruit,
  (prev, item, index) => {
    seen.push(`0:${prev}:${item}:${index}`);
    return agent(`Describe ${item} (#${index}).`, { label: `describe ${item}` });
  },
  (prev, item, index) => {
    seen.push(`1:${item}:${index}`);
    if (prev.includes('SKIP')) return null;
    return agent(`Rate ${item}: ${prev}`, { label: `rate ${item}` });
  },
  (prev, item, index) => ({ item, index, rating: prev }),
);
return { out, stages: seen.sort() };
"#;

#[tokio::test]
async fn pipeline_passes_prev_item_index_and_drops_items() {
    let mut h = harness(
        vec![
            answer("crisp", "Describe apple (#0)."),
            Reply::stall(200, Reply::text("soft")).when(says("Describe banana (#1).")),
            answer("SKIP this one", "Describe cherry (#2)."),
            answer("spiky", "Describe durian (#3)."),
            answer("tiny", "Describe elderberry (#4)."),
            answer("8/10", "Rate apple: crisp"),
            answer("7/10", "Rate banana: soft"),
            Reply::http_error_fixture(402, "X-err-402-insufficient-balance.json")
                .when(says("Rate durian: spiky")),
            answer("9/10", "Rate elderberry: tiny"),
        ],
        "",
    )
    .await;
    workflow(&h, "fruit.js", PIPELINE);
    let outcome = run(
        &h,
        "fruit",
        RunOptions {
            concurrency: Some(8),
            ..RunOptions::default()
        },
    )
    .await;
    let result = completed(&outcome);
    assert_eq!(
        result["out"],
        json!([
            {"item": "apple", "index": 0, "rating": "8/10"},
            {"item": "banana", "index": 1, "rating": "7/10"},
            null,
            null,
            {"item": "elderberry", "index": 4, "rating": "9/10"},
        ])
    );
    // Stage 0 gets the item as `prev`; the null from cherry's stage 1 skipped its stage 2.
    assert_eq!(
        result["stages"],
        json!([
            "0:apple:apple:0",
            "0:banana:banana:1",
            "0:cherry:cherry:2",
            "0:durian:durian:3",
            "0:elderberry:elderberry:4",
            "1:apple:0",
            "1:banana:1",
            "1:cherry:2",
            "1:durian:3",
            "1:elderberry:4",
        ])
    );
    let events = h.drain_events();
    let logs = logs(&events);
    assert!(
        logs.iter()
            .any(|l| l.starts_with("pipeline[3] failed at stage 1: ")),
        "{logs:?}"
    );
    assert_eq!(h.server.request_count(), 9);
    // No barrier between stages: apple was rated before banana's slow description came back.
    let details = h.engine.workflow_run_details(&outcome.run_id).unwrap();
    let finished: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::WorkflowAgentFinished { agent_id, .. } => details
                .agents
                .iter()
                .find(|a| &a.id == agent_id)
                .and_then(|a| a.label.clone()),
            _ => None,
        })
        .collect();
    let at = |label: &str| finished.iter().position(|l| l == label).unwrap();
    assert!(at("rate apple") < at("describe banana"), "{finished:?}");
}

// --- (f) budget ----------------------------------------------------------------------------------

const PRICEY: &str = r#"export const meta = { name: 'pricey', description: 'Spends its budget.' };

const seen = { total: budget.total, before: budget.spent() };
const first = await agent('Expensive question');
seen.after = budget.spent();
seen.remaining = budget.remaining();
let second = null;
try {
  await agent('Second question');
} catch (e) {
  second = e.message;
}
const rest = await parallel([1, 2, 3].map((i) => () => agent(`Parallel question ${i}`)));
return { first, second, rest, seen };
"#;

#[tokio::test]
async fn a_small_budget_makes_later_agent_calls_throw() {
    let mut h = harness(
        vec![
            Reply::text("costly answer")
                .usage(UsageSpec::new(100, 50))
                .when(says("Expensive question")),
            Reply::text("never").repeat(),
        ],
        "",
    )
    .await;
    workflow(&h, "pricey.js", PRICEY);
    let outcome = run(
        &h,
        "pricey",
        RunOptions {
            budget: Some(120),
            ..RunOptions::default()
        },
    )
    .await;
    let exhausted = "budget exhausted (spent 150 of 120 tokens)";
    assert_eq!(
        completed(&outcome),
        &json!({
            "first": "costly answer",
            "second": exhausted,
            "rest": [null, null, null],
            "seen": {"total": 120, "before": 0, "after": 150, "remaining": 0},
        })
    );
    assert_eq!(h.server.request_count(), 1);
    assert_eq!(outcome.tokens_spent, 150);
    let logs = logs(&h.drain_events());
    for i in 0..3 {
        let line = format!("parallel[{i}] failed: {exhausted}");
        assert!(logs.contains(&line), "{line} not in {logs:?}");
    }
}

// --- (g) resumability ----------------------------------------------------------------------------

const RESUMABLE: &str = r#"export const meta = {
  name: 'resumable',
  description: 'Four parts in parallel, then a join.',
  phases: ['Parts', 'Join'],
};

phase('Parts');
const parts = await parallel(['p1', 'p2', 'p3', 'p4'].map((p) => () =>
  agent(`Part ${p} of ${args.topic}.`, { label: p })));
phase('Join');
const joined = await agent(`Join ${args.topic}: ${parts.join(',')}`, { label: 'join' });
return { parts, joined };
"#;

fn part(topic: &str, p: &str, delay_ms: u64) -> Step {
    Reply::stall(
        delay_ms,
        Reply::text(format!("{}-{topic}", p.to_uppercase())).usage(UsageSpec::new(10, 5)),
    )
    .when(says(&format!("Part {p} of {topic}.")))
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn reruns_are_served_from_the_cache_and_a_killed_run_resumes_only_unfinished_calls() {
    // Run 1 answers p4, p3, p2, p1 (reverse issue order).
    let mut h = harness(
        vec![
            part("cache", "p1", 240),
            part("cache", "p2", 160),
            part("cache", "p3", 80),
            part("cache", "p4", 0),
            answer("joined", "Join cache: P1-cache,P2-cache,P3-cache,P4-cache"),
        ],
        "",
    )
    .await;
    workflow(&h, "resumable.js", RESUMABLE);
    let args = json!({"topic": "cache"});
    let first = run_args(&h, "resumable", args.clone()).await;
    let expected = json!({
        "parts": ["P1-cache", "P2-cache", "P3-cache", "P4-cache"],
        "joined": "joined",
    });
    assert_eq!(completed(&first), &expected);
    assert_eq!((first.agents, first.cached), (5, 0));
    assert_eq!(h.server.request_count(), 5);
    h.drain_events();

    // The same workflow with the same args: everything from the store, no model request.
    let again = run_args(&h, "resumable", args).await;
    assert_eq!(completed(&again), &expected);
    assert_eq!((again.agents, again.cached, again.tokens_spent), (5, 5, 0));
    assert_eq!(h.server.request_count(), 5);
    let events = h.drain_events();
    assert!(logs(&events).contains(&"5/5 agents cached".to_string()));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::WorkflowAgentFinished { cached: true, .. }))
            .count(),
        5
    );
    let details = h.engine.workflow_run_details(&again.run_id).unwrap();
    assert!(details.agents.iter().all(|a| a.cached));
    let finished = details
        .events
        .iter()
        .find(|e| e.kind == "run_finished")
        .unwrap();
    assert_eq!(
        (&finished.payload["agents"], &finished.payload["cached"]),
        (&json!(5), &json!(5))
    );

    // A new topic (new prompts, so nothing cached): p3 then p1 answer, p2 and p4 hang; the
    // worker is killed while they are in flight.
    for step in [
        part("kill", "p1", 120),
        part("kill", "p2", 30_000),
        part("kill", "p3", 0),
        part("kill", "p4", 30_000),
    ] {
        h.server.push(step);
    }
    let run_id = h
        .engine
        .start_workflow(
            "resumable",
            RunOptions {
                args: json!({"topic": "kill"}),
                concurrency: Some(4),
                ..RunOptions::default()
            },
        )
        .unwrap();
    let store = h.engine.store().clone();
    wait_until("p1 and p3 to finish", RUN_TIMEOUT, || {
        let agents = store.list_workflow_agents(&run_id).unwrap();
        agents.len() == 4
            && agents.iter().filter(|a| a.status == "completed").count() == 2
            && h.server.request_count() == 9
    })
    .await;
    let pid = h.engine.workflow_worker_pid(&run_id).expect("worker pid");
    // SAFETY: a plain kill(2) of the worker this test's engine started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    wait_until("the killed run to end", RUN_TIMEOUT, || {
        h.engine.workflow_worker_pid(&run_id).is_none()
            && store
                .get_workflow_run(&run_id)
                .unwrap()
                .finished_at
                .is_some()
    })
    .await;
    let killed = store.get_workflow_run(&run_id).unwrap();
    assert_eq!(killed.status, "failed");
    let error = killed.error.unwrap();
    assert!(error.contains("the script worker died"), "{error}");
    assert!(error.contains("signal 9"), "{error}");
    let mut statuses: Vec<(String, String)> = store
        .list_workflow_agents(&run_id)
        .unwrap()
        .into_iter()
        .map(|a| (a.label.unwrap_or_default(), a.status))
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        vec![
            ("p1".into(), "completed".into()),
            ("p2".into(), "cancelled".into()),
            ("p3".into(), "completed".into()),
            ("p4".into(), "cancelled".into()),
        ]
    );

    // The resume answers in yet another order (p4 before p2); only p2, p4 and the join run.
    h.server.push(part("kill", "p2", 150));
    h.server.push(part("kill", "p4", 0));
    h.server.push(answer(
        "joined again",
        "Join kill: P1-kill,P2-kill,P3-kill,P4-kill",
    ));
    let before = h.server.request_count();
    h.drain_events();
    let resumed = tokio::time::timeout(RUN_TIMEOUT, h.engine.resume_workflow(&run_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        completed(&resumed),
        &json!({
            "parts": ["P1-kill", "P2-kill", "P3-kill", "P4-kill"],
            "joined": "joined again",
        })
    );
    assert_eq!((resumed.agents, resumed.cached), (5, 2));
    let new: Vec<String> = user_texts(&h)[before..].to_vec();
    assert_eq!(new.len(), 3, "{new:?}");
    assert!(
        new[..2].contains(&"Part p2 of kill.".to_string()),
        "{new:?}"
    );
    assert!(
        new[..2].contains(&"Part p4 of kill.".to_string()),
        "{new:?}"
    );
    assert!(new[2].starts_with("Join kill:"), "{new:?}");
    assert!(logs(&h.drain_events()).contains(&"2/5 agents cached".to_string()));
    let details = h.engine.workflow_run_details(&run_id).unwrap();
    assert_eq!(details.agents.len(), 5);
    assert!(details.agents.iter().all(|a| a.status == "completed"));
}

// --- (h) the built-in catalog --------------------------------------------------------------------

fn builtin_script() -> Vec<Step> {
    let finding = json!({"severity": "high", "location": "src/lib.rs:1", "title": "overflow",
                         "detail": "a + b overflows", "fix": "use checked_add"});
    vec![
        // deep-research
        structured(json!({"angles": [
            {"title": "shape", "question": "what shape is it?", "evidence": "src/lib.rs"},
            {"title": "size", "question": "how big is it?"},
        ]}))
        .when(says("You are scoping a research question"))
        .repeat(),
        structured(
            json!({"sources": [{"ref": "src/lib.rs:1", "note": "the add function"},
                                      {"ref": "README.md:1", "note": "the title"}]}),
        )
        .when(says("Research this sub-question"))
        .repeat(),
        structured(json!({"confirmed": ["add adds"], "disputed": [{"claim": "x", "why": "y"}]}))
            .when(says("Check them against each other"))
            .repeat(),
        // review-code
        structured(json!({"findings": [finding]}))
            .when(Match::Any(vec![
                says("problems only:"),
                says("Merge these code review findings"),
            ]))
            .repeat(),
        // find-issues: one issue in round 1, nothing after
        structured(
            json!({"issues": [{"location": "src/lib.rs:2", "summary": "overflow",
                                      "evidence": "i32 add"}]}),
        )
        .when(says("Round 1 of a bug hunt")),
        structured(json!({"issues": []}))
            .when(says("of a bug hunt"))
            .repeat(),
        // plan-verify
        structured(json!({"sound": false, "problems": ["misses tests"]}))
            .when(says("Check this plan against the actual code"))
            .repeat(),
        structured(
            json!({"items": [{"title": "write it", "files": ["src/lib.rs"],
                                     "done_when": "tests pass"}]}),
        )
        .when(says("Break this plan into ordered work items"))
        .repeat(),
        // bounty-hunt
        structured(
            json!({"findings": [{"title": "overflow", "location": "src/lib.rs:2",
                                        "severity": "high", "exploit": "pass i32::MAX"}]}),
        )
        .when(Match::Any(vec![
            says("You are a security researcher hunting"),
            says("Deduplicate these confirmed vulnerabilities"),
        ]))
        .repeat(),
        structured(json!({"real": true, "severity": "medium", "note": "only in debug"}))
            .when(says("Verify this reported vulnerability"))
            .repeat(),
        // Everything else is free text.
        Reply::text("A careful, plain answer.").repeat(),
    ]
}

#[tokio::test]
async fn every_built_in_workflow_runs_to_completion() {
    let h = harness(builtin_script(), "").await;
    let cases = [
        ("deep-research", json!("how does add work?")),
        ("review-code", json!({"target": "src/lib.rs"})),
        ("find-issues", json!("src/lib.rs")),
        ("multi-review", Value::Null),
        ("plan-verify", json!({"goal": "add subtraction"})),
        ("bounty-hunt", json!({"scope": "src/"})),
    ];
    let runs = cases.iter().map(|(name, args)| {
        run(
            &h,
            name,
            RunOptions {
                args: args.clone(),
                ..RunOptions::default()
            },
        )
    });
    let outcomes = futures::future::join_all(runs).await;
    for ((name, _), outcome) in cases.iter().zip(&outcomes) {
        let result = completed(outcome);
        let non_empty = match result {
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => false,
        };
        assert!(non_empty, "{name}: {result}");
        let run = h.store().get_workflow_run(&outcome.run_id).unwrap();
        assert_eq!(run.source, "built-in", "{name}");
        let details = h.engine.workflow_run_details(&outcome.run_id).unwrap();
        assert!(
            details.agents.iter().all(|a| a.status == "completed"),
            "{name}: {:?}",
            details.agents
        );
    }
    let by_name = |n: &str| {
        outcomes[cases.iter().position(|(name, _)| *name == n).unwrap()]
            .result
            .clone()
            .unwrap()
    };
    assert_eq!(by_name("deep-research"), json!("A careful, plain answer."));
    assert!(by_name("review-code")
        .as_str()
        .unwrap()
        .contains("**[high] overflow** — src/lib.rs:1"));
    assert!(by_name("find-issues")
        .as_str()
        .unwrap()
        .starts_with("# 1 issues in src/lib.rs (3 rounds)"));
    assert_eq!(by_name("multi-review"), json!("A careful, plain answer."));
    let plan = by_name("plan-verify");
    assert_eq!(plan["verified"]["sound"], false);
    assert_eq!(plan["items"][0]["title"], "write it");
    assert_eq!(by_name("bounty-hunt")[0]["title"], "overflow");
    // Agent counts follow each script: 1 scope + 2 searches + 2 sources analysed + verify +
    // synthesis; 3 lenses + merge; 3 rounds; 3 reviews + merge; plan, verify, revise, items;
    // 4 hunts, 4 verifications, dedupe.
    let agents: Vec<usize> = outcomes.iter().map(|o| o.agents).collect();
    assert_eq!(agents, vec![7, 4, 3, 4, 4, 9]);
}

// --- (i) sandbox escapes -------------------------------------------------------------------------

#[tokio::test]
async fn sandbox_escapes_fail_the_run_and_the_engine_keeps_working() {
    let h = harness(vec![answer("still here", "Are you there?")], "").await;
    let escapes = [
        (
            "req",
            "const fs = require('fs');\nreturn fs.readFileSync('/etc/passwd', 'utf8');",
            "require is not defined",
        ),
        (
            "env",
            "return process.env.BOOCODE_API_KEY;",
            "process is not defined",
        ),
        (
            "net",
            "const r = await fetch('http://127.0.0.1:1/');\nreturn r.status;",
            "fetch is not defined",
        ),
        (
            "ev",
            "return eval('1 + 1');",
            "eval() is not available in workflows",
        ),
        (
            "fn",
            "return Function('return globalThis')();",
            "the Function constructor is not available",
        ),
        (
            "ctor",
            "return (() => 1).constructor('return 1')();",
            "the Function constructor is not available",
        ),
        (
            "asyncctor",
            "return (async () => 1).constructor('return 1')();",
            "the AsyncFunction constructor is not available",
        ),
        (
            "dynimport",
            "const m = await import('fs');\nreturn m;",
            "import() is not available in workflows",
        ),
        (
            "statimport",
            "import fs from 'fs';\nreturn 1;",
            "`import` is not allowed in workflows",
        ),
    ];
    for (name, body, _) in &escapes {
        workflow(
            &h,
            &format!("{name}.js"),
            &format!("export const meta = {{ name: 'escape-{name}', description: 'tries to escape' }};\n{body}\n"),
        );
    }
    workflow(
        &h,
        "fine.js",
        "export const meta = { name: 'fine', description: 'asks once' };\nreturn await agent('Are you there?');\n",
    );
    for (name, _, message) in &escapes {
        let outcome = run(&h, &format!("escape-{name}"), RunOptions::default()).await;
        assert_eq!(outcome.status, "failed", "{name}: {outcome:?}");
        let error = outcome.error.unwrap_or_default();
        assert!(error.contains(message), "{name}: {error}");
        // Never a wrong line: Boa has no position for an undefined name at top level.
        assert!(
            !error.contains(&format!("/{name}.js:1:")),
            "{name}: {error}"
        );
        if ["ev", "fn", "ctor", "asyncctor"].contains(name) {
            // The user's file, relative to the project, and the line of the call.
            let at = format!("(at .boocode/workflows/{name}.js:2:");
            assert!(error.contains(&at), "{name}: {error}");
        }
    }
    assert_eq!(h.server.request_count(), 0);
    let outcome = run(&h, "fine", RunOptions::default()).await;
    assert_eq!(completed(&outcome), &json!("still here"));
}

// --- (j) runaway scripts -------------------------------------------------------------------------

#[tokio::test]
async fn an_infinite_loop_hits_a_limit_quickly_and_other_runs_keep_going() {
    let h = harness(vec![Reply::stall(100, Reply::text("steady")).repeat()], "").await;
    // The default limit (10 million iterations of one loop) takes tens of seconds in a debug
    // build; benches/RESULTS.md has the release figure.
    h.engine.set_workflow_limits(WorkerLimits {
        max_loop_iterations: 200_000,
        max_recursion: 256,
        ..WorkerLimits::default()
    });
    workflow(
        &h,
        "spin.js",
        "export const meta = { name: 'spin', description: 'never ends' };\nlet n = 0;\nwhile (true) { n += 1; }\n",
    );
    workflow(
        &h,
        "recurse.js",
        "export const meta = { name: 'recurse', description: 'never returns' };\nfunction f(n) { return f(n + 1) + 1; }\nreturn f(0);\n",
    );
    workflow(
        &h,
        "steady.js",
        "export const meta = { name: 'steady', description: 'asks in turn' };\nconst out = [];\nfor (let i = 0; i < 5; i++) out.push(await agent(`Step ${i}`));\nreturn out;\n",
    );
    let started = Instant::now();
    let (spin, steady, recurse) = tokio::join!(
        run(&h, "spin", RunOptions::default()),
        run(&h, "steady", RunOptions::default()),
        run(&h, "recurse", RunOptions::default()),
    );
    let elapsed = started.elapsed();
    assert_eq!(spin.status, "failed");
    let error = spin.error.unwrap();
    assert!(
        error.starts_with(
            "the script hit a resource limit: the script hit the loop iteration limit"
        ),
        "{error}"
    );
    assert_eq!(recurse.status, "failed");
    let error = recurse.error.unwrap();
    assert!(error.contains("recursion limit"), "{error}");
    assert_eq!(completed(&steady), &json!(vec!["steady"; 5]));
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[tokio::test]
async fn a_run_past_its_time_limit_fails_and_its_agent_is_cancelled() {
    let h = harness(vec![Reply::stall(30_000, Reply::text("late")).repeat()], "").await;
    workflow(
        &h,
        "slow.js",
        "export const meta = { name: 'slow', description: 'waits' };\nreturn await agent('Take your time');\n",
    );
    let started = Instant::now();
    let outcome = run(
        &h,
        "slow",
        RunOptions {
            timeout: Some(Duration::from_secs(1)),
            ..RunOptions::default()
        },
    )
    .await;
    assert_eq!(outcome.status, "failed");
    assert_eq!(
        outcome.error.as_deref(),
        Some("the run exceeded its time limit of 1 s")
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let agents = h.store().list_workflow_agents(&outcome.run_id).unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].status, "cancelled", "{agents:?}");
    assert!(
        h.server
            .wait_for_disconnects(1, Duration::from_secs(2))
            .await
    );
}

// --- (k) the CLI ---------------------------------------------------------------------------------

struct CliProject {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
    user_home: tempfile::TempDir,
    server: MockServer,
}

impl CliProject {
    fn new(script: Vec<Step>) -> CliProject {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), ".boocode/config.toml", FAST_RETRIES);
        CliProject {
            dir,
            home: tempfile::tempdir().unwrap(),
            user_home: tempfile::tempdir().unwrap(),
            server: MockServer::start_blocking(script),
        }
    }

    /// The binary with no worker override: it runs its own `__workflow-worker`.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_boocode"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.user_home.path())
            .env("XDG_CONFIG_HOME", self.user_home.path().join(".config"))
            .env("BOOCODE_HOME", self.home.path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .args(["--base-url", &self.server.base_url(), "--api-key", "sk-x"])
            .args(args)
            .output()
            .unwrap()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn the_cli_runs_with_the_real_worker_and_lists_every_source() {
    let p = CliProject::new(vec![Reply::text("ok")
        .usage(UsageSpec::new(30, 10))
        .when(says("Greet"))
        .repeat()]);
    write(
        p.path(),
        ".boocode/workflows/greet.js",
        r#"export const meta = { name: 'greet', description: 'Greets everyone.', phases: ['Greet'] };

phase('Greet');
const names = args.names;
const out = await parallel(names.map((n) => () => agent(`Greet ${n}`, { label: n })));
log(`greeted ${out.filter(Boolean).length}`);
return { greetings: out, spent: budget.spent() };
"#,
    );
    write(
        p.user_home.path(),
        ".boocode/workflows/mine.js",
        "export const meta = { name: 'review-code', description: 'my own review' };\nreturn 'mine';\n",
    );
    write(
        p.user_home.path(),
        ".claude/workflows/helper.js",
        "export const meta = { name: 'helper', description: 'a user helper' };\nreturn 1;\n",
    );
    write(
        p.path(),
        ".claude/workflows/broken.js",
        "export const meta = { name: 'broken', description: };\nreturn 1;\n",
    );

    let out = p.run(&["workflow", "list", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |n: &str| {
        list.iter()
            .find(|w| w["name"] == n)
            .unwrap_or_else(|| panic!("{n} not listed: {list:?}"))
            .clone()
    };
    assert_eq!(find("greet")["source"], "project");
    assert_eq!(find("greet")["phases"], json!(["Greet"]));
    assert_eq!(find("helper")["source"], "user");
    let review = find("review-code");
    assert_eq!(review["source"], "user");
    assert_eq!(review["overrides"], json!(["built-in:review-code.js"]));
    for builtin in [
        "deep-research",
        "find-issues",
        "multi-review",
        "plan-verify",
        "bounty-hunt",
    ] {
        assert_eq!(find(builtin)["source"], "built-in", "{builtin}");
    }
    let broken = list
        .iter()
        .find(|w| w["origin"].as_str().unwrap_or("").ends_with("broken.js"))
        .expect("the invalid file is listed");
    assert!(
        broken["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{broken}"
    );
    assert_eq!(broken["source"], "project");

    let out = p.run(&[
        "workflow",
        "run",
        "greet",
        "--json",
        "--args",
        r#"{"names": ["ann", "bob"]}"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"workflow_run_started"), "{kinds:?}");
    assert!(kinds.contains(&"workflow_phase"), "{kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "workflow_agent_finished")
            .count(),
        2,
        "{kinds:?}"
    );
    assert!(lines
        .iter()
        .any(|l| l["type"] == "workflow_log" && l["message"] == "greeted 2"));
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "workflow_result");
    assert_eq!(last["status"], "completed");
    assert_eq!(
        last["result"],
        json!({"greetings": ["ok", "ok"], "spent": 80})
    );
    assert_eq!(
        (last["agents"].clone(), last["cached"].clone()),
        (json!(2), json!(0))
    );

    // A budget on the command line: the first call spends it, the second throws.
    let out = p.run(&[
        "workflow",
        "run",
        "greet",
        "--json",
        "--no-cache",
        "--concurrency",
        "1",
        "--budget",
        "10",
        "--args",
        r#"{"names": ["cy", "di"]}"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let last = lines.last().unwrap();
    assert_eq!(
        last["result"],
        json!({"greetings": ["ok", null], "spent": 40})
    );
    assert!(lines.iter().any(|l| l["type"] == "workflow_log"
        && l["message"]
            .as_str()
            .unwrap()
            .starts_with("parallel[1] failed: budget exhausted")));

    // A script error exits non-zero with the message.
    write(
        p.path(),
        ".boocode/workflows/throws.js",
        "export const meta = { name: 'throws' };\nthrow new Error('nope, not today');\n",
    );
    let out = p.run(&["workflow", "run", "throws", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let last = json_lines(&out).pop().unwrap();
    assert_eq!(last["status"], "failed");
    assert_eq!(
        last["error"],
        "the script threw: Error: nope, not today (at .boocode/workflows/throws.js:2:7)"
    );
    assert_eq!(p.server.request_count(), 3);
}
