//! Validated configuration: raw flags (`crate::cli`) become a [`AnalyzeConfig`] once, with the
//! rule settings, indicators and whitelist loaded. Nothing after this module sees clap types.
//! Errors here are the user's to fix (exit code 2); bad entries inside intel files are not
//! errors but diagnostics kept in the intel summary.

use crate::alert::Level;
use crate::cli::{AnalyzeArgs, EngineArg, FailOnArg, FormatArg, IntelArgs, IocFormatArg};
use crate::intel::TypeSpec;
use crate::intel::formats::IocFormat;
use crate::intel::{Intel, IntelBuilder, IocInput, Whitelist, WhitelistBuilder};
use crate::model::Location;
use crate::report::Format;
use crate::settings::Settings;
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

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
    pub pdns_max_age_days: Option<u32>,
    pub random_domains: bool,
    pub registration_dates: Option<PathBuf>,
    pub state: Option<PathBuf>,
    pub online: bool,
    pub max_decompressed: u64,
    /// Most distinct destinations tracked (at least 1).
    pub max_destinations: usize,
    /// Where temporary files go (`None`: the system's temporary directory); an existing
    /// directory.
    pub temp_dir: Option<PathBuf>,
    /// How conn-phase logs are read in parallel (threads resolved: never 0).
    pub parallel: crate::input::zeek::ParallelOptions,
    pub nameserver: Option<std::net::SocketAddr>,
    pub rdap_base: String,
    pub online_budget: std::time::Duration,
    pub geoip: Vec<PathBuf>,
}

/// Loads the shipped defaults (unless switched off) and every named indicator and whitelist file.
/// Indicator files are parsed in parallel ([`crate::intel::load_inputs`]); the result is the
/// same as loading them one after another, defaults first.
pub fn load_intel(args: &IntelArgs, extra_iocs: &[PathBuf]) -> Result<(Intel, Whitelist)> {
    let mut ib = IntelBuilder::new();
    let mut wb = WhitelistBuilder::new();
    let mut inputs: Vec<IocInput<'_>> = Vec::new();
    if !args.no_default_intel {
        inputs.extend(crate::intel::defaults::ioc_inputs());
        crate::intel::defaults::load_default_whitelist(&mut wb)
            .context("cannot load the shipped indicators")?;
    }
    let defaults = inputs.len();
    let paths: Vec<&PathBuf> = args.iocs.iter().chain(extra_iocs).collect();
    inputs.extend(paths.iter().map(|p| IocInput::Path(p)));
    let format = ioc_format(args.iocs_format);
    for (i, r) in crate::intel::load_inputs(&inputs, format, &mut ib)
        .into_iter()
        .enumerate()
    {
        match i.checked_sub(defaults).and_then(|j| paths.get(j)) {
            None => r.context("cannot load the shipped indicators")?,
            Some(path) => {
                r.with_context(|| format!("cannot load indicators from {}", path.display()))?
            }
        };
    }
    for path in &args.whitelist {
        load_whitelist(path, &mut wb)
            .with_context(|| format!("cannot load whitelist {}", path.display()))?;
    }
    Ok((ib.build(), wb.build()))
}

/// The indicator format named by `--iocs-format` (`None`: detect from content).
pub fn ioc_format(arg: IocFormatArg) -> Option<IocFormat> {
    match arg {
        IocFormatArg::Auto => None,
        IocFormatArg::Tinycheck => Some(IocFormat::Tinycheck),
        IocFormatArg::Stalkerware => Some(IocFormat::Echap),
        IocFormatArg::Zeek => Some(IocFormat::Zeek),
        IocFormatArg::Misp => Some(IocFormat::Misp),
        IocFormatArg::Stix => Some(IocFormat::Stix),
        IocFormatArg::Plain => Some(IocFormat::Plain),
        IocFormatArg::Csv => Some(IocFormat::Csv),
    }
}

/// Loads a whitelist: TinyCheck's JSON (`{"elements": [...]}` or a bare list), or a plain list
/// with one address, CIDR or domain per line (`#` starts a comment).
pub fn load_whitelist(path: &Path, wb: &mut WhitelistBuilder) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let source = crate::intel::source_name(path);
    if matches!(text.trim_start().chars().next(), Some('{' | '[')) {
        return crate::intel::tinycheck::parse_whitelist_str(&source, &text, wb);
    }
    for (i, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let value = entry.split_whitespace().next().unwrap_or(entry);
        wb.add(
            TypeSpec::Unknown,
            value,
            Location::line(&source, i as u64 + 1),
        );
    }
    Ok(())
}

/// Refuses an `--output` that is one of the files `args` reads (the report would overwrite it);
/// `--baseline` may be, as it is read before the report is written. Inputs found in directories
/// are checked once they are found ([`crate::app::analyze`]).
fn check_output(args: &AnalyzeArgs) -> Result<()> {
    let Some(out) = &args.output else {
        return Ok(());
    };
    let named = [
        ("an input", args.paths.as_slice()),
        ("an --iocs file", args.intel.iocs.as_slice()),
        ("a --whitelist file", args.intel.whitelist.as_slice()),
        ("the --config file", args.config.as_slice()),
        ("a --pdns file", args.pdns.as_slice()),
        ("a --geoip database", args.geoip.as_slice()),
        (
            "the --registration-dates file",
            args.registration_dates.as_slice(),
        ),
    ];
    for (what, paths) in named {
        if let Some(p) = paths.iter().find(|p| crate::input::same_file(out, p)) {
            anyhow::bail!(
                "--output {} is {what} ({}): the report would overwrite it",
                out.display(),
                p.display()
            );
        }
    }
    Ok(())
}

impl AnalyzeConfig {
    /// Validates `analyze` flags and loads everything they name.
    pub fn from_args(args: AnalyzeArgs) -> Result<AnalyzeConfig> {
        check_output(&args)?;
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
        if args.max_destinations == 0 {
            anyhow::bail!("--max-destinations must be at least 1");
        }
        // A cap of 0 bytes would make every gzip-compressed input unreadable.
        if args.max_decompressed == 0 {
            anyhow::bail!("--max-decompressed must be at least 1 (bytes)");
        }
        if let Some(d) = &args.temp_dir
            && !d.is_dir()
        {
            anyhow::bail!("--temp-dir {}: not an existing directory", d.display());
        }
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
            pdns_max_age_days: args.pdns_max_age,
            random_domains: args.random_domains,
            registration_dates: args.registration_dates,
            state: args.state,
            online: args.online,
            max_decompressed: args.max_decompressed,
            max_destinations: args.max_destinations,
            temp_dir: args.temp_dir,
            parallel: crate::input::zeek::ParallelOptions {
                threads: match args.threads {
                    0 => crate::input::zeek::ParallelOptions::default().threads,
                    n => n,
                },
                batch_bytes: args.batch_bytes.max(1),
            },
            nameserver: args.nameserver,
            rdap_base: args.rdap_base,
            online_budget: std::time::Duration::from_secs(args.online_budget),
            geoip: args.geoip,
        })
    }
}
