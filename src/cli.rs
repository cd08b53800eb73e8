//! Command-line flags and subcommands (clap derive): raw values only. `crate::config` validates
//! them into a `Config`; nothing after that sees these types.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Offline threat triage of network captures and Zeek logs.
#[derive(Debug, Parser)]
#[command(name = "captriage", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Triage Zeek log directories, log files or captures and report what looks wrong.
    Analyze(Box<AnalyzeArgs>),
    /// Inspect or export the loaded indicators.
    #[command(subcommand)]
    Intel(IntelCommand),
    /// Decode a capture natively and write Zeek-format logs (conn, dns, ssl, x509, http).
    Extract(ExtractArgs),
    /// Export DNS observations as passive DNS (COF NDJSON), or query a state store.
    Pdns(PdnsArgs),
    /// Assess domain names: registrable domain, randomness, first contact, age.
    Domain(DomainArgs),
    /// Manage the state store (first contact, passive DNS, lookup cache).
    #[command(subcommand)]
    State(StateCommand),
    /// Serve the state store read-only over HTTP (loopback by default).
    Serve(ServeArgs),
    /// Print the JSON Schema of the JSON report.
    Schema,
    /// Print shell completions.
    Completions {
        /// Shell to generate completions for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Html,
    Csv,
    Ndjson,
}

/// Levels for `--fail-on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    High,
    Moderate,
    Low,
    None,
}

/// Capture engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// Zeek when `zeek` is on PATH, else native.
    Auto,
    Zeek,
    Native,
}

/// Indicator file formats for `--iocs-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum IocFormatArg {
    #[default]
    Auto,
    Tinycheck,
    Stalkerware,
    Zeek,
    Misp,
    Stix,
    Plain,
    Csv,
}

/// Flags shared by every command that loads intel.
#[derive(Debug, Args, Clone, Default)]
pub struct IntelArgs {
    /// Indicator file (TinyCheck JSON, Zeek intel, MISP, STIX, plain list, CSV); repeatable.
    #[arg(long = "iocs", value_name = "FILE")]
    pub iocs: Vec<PathBuf>,
    /// Format of the --iocs files (default: detected from content).
    #[arg(long = "iocs-format", value_enum, default_value = "auto")]
    pub iocs_format: IocFormatArg,
    /// Whitelist file (TinyCheck whitelist JSON, or a plain list); repeatable.
    #[arg(long = "whitelist", value_name = "FILE")]
    pub whitelist: Vec<PathBuf>,
    /// Do not load the shipped indicators and whitelist.
    #[arg(long)]
    pub no_default_intel: bool,
}

/// `captriage analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Zeek log directories (searched recursively), Zeek log files, or captures.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub intel: IntelArgs,
    /// Rule settings: TinyCheck's config.yaml or an `analysis` mapping (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Report format (default: table on a terminal, json otherwise when --output ends in .json).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write the report here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with 1 when an alert at or above this level is reported.
    #[arg(long, value_enum, default_value = "none")]
    pub fail_on: FailOnArg,
    /// Report and gate only on alerts absent from this earlier JSON report.
    #[arg(long, value_name = "REPORT.json")]
    pub baseline: Option<PathBuf>,
    /// No warnings or progress on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// How to read captures.
    #[arg(long, value_enum, default_value = "auto")]
    pub engine: EngineArg,
    /// Passive-DNS side file (COF NDJSON): extra names for unresolved addresses; repeatable.
    #[arg(long = "pdns", value_name = "FILE")]
    pub pdns: Vec<PathBuf>,
    /// Ignore passive-DNS records last seen more than this many days before the capture start.
    #[arg(long, value_name = "DAYS")]
    pub pdns_max_age: Option<u32>,
    /// Flag random-looking registrable domains (DOM-01, character-pair frequency scores).
    #[arg(long)]
    pub random_domains: bool,
    /// Registration dates for ACT-02 (`name date` lines, or a `domain,created` CSV).
    #[arg(long, value_name = "FILE")]
    pub registration_dates: Option<PathBuf>,
    /// State store directory (first contact, passive DNS history, lookup cache).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Allow live lookups (NS, PTR, DNS blocklists, RDAP). Off by default.
    #[arg(long)]
    pub online: bool,
    /// DNS server for --online lookups (default: the first nameserver of /etc/resolv.conf).
    #[arg(long, value_name = "ADDR")]
    pub nameserver: Option<SocketAddr>,
    /// RDAP base URL for --online registration dates (the domain is appended).
    #[arg(long, value_name = "URL", default_value = "https://rdap.org/domain/")]
    pub rdap_base: String,
    /// Total time --online lookups may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub online_budget: u64,
    /// Stop reading a gzip-compressed input past this many decompressed bytes (gzip bombs).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 30)]
    pub max_decompressed: u64,
    /// Most distinct destinations tracked (connection aggregates: server, port, protocol,
    /// services); connections to further ones are counted, not evaluated, and the report says
    /// how many. Each costs a few kilobytes, so this bounds memory on inputs with very many.
    #[arg(long, value_name = "N", default_value_t = crate::facts::MAX_DESTINATIONS)]
    pub max_destinations: usize,
    /// Threads for reading and parsing conn logs and other large logs (0: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// Directory for temporary files: joins past their memory budget, records decoded from a
    /// capture, Zeek's logs and decompressed captures (default: the system's, `TMPDIR`).
    #[arg(long, value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
    /// Bytes of log rows per batch handed to a parsing thread (for tuning and tests).
    #[arg(long, value_name = "BYTES", default_value_t = crate::input::zeek::DEFAULT_BATCH_BYTES, hide = true)]
    pub batch_bytes: usize,
    /// MaxMind database adding country and ASN to destinations.
    #[arg(long, value_name = "FILE.mmdb")]
    pub geoip: Vec<PathBuf>,
}

/// `captriage intel ...`.
#[derive(Debug, Subcommand)]
pub enum IntelCommand {
    /// Counts per type, tag and source, and the rejected entries.
    Stats {
        /// Extra indicator files.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        intel: IntelArgs,
    },
    /// Print the merged indicator set.
    Export {
        /// Extra indicator files.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        intel: IntelArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormatArg,
        /// Write here instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// `intel export` formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    Zeek,
    Json,
    Csv,
}

/// `captriage extract`.
#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The capture (pcap or pcapng, optionally gzip-compressed).
    pub capture: PathBuf,
    /// Output directory for the logs.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: PathBuf,
    /// Overwrite logs of the same names already in the output directory.
    #[arg(long)]
    pub force: bool,
}

/// `captriage pdns`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PdnsArgs {
    #[command(subcommand)]
    pub command: Option<PdnsCommand>,
    /// Zeek logs or captures whose DNS observations to export.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Sensor id written into every record.
    #[arg(long, value_name = "ID")]
    pub sensor_id: Option<String>,
}

/// `captriage pdns query`.
#[derive(Debug, Subcommand)]
pub enum PdnsCommand {
    /// Print the stored records for a name (by rrname) or an address (by rdata).
    Query {
        /// A name or an address.
        name: String,
        /// State store directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
    },
}

/// `captriage domain`.
#[derive(Debug, Args)]
pub struct DomainArgs {
    /// Names to assess.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// State store directory (first contact).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Registration dates (`name date` lines, or a `domain,created` CSV).
    #[arg(long, value_name = "FILE")]
    pub registration_dates: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: DomainFormatArg,
}

/// `domain` output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DomainFormatArg {
    Table,
    Json,
}

/// `captriage state ...`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Preload domains that should never alert as first contact (one per line, or rank,domain).
    Import {
        file: PathBuf,
        /// Tag stored with the imported domains.
        #[arg(long)]
        tag: String,
        /// State store directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
    },
    /// Counts of what the store holds.
    Stats {
        /// State store directory.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
    },
}

/// `captriage serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// State store directory.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8400")]
    pub listen: SocketAddr,
}
