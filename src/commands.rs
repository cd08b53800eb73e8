//! Subcommands other than `analyze`: each maps validated arguments onto a library function and
//! returns an exit code.

use crate::app::EXIT_OK;
use crate::cli::{Cli, Command};
use anyhow::Result;
use clap::CommandFactory;
use std::io::{self, Write};

/// Runs a subcommand other than `analyze`.
pub fn run(command: Command) -> Result<u8> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match command {
        Command::Schema => out.write_all(crate::report::json_schema().as_bytes())?,
        Command::Completions { shell } => {
            crate::report::docs::completions(&mut Cli::command(), shell, &mut out)
        }
        Command::Man => crate::report::docs::man_page(Cli::command(), &mut out)?,
        other => anyhow::bail!("{other:?} is not available in this build yet"),
    }
    out.flush()?;
    Ok(EXIT_OK)
}
