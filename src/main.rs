//! `boocode`: the command line. Subcommands are thin clients of the core engine.

mod cli;

fn main() {
    std::process::exit(cli::run());
}
