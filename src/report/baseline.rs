//! Baseline gating: compare a run with an earlier JSON report and keep only the new alerts.
//!
//! An alert is identified by its (rule id, host) pair (RULES.md §8), so an alert whose evidence
//! grew is not new, and one that disappeared is simply absent. [`load_baseline`] reads the pairs
//! of an earlier `--format json` report (any schema version that has `alerts[].id` and
//! `alerts[].host`); [`new_alerts`] and [`retain_new`] apply them. Deciding the exit code from
//! what is left stays with the caller (`--fail-on`).

use super::Report;
use super::json::Baseline;
use crate::alert::Alert;
use anyhow::Context;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

/// The (rule id, host) pairs of an earlier report.
pub type BaselineSet = BTreeSet<(String, String)>;

/// Reads the (rule id, host) pairs of the JSON report at `path`.
pub fn load_baseline(path: impl AsRef<Path>) -> anyhow::Result<BaselineSet> {
    let path = path.as_ref();
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_reader(BufReader::new(file))
        .with_context(|| format!("{}: not a captriage JSON report", path.display()))
}

/// Reads the (rule id, host) pairs of a JSON report from `reader`.
pub fn parse_reader(reader: impl io::Read) -> anyhow::Result<BaselineSet> {
    let b: Baseline = serde_json::from_reader(reader)?;
    anyhow::ensure!(
        b.schema_version >= 1,
        "unsupported schema_version {}",
        b.schema_version
    );
    Ok(b.alerts.into_iter().map(|a| (a.id, a.host)).collect())
}

/// The alerts of `report` whose (rule id, host) is not in `baseline`, in report order.
pub fn new_alerts<'a>(report: &'a Report, baseline: &BaselineSet) -> Vec<&'a Alert> {
    report
        .alerts
        .iter()
        .filter(|a| !in_baseline(a, baseline))
        .collect()
}

/// Drops from `report` the alerts present in `baseline`; returns how many were dropped.
pub fn retain_new(report: &mut Report, baseline: &BaselineSet) -> usize {
    let before = report.alerts.len();
    report.alerts.retain(|a| !in_baseline(a, baseline));
    before - report.alerts.len()
}

fn in_baseline(a: &Alert, baseline: &BaselineSet) -> bool {
    baseline.contains(&(a.id.to_string(), a.host.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Alert, Evidence, Level};
    use crate::report::{json, sample};

    fn as_json(report: &Report) -> Vec<u8> {
        let mut out = Vec::new();
        json::write(report, &mut out).unwrap();
        out
    }

    fn gate_fails(report: &Report, baseline: &BaselineSet) -> bool {
        !new_alerts(report, baseline).is_empty()
    }

    #[test]
    fn an_added_alert_fails_the_gate_and_a_removed_one_does_not() {
        let old = sample::report();
        let baseline = parse_reader(as_json(&old).as_slice()).unwrap();
        assert_eq!(baseline.len(), 3);
        assert!(baseline.contains(&("IOC-03".to_string(), "api.evil-c2.com".to_string())));
        assert!(baseline.contains(&("SSL-03".to_string(), sample::HOSTILE.to_string())));
        assert!(!gate_fails(&old, &baseline));

        let mut added = old.clone();
        added.alerts.insert(
            1,
            Alert {
                id: "IOC-01",
                level: Level::High,
                host: "203.0.113.66".into(),
                title: "An address indicator matched",
                description: String::new(),
                evidence: Evidence::default(),
            },
        );
        let new: Vec<_> = new_alerts(&added, &baseline)
            .iter()
            .map(|a| (a.id, a.host.as_str()))
            .collect();
        assert_eq!(new, [("IOC-01", "203.0.113.66")]);
        assert!(gate_fails(&added, &baseline));

        let mut removed = old.clone();
        removed.alerts.remove(0);
        assert!(!gate_fails(&removed, &baseline));

        let mut kept = added.clone();
        assert_eq!(retain_new(&mut kept, &baseline), 3);
        assert_eq!(kept.alerts.len(), 1);
    }

    #[test]
    fn same_rule_on_another_host_is_new() {
        let old = sample::report();
        let baseline = parse_reader(as_json(&old).as_slice()).unwrap();
        let mut r = old.clone();
        r.alerts[0].host = "api2.evil-c2.com".into();
        assert_eq!(new_alerts(&r, &baseline).len(), 1);
    }

    #[test]
    fn a_file_that_is_not_a_report_is_an_error_naming_it() {
        assert!(parse_reader(&b"{\"alerts\": 3}"[..]).is_err());
        assert!(parse_reader(&b"[]"[..]).is_err());
        let err = load_baseline(Path::new("/nonexistent/old.json")).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/old.json"));
    }
}
