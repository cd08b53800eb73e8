//! The pipeline, and the dispatch of subcommands to it: read every input in phase order into
//! the facts, run the rules, assemble the report, write it, and choose the exit code.

use crate::FastSet;
use crate::alert::Level;
use crate::cli::{Cli, Command};
use crate::config::{AnalyzeConfig, Engine};
use crate::enrich::geoip::GeoIp;
use crate::enrich::pdns::PdnsCollector;
use crate::enrich::state::Store;
use crate::enrichment::{self, Tee};
use crate::facts::{ConnPartial, Facts, FactsBuilder};
use crate::input::zeek_runner::{self, ZeekOutput, ZeekRunner};
use crate::input::{self, InputFile, InputKind};
use crate::model::{LogKind, Sink};
use crate::output;
use crate::progress::Progress;
use crate::report::{
    self, DestinationStatus, DestinationSummary, Format, InputSummary, IntelSummary, Report,
    WhitelistedDestination,
};
use crate::rules::{self, Context};
use anyhow::{Context as _, Result};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, IsTerminal};

/// Exit code: the run completed and nothing reached `--fail-on`.
pub const EXIT_OK: u8 = 0;
/// Exit code: an alert at or above `--fail-on` was reported.
pub const EXIT_ALERT: u8 = 1;
/// Exit code: a wrong argument, or an input that could not be read at all.
pub const EXIT_ERROR: u8 = 2;

/// Runs one command and returns its exit code.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Analyze(args) => {
            let cfg = AnalyzeConfig::from_args(*args)?;
            run_analyze(&cfg)
        }
        other => crate::commands::run(other),
    }
}

fn run_analyze(cfg: &AnalyzeConfig) -> Result<u8> {
    let quiet = cfg.quiet;
    let mut warned = 0usize;
    let mut warn = |msg: &str| {
        if !quiet {
            warned += 1;
            if warned <= MAX_PRINTED_WARNINGS {
                crate::stderr_line!("captriage: warning: {msg}");
            }
        }
    };
    for w in &cfg.settings_warnings {
        warn(w);
    }
    let report = analyze(cfg, &mut warn)?;
    if !quiet && warned > MAX_PRINTED_WARNINGS {
        crate::stderr_line!(
            "captriage: warning: {} more warnings not shown (all are counted in the report)",
            warned - MAX_PRINTED_WARNINGS
        );
    }
    for u in &report.unreadable {
        crate::stderr_line!("captriage: error: {u}");
    }
    let code = exit_code(&report, cfg.fail_on);
    // A reader that stopped early (`| head`) does not change the verdict a CI job gates on.
    output::unless_reader_gone(write_report(cfg, &report))?;
    // The process ends here: the operating system takes the report's memory back at once,
    // where freeing it piece by piece takes a while for a report of many destinations.
    std::mem::forget(report);
    Ok(code)
}

/// Most warnings printed on standard error; the rest are counted.
pub const MAX_PRINTED_WARNINGS: usize = 100;

/// The exit code for a finished report.
pub fn exit_code(report: &Report, fail_on: Option<Level>) -> u8 {
    if report.incomplete() {
        return EXIT_ERROR;
    }
    match (fail_on, report.highest()) {
        (Some(gate), Some(top)) if top <= gate => EXIT_ALERT,
        _ => EXIT_OK,
    }
}

fn write_report(cfg: &AnalyzeConfig, report: &Report) -> Result<()> {
    match &cfg.output {
        Some(path) => output::to_file(path, |w| report::write(report, cfg.format, false, w)),
        None => {
            let color = cfg.format == Format::Table
                && report::table::color_wanted(io::stdout().is_terminal());
            output::to_stdout(|w| report::write(report, cfg.format, color, w))
        }
    }
}

/// Records of one capture, kept on disk until their phase comes.
type Buffered = input::spill::Spill;

/// Reads every input and evaluates the rules; `warn` receives every diagnostic as text.
pub fn analyze(cfg: &AnalyzeConfig, warn: &mut dyn FnMut(&str)) -> Result<Report> {
    // The cap is process-wide; only a non-default value changes it.
    if cfg.max_decompressed != input::DEFAULT_MAX_DECOMPRESSED {
        input::set_max_decompressed(cfg.max_decompressed);
    }
    let (files, mut unreadable) = input::discover(&cfg.paths);
    if let Some(out) = &cfg.output
        && let Some(f) = files.iter().find(|f| input::same_file(out, &f.path))
    {
        anyhow::bail!(
            "--output {} is an input ({}): the report would overwrite it",
            out.display(),
            f.path.display()
        );
    }
    let mut zeek_files: Vec<(InputFile, String)> = Vec::new();
    let mut captures: Vec<(Buffered, InputSummary)> = Vec::new();
    let mut temp_dirs = Vec::new();
    for f in files {
        match &f.kind {
            InputKind::Zeek { .. } => {
                let shown = f.path.display().to_string();
                zeek_files.push((f, shown));
            }
            InputKind::Capture(_) => {
                match read_capture(
                    &f,
                    cfg.engine,
                    cfg.temp_dir.as_deref(),
                    &mut zeek_files,
                    &mut temp_dirs,
                ) {
                    Ok(Some(buffered)) => captures.push(buffered),
                    Ok(None) => {}
                    Err(e) => unreadable.push(format!("{}: {e:#}", f.path.display())),
                }
            }
        }
    }
    zeek_files.sort_by(|a, b| {
        let ka = match &a.0.kind {
            InputKind::Zeek { kind, .. } => kind.phase(),
            InputKind::Capture(_) => 7,
        };
        let kb = match &b.0.kind {
            InputKind::Zeek { kind, .. } => kind.phase(),
            InputKind::Capture(_) => 7,
        };
        (ka, &a.1).cmp(&(kb, &b.1))
    });

    let total: u64 = zeek_files
        .iter()
        .filter_map(|(f, _)| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    let progress = Progress::new(total, cfg.quiet);
    let mut builder = FactsBuilder::with_max_destinations(cfg.max_destinations);
    builder.set_join_dir(cfg.temp_dir.clone());
    let mut pdns_collector = cfg.state.as_ref().map(|_| PdnsCollector::new());
    let mut inputs: Vec<InputSummary> = Vec::new();
    let mut file_iter = zeek_files.into_iter().peekable();
    let mut rank_base = 0;
    for phase in 0..=6u8 {
        let mut batch: Vec<(InputFile, String)> = Vec::new();
        while let Some(f) = file_iter.next_if(|(f, _)| match &f.kind {
            InputKind::Zeek { kind, .. } => kind.phase() <= phase,
            InputKind::Capture(_) => false,
        }) {
            batch.push(f);
        }
        // Connections are aggregated order-independently, so conn and later logs (the bulk of
        // the rows) are read on several threads; earlier phases build the name and join state
        // those need, in order.
        let results = if phase >= LogKind::Conn.phase() && cfg.parallel.threads > 1 {
            let paths: Vec<&std::path::Path> =
                batch.iter().map(|(f, _)| f.path.as_path()).collect();
            let (results, sinks) = input::zeek::read_files_parallel(
                &paths,
                rank_base,
                cfg.parallel,
                || builder.partial(),
                &|n| progress.inc(n),
            );
            rank_base += paths.len();
            let parts: Vec<_> = sinks.into_iter().map(ConnPartial::finish).collect();
            let others = builder.merge(parts);
            let mut sink = Tee {
                builder: &mut builder,
                pdns: pdns_collector.as_mut(),
            };
            for (rec, loc) in others {
                sink.record(rec, &loc);
            }
            results
        } else {
            let mut sink = Tee {
                builder: &mut builder,
                pdns: pdns_collector.as_mut(),
            };
            let threads = cfg.parallel.threads > 1;
            batch
                .iter()
                .map(|(f, _)| {
                    // With threads, a gzip log of these phases is decompressed on a thread of
                    // its own, and DNS and TLS logs (the bulk of these rows) are parsed on
                    // another thread while this one builds the names and joins from them.
                    let on_read = &|n| progress.inc(n);
                    let pipelined = [LogKind::Dns.phase(), LogKind::Ssl.phase()];
                    if threads && pipelined.contains(&phase) {
                        input::zeek::read_file_pipelined(&f.path, &mut sink, on_read, true)
                    } else {
                        input::zeek::read_file_with(&f.path, &mut sink, on_read, threads)
                    }
                })
                .collect()
        };
        for ((f, shown), result) in batch.into_iter().zip(results) {
            match result {
                Ok(stats) => inputs.push(InputSummary {
                    path: shown,
                    log_type: stats.kind.name().to_string(),
                    format: match stats.format {
                        input::LogFormat::Tsv => "tsv".into(),
                        input::LogFormat::Json => "json".into(),
                    },
                    compressed: stats.compressed,
                    rows: stats.rows,
                    errors: stats.errors,
                }),
                Err(e) => unreadable.push(format!("{}: {e}", f.path.display())),
            }
        }
        let mut sink = Tee {
            builder: &mut builder,
            pdns: pdns_collector.as_mut(),
        };
        for (buffered, _) in &mut captures {
            buffered.replay(phase, &mut sink);
        }
    }
    progress.finish();
    let mut sink = Tee {
        builder: &mut builder,
        pdns: pdns_collector.as_mut(),
    };
    for (buffered, summary) in captures {
        for d in buffered.diagnostics {
            sink.diagnostic(d);
        }
        inputs.push(summary);
    }
    drop(temp_dirs);
    enrichment::add_side_sources(cfg, &mut builder, warn)?;
    let mut facts = builder.finish();
    for d in &facts.diagnostics {
        warn(&d.to_string());
    }
    if facts.diagnostics_total > facts.diagnostics.len() as u64 {
        warn(&format!(
            "{} further problems were counted but not kept",
            facts.diagnostics_total - facts.diagnostics.len() as u64
        ));
    }
    let store = match &cfg.state {
        Some(dir) => {
            Some(Store::open(dir).with_context(|| format!("state store {}", dir.display()))?)
        }
        None => None,
    };
    let geoip = match cfg.geoip.is_empty() {
        true => None,
        false => Some(GeoIp::open(&cfg.geoip)?),
    };
    let mut online = enrichment::online(cfg, store.as_ref())?;
    let online_dates = match online.as_mut() {
        Some(o) => enrichment::online_active(o, &mut facts, &cfg.settings, warn),
        None => Default::default(),
    };
    let file_dates = enrichment::registration_source(cfg, warn)?;
    let have_dates = file_dates.is_some() || !online_dates.is_empty();
    let registration = enrichment::CombinedDates {
        file: file_dates,
        online: online_dates,
    };
    let state = enrichment::update_state(store.as_ref(), &facts, pdns_collector.as_ref())?;
    let mut ctx = Context::new(
        &cfg.settings,
        &cfg.intel,
        Some(&cfg.whitelist),
        &facts,
        Some(&registration),
    );
    ctx.first_contacts = state.as_ref().map(|s| &s.first_contacts);
    ctx.random_domains = cfg.random_domains;
    let collector = rules::run(&ctx, cfg.parallel.threads);
    let names_cut = collector.names_cut;
    let mut alerts = collector.into_sorted();
    enrichment::annotate_alerts(&mut alerts, online.as_mut(), geoip.as_ref());
    let whitelisted = whitelisted_destinations(&ctx);
    let limitations = limitations(&facts, names_cut, cfg.max_destinations);
    let destinations = destinations(&ctx, &alerts);
    let timeline = timeline(&facts);
    let mut report = Report {
        inputs,
        alerts,
        whitelisted,
        intel: intel_summary(cfg),
        diagnostics: facts.diagnostics.clone(),
        unreadable,
        limitations,
        active_sources: active_sources(cfg, have_dates),
        destinations,
        timeline,
    };
    if let Some(s) = &state {
        report.active_sources.push(format!(
            "state store: {} first contacts, {} new passive DNS records",
            s.first_contacts.len(),
            s.new_pdns
        ));
    }
    if let Some(path) = &cfg.baseline {
        let known = report::baseline::load_baseline(path)
            .with_context(|| format!("cannot read the baseline report {}", path.display()))?;
        let hidden = report::baseline::retain_new(&mut report, &known);
        warn(&format!(
            "{hidden} alerts already in the baseline {} are not reported",
            path.display()
        ));
    }
    // Freeing the facts of a large input takes a while (about a tenth of a second per 50,000
    // destinations), and the report no longer needs them: with threads to spare they are freed
    // on a thread of their own while the caller writes the report.
    drop(ctx);
    if cfg.parallel.threads > 1 {
        let _ = std::thread::Builder::new()
            .name("free-facts".into())
            .spawn(move || drop(facts));
    }
    Ok(report)
}

/// Reads every input under `paths` into `sink` in phase order (logs, and captures through the
/// native decoder), returning the inputs that could not be read.
pub fn read_all(paths: &[std::path::PathBuf], sink: &mut dyn Sink) -> Result<Vec<String>> {
    let (mut files, mut unreadable) = input::discover(paths);
    files.sort_by_key(|f| match &f.kind {
        InputKind::Zeek { kind, .. } => kind.phase(),
        InputKind::Capture(_) => 0,
    });
    for f in files {
        let result = match &f.kind {
            InputKind::Zeek { .. } => input::zeek::read_file(&f.path, sink).map(|_| ()),
            InputKind::Capture(_) => native_records(&f.path, sink),
        };
        if let Err(e) = result {
            unreadable.push(format!("{}: {e:#}", f.path.display()));
        }
    }
    Ok(unreadable)
}

/// How long Zeek may take over one capture.
pub const ZEEK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

fn read_capture(
    f: &InputFile,
    engine: Engine,
    temp_dir: Option<&std::path::Path>,
    zeek_files: &mut Vec<(InputFile, String)>,
    temp_dirs: &mut Vec<ZeekOutput>,
) -> Result<Option<(Buffered, InputSummary)>> {
    let use_zeek = match engine {
        Engine::Native => false,
        Engine::Zeek => true,
        Engine::Auto => zeek_runner::find_zeek().is_some(),
    };
    if use_zeek {
        let runner =
            ZeekRunner::from_path(ZEEK_TIMEOUT).context("--engine zeek: no `zeek` on PATH")?;
        // Zeek cannot read gzip-compressed captures: hand it a decompressed copy.
        let plain;
        let capture = if f.compressed {
            plain = decompressed_copy(&f.path, temp_dir)?;
            plain.path().to_path_buf()
        } else {
            f.path.clone()
        };
        let out = runner.run_in(&capture, temp_dir)?;
        let (logs, bad) = input::discover_output(out.path());
        if let Some(b) = bad.first() {
            anyhow::bail!("reading Zeek's logs: {b}");
        }
        for log in logs {
            let name = log
                .path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let shown = format!("{} (zeek: {name})", f.path.display());
            zeek_files.push((log, shown));
        }
        temp_dirs.push(out);
        return Ok(None);
    }
    native_capture(f, temp_dir)
}

/// A decompressed copy of a gzip-compressed capture in `dir` (`None`: the system's temporary
/// directory), removed when dropped.
fn decompressed_copy(
    path: &std::path::Path,
    dir: Option<&std::path::Path>,
) -> Result<tempfile::NamedTempFile> {
    let (mut reader, _) = input::open(path)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix("captriage-").suffix(".pcap");
    let mut tmp = match dir {
        Some(d) => builder.tempfile_in(d),
        None => builder.tempfile(),
    }
    .context("cannot create a temporary file for the decompressed capture")?;
    std::io::copy(&mut reader, &mut tmp)
        .with_context(|| format!("cannot decompress {}", path.display()))?;
    Ok(tmp)
}

fn native_records(path: &std::path::Path, sink: &mut dyn Sink) -> std::io::Result<()> {
    input::pcap::decode_file(path, sink).map(|_| ())
}

fn native_capture(
    f: &InputFile,
    temp_dir: Option<&std::path::Path>,
) -> Result<Option<(Buffered, InputSummary)>> {
    let mut buffered = Buffered::new_in(temp_dir);
    let stats = input::pcap::decode_file(&f.path, &mut buffered).context("cannot read capture")?;
    let summary = InputSummary {
        path: f.path.display().to_string(),
        log_type: "capture".into(),
        format: stats.format.to_string(),
        compressed: stats.compressed,
        rows: stats.packets,
        errors: stats.errors,
    };
    Ok(Some((buffered, summary)))
}

fn whitelisted_destinations(ctx: &Context<'_>) -> Vec<WhitelistedDestination> {
    let mut acc: BTreeMap<(String, Option<std::net::IpAddr>, String, String), u64> =
        BTreeMap::new();
    for (c, hidden) in ctx.conns() {
        if let Some(e) = hidden {
            let host = ctx.host(c.server, c.t);
            *acc.entry((
                host,
                Some(c.server),
                e.value.clone(),
                e.location.to_string(),
            ))
            .or_default() += c.count;
        }
    }
    acc.into_iter()
        .map(
            |((host, ip, entry, entry_source), connections)| WhitelistedDestination {
                host,
                ip,
                entry,
                entry_source,
                connections,
            },
        )
        .collect()
}

/// Traffic per destination (host, address, protocol, port), with how triage judged it.
fn destinations(ctx: &Context<'_>, alerts: &[crate::alert::Alert]) -> Vec<DestinationSummary> {
    let suspects: FastSet<&str> = alerts.iter().map(|a| a.host.as_str()).collect();
    let suspect_ips: FastSet<std::net::IpAddr> = alerts
        .iter()
        .flat_map(|a| a.evidence.server_ips.iter().copied())
        .collect();
    // Keyed by borrowed parts, so that only a new destination copies its host and protocol.
    type Key<'k> = (Cow<'k, str>, std::net::IpAddr, &'k str, Option<u16>);
    let mut acc: BTreeMap<Key<'_>, DestinationSummary> = BTreeMap::new();
    for (c, hidden) in ctx.conns() {
        let host = match ctx.facts.resolver.display(c.server, c.t) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(c.server.to_string()),
        };
        let status = if hidden.is_some() {
            DestinationStatus::Whitelisted
        } else if suspects.contains(host.as_ref()) || suspect_ips.contains(&c.server) {
            DestinationStatus::Suspect
        } else {
            DestinationStatus::Other
        };
        let d = acc
            .entry((host, c.server, c.proto.as_str(), c.port))
            .or_insert_with_key(|(host, ..)| DestinationSummary {
                host: host.to_string(),
                ip: Some(c.server),
                proto: c.proto.clone(),
                port: c.port,
                first_ts: c.first_ts,
                last_ts: c.last_ts,
                connections: 0,
                bytes: 0,
                status,
            });
        d.connections += c.count;
        d.bytes = d.bytes.saturating_add(c.bytes);
        d.first_ts = min_opt(d.first_ts, c.first_ts);
        d.last_ts = max_opt(d.last_ts, c.last_ts);
    }
    acc.into_values().collect()
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// Most buckets in the report's connections timeline.
pub const TIMELINE_BUCKETS: i64 = 120;

/// The per-minute timeline coarsened to at most [`TIMELINE_BUCKETS`] buckets of whole minutes.
fn timeline(facts: &Facts) -> Vec<(i64, u64)> {
    let (Some((&first, _)), Some((&last, _))) = (
        facts.timeline.first_key_value(),
        facts.timeline.last_key_value(),
    ) else {
        return Vec::new();
    };
    let minutes = (last - first) / 60 + 1;
    let width = ((minutes + TIMELINE_BUCKETS - 1) / TIMELINE_BUCKETS).max(1) * 60;
    let mut out: BTreeMap<i64, u64> = BTreeMap::new();
    for (&t, &n) in &facts.timeline {
        *out.entry(first + (t - first) / width * width).or_default() += n;
    }
    out.into_iter().collect()
}

fn limitations(facts: &Facts, names_cut: u64, max_destinations: usize) -> Vec<String> {
    let mut out = Vec::new();
    if names_cut > 0 {
        out.push(format!(
            "{names_cut} alerts list only {} of the names of their server addresses (the alert's own host and the first others)",
            crate::alert::MAX_EVIDENCE_NAMES
        ));
    }
    if facts.dropped_connections > 0 {
        out.push(format!(
            "{} connections to destinations beyond the cap of {} distinct destinations were counted but not evaluated",
            facts.dropped_connections, max_destinations
        ));
    }
    if facts.http_requests_without_uri > 0 {
        out.push(format!(
            "{} HTTP requests beyond {} distinct requests (server, port, Host, method, URI) were evaluated without their method and URI: their evidence names no request",
            facts.http_requests_without_uri,
            crate::facts::MAX_HTTP_REQUESTS
        ));
    }
    let blind: u64 = facts
        .tls
        .iter()
        .filter(|t| t.no_certificate_data())
        .map(|t| t.count)
        .sum();
    if blind > 0 {
        out.push(format!(
            "{blind} of {} TLS sessions carried no certificate data (TLS 1.3 encrypts certificates; Zeek 4.1 and later log them only in x509.log): SSL-02, SSL-03 and IOC-07 could not be evaluated for them",
            facts.tls.iter().map(|t| t.count).sum::<u64>()
        ));
    }
    out
}

fn active_sources(cfg: &AnalyzeConfig, registration: bool) -> Vec<String> {
    if !cfg.settings.active {
        return Vec::new();
    }
    let mut v = vec!["ACT-01: NS answers in the input".to_string()];
    for p in &cfg.pdns {
        v.push(format!("ACT-01: passive DNS {}", p.display()));
    }
    if registration {
        if let Some(p) = &cfg.registration_dates {
            v.push(format!("ACT-02: registration dates {}", p.display()));
        }
    } else {
        v.push("ACT-02: no registration-date source (give --registration-dates)".into());
    }
    if cfg.online {
        v.push("online lookups enabled".into());
    }
    v
}

fn intel_summary(cfg: &AnalyzeConfig) -> IntelSummary {
    let stats = cfg.intel.stats();
    IntelSummary {
        per_type: stats
            .per_type
            .iter()
            .map(|(k, v)| (k.name().to_string(), *v))
            .collect(),
        per_source: stats
            .per_source
            .iter()
            .map(|((s, k), v)| ((s.clone(), k.name().to_string()), *v))
            .collect(),
        invalid: stats.invalid.iter().map(|d| d.to_string()).collect(),
        snort_rules: cfg.intel.snort_rules(),
        whitelist_entries: cfg.whitelist.entries().len() as u64,
        whitelist_invalid: cfg
            .whitelist
            .invalid()
            .iter()
            .map(|d| d.to_string())
            .collect(),
    }
}
