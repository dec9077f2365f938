//! Logging setup, once per process: `RUST_LOG` filters (default `info`), text or JSON lines on
//! standard error. Lines are written by a background thread (`tracing-appender`), so a request
//! never waits on the write; [`LogGuard`] flushes what is left when the process ends.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Keep alive until exit: dropping it flushes buffered log lines.
pub type LogGuard = Option<tracing_appender::non_blocking::WorkerGuard>;

pub fn init(format: LogFormat) -> LogGuard {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        // Under overload, block rather than drop lines: logs are part of the audit trail.
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    installed.ok().map(|_| guard)
}
