//! The `captriage domain NAME...` answer (what Mark Baggett's domain_stats answers), and the
//! registration-date file of `--registration-dates` (RULES.md §7.4).
//!
//! [`assess`] builds a [`DomainReport`] for one name: its registrable domain (`enrich::psl`), the
//! frequency scores of the name as given (`enrich::freq`; the scores `freq.py` gives that string,
//! so `domain NAME` reproduces its vectors), when the state store first saw the registrable domain,
//! whether its registration date is recent (`NEW`) or not (`ESTABLISHED`), and which alerts apply:
//! DOM-01 when the *registrable domain's* scores both fall below the thresholds and its first label
//! has at least `min_label` characters; DOM-02 when a store is given and never saw (nor imported)
//! the domain; ACT-02 when the registration date is within `new_domain_days` of the reference time.
//! [`RegDates`] reads `name date` lines (or the CSV form `domain,created`) and answers with the
//! entry of the name or its nearest parent. Rendering and rule wiring are left to the callers.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use crate::enrich::freq::{FreqTable, is_low};
use crate::enrich::psl::registrable;
use crate::enrich::state::Store;
use crate::model::{Diagnostic, Location};
use crate::names::{normalize_name, suffixes, valid_domain};

/// Thresholds and windows of the domain checks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DomainSettings {
    /// DOM-01 needs score 1 (average pair probability) below this...
    pub freq_avg: f64,
    /// ...and score 2 (total word probability) below this.
    pub freq_word: f64,
    /// DOM-01 only for registrable domains whose first label has at least this many characters.
    pub min_label: usize,
    /// A registration within this many days before the reference time is NEW (ACT-02).
    pub new_domain_days: u64,
}

impl Default for DomainSettings {
    fn default() -> DomainSettings {
        DomainSettings {
            freq_avg: 5.0,
            freq_word: 4.0,
            min_label: 6,
            new_domain_days: 30,
        }
    }
}

/// The answer for one name. Serialises to the JSON of `captriage domain --format json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DomainReport {
    /// The name, normalised (as given when it does not normalise).
    pub domain: String,
    /// Its registrable domain; null for IP literals and public suffixes.
    pub registrable: Option<String>,
    /// `[score1, score2]` of `domain`.
    pub freq_score: [f64; 2],
    /// First seen in the state store (`YYYY-MM-DD`, UTC), or null.
    pub seen_by_you: Option<String>,
    /// `NEW` or `ESTABLISHED` when a registration date is known, else null.
    pub category: Option<&'static str>,
    /// Rule ids that apply: `DOM-01`, `DOM-02`, `ACT-02`.
    pub alerts: Vec<String>,
}

/// Assesses `name`. `reference` (seconds since the epoch) is now for the `domain` command and the
/// capture start for analyze. Fails only when the store cannot be read.
pub fn assess(
    name: &str,
    store: Option<&Store>,
    reg_dates: Option<&RegDates>,
    settings: &DomainSettings,
    reference: i64,
) -> anyhow::Result<DomainReport> {
    let domain = normalize_name(name).unwrap_or_else(|| name.trim().to_lowercase());
    let table = FreqTable::embedded();
    let (s1, s2) = table.score(&domain);
    let reg = registrable(&domain);
    let mut alerts = Vec::new();

    if let Some(r) = &reg {
        let first_label = r.split('.').next().unwrap_or("");
        if first_label.chars().count() >= settings.min_label
            && is_low(table.score(r), (settings.freq_avg, settings.freq_word))
        {
            alerts.push("DOM-01".to_string());
        }
    }

    let mut seen_by_you = None;
    if let Some(store) = store {
        let key = reg.as_deref().unwrap_or(&domain);
        let info = match store.domain_info(key)? {
            Some(i) => Some(i),
            None if key != domain => store.domain_info(&domain)?,
            None => None,
        };
        match info {
            None => alerts.push("DOM-02".to_string()),
            Some(i) => seen_by_you = i.first_seen.and_then(iso_date),
        }
    }

    let mut category = None;
    if let Some(created) = reg_dates.and_then(|d| d.lookup(&domain)) {
        let window =
            i64::try_from(settings.new_domain_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
        if created > reference.saturating_sub(window) {
            category = Some("NEW");
            alerts.push("ACT-02".to_string());
        } else {
            category = Some("ESTABLISHED");
        }
    }

    alerts.sort();
    Ok(DomainReport {
        domain,
        registrable: reg,
        freq_score: [s1, s2],
        seen_by_you,
        category,
        alerts,
    })
}

/// `YYYY-MM-DD` (UTC) of a time in seconds since the epoch.
pub fn iso_date(secs: u64) -> Option<String> {
    let secs = i64::try_from(secs).ok()?;
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .map(|t| t.date().to_string())
}

/// Registration dates by name (`--registration-dates FILE`).
#[derive(Clone, Debug, Default)]
pub struct RegDates {
    /// Normalised name -> registration time, seconds since the epoch.
    dates: HashMap<String, i64>,
}

impl RegDates {
    /// Reads a registration-date file; bad lines become diagnostics.
    pub fn load(path: &Path, diags: &mut Vec<Diagnostic>) -> anyhow::Result<RegDates> {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        let source: Arc<str> = Arc::from(path.display().to_string());
        Ok(RegDates::parse_reader(source, BufReader::new(file), diags))
    }

    /// Reads `name date` lines (date `YYYY-MM-DD` or RFC 3339, `#` comments) or CSV lines
    /// `domain,created` (a header line `domain,created` is skipped). A later entry for the same
    /// name replaces an earlier one.
    pub fn parse_reader(
        source: Arc<str>,
        mut r: impl BufRead,
        diags: &mut Vec<Diagnostic>,
    ) -> RegDates {
        let mut out = RegDates::default();
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        loop {
            buf.clear();
            line_no += 1;
            match r.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    diags.push(Diagnostic {
                        location: Location::line(&source, line_no),
                        message: format!("read error: {e}"),
                    });
                    break;
                }
            }
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let mut bad = |message: String| {
                diags.push(Diagnostic {
                    location: Location::line(&source, line_no),
                    message,
                })
            };
            let (name, date) = match text.split_once(',') {
                Some((n, d)) => (n.trim(), d.split(',').next().unwrap_or("").trim()),
                None => {
                    let mut parts = text.split_whitespace();
                    match (parts.next(), parts.next(), parts.next()) {
                        (Some(n), Some(d), None) => (n, d),
                        _ => {
                            bad(format!("expected `name date`, got {text:?}"));
                            continue;
                        }
                    }
                }
            };
            if line_no == 1 && name.eq_ignore_ascii_case("domain") {
                continue;
            }
            let Some(n) = normalize_name(name).filter(|n| valid_domain(n)) else {
                bad(format!("not a domain name: {name:?}"));
                continue;
            };
            match parse_date(date) {
                Some(t) => {
                    out.dates.insert(n, t);
                }
                None => bad(format!("not a date (YYYY-MM-DD or RFC 3339): {date:?}")),
            }
        }
        out
    }

    /// The registration time of `name` or of its nearest parent with an entry.
    pub fn lookup(&self, name: &str) -> Option<i64> {
        let n = normalize_name(name)?;
        suffixes(&n).find_map(|s| self.dates.get(s).copied())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339, as seconds since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let d = Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn dates(text: &str) -> (RegDates, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let d = RegDates::parse_reader(Arc::from("reg.txt"), text.as_bytes(), &mut diags);
        (d, diags)
    }

    #[test]
    fn freq_scores_are_those_of_the_name_given() {
        let s = DomainSettings::default();
        for (input, s1, s2) in [
            ("betterme-magazine.com", 9.3769, 6.832),
            ("Google.COM", 6.6009, 5.0887),
            ("www.google.com", 4.6231, 4.3346),
            ("api.snoopza.com", 3.863, 3.1953),
            ("a", 0.0, 0.0),
            ("", 0.0, 0.0),
        ] {
            let r = assess(input, None, None, &s, 0).unwrap();
            assert_eq!(r.freq_score, [s1, s2], "{input:?}");
        }
    }

    #[test]
    fn dom01_uses_the_registrable_domain_and_a_minimum_label() {
        let s = DomainSettings::default();
        let r = assess("cdn.xjwqpzkvbr.net", None, None, &s, 0).unwrap();
        assert_eq!(r.registrable.as_deref(), Some("xjwqpzkvbr.net"));
        assert_eq!(r.alerts, ["DOM-01"]);
        // Low scores but a short first label: qwxzv.ru.
        assert!(
            assess("qwxzv.ru", None, None, &s, 0)
                .unwrap()
                .alerts
                .is_empty()
        );
        // duckdns.org is low but is a public suffix; x.duckdns.org's label is too short.
        assert!(
            assess("x.duckdns.org", None, None, &s, 0)
                .unwrap()
                .alerts
                .is_empty()
        );
        // www.google.com scores low as a whole, but google.com does not.
        assert!(
            assess("www.google.com", None, None, &s, 0)
                .unwrap()
                .alerts
                .is_empty()
        );
        let ip = assess("192.0.2.1", None, None, &s, 0).unwrap();
        assert_eq!(ip.registrable, None);
        assert!(ip.alerts.is_empty());
    }

    #[test]
    fn dom02_and_seen_by_you_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .record_domains([("example.com", 1_700_000_000)])
            .unwrap();
        let s = DomainSettings::default();
        let seen = assess("www.example.com", Some(&store), None, &s, 0).unwrap();
        assert_eq!(seen.seen_by_you.as_deref(), Some("2023-11-14"));
        assert!(seen.alerts.is_empty());
        let unseen = assess("kaspersky.com", Some(&store), None, &s, 0).unwrap();
        assert_eq!(unseen.seen_by_you, None);
        assert_eq!(unseen.alerts, ["DOM-02"]);
    }

    #[test]
    fn act02_and_category_from_registration_dates() {
        let (d, diags) = dates(
            "# registrations\nexample.com 2024-03-01\nevil.example.com 2024-05-30T10:00:00Z\nbad line here\nfoo.com 2024-13-01\n",
        );
        let places: Vec<String> = diags.iter().map(|d| d.location.to_string()).collect();
        assert_eq!(places, ["reg.txt:4", "reg.txt:5"]);
        let s = DomainSettings::default();
        let june1 = parse_date("2024-06-01").unwrap();
        // Nearest parent wins: x.evil.example.com takes evil.example.com's date.
        let r = assess("x.evil.example.com", None, Some(&d), &s, june1).unwrap();
        assert_eq!(r.category, Some("NEW"));
        assert_eq!(r.alerts, ["ACT-02"]);
        let r = assess("www.example.com", None, Some(&d), &s, june1).unwrap();
        assert_eq!(r.category, Some("ESTABLISHED"));
        assert!(r.alerts.is_empty());
        assert_eq!(
            assess("other.org", None, Some(&d), &s, june1)
                .unwrap()
                .category,
            None
        );
        // Analyze: window 0, reference = capture start: recent means after the capture start.
        let at_start = DomainSettings {
            new_domain_days: 0,
            ..s
        };
        let evil = parse_date("2024-05-30T10:00:00Z").unwrap();
        let r = assess("evil.example.com", None, Some(&d), &at_start, evil - DAY).unwrap();
        assert_eq!(r.alerts, ["ACT-02"]);
        let r = assess("evil.example.com", None, Some(&d), &at_start, evil).unwrap();
        assert!(r.alerts.is_empty());
    }

    #[test]
    fn csv_form_with_header() {
        let (d, diags) = dates("domain,created\nExample.com,2020-01-02\nnope,2020-01-02\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].location.to_string(), "reg.txt:3");
        assert_eq!(d.lookup("a.example.com"), parse_date("2020-01-02"));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn json_shape() {
        let r = assess(
            "betterme-magazine.com",
            None,
            None,
            &DomainSettings::default(),
            0,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"domain":"betterme-magazine.com","registrable":"betterme-magazine.com","freq_score":[9.3769,6.832],"seen_by_you":null,"category":null,"alerts":[]}"#
        );
    }
}
