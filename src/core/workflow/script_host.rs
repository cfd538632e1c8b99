//! The workflow worker: a process entry point (`boocode __workflow-worker`) that runs one script
//! on Boa and talks to its parent in JSON lines (see [`super::protocol`]).
//!
//! It is a separate process because Boa can neither be interrupted nor capped in memory: the
//! worker sets `RLIMIT_AS` and `RLIMIT_CPU` on itself, the parent kills it on cancel or timeout,
//! and a crash takes down only the worker. Before dying from an abort (typically an allocation
//! failure under `RLIMIT_AS`), a panic or `SIGXCPU`, it makes a best effort to write one
//! `failed` line.
//!
//! stdout carries protocol lines only, each flushed; diagnostics go to stderr.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

use boa_engine::builtins::promise::PromiseState;
use boa_engine::error::{EngineError, RuntimeLimitError};
use boa_engine::object::builtins::JsPromise;
use boa_engine::{Context, JsError, JsString, JsValue};
use serde_json::Value;

use super::protocol::{FromWorker, ToWorker, WorkerLimits};
use super::sandbox::{build_context, compile_text, prepare, Api, CallKind, InvalidScript, HOST};

/// Why a run stalled. Boa drops an error raised while it resumes an async function after an
/// `await` (the resumption's result is discarded), so a loop or recursion limit hit there
/// leaves the main promise pending exactly like an `await` on a promise that never settles.
pub const STALLED: &str = "the main promise is still pending but nothing is left to run: the \
    script awaits a promise that can never settle, or hit the loop or recursion limit after an \
    `await`, where the engine cannot report the error";

/// Exit codes: the run finished (`done`), failed (`failed` was sent), or the protocol broke
/// (bad input, or the parent went away).
pub const EXIT_DONE: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_PROTOCOL: i32 = 2;

/// Stack of the thread that runs Boa. Boa's parser and compiler recurse per nesting level; the
/// source pre-check bounds the nesting, this bounds the stack it may use.
const BOA_STACK_BYTES: usize = 64 * 1024 * 1024;

static OUT: Mutex<Option<Box<dyn Write + Send>>> = Mutex::new(None);
/// Set once `done` or `failed` has been written: nothing terminal is written twice.
static TERMINAL: AtomicBool = AtomicBool::new(false);

/// Writes one protocol line and flushes it.
pub(crate) fn emit(msg: &FromWorker) {
    let mut guard = match OUT.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    write_line(&mut guard, msg);
}

fn write_line(out: &mut Option<Box<dyn Write + Send>>, msg: &FromWorker) {
    let terminal = matches!(msg, FromWorker::Done { .. } | FromWorker::Failed { .. });
    if terminal && TERMINAL.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(mut line) = serde_json::to_string(msg) else {
        return;
    };
    line.push('\n');
    if let Some(w) = out.as_mut() {
        // A write error means the parent is gone; there is no one left to tell.
        let _ = w.write_all(line.as_bytes());
        let _ = w.flush();
    }
}

fn fail(kind: &str, message: impl Into<String>) -> i32 {
    emit(&FromWorker::Failed {
        kind: kind.into(),
        message: message.into(),
    });
    EXIT_FAILED
}

/// Runs the worker until the script finishes: reads `start` from `stdin`, then answers from the
/// parent as the script needs them; writes protocol lines to `stdout`. Returns the exit code.
///
/// This is a process entry point: it sets resource limits and signal handlers for the whole
/// process, and those handlers write their last `failed` line straight to file descriptor 1.
pub fn run_worker<R, W>(stdin: R, stdout: W) -> i32
where
    R: BufRead + Send + 'static,
    W: Write + Send + 'static,
{
    {
        let mut guard = match OUT.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Some(Box::new(stdout));
    }
    install_panic_hook();
    let spawned = std::thread::Builder::new()
        .name("workflow-worker".into())
        .stack_size(BOA_STACK_BYTES)
        .spawn(move || drive(stdin));
    match spawned {
        // A panic on the thread was already reported by the hook.
        Ok(handle) => handle.join().unwrap_or(EXIT_FAILED),
        Err(e) => fail("error", format!("could not start the script thread: {e}")),
    }
}

fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = FromWorker::Failed {
            kind: "error".into(),
            message: format!("internal error: the workflow worker panicked: {info}"),
        };
        // try_lock: the panic may have happened while the lock was held.
        if let Ok(mut guard) = OUT.try_lock() {
            write_line(&mut guard, &msg);
        }
        default(info);
    }));
}

fn read_message<R: BufRead>(stdin: &mut R) -> Result<Option<ToWorker>, String> {
    loop {
        let mut line = String::new();
        match stdin.read_line(&mut line) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(format!("reading stdin: {e}")),
        }
        if line.trim().is_empty() {
            continue;
        }
        return serde_json::from_str(&line)
            .map(Some)
            .map_err(|e| format!("invalid message from the parent: {e}: {}", line.trim()));
    }
}

fn drive<R: BufRead>(mut stdin: R) -> i32 {
    let start = match read_message(&mut stdin) {
        Ok(Some(m)) => m,
        Ok(None) => return EXIT_PROTOCOL,
        Err(e) => {
            fail("invalid", e);
            return EXIT_PROTOCOL;
        }
    };
    let ToWorker::Start {
        source,
        origin,
        args,
        budget_total,
        budget_spent,
        limits,
    } = start
    else {
        fail("invalid", "the first message must be `start`");
        return EXIT_PROTOCOL;
    };
    apply_process_limits(&limits);
    HOST.with_borrow_mut(|h| h.budget_spent = budget_spent);

    let text = match prepare(&source, limits.max_nesting) {
        Ok(t) => t,
        Err(InvalidScript(m)) => return fail("invalid", m),
    };
    HOST.with_borrow_mut(|h| h.sources.insert(origin.clone(), source));
    let (mut ctx, _executor, api) = match build_context(&limits, budget_total) {
        Ok(x) => x,
        Err(e) => {
            return fail(
                "error",
                format!("internal error: building the context: {e}"),
            )
        }
    };
    let outer = match compile_text(&text, &origin, &mut ctx) {
        Ok(v) => v,
        Err(e) => {
            let (kind, message) = classify(e, &api, &limits, &mut ctx);
            return fail(if kind == "error" { "invalid" } else { kind }, message);
        }
    };
    let args = match JsValue::from_json(&args, &mut ctx) {
        Ok(v) => v,
        Err(e) => return fail("invalid", format!("args could not be converted: {e}")),
    };
    let main = api
        .call(&api.start, &[outer, args], &mut ctx)
        .and_then(|p| match p.as_object() {
            Some(o) => JsPromise::from_object(o),
            None => Err(boa_engine::JsNativeError::typ()
                .with_message("internal error: start did not return a promise")
                .into()),
        });
    let main = match main {
        Ok(p) => p,
        Err(e) => {
            let (kind, message) = classify(e, &api, &limits, &mut ctx);
            return fail(kind, message);
        }
    };

    loop {
        if let Err(e) = ctx.run_jobs() {
            let (kind, message) = classify(e, &api, &limits, &mut ctx);
            return fail(kind, message);
        }
        match main.state() {
            PromiseState::Fulfilled(v) => return finish(v, &api, &limits, &mut ctx),
            PromiseState::Rejected(e) => {
                let message = format_error(&e, &api, &mut ctx);
                return fail("error", message);
            }
            PromiseState::Pending => {}
        }
        if HOST.with_borrow(|h| h.outstanding.is_empty()) {
            return fail("stalled", STALLED);
        }
        // Nothing runnable: block on the parent's next answer.
        let msg = match read_message(&mut stdin) {
            Ok(Some(m)) => m,
            // The parent closed our stdin: it has gone or cancelled the run.
            Ok(None) => return EXIT_PROTOCOL,
            Err(e) => {
                fail("invalid", e);
                return EXIT_PROTOCOL;
            }
        };
        if let Err(e) = answer(msg, &api, &mut ctx) {
            let (kind, message) = classify(e, &api, &limits, &mut ctx);
            return fail(kind, message);
        }
    }
}

/// Settles the promise a parent answer is for.
fn answer(msg: ToWorker, api: &Api, ctx: &mut Context) -> boa_engine::JsResult<()> {
    let (call_id, expected, ok, value) = match msg {
        ToWorker::AgentResult {
            call_id,
            value,
            error,
            budget_spent,
        } => {
            HOST.with_borrow_mut(|h| h.budget_spent = budget_spent);
            match error {
                Some(e) => (
                    call_id,
                    CallKind::Agent,
                    false,
                    JsValue::from(JsString::from(e)),
                ),
                None => {
                    let v = JsValue::from_json(&value.unwrap_or(Value::Null), ctx)?;
                    (call_id, CallKind::Agent, true, v)
                }
            }
        }
        ToWorker::WorkflowSource {
            call_id,
            source,
            origin,
            error,
        } => match (error, source) {
            (Some(e), _) => (
                call_id,
                CallKind::Workflow,
                false,
                JsValue::from(JsString::from(e)),
            ),
            (None, None) => (
                call_id,
                CallKind::Workflow,
                false,
                JsValue::from(JsString::from("workflow(): the parent sent no source")),
            ),
            (None, Some(source)) => {
                let origin = origin.unwrap_or_else(|| "<nested workflow>".into());
                let v = JsValue::from_json(
                    &serde_json::json!({ "source": source, "origin": origin }),
                    ctx,
                )?;
                (call_id, CallKind::Workflow, true, v)
            }
        },
        ToWorker::Start { .. } => {
            eprintln!("workflow worker: ignoring a second start message");
            return Ok(());
        }
    };
    let known = HOST.with_borrow_mut(|h| match h.outstanding.get(&call_id) {
        Some(kind) if *kind == expected => {
            h.outstanding.remove(&call_id);
            true
        }
        _ => false,
    });
    if !known {
        eprintln!("workflow worker: ignoring an answer for unknown call {call_id}");
        return Ok(());
    }
    api.call(
        &api.settle,
        &[JsValue::from(call_id as f64), JsValue::from(ok), value],
        ctx,
    )?;
    Ok(())
}

fn finish(value: JsValue, api: &Api, limits: &WorkerLimits, ctx: &mut Context) -> i32 {
    let json = match api
        .call(&api.finish, &[value], ctx)
        .and_then(|s| s.to_string(ctx))
    {
        Ok(json) => json,
        Err(e) => {
            let (kind, message) = classify(e, api, limits, ctx);
            return fail(kind, message);
        }
    };
    // Every UTF-16 unit is at least one byte of UTF-8: an over-long result is refused before
    // it is copied out of the engine.
    if json.len() as u64 > limits.max_result_bytes {
        return fail("limit", result_too_big(json.len() as u64, limits));
    }
    let text = json.to_std_string_escaped();
    if text.len() as u64 > limits.max_result_bytes {
        return fail("limit", result_too_big(text.len() as u64, limits));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(result) => {
            emit(&FromWorker::Done { result });
            EXIT_DONE
        }
        Err(e) => fail(
            "error",
            format!("the workflow's result is not valid JSON: {e}"),
        ),
    }
}

fn result_too_big(at_least: u64, limits: &WorkerLimits) -> String {
    format!(
        "the workflow's result is {} of JSON (or more); a result may be at most {} \
         ([workflow_limits] result_kb): return a summary, or write bulk output through an agent",
        human_bytes(at_least),
        human_bytes(limits.max_result_bytes)
    )
}

/// `1.5 MB`, `64 KB`, `300 bytes` (binary units, as the limits are configured).
pub(crate) fn human_bytes(n: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * KB;
    if n >= MB {
        format!("{:.1} MB", n as f64 / MB as f64)
    } else if n >= KB {
        format!("{:.1} KB", n as f64 / KB as f64)
    } else {
        format!("{n} bytes")
    }
}

fn format_error(e: &JsValue, api: &Api, ctx: &mut Context) -> String {
    match api
        .call(&api.format_error, std::slice::from_ref(e), ctx)
        .and_then(|s| s.to_string(ctx))
    {
        Ok(s) => s.to_std_string_escaped(),
        Err(_) => e.display().to_string(),
    }
}

/// The `failed` kind and message for an error that escaped to Rust.
fn classify(
    e: JsError,
    api: &Api,
    limits: &WorkerLimits,
    ctx: &mut Context,
) -> (&'static str, String) {
    if let Some(engine) = e.as_engine() {
        return match engine {
            EngineError::RuntimeLimit(RuntimeLimitError::LoopIteration) => (
                "limit",
                format!(
                    "the script hit the loop iteration limit: the loops of one function call \
                     ran more than {} iterations in all",
                    limits.max_loop_iterations
                ),
            ),
            EngineError::RuntimeLimit(RuntimeLimitError::Recursion) => (
                "limit",
                format!(
                    "the script hit the recursion limit ({} nested calls)",
                    limits.max_recursion
                ),
            ),
            EngineError::RuntimeLimit(RuntimeLimitError::StackSize) => (
                "limit",
                "the script hit the engine's stack size limit".to_string(),
            ),
            other => ("error", format!("internal error: {other}")),
        };
    }
    match e.into_opaque(ctx) {
        Ok(v) => ("error", format_error(&v, api, ctx)),
        Err(e) => ("error", e.to_string()),
    }
}

// --- Process limits and last words -------------------------------------------------------------

/// The `failed` line the signal handlers write, prepared before any signal can arrive (a handler
/// may not allocate).
static ABORT_LINE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static ABORT_LINE_LEN: AtomicUsize = AtomicUsize::new(0);
static CPU_LINE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static CPU_LINE_LEN: AtomicUsize = AtomicUsize::new(0);
static MEMORY_LINE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static MEMORY_LINE_LEN: AtomicUsize = AtomicUsize::new(0);

/// Address space allowed beyond twice the memory ceiling.
const ADDRESS_SPACE_SLACK: u64 = 1024 * 1024 * 1024;
/// How often the memory watchdog samples the resident set.
const MEMORY_SAMPLE: std::time::Duration = std::time::Duration::from_millis(25);

/// Ends the process with the memory line once its resident set passes `max_bytes`. Boa has no
/// heap limit, and a script that keeps growing slows down as every collection traces its live
/// objects, so an address-space limit alone took minutes to trip; the resident set is what
/// the ceiling means. Linux only (it reads `/proc/self/statm`).
fn watch_memory(max_bytes: u64) {
    let Ok(statm) = std::fs::File::open("/proc/self/statm") else {
        return;
    };
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = if page > 0 { page as u64 } else { 4096 };
    let spawned = std::thread::Builder::new()
        .name("memory-watchdog".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            use std::os::unix::fs::FileExt;
            let mut buf = [0u8; 128];
            loop {
                std::thread::sleep(MEMORY_SAMPLE);
                let Ok(n) = statm.read_at(&mut buf, 0) else {
                    return;
                };
                if resident_pages(&buf[..n]).saturating_mul(page) > max_bytes {
                    write_prepared(&MEMORY_LINE, &MEMORY_LINE_LEN);
                    // SAFETY: _exit ends the process without running anything else.
                    unsafe { libc::_exit(EXIT_FAILED) }
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("workflow worker: cannot start the memory watchdog: {e}");
    }
}

/// The second field of `/proc/self/statm` (resident pages); parsed without allocating.
fn resident_pages(statm: &[u8]) -> u64 {
    statm
        .split(|b| *b == b' ')
        .nth(1)
        .map(|field| {
            field
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .fold(0u64, |n, b| {
                    n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
                })
        })
        .unwrap_or(0)
}

fn leak_line(msg: &FromWorker, ptr: &AtomicPtr<u8>, len: &AtomicUsize) {
    let Ok(mut line) = serde_json::to_string(msg) else {
        return;
    };
    line.push('\n');
    let bytes: &'static mut [u8] = Box::leak(line.into_bytes().into_boxed_slice());
    len.store(bytes.len(), Ordering::SeqCst);
    ptr.store(bytes.as_mut_ptr(), Ordering::SeqCst);
}

/// Async-signal-safe: atomics and write(2) only.
fn write_prepared(ptr: &AtomicPtr<u8>, len: &AtomicUsize) {
    if TERMINAL.swap(true, Ordering::SeqCst) {
        return;
    }
    let p = ptr.load(Ordering::SeqCst);
    let n = len.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: `p` points to a leaked, never-freed buffer of `n` bytes.
        unsafe {
            libc::write(1, p as *const libc::c_void, n);
        }
    }
}

extern "C" fn on_abort(_: libc::c_int) {
    write_prepared(&ABORT_LINE, &ABORT_LINE_LEN);
    // SAFETY: restoring the default action and re-raising is async-signal-safe; the process then
    // dies of SIGABRT as it would have.
    unsafe {
        libc::signal(libc::SIGABRT, libc::SIG_DFL);
        libc::raise(libc::SIGABRT);
    }
}

extern "C" fn on_cpu_limit(_: libc::c_int) {
    write_prepared(&CPU_LINE, &CPU_LINE_LEN);
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(EXIT_FAILED) }
}

fn apply_process_limits(limits: &WorkerLimits) {
    let memory = human_bytes(limits.max_memory_bytes);
    leak_line(
        &FromWorker::Failed {
            kind: "limit".into(),
            message: format!(
                "the workflow worker aborted, most likely out of memory: an allocation too big \
                 for the address space left (the script may use {memory}, [workflow_limits] memory_mb)"
            ),
        },
        &ABORT_LINE,
        &ABORT_LINE_LEN,
    );
    leak_line(
        &FromWorker::Failed {
            kind: "limit".into(),
            message: format!(
                "the script used more than {} s of CPU time, its budget ([workflow_limits] \
                 cpu_seconds; time spent waiting for agents does not count)",
                limits.max_cpu_seconds
            ),
        },
        &CPU_LINE,
        &CPU_LINE_LEN,
    );
    leak_line(
        &FromWorker::Failed {
            kind: "limit".into(),
            message: format!(
                "the script used more than {memory} of memory, its ceiling ([workflow_limits] \
                 memory_mb)"
            ),
        },
        &MEMORY_LINE,
        &MEMORY_LINE_LEN,
    );
    if limits.max_memory_bytes > 0 {
        watch_memory(limits.max_memory_bytes);
    }
    // SAFETY: plain libc calls with valid arguments; handlers only touch atomics and write(2).
    unsafe {
        let handler: extern "C" fn(libc::c_int) = on_abort;
        libc::signal(libc::SIGABRT, handler as libc::sighandler_t);
        let handler: extern "C" fn(libc::c_int) = on_cpu_limit;
        libc::signal(libc::SIGXCPU, handler as libc::sighandler_t);

        if limits.max_memory_bytes > 0 {
            // The watchdog cannot see an allocation that is too big at once (`new
            // Array(1e9)`): the address space, with room for stacks and allocator arenas that
            // are reserved but not resident, makes that one fail instead.
            let space = limits
                .max_memory_bytes
                .saturating_mul(2)
                .saturating_add(ADDRESS_SPACE_SLACK);
            let lim = libc::rlimit {
                rlim_cur: space as libc::rlim_t,
                rlim_max: space as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                eprintln!(
                    "workflow worker: setrlimit(RLIMIT_AS): {}",
                    std::io::Error::last_os_error()
                );
            }
        }
        if limits.max_cpu_seconds > 0 {
            // The soft limit sends SIGXCPU (reported above); the hard limit, a little later,
            // kills the process if the handler could not.
            let lim = libc::rlimit {
                rlim_cur: limits.max_cpu_seconds as libc::rlim_t,
                rlim_max: limits.max_cpu_seconds.saturating_add(5) as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_CPU, &lim) != 0 {
                eprintln!(
                    "workflow worker: setrlimit(RLIMIT_CPU): {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_pages_is_the_second_statm_field() {
        assert_eq!(resident_pages(b"12345 678 90 1 0 2 0\n"), 678);
        assert_eq!(resident_pages(b"garbage"), 0);
    }
}
