//! The JSON report (placeholder until the writer lands).

use super::Report;
use std::io;

/// Writes `report` as JSON.
pub fn write(_report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    writeln!(out, "{{}}")
}
