//! Subcommands other than `analyze`: each maps validated arguments onto a library function and
//! returns an exit code.

use crate::app::EXIT_OK;
use crate::cli::{Cli, Command, ExportFormatArg, IntelCommand};
use crate::intel::export::ExportFormat;
use anyhow::{Context, Result};
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
        Command::Intel(IntelCommand::Stats { files, intel }) => {
            let (intel, whitelist) = crate::config::load_intel(&intel, &files)?;
            crate::intel::export::stats(&intel, &mut out)?;
            writeln!(
                out,
                "whitelist: {} entries, {} rejected",
                whitelist.entries().len(),
                whitelist.invalid().len()
            )?;
            for d in whitelist.invalid() {
                writeln!(out, "  {d}")?;
            }
        }
        Command::Intel(IntelCommand::Export {
            files,
            intel,
            format,
            output,
        }) => {
            let (intel, _) = crate::config::load_intel(&intel, &files)?;
            let format = match format {
                ExportFormatArg::Zeek => ExportFormat::Zeek,
                ExportFormatArg::Json => ExportFormat::Json,
                ExportFormatArg::Csv => ExportFormat::Csv,
            };
            let summary = match &output {
                Some(path) => {
                    let mut f = io::BufWriter::new(
                        std::fs::File::create(path)
                            .with_context(|| format!("cannot write {}", path.display()))?,
                    );
                    let s = crate::intel::export::export(&intel, format, &mut f)?;
                    f.flush()?;
                    s
                }
                None => crate::intel::export::export(&intel, format, &mut out)?,
            };
            for (kind, n) in &summary.skipped {
                eprintln!(
                    "captriage: note: {n} {kind} indicators have no {} form",
                    format.name()
                );
            }
        }
        other => anyhow::bail!("{other:?} is not available in this build yet"),
    }
    out.flush()?;
    Ok(EXIT_OK)
}
