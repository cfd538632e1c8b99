//! What the headless commands write.
//!
//! `println!` panics when stdout is a pipe whose reader has gone (`boocode workflow runs |
//! head -1`). Here a write to stdout returns that error instead, and a command that meets it
//! stops quietly ([`is_closed_pipe`]): the reader took what it wanted. Progress and errors on
//! stderr are best effort: a closed stderr is ignored.

use std::io::{self, Write};

/// Writes one line to stdout and flushes it.
pub fn out_line(args: std::fmt::Arguments<'_>) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Writes one line to stderr, ignoring a closed stderr.
pub fn err_line(args: std::fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args);
    let _ = err.write_all(b"\n");
}

/// True when `e`, or anything it wraps, is a write to a pipe nobody reads any more.
pub fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// `println!` that returns the write error (see the module docs).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::out_line(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::err_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};
