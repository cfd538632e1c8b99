//! Logs go to `$BOOCODE_HOME/logs/boocode.log`, never to the screen (the screen belongs to the
//! workspace or to the command's output).

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result};
use tracing_subscriber::EnvFilter;

/// Installs the file logger; `BOOCODE_LOG` sets the filter (default `info`).
pub fn init(home: &Path) -> Result<()> {
    let dir = home.join("logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("boocode.log");
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
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
