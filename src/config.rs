//! Validated configuration: raw flags (`crate::cli`) become a [`AnalyzeConfig`] once, with the
//! rule settings, indicators and whitelist loaded. Nothing after this module sees clap types.
//! Errors here are the user's to fix (exit code 2); bad entries inside intel files are not
//! errors but diagnostics kept in the intel summary.

use crate::alert::Level;
use crate::cli::{AnalyzeArgs, EngineArg, FailOnArg, FormatArg, IntelArgs};
use crate::intel::{Intel, IntelBuilder, Whitelist, WhitelistBuilder};
use crate::report::Format;
use crate::settings::Settings;
use anyhow::{Context as _, Result};
use std::path::PathBuf;

/// How captures are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Zeek when it is on PATH, else native.
    Auto,
    Zeek,
    Native,
}

/// Everything `analyze` needs, validated.
#[derive(Debug)]
pub struct AnalyzeConfig {
    pub paths: Vec<PathBuf>,
    pub settings: Settings,
    /// Warnings from the config file (unknown keys).
    pub settings_warnings: Vec<String>,
    pub intel: Intel,
    pub whitelist: Whitelist,
    pub format: Format,
    pub output: Option<PathBuf>,
    /// Exit 1 when an alert at or above this level is reported.
    pub fail_on: Option<Level>,
    pub baseline: Option<PathBuf>,
    pub quiet: bool,
    pub engine: Engine,
    pub pdns: Vec<PathBuf>,
    pub registration_dates: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub online: bool,
    pub geoip: Option<PathBuf>,
}

/// Loads the shipped defaults (unless switched off) and every named indicator and whitelist file.
pub fn load_intel(args: &IntelArgs, extra_iocs: &[PathBuf]) -> Result<(Intel, Whitelist)> {
    let mut ib = IntelBuilder::new();
    let mut wb = WhitelistBuilder::new();
    if !args.no_default_intel {
        crate::intel::defaults::load_defaults(&mut ib, &mut wb)
            .context("cannot load the shipped indicators")?;
    }
    for path in args.iocs.iter().chain(extra_iocs) {
        crate::intel::tinycheck::load_iocs(path, &mut ib)
            .with_context(|| format!("cannot load indicators from {}", path.display()))?;
    }
    for path in &args.whitelist {
        crate::intel::tinycheck::load_whitelist(path, &mut wb)
            .with_context(|| format!("cannot load whitelist {}", path.display()))?;
    }
    Ok((ib.build(), wb.build()))
}

impl AnalyzeConfig {
    /// Validates `analyze` flags and loads everything they name.
    pub fn from_args(args: AnalyzeArgs) -> Result<AnalyzeConfig> {
        let (settings, settings_warnings) = match &args.config {
            Some(path) => crate::settings::load(path)
                .with_context(|| format!("invalid config {}", path.display()))?,
            None => (Settings::default(), Vec::new()),
        };
        let (intel, whitelist) = load_intel(&args.intel, &[])?;
        let format = match args.format {
            Some(FormatArg::Table) => Format::Table,
            Some(FormatArg::Json) => Format::Json,
            Some(FormatArg::Html) => Format::Html,
            Some(FormatArg::Csv) => Format::Csv,
            Some(FormatArg::Ndjson) => Format::Ndjson,
            None => match args
                .output
                .as_ref()
                .and_then(|p| p.extension())
                .and_then(|e| e.to_str())
            {
                Some("json") => Format::Json,
                Some("html" | "htm") => Format::Html,
                Some("csv") => Format::Csv,
                Some("ndjson" | "jsonl") => Format::Ndjson,
                _ => Format::Table,
            },
        };
        let fail_on = match args.fail_on {
            FailOnArg::High => Some(Level::High),
            FailOnArg::Moderate => Some(Level::Moderate),
            FailOnArg::Low => Some(Level::Low),
            FailOnArg::None => None,
        };
        let engine = match args.engine {
            EngineArg::Auto => Engine::Auto,
            EngineArg::Zeek => Engine::Zeek,
            EngineArg::Native => Engine::Native,
        };
        Ok(AnalyzeConfig {
            paths: args.paths,
            settings,
            settings_warnings,
            intel,
            whitelist,
            format,
            output: args.output,
            fail_on,
            baseline: args.baseline,
            quiet: args.quiet,
            engine,
            pdns: args.pdns,
            registration_dates: args.registration_dates,
            state: args.state,
            online: args.online,
            geoip: args.geoip,
        })
    }
}
