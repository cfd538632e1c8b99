//! A terminal session: one child process on a pseudo-terminal, its output parsed by a
//! [`ScreenEngine`], its input written from a queue. Free of any UI, so the workspace's terminal
//! pane and the external agents that run CLIs in a pane share it.
//!
//! - The child is started by [`process::spawn_std_with`] (own session, provider keys withheld,
//!   memory-reading capabilities dropped under root, group registered with the reaper before it
//!   runs), with the PTY slave as its stdio and as its controlling terminal.
//! - One reader thread per session: read → feed the engine under its mutex → queue the engine's
//!   replies for the child → keep its signals → mark dirty → wake the UI. The wake-up is a
//!   [`Notify`] permit, so however fast the child writes the UI is woken at most once per look.
//! - One writer thread drains a bounded input queue, so a child that stops reading its input
//!   can never block the UI or the reader.
//! - When the child has ended and the PTY reports end of file, the exit status is kept and the
//!   UI woken one last time. Dropping the session kills the child's process group.
//!
//! The PTY pair comes from `posix_openpt` directly rather than portable-pty: `process::spawn`
//! needs the slave as the child's stdio plus `TIOCSCTTY` between fork and exec, and
//! portable-pty's slave descriptor is private to its own spawn (which has no hook to register
//! the group with the reaper before the child runs).

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};

use parking_lot::{Mutex as ScreenMutex, MutexGuard as ScreenGuard};

use tokio::sync::Notify;

use super::screen::{GridSize, ScreenEngine, ScreenSignal};
use crate::core::process::{self, ProcessGroup};

/// Chunks of input (keys, pastes, replies) waiting for the child; beyond this the child is not
/// reading and more input is refused rather than queued without end.
const INPUT_QUEUE: usize = 256;
/// Bells, titles and clipboard stores kept until the UI looks; older ones are dropped.
const MAX_PENDING_SIGNALS: usize = 32;
const READ_CHUNK: usize = 64 * 1024;
/// The nice value of a session's reader thread: see [`yield_to_interactive_threads`].
#[cfg(target_os = "linux")]
const READER_NICE: libc::c_int = 10;
/// Bytes parsed per hold of the screen lock: about 0.3 ms of parsing, the longest a draw waits
/// behind a flooding pane.
const FEED_SLICE: usize = 16 * 1024;

/// What to run and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// The program and its arguments; `None` runs `$SHELL`, else `/bin/sh`.
    pub argv: Option<Vec<String>>,
    pub cwd: PathBuf,
    pub size: GridSize,
    /// The outer terminal shows 24-bit colour: the child gets `COLORTERM=truecolor`.
    pub truecolor: bool,
}

impl SessionSpec {
    /// The argv that runs: the given one, else the user's shell.
    pub fn resolved_argv(&self) -> Vec<String> {
        match &self.argv {
            Some(argv) if !argv.is_empty() => argv.clone(),
            _ => vec![default_shell(std::env::var("SHELL").ok())],
        }
    }
}

/// `$SHELL` when set to something, else `/bin/sh`.
pub fn default_shell(shell: Option<String>) -> String {
    shell
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "/bin/sh".into())
}

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReport {
    Code(i32),
    Signal(i32),
}

impl ExitReport {
    fn from_status(status: std::process::ExitStatus) -> ExitReport {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitReport::Code(code),
            (None, Some(signal)) => ExitReport::Signal(signal),
            (None, None) => ExitReport::Code(-1),
        }
    }
}

impl std::fmt::Display for ExitReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitReport::Code(code) => write!(f, "exited with code {code}"),
            ExitReport::Signal(signal) => match signal_name(signal) {
                Some(name) => write!(f, "killed by signal {signal} ({name})"),
                None => write!(f, "killed by signal {signal}"),
            },
        }
    }
}

/// The usual name of the signals a program is commonly ended by.
pub fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

/// State the reader thread and the UI share.
struct Shared {
    screen: ScreenMutex<Box<dyn ScreenEngine>>,
    dirty: AtomicBool,
    signals: Mutex<VecDeque<ScreenSignal>>,
    exit: Mutex<Option<ExitReport>>,
    waker: Arc<Notify>,
    /// Woken on every change, whoever took the dirty flag: the core following an agent's
    /// screen while a pane draws it.
    watchers: Mutex<Vec<Arc<Notify>>>,
}

impl Shared {
    /// Marks the screen changed and wakes the UI unless a wake-up is already owed; watchers
    /// are woken each time (a permit each, so a flood still costs one wake-up per look).
    fn changed(&self) {
        if !self.dirty.swap(true, Ordering::AcqRel) {
            self.waker.notify_one();
        }
        for watcher in lock(&self.watchers).iter() {
            watcher.notify_one();
        }
    }

    fn keep_signals(&self, new: Vec<ScreenSignal>) {
        if new.is_empty() {
            return;
        }
        let mut pending = lock(&self.signals);
        for signal in new {
            // A flood of bells is one bell; only the latest title matters.
            match (&signal, pending.back()) {
                (ScreenSignal::Bell, Some(ScreenSignal::Bell)) => continue,
                (ScreenSignal::Title(_), _) => {
                    pending.retain(|s| !matches!(s, ScreenSignal::Title(_)))
                }
                _ => {}
            }
            if pending.len() == MAX_PENDING_SIGNALS {
                pending.pop_front();
            }
            pending.push_back(signal);
        }
    }
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running (or ended) child on a PTY with its screen.
pub struct TerminalSession {
    shared: Arc<Shared>,
    /// The PTY master, kept for resizing.
    master: File,
    input: SyncSender<Vec<u8>>,
    /// Killed when the session is dropped.
    group: ProcessGroup,
    argv: Vec<String>,
}

impl TerminalSession {
    /// Starts `spec` on a new PTY; `engine` gets its output, `waker` is notified when the
    /// screen changed or the child ended.
    pub fn spawn(
        spec: &SessionSpec,
        engine: Box<dyn ScreenEngine>,
        waker: Arc<Notify>,
    ) -> io::Result<TerminalSession> {
        TerminalSession::spawn_with_env(spec, &BTreeMap::new(), engine, waker)
    }

    /// [`TerminalSession::spawn`] with `env` added to the child's environment (an agent's
    /// `[agents.NAME] env`).
    pub fn spawn_with_env(
        spec: &SessionSpec,
        env: &BTreeMap<String, String>,
        mut engine: Box<dyn ScreenEngine>,
        waker: Arc<Notify>,
    ) -> io::Result<TerminalSession> {
        let argv = spec.resolved_argv();
        let (master, slave) = open_pty()?;
        set_window_size(&master, spec.size)?;
        engine.resize(spec.size);

        let mut command = std::process::Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(&spec.cwd)
            .env("TERM", "xterm-256color")
            // The child's terminal is this pane, not the tmux or terminal boocode runs in.
            .env_remove("TMUX")
            .env_remove("TMUX_PANE")
            .env_remove("LINES")
            .env_remove("COLUMNS")
            .envs(env)
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        if spec.truecolor {
            command.env("COLORTERM", "truecolor");
        } else {
            command.env_remove("COLORTERM");
        }
        let (child, group) = process::spawn_std_with(&mut command, || {
            // SAFETY: ioctl on the child's own stdin (the PTY slave), between fork and exec.
            if unsafe { libc::ioctl(0, libc::TIOCSCTTY as _, 0) } == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
        .map_err(|e| io::Error::new(e.kind(), format!("starting {}: {e}", argv[0])))?;
        // `command` still holds the slave descriptors; the reader only sees end of file once
        // every copy outside the child is closed.
        drop(command);

        let shared = Arc::new(Shared {
            screen: ScreenMutex::new(engine),
            dirty: AtomicBool::new(false),
            signals: Mutex::new(VecDeque::new()),
            exit: Mutex::new(None),
            waker,
            watchers: Mutex::new(Vec::new()),
        });
        let (input, queued) = sync_channel(INPUT_QUEUE);
        let writer = master.try_clone()?;
        std::thread::Builder::new()
            .name("pty-writer".into())
            .spawn(move || write_input(writer, queued))?;
        let reader = master.try_clone()?;
        let (reader_shared, replies) = (shared.clone(), input.clone());
        std::thread::Builder::new()
            .name("pty-reader".into())
            .spawn(move || read_output(reader, child, reader_shared, replies))?;
        Ok(TerminalSession {
            shared,
            master,
            input,
            group,
            argv,
        })
    }

    /// The program and arguments that run.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The child's process group id.
    pub fn group_id(&self) -> libc::pid_t {
        self.group.id()
    }

    /// The screen, locked (the reader waits while it is held: keep it short).
    pub fn screen(&self) -> ScreenGuard<'_, Box<dyn ScreenEngine>> {
        self.shared.screen.lock()
    }

    /// Whether the screen changed since the last [`TerminalSession::take_dirty`], leaving
    /// that to it.
    pub fn is_dirty(&self) -> bool {
        self.shared.dirty.load(Ordering::Acquire)
    }

    /// Whether the screen changed since the last call.
    pub fn take_dirty(&self) -> bool {
        self.shared.dirty.swap(false, Ordering::AcqRel)
    }

    /// Bells, titles and clipboard stores since the last call, in order.
    pub fn take_signals(&self) -> Vec<ScreenSignal> {
        lock(&self.shared.signals).drain(..).collect()
    }

    /// How the child ended, once it has and its output is read to the end.
    pub fn exit(&self) -> Option<ExitReport> {
        *lock(&self.shared.exit)
    }

    /// A wake-up for every change of the screen and for the child's end, beside the UI's.
    pub fn watch(&self) -> Arc<Notify> {
        let watcher = Arc::new(Notify::new());
        self.add_watcher(watcher.clone());
        watcher
    }

    /// Wakes `watcher` on every change of the screen and at the child's end (a pane showing
    /// a session someone else started).
    pub fn add_watcher(&self, watcher: Arc<Notify>) {
        lock(&self.shared.watchers).push(watcher);
    }

    /// Kills the child's process group (the session stays readable).
    pub fn kill(&self) {
        self.group.kill();
    }

    /// Queues bytes for the child; false when it has not been reading its input (the queue is
    /// full) or has ended.
    pub fn write(&self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return true;
        }
        self.input.try_send(bytes.to_vec()).is_ok()
    }

    /// Resizes the screen and the PTY; the kernel sends the child SIGWINCH.
    pub fn resize(&self, size: GridSize) -> io::Result<()> {
        self.shared.screen.lock().resize(size);
        set_window_size(&self.master, size)?;
        self.shared.changed();
        Ok(())
    }
}

fn read_output(
    mut master: File,
    mut child: std::process::Child,
    shared: Arc<Shared>,
    replies: SyncSender<Vec<u8>>,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    yield_to_interactive_threads();
    loop {
        let n = match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // EIO: every slave descriptor is closed (Linux's end of file for a PTY master).
            Err(_) => break,
        };
        for slice in buf[..n].chunks(FEED_SLICE) {
            let mut screen = shared.screen.lock();
            screen.feed(slice);
            let (reply, signals) = (screen.take_replies(), screen.take_signals());
            // A draw waiting for this screen gets it now, before this thread can lock it again
            // for the next slice: a pane drawing a flood never holds up the frame.
            ScreenGuard::unlock_fair(screen);
            if !reply.is_empty() {
                if let Err(TrySendError::Full(_)) = replies.try_send(reply) {
                    tracing::warn!("terminal: the program is not reading its input; a reply to its query was dropped");
                }
            }
            shared.keep_signals(signals);
        }
        shared.changed();
    }
    let report = match child.wait() {
        Ok(status) => ExitReport::from_status(status),
        Err(e) => {
            tracing::warn!("terminal: waiting for the program: {e}");
            ExitReport::Code(-1)
        }
    };
    *lock(&shared.exit) = Some(report);
    shared.changed();
}

/// Lowers the calling reader thread's priority (its nice value, a per-thread attribute on
/// Linux) below the workspace's own threads. Parsing a program's output is throughput work:
/// beside a pane flooding with `yes` on two cores, the flooding reader took the CPU the key's
/// way to the screen needed (the UI thread, the input writer, the shell's echo), and a key
/// echoed in 27–65 ms at p95; at nice 5 in 13–26 ms, at nice 10 in 14–17 ms (tmux 15–21).
/// Alone on the machine the reader runs as fast as before.
fn yield_to_interactive_threads() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's own id.
        let rc = unsafe {
            libc::setpriority(
                libc::PRIO_PROCESS,
                libc::gettid() as libc::id_t,
                READER_NICE,
            )
        };
        if rc != 0 {
            tracing::debug!(
                "terminal: lowering the reader's priority: {}",
                io::Error::last_os_error()
            );
        }
    }
}

fn write_input(mut master: File, queued: Receiver<Vec<u8>>) {
    for bytes in queued {
        if master.write_all(&bytes).is_err() {
            break;
        }
    }
}

/// A new PTY pair: (master, slave), both close-on-exec, the slave with UTF-8 input editing.
fn open_pty() -> io::Result<(File, OwnedFd)> {
    // SAFETY: plain system calls on descriptors this function owns; `name` is a valid buffer
    // of the length given, NUL-terminated by ptsname_r on success.
    unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if fd == -1 {
            return Err(io::Error::last_os_error());
        }
        let master = File::from_raw_fd(fd);
        if libc::grantpt(fd) != 0 || libc::unlockpt(fd) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut name = [0 as libc::c_char; 128];
        let rc = libc::ptsname_r(fd, name.as_mut_ptr(), name.len());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if slave == -1 {
            return Err(io::Error::last_os_error());
        }
        let slave = OwnedFd::from_raw_fd(slave);
        let mut termios: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut termios) == 0 {
            termios.c_iflag |= libc::IUTF8;
            libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &termios);
        }
        Ok((master, slave))
    }
}

fn set_window_size(master: &File, size: GridSize) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: size.rows.max(1),
        ws_col: size.cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize that lives across the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
