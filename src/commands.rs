//! Subcommands other than `analyze`: each maps validated arguments onto a library function and
//! returns an exit code.

use crate::app::EXIT_OK;
use crate::cli::{
    Cli, Command, DomainArgs, DomainFormatArg, ExportFormatArg, ExtractArgs, IntelCommand,
    PdnsArgs, PdnsCommand, StateCommand,
};
use crate::enrich::domain::{DomainReport, DomainSettings, RegDates, assess};
use crate::enrich::pdns::{PdnsCollector, write_records};
use crate::enrich::serve::ServeOptions;
use crate::enrich::state::Store;
use crate::intel::export::ExportFormat;
use crate::model::{Diagnostic, Location, Record, Sink};
use anyhow::Result;
use clap::CommandFactory;
use std::io::{self, Write};
use std::sync::Arc;

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
                Some(path) => crate::output::to_file(path, |w| {
                    crate::intel::export::export(&intel, format, w)
                })?,
                None => crate::intel::export::export(&intel, format, &mut out)?,
            };
            for (kind, n) in &summary.skipped {
                crate::stderr_line!(
                    "captriage: note: {n} {kind} indicators have no {} form",
                    format.name()
                );
            }
        }
        Command::Pdns(args) => pdns(args, &mut out)?,
        Command::Domain(args) => domain(args, &mut out)?,
        Command::State(StateCommand::Import { file, tag, state }) => {
            let store = Store::open(&state)?;
            let mut diags = Vec::new();
            let n = store.import(&file, &tag, &mut diags)?;
            for d in &diags {
                crate::stderr_line!("captriage: warning: {d}");
            }
            writeln!(out, "{n} names tagged {tag:?} in {}", state.display())?;
        }
        Command::State(StateCommand::Stats { state }) => {
            let stats = Store::open(&state)?.stats()?;
            writeln!(out, "store:          {}", stats.path)?;
            writeln!(out, "domains seen:   {}", stats.domains)?;
            writeln!(out, "names tagged:   {}", stats.tagged)?;
            for (tag, n) in &stats.tags {
                writeln!(out, "  {tag}: {n}")?;
            }
            writeln!(out, "passive DNS:    {} records", stats.pdns_records)?;
            writeln!(out, "lookup cache:   {} entries", stats.cache_entries)?;
        }
        Command::Serve(args) => {
            let store = Arc::new(Store::open(&args.state)?);
            crate::stderr_line!(
                "captriage: serving {} read-only on http://{}",
                args.state.display(),
                args.listen
            );
            out.flush()?;
            crate::enrich::serve::serve(store, args.listen, ServeOptions::default())?;
        }
        Command::Extract(args) => extract(args, &mut out)?,
        Command::Analyze(_) => anyhow::bail!("analyze is run by app::run"),
    }
    out.flush()?;
    Ok(EXIT_OK)
}

/// Collects the DNS records of every input as passive DNS.
struct DnsOnly<'a> {
    collector: &'a mut PdnsCollector,
    problems: u64,
}

impl Sink for DnsOnly<'_> {
    fn record(&mut self, record: Record<'_>, _location: &Location) {
        if let Record::Dns(d) = &record {
            self.collector.add(d);
        }
    }
    fn columns(&self) -> crate::input::zeek::Columns {
        crate::input::zeek::Columns::ANALYSIS
    }
    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.problems += 1;
        crate::stderr_line!("captriage: warning: {diagnostic}");
    }
}

/// `captriage pdns`: export the DNS observations of logs or captures as COF NDJSON, or query a
/// state store.
fn pdns(args: PdnsArgs, out: &mut dyn Write) -> Result<()> {
    if let Some(PdnsCommand::Query { name, state }) = args.command {
        let store = Store::open(&state)?;
        let records = store.query_pdns(&name)?;
        write_records(out, &records)?;
        return Ok(());
    }
    anyhow::ensure!(
        !args.paths.is_empty(),
        "give Zeek logs or captures to export"
    );
    let mut collector = PdnsCollector::new();
    let mut sink = DnsOnly {
        collector: &mut collector,
        problems: 0,
    };
    let unreadable = crate::app::read_all(&args.paths, &mut sink)?;
    for u in &unreadable {
        crate::stderr_line!("captriage: error: {u}");
    }
    let write = |w: &mut dyn Write| collector.write(w, args.sensor_id.as_deref(), None);
    let written = match &args.output {
        Some(path) => crate::output::to_file(path, write),
        None => write(out).map_err(Into::into),
    };
    // A reader that stopped early (`| head`) does not hide the inputs that could not be read.
    crate::output::unless_reader_gone(written)?;
    anyhow::ensure!(unreadable.is_empty(), "some inputs could not be read");
    Ok(())
}

/// `captriage domain`: what domain_stats answers, offline.
fn domain(args: DomainArgs, out: &mut dyn Write) -> Result<()> {
    let store = args.state.as_deref().map(Store::open).transpose()?;
    let mut diags = Vec::new();
    let dates = args
        .registration_dates
        .as_ref()
        .map(|p| RegDates::load(p, &mut diags))
        .transpose()?;
    for d in &diags {
        crate::stderr_line!("captriage: warning: {d}");
    }
    let settings = DomainSettings {
        new_domain_days: u64::from(crate::settings::Settings::default().new_domain_days),
        ..DomainSettings::default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let reports: Vec<DomainReport> = args
        .names
        .iter()
        .map(|n| assess(n, store.as_ref(), dates.as_ref(), &settings, now))
        .collect::<Result<_>>()?;
    match args.format {
        DomainFormatArg::Json => {
            serde_json::to_writer_pretty(&mut *out, &reports)?;
            writeln!(out)?;
        }
        DomainFormatArg::Table => {
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
                .force_no_tty();
            t.set_header([
                "domain",
                "registrable",
                "freq score",
                "seen by you",
                "category",
                "alerts",
            ]);
            for r in &reports {
                t.add_row([
                    r.domain.clone(),
                    r.registrable.clone().unwrap_or_else(|| "-".into()),
                    format!("{:.4}, {:.4}", r.freq_score[0], r.freq_score[1]),
                    r.seen_by_you.clone().unwrap_or_else(|| "-".into()),
                    r.category.unwrap_or("-").to_string(),
                    r.alerts.join(", "),
                ]);
            }
            writeln!(out, "{t}")?;
        }
    }
    Ok(())
}

/// `captriage extract`: the native decoder's view of a capture as Zeek logs.
fn extract(args: ExtractArgs, out: &mut dyn Write) -> Result<()> {
    let stats = crate::input::pcap::extract(&args.capture, &args.output, args.force)?;
    for d in &stats.diagnostics {
        crate::stderr_line!("captriage: warning: {d}");
    }
    writeln!(
        out,
        "{}: {} packets ({}{}), {} errors -> {}: conn {}, dns {}, ssl {}, x509 {}, http {}",
        args.capture.display(),
        stats.capture.packets,
        stats.capture.format,
        if stats.capture.compressed {
            ", gzip"
        } else {
            ""
        },
        stats.capture.errors,
        args.output.display(),
        stats.conn,
        stats.dns,
        stats.ssl,
        stats.x509,
        stats.http
    )?;
    Ok(())
}
