//! Records what a program writes to its terminal, for the screen-engine replay tests.
//!
//! ```text
//! cargo run --example vt_record -- --cols 80 --rows 24 --out FILE \
//!     [--env NAME=VALUE]... [--step sleep:MS | --step keys:TEXT]... -- PROGRAM [ARGS...]
//! ```
//!
//! Runs PROGRAM on a fresh pseudo-terminal of the given size (TERM=xterm-256color, LANG
//! C.UTF-8), plays the steps in order (`keys:` text takes `\r \n \t \e \\ \xHH` escapes), then
//! waits up to two seconds for the program to exit, kills it if it did not, and saves every byte
//! it wrote. Nothing is answered: queries the program sends are recorded, and the replay answers
//! them. Killing (rather than quitting) keeps the program's own screen as the final one.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

enum Step {
    Sleep(Duration),
    Keys(Vec<u8>),
}

struct Recording {
    cols: u16,
    rows: u16,
    out: String,
    env: Vec<(String, String)>,
    steps: Vec<Step>,
    program: Vec<String>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("vt_record: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let recording = parse_args(std::env::args().skip(1).collect())?;
    let (master, slave) = open_pty(recording.cols, recording.rows)?;
    let mut child = spawn(&recording, slave)?;
    let mut reader = File::from(master.try_clone().map_err(|e| e.to_string())?);
    let collector = thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 8192];
        // EIO once the last slave descriptor closes: the program is gone.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        bytes
    });
    let mut writer = File::from(master);
    for step in &recording.steps {
        match step {
            Step::Sleep(duration) => thread::sleep(*duration),
            Step::Keys(keys) => writer.write_all(keys).map_err(|e| e.to_string())?,
        }
    }
    finish(&mut child);
    drop(writer);
    let bytes = collector
        .join()
        .map_err(|_| "the reader thread panicked".to_string())?;
    std::fs::write(&recording.out, &bytes).map_err(|e| format!("{}: {e}", recording.out))?;
    eprintln!("vt_record: {} bytes to {}", bytes.len(), recording.out);
    Ok(())
}

/// Waits for the program to exit by itself for a while, then kills it.
fn finish(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn parse_args(args: Vec<String>) -> Result<Recording, String> {
    let mut recording = Recording {
        cols: 80,
        rows: 24,
        out: String::new(),
        env: Vec::new(),
        steps: Vec::new(),
        program: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--cols" => recording.cols = value()?.parse().map_err(|e| format!("--cols: {e}"))?,
            "--rows" => recording.rows = value()?.parse().map_err(|e| format!("--rows: {e}"))?,
            "--out" => recording.out = value()?,
            "--env" => {
                let pair = value()?;
                let (name, val) = pair.split_once('=').ok_or("--env takes NAME=VALUE")?;
                recording.env.push((name.to_string(), val.to_string()));
            }
            "--step" => recording.steps.push(parse_step(&value()?)?),
            "--" => {
                recording.program = args.collect();
                break;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if recording.out.is_empty() || recording.program.is_empty() {
        return Err("usage: vt_record --cols C --rows R --out FILE [--step ...] -- PROGRAM".into());
    }
    Ok(recording)
}

fn parse_step(spec: &str) -> Result<Step, String> {
    if let Some(ms) = spec.strip_prefix("sleep:") {
        let ms = ms.parse().map_err(|e| format!("{spec}: {e}"))?;
        Ok(Step::Sleep(Duration::from_millis(ms)))
    } else if let Some(text) = spec.strip_prefix("keys:") {
        Ok(Step::Keys(unescape(text)?))
    } else {
        Err(format!("a step is sleep:MS or keys:TEXT, not {spec}"))
    }
}

fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('e') => out.push(0x1b),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).map_err(|e| format!("\\x{hex}: {e}"))?);
            }
            other => return Err(format!("unknown escape \\{}", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

fn open_pty(cols: u16, rows: u16) -> Result<(OwnedFd, OwnedFd), String> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors it opened into the given ints.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if rc != 0 {
        return Err(format!("openpty: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors are open and owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // SAFETY: setting FD_CLOEXEC on a descriptor we own; the program must not inherit it.
    unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok((master, slave))
}

fn spawn(recording: &Recording, slave: OwnedFd) -> Result<Child, String> {
    let stdio = |fd: &OwnedFd| fd.try_clone().map(Stdio::from).map_err(|e| e.to_string());
    let mut command = Command::new(&recording.program[0]);
    command
        .args(&recording.program[1..])
        .env("TERM", "xterm-256color")
        .env("LANG", "C.UTF-8")
        .envs(recording.env.iter().cloned())
        .stdin(stdio(&slave)?)
        .stdout(stdio(&slave)?)
        .stderr(stdio(&slave)?);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| format!("{}: {e}", recording.program[0]))?;
    drop(command);
    drop(slave);
    Ok(child)
}
