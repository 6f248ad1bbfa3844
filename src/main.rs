//! `kastell`: the window when run alone, the command line with a subcommand.

use clap::Parser;
use kastell::cli::Cli;
use kastell::desktop::app_bus::Request;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One tokio runtime for the whole process, started here; the Qt event loop (when there is
    // a window) runs on the main thread beside it.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("kastell-core")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kastell: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Some(command) => runtime.block_on(kastell::cli::run(command)),
        None => {
            let request = match cli.show_run {
                Some(id) => Request::ShowRun(id),
                None => Request::Activate,
            };
            open_window(runtime, cli.config, request)
        }
    }
}

#[cfg(feature = "gui")]
fn open_window(
    runtime: tokio::runtime::Runtime,
    config: Option<std::path::PathBuf>,
    request: Request,
) -> ExitCode {
    kastell::gui::run(runtime, config, request)
}

#[cfg(not(feature = "gui"))]
fn open_window(
    _runtime: tokio::runtime::Runtime,
    _config: Option<std::path::PathBuf>,
    _request: Request,
) -> ExitCode {
    eprintln!("kastell: this build has no window (built without the `gui` feature); see `kastell --help`.");
    ExitCode::FAILURE
}
