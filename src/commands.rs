//! Subcommands other than `analyze`: each maps validated arguments onto a library function and
//! returns an exit code.

use crate::cli::Command;
use anyhow::Result;

/// Runs a subcommand other than `analyze`.
pub fn run(command: Command) -> Result<u8> {
    anyhow::bail!("{command:?} is not available in this build yet")
}
