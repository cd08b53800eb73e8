//! Side sources that enrich an analysis: passive-DNS files (names and NS data), registration
//! dates for ACT-02, and what the state store and GeoIP add to the finished report. Everything
//! here is offline unless `--online` is given.

use crate::config::AnalyzeConfig;
use crate::facts::{Facts, FactsBuilder};
use crate::report::Report;
use crate::rules::RegistrationDates;
use anyhow::Result;

/// Adds the names and nameservers of every `--pdns` file to the facts.
pub fn add_side_sources(
    cfg: &AnalyzeConfig,
    _builder: &mut FactsBuilder,
    _warn: &mut dyn FnMut(&str),
) -> Result<()> {
    if !cfg.pdns.is_empty() {
        anyhow::bail!("--pdns is not available in this build yet");
    }
    Ok(())
}

/// The registration-date source for ACT-02, when one was given.
pub fn registration_source(
    cfg: &AnalyzeConfig,
    _warn: &mut dyn FnMut(&str),
) -> Result<Option<Box<dyn RegistrationDates>>> {
    if cfg.registration_dates.is_some() {
        anyhow::bail!("--registration-dates is not available in this build yet");
    }
    Ok(None)
}

/// Adds what the state store and GeoIP know to the finished report.
pub fn finish_report(
    _cfg: &AnalyzeConfig,
    _facts: &Facts,
    _report: &mut Report,
    _warn: &mut dyn FnMut(&str),
) -> Result<()> {
    Ok(())
}
