//! One entry point for every indicator format: [`load_any`] detects the format from the content
//! (or takes the caller's [`IocFormat`], e.g. from `--iocs-format`) and hands the text to the
//! format's reader.
//!
//! Detection: JSON (first character `{` or `[`) is MISP when it has `Event`, `response` or
//! `Attribute` keys, STIX when it is a bundle or has `pattern`/`spec_version`, else TinyCheck.
//! Other text is Zeek intel when a `#fields` line comes before the first data line, the Echap
//! YAML app list when it starts with `- name:`, CSV when its first line is a header naming a value
//! column, else a plain list.
//!
//! Many files at once go through [`load_inputs`]: worker threads parse files into their own
//! builders and the caller's thread merges them in file order, so the store is the one
//! sequential loading gives (all of `../shared/corpus/iocs`, maltrail included, in about half a
//! second on two cores instead of about one).

use super::text::read_text;
use super::{
    Intel, IntelBuilder, Whitelist, WhitelistBuilder, csvlist, echap, misp, plain, source_name,
    stix, tinycheck, zeek,
};
use anyhow::Context;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// The indicator formats captriage reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IocFormat {
    /// TinyCheck IOC JSON (also the Echap `indicators-for-tinycheck.json`).
    Tinycheck,
    /// The Echap stalkerware `ioc.yaml` app list.
    Echap,
    /// Zeek Intel framework TSV.
    Zeek,
    /// MISP event JSON.
    Misp,
    /// STIX 2.1 bundle.
    Stix,
    /// One indicator per line.
    Plain,
    /// CSV with a header.
    Csv,
}

impl IocFormat {
    /// Every format, in display order.
    pub const ALL: [IocFormat; 7] = [
        IocFormat::Tinycheck,
        IocFormat::Echap,
        IocFormat::Zeek,
        IocFormat::Misp,
        IocFormat::Stix,
        IocFormat::Plain,
        IocFormat::Csv,
    ];

    /// The name used by `--iocs-format`.
    pub fn name(self) -> &'static str {
        match self {
            IocFormat::Tinycheck => "tinycheck",
            IocFormat::Echap => "echap-yaml",
            IocFormat::Zeek => "zeek",
            IocFormat::Misp => "misp",
            IocFormat::Stix => "stix",
            IocFormat::Plain => "plain",
            IocFormat::Csv => "csv",
        }
    }

    /// Parses a format name (case-insensitive).
    pub fn from_name(s: &str) -> Option<IocFormat> {
        IocFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for IocFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Detects the format of an indicator file's text.
pub fn detect(text: &str) -> IocFormat {
    let body = text.trim_start();
    if body.starts_with('{') || body.starts_with('[') {
        return detect_json(body);
    }
    for line in text.lines().take(200) {
        let l = line.trim();
        if l.starts_with("#fields") {
            return IocFormat::Zeek;
        }
        if !l.is_empty() && !l.starts_with('#') {
            break;
        }
    }
    if echap::looks_like(text) {
        return IocFormat::Echap;
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if csvlist::looks_like_header(first) {
        IocFormat::Csv
    } else {
        IocFormat::Plain
    }
}

fn detect_json(body: &str) -> IocFormat {
    let keys = |raw: &str| -> Vec<String> {
        serde_json::from_str::<BTreeMap<String, &RawValue>>(raw)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default()
    };
    let first_keys = if body.starts_with('[') {
        serde_json::from_str::<Vec<&RawValue>>(body)
            .ok()
            .and_then(|v| v.first().map(|r| keys(r.get())))
            .unwrap_or_default()
    } else {
        keys(body)
    };
    let has = |k: &str| first_keys.iter().any(|x| x == k);
    if has("Event") || has("response") || has("Attribute") {
        IocFormat::Misp
    } else if has("objects") || has("pattern") || has("spec_version") {
        IocFormat::Stix
    } else {
        IocFormat::Tinycheck
    }
}

/// What the indicator and whitelist flags loaded.
#[derive(Debug)]
pub struct Loaded {
    pub intel: Intel,
    pub whitelist: Whitelist,
    /// Files that could not be read at all (each error names its file); the rest was loaded.
    pub errors: Vec<anyhow::Error>,
}

/// Loads the shipped defaults (when `defaults`), every `--iocs` file (in `format`, or detected)
/// and every `--whitelist` file, in that order, and builds the stores. A file that cannot be
/// read is kept in `errors` and the others still load; bad entries are in the stores' stats.
pub fn load_all(
    iocs: &[std::path::PathBuf],
    format: Option<IocFormat>,
    whitelists: &[std::path::PathBuf],
    defaults: bool,
) -> Loaded {
    let mut ib = IntelBuilder::new();
    let mut wb = WhitelistBuilder::new();
    let mut errors = Vec::new();
    let mut inputs = Vec::new();
    if defaults {
        inputs.extend(super::defaults::ioc_inputs());
        if let Err(e) = super::defaults::load_default_whitelist(&mut wb) {
            errors.push(e);
        }
    }
    inputs.extend(iocs.iter().map(|p| IocInput::Path(p)));
    for r in load_inputs(&inputs, format, &mut ib) {
        if let Err(e) = r {
            errors.push(e);
        }
    }
    for p in whitelists {
        if let Err(e) = tinycheck::load_whitelist(p, &mut wb) {
            errors.push(e);
        }
    }
    Loaded {
        intel: ib.build(),
        whitelist: wb.build(),
        errors,
    }
}

/// One indicator input for [`load_inputs`].
#[derive(Clone, Copy, Debug)]
pub enum IocInput<'a> {
    /// A file, in the caller's format or detected.
    Path(&'a Path),
    /// Text already in memory (the shipped defaults), named `name` in locations, in `format`.
    Text {
        name: &'a str,
        text: &'a str,
        format: IocFormat,
    },
}

impl IocInput<'_> {
    fn load(&self, format: Option<IocFormat>, b: &mut IntelBuilder) -> anyhow::Result<IocFormat> {
        match *self {
            IocInput::Path(p) => load_any(p, format, b),
            IocInput::Text { name, text, format } => {
                parse_text(&Arc::from(name), text, Some(format), b)
            }
        }
    }
}

/// Most threads [`load_inputs`] starts.
const MAX_THREADS: usize = 8;

/// Loads every input into `b` and returns each one's outcome, in input order. Worker threads
/// (one per core) take inputs in order and parse each into its own small builder; this thread
/// merges those builders into `b` in input order ([`IntelBuilder::merge`]) while the workers
/// parse the next ones. The built store, its stats and every export are the same as loading one
/// input after another.
pub fn load_inputs(
    inputs: &[IocInput<'_>],
    format: Option<IocFormat>,
    b: &mut IntelBuilder,
) -> Vec<anyhow::Result<IocFormat>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
        .min(inputs.len());
    if threads <= 1 {
        return inputs.iter().map(|i| i.load(format, b)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<anyhow::Result<IocFormat>>> =
        std::iter::repeat_with(|| None).take(inputs.len()).collect();
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..threads {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else {
                        break;
                    };
                    let mut pb = IntelBuilder::new();
                    let r = input.load(format, &mut pb);
                    if tx.send((i, pb, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Workers finish out of order: hold early arrivals until their turn.
        let mut pending = BTreeMap::new();
        let mut turn = 0usize;
        for (i, pb, r) in rx {
            pending.insert(i, (pb, r));
            while let Some((pb, r)) = pending.remove(&turn) {
                b.merge(pb);
                if let Some(slot) = results.get_mut(turn) {
                    *slot = Some(r);
                }
                turn += 1;
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("input not loaded"))))
        .collect()
}

/// Loads an indicator file in `format`, or the detected format; returns the format used.
pub fn load_any(
    path: &Path,
    format: Option<IocFormat>,
    b: &mut IntelBuilder,
) -> anyhow::Result<IocFormat> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_any(source_name(path), BufReader::new(f), format, b)
}

/// Reads an indicator document from `r` in `format`, or the detected format.
pub fn parse_any(
    source: Arc<str>,
    r: impl Read,
    format: Option<IocFormat>,
    b: &mut IntelBuilder,
) -> anyhow::Result<IocFormat> {
    let text = read_text(r, &source)?;
    parse_text(&source, &text, format, b)
}

/// Parses an indicator document held in memory, in `format` or the detected format.
pub fn parse_text(
    source: &Arc<str>,
    text: &str,
    format: Option<IocFormat>,
    b: &mut IntelBuilder,
) -> anyhow::Result<IocFormat> {
    let source = Arc::clone(source);
    let fmt = format.unwrap_or_else(|| detect(text));
    match fmt {
        IocFormat::Tinycheck => tinycheck::parse_iocs_str(&source, text, b)?,
        IocFormat::Echap => echap::parse_reader(source, text.as_bytes(), b)?,
        IocFormat::Zeek => zeek::parse_str(&source, text, b),
        IocFormat::Misp => misp::parse_reader(source, text.as_bytes(), b)?,
        IocFormat::Stix => stix::parse_reader(source, text.as_bytes(), b)?,
        IocFormat::Plain => plain::parse_str(&source, text, b),
        IocFormat::Csv => csvlist::parse_reader(source, text.as_bytes(), b)?,
    }
    Ok(fmt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(detect("{\"iocs\": []}"), IocFormat::Tinycheck);
        assert_eq!(
            detect("[{\"type\":\"domain\",\"value\":\"a.b\"}]"),
            IocFormat::Tinycheck
        );
        assert_eq!(detect("{\"Event\": {}}"), IocFormat::Misp);
        assert_eq!(
            detect("{\"type\":\"bundle\",\"objects\":[]}"),
            IocFormat::Stix
        );
        assert_eq!(
            detect("#separator \\x09\n#fields\tindicator\n"),
            IocFormat::Zeek
        );
        assert_eq!(detect("- name: X\n  c2: {}\n"), IocFormat::Echap);
        assert_eq!(detect("# c\ntype,indicator,app\n"), IocFormat::Csv);
        assert_eq!(detect("# c\nevil.example\n"), IocFormat::Plain);
        assert_eq!(IocFormat::from_name("ZEEK"), Some(IocFormat::Zeek));
    }

    #[test]
    fn load_all_keeps_going_past_an_unreadable_file() {
        let missing = std::path::PathBuf::from("/nonexistent/iocs.json");
        let l = load_all(
            std::slice::from_ref(&missing),
            None,
            std::slice::from_ref(&missing),
            true,
        );
        assert_eq!(l.errors.len(), 2);
        assert!(
            l.errors[0]
                .to_string()
                .starts_with("/nonexistent/iocs.json: cannot open")
        );
        assert!(!l.intel.domains("copy9.com").is_empty());
        assert!(l.whitelist.name("www.google.com").is_some());
    }
}
