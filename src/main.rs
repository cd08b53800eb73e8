//! The `captriage` binary: parse the command line, run it, map the outcome to an exit code.

use captriage::app;
use captriage::cli::Cli;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if captriage::output::is_broken_pipe(&err) {
                return ExitCode::from(app::EXIT_OK);
            }
            captriage::stderr_line!("captriage: error: {err:#}");
            ExitCode::from(app::EXIT_ERROR)
        }
    }
}
