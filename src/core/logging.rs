//! Logs go to `$BOOCODE_HOME/logs/boocode.log`, never to the screen (the screen belongs to the
//! workspace or to the command's output).

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use tracing_subscriber::EnvFilter;

use crate::core::private_fs::{ensure_private_dir, ensure_private_file, private_open_options};

/// Installs the file logger; `BOOCODE_LOG` sets the filter (default `info`).
pub fn init(home: &Path) -> Result<()> {
    ensure_private_dir(home)?;
    let dir = home.join("logs");
    ensure_private_dir(&dir)?;
    let path = dir.join("boocode.log");
    ensure_private_file(&path)?;
    let file = private_open_options()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening log file {}", path.display()))?;
    let filter = EnvFilter::try_from_env("BOOCODE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // A second init (tests, nested engines) keeps the first logger.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
    Ok(())
}
