//! `boocode debug ...`: hidden tools for checking boocode against other programs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use boocode::core::pty::alacritty::{AlacrittyScreen, DEFAULT_SCROLLBACK_LINES};
use boocode::core::pty::capture::capture_screen;
use boocode::core::pty::screen::{GridSize, ScreenEngine};

use super::output::outln;

#[derive(Args, Debug)]
pub struct DebugArgs {
    #[command(subcommand)]
    command: DebugCommand,
}

#[derive(Subcommand, Debug)]
enum DebugCommand {
    /// Feed a recorded byte stream through a terminal pane's screen model and print the final
    /// screen (trailing blanks trimmed) and a last line `cursor X,Y`, comparable with
    /// `tmux capture-pane -p [-e]` and `display -p '#{cursor_x},#{cursor_y}'`.
    VtReplay(VtReplayArgs),
}

#[derive(Args, Debug)]
struct VtReplayArgs {
    #[arg(long, value_parser = clap::value_parser!(u16).range(2..))]
    cols: u16,
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    rows: u16,
    /// Write SGR escapes where colours and attributes change, as `capture-pane -e` does.
    #[arg(long)]
    ansi: bool,
    file: PathBuf,
}

pub fn run(args: DebugArgs) -> Result<()> {
    match args.command {
        DebugCommand::VtReplay(args) => vt_replay(&args),
    }
}

fn vt_replay(args: &VtReplayArgs) -> Result<()> {
    let bytes = std::fs::read(&args.file).with_context(|| args.file.display().to_string())?;
    let size = GridSize {
        cols: args.cols,
        rows: args.rows,
    };
    let mut screen = AlacrittyScreen::new(size, DEFAULT_SCROLLBACK_LINES);
    screen.feed(&bytes);
    let capture = capture_screen(&screen, args.ansi);
    outln!("{}", capture.trim_end_matches('\n'))?;
    Ok(())
}
