//! The Boa side of the worker: turning a workflow script into something Boa runs, the context
//! with only the workflow API in it, and the job executor.
//!
//! Every script shape runs the same way. The source is rewritten (keeping every line and
//! column where it was) and wrapped, the wrapper's head on a line of its own, so line N + 1 of
//! what Boa runs is line N of the user's file, column for column:
//!
//! ```text
//! (function (args, module, exports, workflow) { return async function __main() {
//! <source>
//! }; })
//! ```
//!
//! - `export const meta` (and any other top-level `export const|let|var|function|class`) loses
//!   its `export` keyword;
//! - `export default function NAME` / `export default async function NAME` becomes a plain
//!   declaration and `module.exports.default = NAME;` is put at the top of the body (function
//!   declarations are hoisted, so the name is bound there); any other `export default EXPR`
//!   becomes `module.exports.default = EXPR`;
//! - a static `import` is refused before running anything.
//!
//! The prelude's `run` calls the body (top-level `await` and `return` work because it is an async
//! function); if the body returned nothing, `module.exports` (a function) or
//! `module.exports.default` is called with `args`. The outer function takes `args` and
//! `workflow` as parameters so that a nested workflow sees its own `args` and a `workflow()`
//! that refuses a second level, while the body can still declare its own `args`.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::Path;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll};

use boa_engine::job::{GenericJob, Job, JobExecutor, NativeAsyncJob, PromiseJob, TimeoutJob};
use boa_engine::module::IdleModuleLoader;
use boa_engine::object::ObjectInitializer;
use boa_engine::{
    js_string, Context, JsError, JsNativeError, JsNativeErrorKind, JsResult, JsString, JsValue,
    NativeFunction, Source,
};

use super::lexer::{tokenize, TokKind, Token};
use super::meta::{split_meta, MetaErrorKind};
use super::protocol::{AgentSpec, FromWorker, WorkerLimits};
use super::script_host::{emit, human_bytes};

/// Largest script accepted, bytes.
pub const MAX_SOURCE_BYTES: usize = 512 * 1024;

/// The path Boa reports for frames inside the prelude (filtered out of error positions).
pub(crate) const PRELUDE_PATH: &str = "<workflow-prelude>";

const PRELUDE: &str = include_str!("prelude.js");

/// The wrapper's first line (see the module docs). Boa reports some errors (an undefined name,
/// a failed destructuring) at the start of the enclosing function; for top-level code that is
/// this line, which is no position in the script.
const WRAPPER_PREFIX: &str =
    "(function (args, module, exports, workflow) { return async function __main() {";

/// A script that cannot be loaded; becomes `Failed { kind: "invalid" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidScript(pub String);

/// Rewrites `source` into the wrapper described in the module docs, after the checks that must
/// happen before Boa parses anything (size, bracket nesting, meta, static imports).
pub fn prepare(source: &str, max_nesting: usize) -> Result<String, InvalidScript> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(InvalidScript(format!(
            "the script is {} KB; workflows are limited to {} KB",
            source.len().div_ceil(1024),
            MAX_SOURCE_BYTES / 1024
        )));
    }
    let tokens = tokenize(source, max_nesting).map_err(|e| {
        InvalidScript(format!(
            "the script nests brackets deeper than {} levels (line {}); nesting that deep is refused before parsing",
            e.limit, e.line
        ))
    })?;
    match split_meta(source) {
        Ok(_) => {}
        // Meta is for discovery; a script without it still runs.
        Err(e) if e.kind == MetaErrorKind::Missing => {}
        Err(e) => return Err(InvalidScript(e.to_string())),
    }

    let mut text = source.to_string();
    // Edits as (start, end, replacement), applied back to front so offsets stay valid.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut default_names: Vec<String> = Vec::new();
    let word = |t: Option<&Token>| -> Option<&str> {
        t.filter(|t| t.kind == TokKind::Ident)
            .map(|t| &source[t.start..t.end])
    };
    for (k, t) in tokens.iter().enumerate() {
        if t.depth != 0 || t.kind != TokKind::Ident {
            continue;
        }
        let prev_is_dot = k > 0 && tokens[k - 1].kind == TokKind::Punct(b'.');
        if prev_is_dot {
            continue;
        }
        let next = tokens.get(k + 1);
        match &source[t.start..t.end] {
            "export" => match word(next) {
                Some("default") => {
                    let Some(next) = next else { continue };
                    let after = word(tokens.get(k + 2));
                    let (func, name) = match after {
                        Some("function") => (true, tokens.get(k + 3)),
                        Some("async") if word(tokens.get(k + 3)) == Some("function") => {
                            (true, tokens.get(k + 4))
                        }
                        _ => (false, None),
                    };
                    match (func, word(name)) {
                        (true, Some(name)) => {
                            default_names.push(name.to_string());
                            edits.push((t.start, next.end, " ".repeat(next.end - t.start)));
                        }
                        _ => edits.push((t.start, next.end, "module.exports.default =".into())),
                    }
                }
                Some("const" | "let" | "var" | "function" | "class" | "async") => {
                    edits.push((t.start, t.end, " ".repeat(t.end - t.start)));
                }
                _ => {
                    return Err(InvalidScript(format!(
                        "line {}: only `export const …`, `export function …` and `export default …` are supported in workflows",
                        t.line
                    )))
                }
            },
            "import" => {
                let dynamic = matches!(
                    next.map(|n| n.kind),
                    Some(TokKind::Punct(b'(')) | Some(TokKind::Punct(b'.'))
                );
                if !dynamic {
                    return Err(InvalidScript(format!(
                        "line {}: `import` is not allowed in workflows: a workflow cannot load modules (the API — agent, parallel, pipeline, workflow, phase, log, budget, args — is global)",
                        t.line
                    )));
                }
            }
            _ => {}
        }
    }
    for (start, end, replacement) in edits.into_iter().rev() {
        text.replace_range(start..end, &replacement);
    }
    // A hashbang line would be a syntax error inside the wrapper; blank it (same length).
    if text.starts_with("#!") {
        let end = text.find('\n').unwrap_or(text.len());
        text.replace_range(..end, &" ".repeat(end));
    }
    let mut prefix = String::from(WRAPPER_PREFIX);
    for name in default_names {
        prefix.push_str(&format!("module.exports.default = {name};"));
    }
    Ok(format!("{prefix}\n{text}\n}}; }})"))
}

// --- Host state ------------------------------------------------------------------------------

/// What an outstanding request to the parent is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Agent,
    Workflow,
}

/// State the native functions share with the driver. Plain data only (no GC objects), so it can
/// live in a thread-local next to the `Context`, which is `!Send` and stays on this thread.
#[derive(Debug, Default)]
pub(crate) struct Host {
    next_call: u64,
    pub outstanding: HashMap<u64, CallKind>,
    pub budget_spent: u64,
    pub max_nesting: usize,
    pub max_log_bytes: u64,
    /// Each script's source by origin, to describe error positions in it.
    pub sources: HashMap<String, String>,
}

thread_local! {
    pub(crate) static HOST: RefCell<Host> = RefCell::new(Host::default());
}

fn new_call(kind: CallKind) -> u64 {
    HOST.with_borrow_mut(|h| {
        h.next_call += 1;
        h.outstanding.insert(h.next_call, kind);
        h.next_call
    })
}

fn arg_string(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<Option<String>> {
    match args.get(i) {
        None => Ok(None),
        Some(v) if v.is_null_or_undefined() => Ok(None),
        Some(v) => Ok(Some(v.to_string(ctx)?.to_std_string_escaped())),
    }
}

fn native_agent(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let json = arg_string(args, 0, ctx)?.unwrap_or_default();
    let spec: AgentSpec = serde_json::from_str(&json)
        .map_err(|e| JsNativeError::typ().with_message(format!("agent(): invalid options: {e}")))?;
    let call_id = new_call(CallKind::Agent);
    emit(&FromWorker::Agent { call_id, spec });
    Ok(JsValue::from(call_id as f64))
}

fn native_resolve(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let name = arg_string(args, 0, ctx)?;
    let script_path = arg_string(args, 1, ctx)?;
    let call_id = new_call(CallKind::Workflow);
    emit(&FromWorker::ResolveWorkflow {
        call_id,
        name,
        script_path,
    });
    Ok(JsValue::from(call_id as f64))
}

fn native_phase(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let title = capped_text("phase() title", args, ctx)?;
    emit(&FromWorker::Phase { title });
    Ok(JsValue::undefined())
}

fn native_log(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let message = capped_text("log() line", args, ctx)?;
    emit(&FromWorker::Log { message });
    Ok(JsValue::undefined())
}

/// The first argument as text, refused (a RangeError the script can catch) when it is longer
/// than `[workflow_limits] log_line_kb`: every line is stored in the run's log.
fn capped_text(what: &str, args: &[JsValue], ctx: &mut Context) -> JsResult<String> {
    let max = HOST.with_borrow(|h| h.max_log_bytes);
    let text = match args.first() {
        Some(v) if !v.is_null_or_undefined() => v.to_string(ctx)?,
        _ => return Ok(String::new()),
    };
    // A UTF-16 unit is at least one byte of UTF-8: a line far too long is refused uncopied.
    let at_least = if text.len() as u64 > max {
        text.len() as u64
    } else {
        let text = text.to_std_string_escaped();
        if text.len() as u64 <= max {
            return Ok(text);
        }
        text.len() as u64
    };
    Err(JsNativeError::range()
        .with_message(format!(
            "the {what} is {}; it may be at most {} ([workflow_limits] log_line_kb)",
            human_bytes(at_least),
            human_bytes(max)
        ))
        .into())
}

fn native_spent(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let spent = HOST.with_borrow(|h| h.budget_spent);
    Ok(JsValue::from(spent as f64))
}

/// `compile(source, origin)`: the wrapper's outer function, ready for the prelude's `run`.
fn native_compile(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let source = arg_string(args, 0, ctx)?.unwrap_or_default();
    let origin = arg_string(args, 1, ctx)?.unwrap_or_else(|| "<workflow>".into());
    let max_nesting = HOST.with_borrow(|h| h.max_nesting);
    let text = prepare(&source, max_nesting).map_err(|InvalidScript(m)| {
        JsNativeError::syntax().with_message(format!("{origin}: {m}"))
    })?;
    let compiled = compile_text(&text, &origin, ctx)?;
    HOST.with_borrow_mut(|h| h.sources.insert(origin, source));
    Ok(compiled)
}

/// A parse error says `… at line N, col M` of the wrapped text: say it of the user's file.
fn locate_syntax_error(e: JsError, origin: &str) -> JsError {
    let Some(native) = e.as_native() else {
        return e;
    };
    if !matches!(native.kind(), JsNativeErrorKind::Syntax) {
        return e;
    }
    let Some((head, position)) = native.message().rsplit_once(" at line ") else {
        return e;
    };
    let mut numbers = position
        .split(", col ")
        .map(|n| n.trim().parse::<usize>().ok());
    let (Some(Some(line)), Some(Some(column)), None) =
        (numbers.next(), numbers.next(), numbers.next())
    else {
        return e;
    };
    let at = describe_position(origin, None, line, column);
    JsNativeError::syntax()
        .with_message(format!("{head} ({at})"))
        .into()
}

/// `position(origin, line, column)`: where an error happened, in the user's file, from a
/// position Boa reported in the wrapped text.
fn native_position(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let origin = arg_string(args, 0, ctx)?.unwrap_or_default();
    let number = |i: usize, ctx: &mut Context| -> JsResult<usize> {
        Ok(args.get(i).map_or(Ok(0.0), |v| v.to_number(ctx))?.max(0.0) as usize)
    };
    let (line, column) = (number(1, ctx)?, number(2, ctx)?);
    let text =
        HOST.with_borrow(|h| describe_position(&origin, h.sources.get(&origin), line, column));
    Ok(JsValue::from(JsString::from(text)))
}

/// `at FILE:LINE:COLUMN` in the user's source, for a position Boa gave in the wrapped text
/// (the wrapper's head is line 1). Boa gives errors of some operations (reading an undefined
/// name, destructuring) the position where their function's body starts; that is said as such
/// rather than passed off as the line of the error.
pub(crate) fn describe_position(
    origin: &str,
    source: Option<&String>,
    line: usize,
    column: usize,
) -> String {
    let file = display_origin(origin);
    if line <= 1 {
        return format!("in the top-level code of {file}; the engine gives no line for this error");
    }
    let line = line - 1;
    let at = format!("{file}:{line}:{column}");
    let opens_function = source.is_some_and(|s| {
        let Some(text) = s.lines().nth(line - 1) else {
            return false;
        };
        let chars: Vec<char> = text.chars().collect();
        let before = chars[..column.saturating_sub(1).min(chars.len())]
            .iter()
            .rev()
            .find(|c| !c.is_whitespace());
        chars.get(column.wrapping_sub(1)) == Some(&'{') && matches!(before, Some(')' | '>'))
    });
    if opens_function {
        format!("in the function whose body starts at {at}; the engine gives no line inside it for this error")
    } else {
        format!("at {at}")
    }
}

/// A script's origin as the user knows it: relative to the project (the worker's working
/// directory) when it is inside it.
fn display_origin(origin: &str) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            Path::new(origin)
                .strip_prefix(cwd)
                .ok()
                .map(|p| p.display().to_string())
        })
        .unwrap_or_else(|| origin.to_string())
}

pub(crate) fn compile_text(text: &str, origin: &str, ctx: &mut Context) -> JsResult<JsValue> {
    let value = ctx
        .eval(Source::from_bytes(text).with_path(Path::new(origin)))
        .map_err(|e| locate_syntax_error(e, origin))?;
    if !value.is_callable() {
        return Err(JsNativeError::typ()
            .with_message("internal error: the wrapped script is not a function")
            .into());
    }
    Ok(value)
}

// --- The context -----------------------------------------------------------------------------

/// The prelude's internals, called by the driver.
pub(crate) struct Api {
    pub start: JsValue,
    pub settle: JsValue,
    pub format_error: JsValue,
    pub finish: JsValue,
}

impl Api {
    pub fn call(&self, f: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
        match f.as_callable() {
            Some(f) => f.call(&JsValue::undefined(), args, ctx),
            None => Err(JsNativeError::typ()
                .with_message("internal error: prelude hook is not callable")
                .into()),
        }
    }
}

/// Builds a context holding only the ECMAScript built-ins (minus code generation from strings)
/// and the workflow API.
pub(crate) fn build_context(
    limits: &WorkerLimits,
    budget_total: Option<u64>,
) -> JsResult<(Context, Rc<Executor>, Api)> {
    let executor = Rc::new(Executor::default());
    // IdleModuleLoader: the default loader would read files relative to the working directory.
    let mut ctx = Context::builder()
        .job_executor(executor.clone())
        .module_loader(Rc::new(IdleModuleLoader))
        .build()?;
    ctx.runtime_limits_mut()
        .set_loop_iteration_limit(limits.max_loop_iterations);
    ctx.runtime_limits_mut()
        .set_recursion_limit(limits.max_recursion);
    HOST.with_borrow_mut(|h| {
        h.max_nesting = limits.max_nesting;
        h.max_log_bytes = limits.max_log_bytes;
    });

    let native = ObjectInitializer::new(&mut ctx)
        .function(
            NativeFunction::from_fn_ptr(native_agent),
            js_string!("agent"),
            1,
        )
        .function(
            NativeFunction::from_fn_ptr(native_resolve),
            js_string!("resolve"),
            2,
        )
        .function(
            NativeFunction::from_fn_ptr(native_phase),
            js_string!("phase"),
            1,
        )
        .function(
            NativeFunction::from_fn_ptr(native_log),
            js_string!("log"),
            1,
        )
        .function(
            NativeFunction::from_fn_ptr(native_spent),
            js_string!("spent"),
            0,
        )
        .function(
            NativeFunction::from_fn_ptr(native_compile),
            js_string!("compile"),
            2,
        )
        .function(
            NativeFunction::from_fn_ptr(native_position),
            js_string!("position"),
            3,
        )
        .build();
    let factory = ctx.eval(Source::from_bytes(PRELUDE).with_path(Path::new(PRELUDE_PATH)))?;
    let total = match budget_total {
        Some(t) => JsValue::from(t as f64),
        None => JsValue::null(),
    };
    let factory = factory.as_callable().ok_or_else(|| {
        JsError::from(
            JsNativeError::typ().with_message("internal error: prelude is not a function"),
        )
    })?;
    let internals = factory.call(&JsValue::undefined(), &[native.into(), total], &mut ctx)?;
    let internals = internals.as_object().ok_or_else(|| {
        JsError::from(
            JsNativeError::typ().with_message("internal error: prelude returned no object"),
        )
    })?;
    let mut get = |key: &str| internals.get(JsString::from(key), &mut ctx);
    let api = Api {
        start: get("start")?,
        settle: get("settle")?,
        format_error: get("formatError")?,
        finish: get("finish")?,
    };
    Ok((ctx, executor, api))
}

// --- Jobs ------------------------------------------------------------------------------------

enum Queued {
    Promise(PromiseJob),
    Generic(GenericJob),
    Timeout(TimeoutJob),
    Async(NativeAsyncJob),
}

/// A FIFO job queue that returns as soon as it is empty. Boa's stock executor busy-waits while
/// promises are pending; here an empty queue hands control back to the driver, which either reads
/// the parent's next answer or declares the run stalled.
#[derive(Default)]
pub(crate) struct Executor {
    queue: RefCell<VecDeque<Queued>>,
}

impl JobExecutor for Executor {
    fn enqueue_job(self: Rc<Self>, job: Job, _: &mut Context) {
        let queued = match job {
            Job::PromiseJob(j) => Queued::Promise(j),
            Job::GenericJob(j) => Queued::Generic(j),
            // No timer API is exposed, so a timeout can only come from the engine itself; run it
            // in order rather than waiting for a clock.
            Job::TimeoutJob(j) => Queued::Timeout(j),
            Job::AsyncJob(j) => Queued::Async(j),
            // Intervals need a timer API we do not expose; finalization callbacks are not a
            // workflow concern (the worker is short-lived).
            _ => return,
        };
        self.queue.borrow_mut().push_back(queued);
    }

    fn run_jobs(self: Rc<Self>, ctx: &mut Context) -> JsResult<()> {
        loop {
            let next = self.queue.borrow_mut().pop_front();
            let Some(job) = next else { return Ok(()) };
            match job {
                Queued::Promise(j) => {
                    j.call(ctx)?;
                }
                Queued::Generic(j) => {
                    j.call(ctx)?;
                }
                Queued::Timeout(j) => {
                    j.call(ctx)?;
                }
                Queued::Async(j) => {
                    // The only async jobs here come from module loading, which the idle loader
                    // answers at once; poll once and drop anything that would wait.
                    let cell = RefCell::new(&mut *ctx);
                    let fut = std::pin::pin!(j.call(&cell));
                    let mut cx = TaskContext::from_waker(futures::task::noop_waker_ref());
                    if let Poll::Ready(r) = fut.poll(&mut cx) {
                        r?;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_exports_keeping_lines() {
        let src = "export const meta = { name: 'x' };\nexport default async function main(args) {\n  return args;\n}\n";
        let out = prepare(src, 64).unwrap();
        // The wrapper's head is a line of its own: line N + 1 is the user's line N, column
        // for column.
        assert!(out.starts_with("(function (args, module, exports, workflow) { return async function __main() {module.exports.default = main;\n"));
        assert_eq!(
            out.lines().nth(1),
            Some("       const meta = { name: 'x' };")
        );
        assert_eq!(
            out.lines().nth(2),
            Some("               async function main(args) {")
        );
        assert_eq!(out.lines().nth(3), Some("  return args;"));

        let out = prepare("export default async (args) => args\n", 64).unwrap();
        assert!(out.contains("module.exports.default = async (args) => args"));
    }

    #[test]
    fn positions_are_described_in_the_users_file() {
        let src = "const f = (o) => {\n  const { a } = o;\n};\n".to_string();
        assert_eq!(
            describe_position("w.js", Some(&src), 1, 40),
            "in the top-level code of w.js; the engine gives no line for this error"
        );
        assert_eq!(describe_position("w.js", Some(&src), 3, 5), "at w.js:2:5");
        assert_eq!(
            describe_position("w.js", Some(&src), 2, 18),
            "in the function whose body starts at w.js:1:18; the engine gives no line inside it for this error"
        );
        // Without the source nothing is guessed.
        assert_eq!(describe_position("w.js", None, 2, 18), "at w.js:1:18");
    }

    #[test]
    fn refuses_static_imports_and_export_lists() {
        let e = prepare("const a = 1;\nimport x from 'y'\n", 64).unwrap_err();
        assert!(e.0.starts_with("line 2: `import` is not allowed"), "{e:?}");
        assert!(prepare("import('x')", 64).is_ok());
        assert!(prepare("export { a }", 64).is_err());
        // Not at top level or a property: left alone.
        assert!(prepare("x.import; y.export = 1; function f() { return 1 }", 64).is_ok());
    }

    #[test]
    fn refuses_deep_nesting_and_big_sources() {
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(prepare(&deep, 256)
            .unwrap_err()
            .0
            .contains("deeper than 256"));
        let big = "x".repeat(MAX_SOURCE_BYTES + 1);
        assert!(prepare(&big, 256)
            .unwrap_err()
            .0
            .contains("limited to 512 KB"));
    }
}
